"""Significance of barcode bars: four rules on clouds whose answer is known (the table of docs/significance.md).

Every cloud goes through tdacnn's own pipeline (``Analysis``: normalised points, the
density filter with the given or data-driven ``k``/``p``, H0/H1 on 400 max-min landmarks), then
four rules count its significant H1 bars:

* ``gap``: the hand-tuned rule of significance version 1 (largest drop in sorted lengths among
  bars ≥ max(0.1 × landmark diameter, median H0 bar), if ≥ 1.5 × the next), copied here;
* ``bs``: Bobrowski & Skraba's universal null (Sci. Rep. 13, 12274, 2023) for Rips,
  ℓ = log log(death/birth) − γ − mean, p = exp(−e^ℓ), Benjamini–Hochberg at 5 %;
* ``band``: Fasy et al.'s subsampling confidence band (Ann. Stat. 2014): c = the 95 % quantile
  over 50 subsamples of size n/log n of their Hausdorff distance to the cloud; a bar is
  significant when longer than 4c (2c on the Čech radius scale, twice for Rips' edge lengths);
* ``mc``: tdacnn's rule (significance version 3): the Monte Carlo test against the same pipeline
  on random Gaussian filters, every bar against the null clouds' longest bar, alpha 0.01
  (:mod:`tdacnn.topology.significance`);
* ``rank``: the same null, but the r-th longest bar against the null's r-th longest (the
  rank-wise variant the issue describes), for comparison.

Pure noise is drawn ``--repeats`` times (fresh seeds): its row gives each rule's false-positive
rate.  Prints the table (markdown), the cost of the null, and the load average (the machine is
shared); ``--json`` prints one JSON object.  Runs named by ``--run NAME=PATH[@ITERATION]``
(repeatable; ``#K,P`` after it fixes the density filter) are added; ``--quick`` leaves out the
natural patches.

    python benchmarks/significance.py [--repeats 50] [--run mnist16=/tmp/mnist16] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

EULER = 0.5772156649015329


def gap_rule(h0: np.ndarray, h1: np.ndarray, scale: float) -> int:
    """Significance version 1 (the hand-tuned rule), for comparison."""
    fin0 = h0[np.isfinite(h0[:, 1])]
    floor = float(np.median(fin0[:, 1] - fin0[:, 0])) if len(fin0) else 0.0
    dg = h1[np.isfinite(h1[:, 1])]
    if len(dg) == 0:
        return 0
    lengths = np.sort(dg[:, 1] - dg[:, 0])[::-1]
    n_cand = int(np.sum(lengths >= max(0.1 * scale, floor)))
    if n_cand == 0:
        return 0
    padded = np.append(lengths, 0.0)
    count = int(np.argmax(padded[:n_cand] - padded[1:n_cand + 1])) + 1
    return count if padded[count - 1] >= 1.5 * padded[count] else 0


def bs_rule(h1: np.ndarray, q: float = 0.05) -> tuple[int, float]:
    """Bobrowski–Skraba p-values with Benjamini–Hochberg: (count, p of the longest bar)."""
    dg = h1[np.isfinite(h1[:, 1]) & (h1[:, 0] > 0)]
    if len(dg) < 2:
        return 0, 1.0
    ll = np.log(np.log(dg[:, 1] / dg[:, 0]))
    ell = ll - EULER - ll.mean()
    p = np.exp(-np.exp(ell))
    order = np.argsort(p)
    m = len(p)
    passed = np.flatnonzero(p[order] <= q * np.arange(1, m + 1) / m)
    count = int(passed.max() + 1) if len(passed) else 0
    longest = int(np.argmax(dg[:, 1] - dg[:, 0]))
    return count, float(p[longest])


def band_rule(points: np.ndarray, h1: np.ndarray, alpha: float = 0.05, draws: int = 50,
              seed: int = 0) -> tuple[int, float]:
    """Fasy et al.'s subsampling band: (count, the length threshold 4c)."""
    from scipy.spatial import cKDTree

    n = len(points)
    b = max(2, int(n / math.log(n)))
    rng = np.random.default_rng(seed)
    hd = []
    for _ in range(draws):
        sub = points[rng.choice(n, size=b, replace=False)]
        hd.append(float(cKDTree(sub).query(points, k=1)[0].max()))
    t = 4.0 * float(np.quantile(hd, 1 - alpha))
    dg = h1[np.isfinite(h1[:, 1])]
    return int(np.sum(dg[:, 1] - dg[:, 0] > t)), t


