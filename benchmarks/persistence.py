"""Persistence benchmark: H1 on 600 max-min landmarks of 15,000 points.

Cloud: 15,000 natural 3x3 patches (9-D).  Baseline, measured in the same run:
plain ripser.py, ``ripser(X, n_perm=600)`` (its own greedy landmarks).  Ours:
``tdacnn.topology.persistence.diagrams`` (the barcode without its significance test, whose
cost ``benchmarks/significance.py`` measures) with each engine — ripser.py on our
vectorised landmarks, and giotto-ph's multi-threaded Ripser with and without
edge collapse — plus thresholds 1.0/1.2/1.4 (unit-norm points: diameter 2).
Prints seconds, ratios vs the baseline and whether the H1 diagrams agree;
``--json`` prints one JSON object.
Timings on a shared 2-core machine are noisy (load average printed).

    python benchmarks/persistence.py [--n 15000] [--landmarks 600] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def best_of(f, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def _longest(bars: np.ndarray, thresh: float) -> float:
    death = np.where(np.isinf(bars[:, 1]), thresh, bars[:, 1])
    return float(np.max(death - bars[:, 0])) if len(bars) else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=15000)
    ap.add_argument("--landmarks", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import gph
    from ripser import ripser

    from tdacnn.topology.params import PersistenceParams
    from tdacnn.topology.patches import natural_patches
    from tdacnn.topology.persistence import diagrams, maxmin_landmarks

    x = natural_patches(args.n, seed=0).points
    m = args.landmarks
    res: dict = {"n": len(x), "landmarks": m, "load_avg_before": os.getloadavg()[0]}

    t_base, base = best_of(lambda: ripser(x, maxdim=1, n_perm=m), args.repeat)
    res["baseline_ripser_nperm_s"] = t_base
    h1_ref = np.sort(base["dgms"][1], axis=0)

    t_lm, (lm, _) = best_of(lambda: maxmin_landmarks(x, m), args.repeat)
    res["landmarks_s"] = t_lm
    xl = x[lm]
    variants = {
        "ripser": lambda: ripser(xl, maxdim=1),
        "giotto": lambda: gph.ripser_parallel(xl, maxdim=1, n_threads=1),  # as tdacnn runs it
        "giotto_2threads": lambda: gph.ripser_parallel(xl, maxdim=1, n_threads=-1),
        "giotto_collapse": lambda: gph.ripser_parallel(xl, maxdim=1, n_threads=-1, collapse_edges=True),
    }
    for name, f in variants.items():
        t, out = best_of(f, args.repeat)
        res[f"{name}_s"] = t + t_lm
        res[f"{name}_speedup"] = t_base / (t + t_lm)
        res[f"{name}_h1_matches_baseline"] = bool(
            np.allclose(np.sort(out["dgms"][1], axis=0), h1_ref, atol=1e-5) if len(out["dgms"][1]) == len(h1_ref)
            else False)
    # thresholds: most of the cost is in long edges; bars still alive at thresh become infinite
    # (the primary circle of patches dies near 1.3-1.6): the longest H1 bar, capped at thresh
    res["thresh"] = {}
    for th in (1.0, 1.2, 1.4):
        t, bt = best_of(lambda: diagrams(x, PersistenceParams(n_perm=m, thresh=th), engine="giotto"), args.repeat)
        res["thresh"][str(th)] = {"s": t, "speedup": t_base / t, "h1_longest": _longest(bt.bars(1), th)}
    t, b = best_of(lambda: diagrams(x, PersistenceParams(n_perm=m)), args.repeat)
    res["tdacnn_barcode_auto_s"] = t
    res["tdacnn_barcode_auto_engine"] = b.meta["engine"]
    res["tdacnn_barcode_auto_speedup"] = t_base / t
    res["h1_longest"] = _longest(b.bars(1), np.inf)
    res["load_avg_after"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(res))
        return
    print(f"H1 on {m} max-min landmarks of {res['n']} points  (load average {res['load_avg_before']:.1f}; "
          f"best of {args.repeat})")
    print(f"  baseline ripser.py n_perm={m}:          {t_base:.3f} s")
    print(f"  our landmarks alone:                    {t_lm:.3f} s")
    for name in variants:
        print(f"  landmarks + {name:<18}         {res[name + '_s']:.3f} s  "
              f"({res[name + '_speedup']:.2f}x, H1 equal: {res[name + '_h1_matches_baseline']})")
    for th, r in res["thresh"].items():
        print(f"  tdacnn diagrams() giotto, thresh {th}:     {r['s']:.3f} s  ({r['speedup']:.2f}x, "
              f"longest H1 bar {r['h1_longest']:.3f})")
    print(f"  tdacnn diagrams() (engine {res['tdacnn_barcode_auto_engine']}, no thresh): {t:.3f} s  "
          f"({res['tdacnn_barcode_auto_speedup']:.2f}x, longest H1 bar {res['h1_longest']:.3f})")


if __name__ == "__main__":
    main()
