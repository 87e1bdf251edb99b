"""Responsiveness benchmark: the web process's requests while the significance test of a barcode runs.

The app tests a barcode's bars against random filters in the background
(:func:`tdacnn.topology.significance.null_lengths`: the same pipeline on ``NULL_DRAWS``
random clouds).  A stand-in for the web server's request threads (a thread that every 10 ms
wakes up for one small pure-Python task — building a Cytoscape-sized list of dicts and
JSON-encoding it, about a millisecond — and times it from its wake-up, waiting for the
GIL included) is timed three ways, in the same run:

* *idle* — nothing else running (the reference);
* *thread* — the null computed in a thread of the same process (the app before);
* *child* — the null computed by :func:`tdacnn.topology.null_process.null_lengths_in_child`
  (the app now).

Prints the stand-in's median, 99th-percentile and longest task time, as ratios to idle,
and how long the null took each way.  Then once more with a *busy* stand-in (tasks back
to back, as while the page computes graphs): how long the null takes in a thread and in a
child, i.e. how long the verdict waits while the server is busy.  ``--json`` prints one JSON
object.  On a shared 2-core machine figures are noisy (load average printed).

    python benchmarks/responsiveness.py [--points 1000] [--draws 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

import numpy as np

#: Seconds between two tasks of the request stand-in.
PERIOD_S = 0.01


def _task() -> None:
    nodes = [{"data": {"id": f"n{i}", "size": i % 17, "label": str(i)}, "position": {"x": i * 1.5, "y": i * 0.5}}
             for i in range(400)]
    json.dumps(nodes)


def _measure(background, period: float = PERIOD_S) -> dict:
    """Run the stand-in while ``background()`` runs (None: for 3 s alone); task times in ms.

    ``period`` 0: tasks back to back (a busy server)."""
    times: list[float] = []
    done = threading.Event()

    def serve():
        while not done.is_set():
            if period:
                time.sleep(period)
            t = time.perf_counter()  # the wake-up: from here the task waits for the GIL, then runs
            _task()
            times.append((time.perf_counter() - t) * 1e3)

    server = threading.Thread(target=serve)
    t0 = time.perf_counter()
    server.start()
    if background is None:
        time.sleep(3.0)
    else:
        background()
    took = time.perf_counter() - t0
    done.set()
    server.join()
    return {"seconds": took, "median_ms": float(np.median(times)), "p99_ms": float(np.percentile(times, 99)),
            "max_ms": float(np.max(times)), "tasks": len(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000, help="points of the tested cloud (before the density filter)")
    ap.add_argument("--draws", type=int, default=None, help="null clouds (default: NULL_DRAWS)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from tdacnn.topology.blas import pin_one_blas_thread
    from tdacnn.topology.null_process import null_lengths_in_child
    from tdacnn.topology.params import DensityParams, PersistenceParams
    from tdacnn.topology.significance import NULL_DRAWS, NullSpec, _compute_null

    pin_one_blas_thread()  # as the app does
    spec = NullSpec(args.points, 9, "sphere", PersistenceParams(), DensityParams(k=15, p=50),
                    draws=args.draws or NULL_DRAWS)
    res: dict = {"points": args.points, "draws": spec.draws, "load_avg_before": os.getloadavg()[0]}
    _measure(None)  # warm up (imports, CPU clock)
    res["idle"] = _measure(None)

    def in_thread():
        worker = threading.Thread(target=_compute_null, args=(spec,))
        worker.start()
        worker.join()

    res["thread"] = _measure(in_thread)
    res["child"] = _measure(lambda: null_lengths_in_child(spec))
    for way in ("thread", "child"):
        for stat in ("median", "p99", "max"):
            res[way][f"{stat}_vs_idle"] = res[way][f"{stat}_ms"] / res["idle"][f"{stat}_ms"]
    res["null_thread_vs_child"] = res["thread"]["seconds"] / res["child"]["seconds"]
    res["busy_thread"] = _measure(in_thread, period=0)
    res["busy_child"] = _measure(lambda: null_lengths_in_child(spec), period=0)
    res["busy_null_thread_vs_child"] = res["busy_thread"]["seconds"] / res["busy_child"]["seconds"]
    res["load_avg_after"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(res))
        return
    print(f"a request stand-in while the null of a {args.points}-point cloud ({spec.draws} draws) is computed "
          f"(load average {res['load_avg_before']:.1f})")
    i = res["idle"]
    print(f"  idle: task median {i['median_ms']:.2f} ms, p99 {i['p99_ms']:.2f} ms, longest {i['max_ms']:.1f} ms")
    for way, words in (("thread", "null in a thread"), ("child", "null in a child")):
        r = res[way]
        print(f"  {words}: null {r['seconds']:.1f} s; task median {r['median_ms']:.2f} ms "
              f"({r['median_vs_idle']:.1f}x idle), p99 {r['p99_ms']:.2f} ms ({r['p99_vs_idle']:.1f}x), "
              f"longest {r['max_ms']:.1f} ms ({r['max_vs_idle']:.1f}x)")
    print(f"  the null took {res['null_thread_vs_child']:.1f}x as long in a thread as in a child")
    print(f"  busy server: the null took {res['busy_thread']['seconds']:.1f} s in a thread, "
          f"{res['busy_child']['seconds']:.1f} s in a child ({res['busy_null_thread_vs_child']:.1f}x)")
    print(f"  load average after: {res['load_avg_after']:.1f}")


if __name__ == "__main__":
    main()