def measure(name: str, cloud, analysis, density=None, expected: str = "") -> dict:
    from tdacnn.topology.params import PersistenceParams

    if density is None:
        density, _ = analysis.suggest(cloud)
    dense = analysis.dense(cloud, density)
    t = time.perf_counter()
    bc = analysis.barcode(dense, PersistenceParams())
    seconds = time.perf_counter() - t
    h0, h1 = bc.bars(0), bc.bars(1)
    xl = dense.cloud.points[np.asarray(bc.meta["landmarks"])]
    lengths = np.sort(h1[:, 1] - h1[:, 0])[::-1]
    bs_count, bs_p = bs_rule(h1)
    band_count, band_t = band_rule(dense.cloud.points, h1)
    p1 = bc.pvalues(1)
    from tdacnn.topology.significance import ALPHA, null_spec

    spec = null_spec(dense.cloud.points, PersistenceParams(), dense.n_parent, dense.params)
    null1 = analysis.store[f"null:{spec.key()}"][1]
    rank = 0  # the rank-wise variant: the r-th longest bar against the null's r-th longest
    while rank < min(len(lengths), null1.shape[1]) and _p_at_rank(lengths[rank], null1[:, rank]) <= ALPHA:
        rank += 1
    return {"cloud": name, "expected": expected, "points": len(cloud), "kept": len(dense), "k": density.k,
            "p": density.p, "landmarks": bc.n_landmarks, "top": [round(float(x), 3) for x in lengths[:3]],
            "gap": gap_rule(h0, h1, float(bc.meta["scale"])), "bs": bs_count, "bs_p1": bs_p,
            "band": band_count, "band_threshold": round(band_t, 3),
            "mc": bc.h1_significant, "mc_p": [float(x) for x in p1[:2]], "rank": rank,
            "mc_threshold": round(float(bc.meta["significance"]["thresholds"][1]), 3), "seconds": round(seconds, 2),
            "_xl": len(xl)}


def _p_at_rank(value: float, sample: np.ndarray) -> float:
    from tdacnn.topology.significance import p_values

    return float(p_values(np.array([value]), sample[:, None])[0])


def _filters(rows: np.ndarray, name: str):
    from tdacnn.topology.points import cloud_from_array

    return cloud_from_array(rows.reshape(len(rows), 3, 3), source=name)


def synthetic(seed: int) -> dict:
    """Known answers in filter space (3×3, normalised by the pipeline)."""
    from tdacnn.topology.dct import DCT_BASIS as E

    rng = np.random.default_rng(seed)

    def ring(n, a, b, noise=0.1):
        t = rng.uniform(0, 2 * np.pi, n)
        return np.cos(t)[:, None] * E[a] + np.sin(t)[:, None] * E[b] + rng.normal(0, noise, (n, 9))

    return {
        "circle (edges), 600": (ring(600, 0, 1), "1"),
        "two circles, 300 + 300": (np.vstack([ring(300, 0, 1), ring(300, 2, 3)]), "2"),
        "blob, 600": (E[0] + 0.3 * rng.normal(size=(600, 9)), "0"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=50, help="pure-noise clouds (false-positive rate)")
    ap.add_argument("--noise-points", type=int, default=600)
    ap.add_argument("--run", action="append", default=[], metavar="NAME=PATH[@IT][#K,P]")
    ap.add_argument("--quick", action="store_true", help="leave out the natural patches")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from tdacnn.analysis import Analysis
    from tdacnn.topology.params import CloudParams, DensityParams
    from tdacnn.weights import WeightSet

    a = Analysis()
    res: dict = {"load_avg_before": os.getloadavg()[0], "rows": []}
    rows = res["rows"]
    runs = []
    if args.repeats:  # --repeats 0: only the runs named with --run
        for name, (x, expected) in synthetic(0).items():
            rows.append(measure(name, _filters(x, name), a, expected=expected))
        # pure noise: random Gaussian filters, fresh each time; the null (seeded apart) is computed once
        noise = []
        t = time.perf_counter()
        for i in range(args.repeats):
            x = np.random.default_rng(10_000 + i).standard_normal((args.noise_points, 9))
            noise.append(measure("noise", _filters(x, "noise"), a, expected="0"))
            if i == 0:
                res["null_seconds_noise"] = time.perf_counter() - t
        fp = {rule: sum(r[rule] > 0 for r in noise) / len(noise) for rule in ("gap", "bs", "band", "mc", "rank")}
        # calibration of the Monte Carlo p-value of the longest bar: P(p <= a) should be about a (at most)
        res["mc_noise_p1_at_most"] = {str(q): sum(r["mc_p"][0] <= q for r in noise) / len(noise)
                                      for q in (0.01, 0.05, 0.1, 0.5)}
        rows.append({**noise[0], "cloud": f"random filters, {args.noise_points} (false-positive rate over "
                                          f"{len(noise)} draws)", "fp": fp})
        for n in (300, 2000):
            x = np.random.default_rng(77 + n).standard_normal((n, 9))
            rows.append(measure(f"random filters, {n}", _filters(x, "noise"), a, expected="0"))
        runs = [("shipped run, layer 1", "data/default-run", None, None, "1"),
                ("shipped run, layer 1, k 40 p 30", "data/default-run", None, DensityParams(40, 30.0),
                 "0 (bar as long as random filters' 0.27 ± 0.04)"),
                ("shipped run, layer 1, untrained", "data/default-run", 0, None, "0")]
    for spec in args.run:
        name, _, path = spec.partition("=")
        path, _, kp = path.partition("#")
        path, _, it = path.partition("@")
        density = DensityParams(int(kp.split(",")[0]), float(kp.split(",")[1])) if kp else None
        runs.append((name, path, int(it) if it else None, density, "0" if it == "0" else "1"))
    for name, path, it, density, expected in runs:
        ws = WeightSet.load(path)
        cloud = a.cloud(ws, CloudParams(layer=1, iteration=it))
        rows.append(measure(name, cloud, a, density, expected))
    if not args.quick:
        for k, expected in ((300, "1"), (15, "5 (2008)")):
            rows.append(measure(f"natural patches X({k},30)", a.natural(15000), a, DensityParams(k, 30.0), expected))
    res["load_avg_after"] = os.getloadavg()[0]
    for r in rows:
        r.pop("_xl", None)
    if args.json:
        print(json.dumps(res))
        return
    print(f"load average {res['load_avg_before']:.1f} → {res['load_avg_after']:.1f}; first noise cloud with its "
          f"null: {res.get('null_seconds_noise', float('nan')):.1f} s; noise draws with the longest bar's "
          f"Monte Carlo p at most 0.01/0.05/0.1/0.5: {res.get('mc_noise_p1_at_most')}")
    print("| cloud | expected | points → kept (k, p) | longest H1 bars | gap (v1) | BS + BH | band (Fasy) "
          "| MC rank-wise | MC null (v2): count, p of bars 1–2, threshold | barcode + null s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        fp = r.get("fp")
        cells = ([f"{fp[rule]:.0%} FP" for rule in ("gap", "bs", "band", "rank", "mc")] if fp else
                 [str(r["gap"]), f"{r['bs']} (p₁ {r['bs_p1']:.2g})", f"{r['band']} (> {r['band_threshold']})",
                  str(r["rank"]),
                  f"**{r['mc']}** (p {r['mc_p'][0]:.2g}, {r['mc_p'][1]:.2g}; > {r['mc_threshold']})"])
        print(f"| {r['cloud']} | {r['expected']} | {r['points']:,} → {r['kept']:,} ({r['k']}, {r['p']:g}) | "
              f"{', '.join(f'{v:.2f}' for v in r['top'])} | " + " | ".join(cells) + f" | {r['seconds']} |")


if __name__ == "__main__":
    main()
