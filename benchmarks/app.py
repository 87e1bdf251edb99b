"""Benchmark the dashboard: slider move → new Cytoscape elements, and cold start → first graph.

1. **Slider move on 20,000 filters** (density already cached, as after the first
   view): the server time of the graph callback, through Dash's own HTTP endpoint
   (``POST /_dash-update-component`` on the Flask test client, JSON both ways),
   for cover changes (intervals, overlap) and clusterer changes (distance cut,
   DBSCAN), each a Mapper graph not computed before.  Baseline measured in the
   same run: the Mapper stage alone (``Analysis.graph`` on the same dense cloud);
   the ratio says what the app adds (layout, thumbnails, JSON).  Also the same
   move a second time (everything cached).
2. **Cold start → first graph in the browser**: ``python app.py`` in a fresh data
   directory (empty cache), headless Chromium opens the page, and the clock stops
   when Cytoscape holds nodes; then again with the cache kept (warm restart).
   Uses the shipped default run (``data/default-run``) when present, else a
   synthetic one (said in the output).

    python benchmarks/app.py [--json] [--filters 20000] [--repeats 3] [--no-browser]

The machine is shared: timings are noisy; compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "app"))
sys.path.append(str(REPO / "tests"))  # tests/_browser.py


def synthetic_run(home: Path, n_filters: int, seed: int = 0) -> str:
    """A run with ``n_filters`` 3×3 slices in layer 1 (40 networks × out × in): edges plus noise."""
    from tdacnn.weights import WeightEntry, WeightSet

    rng = np.random.default_rng(seed)
    n_nets, n_out = 40, 50
    n_in = max(1, n_filters // (n_nets * n_out))
    y, x = np.mgrid[-1:2, -1:2]
    entries = []
    for net in range(n_nets):
        theta = rng.uniform(0, 2 * np.pi, size=(n_out, n_in))
        w = np.cos(theta)[..., None, None] * x + np.sin(theta)[..., None, None] * y
        w = w + 0.35 * rng.normal(size=w.shape)
        entries.append(WeightEntry(net, 1, 1000, w, "conv1.weight"))
    WeightSet(entries, {"dataset": "synthetic"}).save(home / "runs" / "bench")
    return "run:bench"


def _callback_spec(app, output_prefix: str) -> dict:
    for key, cb in app.callback_map.items():
        if key.startswith(output_prefix) or f"..{output_prefix}" in key:
            return {**cb, "output": key}
    raise RuntimeError(f"no callback for {output_prefix}")


def _outputs(output: str) -> list[dict]:
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    return [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts]


def slider_benchmark(n_filters: int, repeats: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="tdacnn-bench-"))
    os.environ["TDACNN_HOME"] = str(home)
    source = synthetic_run(home, n_filters)
    from tdacnn.app import create_app, services
    from tdacnn.app.controls import DEFAULTS, ExploreRequest, parse_request

    app = create_app(warm=False)
    client = app.server.test_client()
    graph_key = _callback_spec(app, "..explore-graph.elements")["output"]

    def post(request: ExploreRequest, memory) -> tuple[float, dict]:
        payload = {"output": graph_key, "outputs": _outputs(graph_key),
                   "inputs": [{"id": "explore-request", "property": "data", "value": request.to_dict()}],
                   "state": [{"id": "explore-memory", "property": "data", "value": memory}],
                   "changedPropIds": ["explore-request.data"]}
        t0 = time.perf_counter()
        r = client.post("/_dash-update-component", json=payload)
        dt = time.perf_counter() - t0
        if r.status_code != 200:
            raise RuntimeError(f"callback answered {r.status_code}: {r.data[:300]!r}")
        return dt, r.get_json()["response"]

    base = {**DEFAULTS, "source": source, "k": 100, "p": 30}
    first = parse_request(base)
    t0 = time.perf_counter()
    _, resp = post(first, None)
    cold_first = time.perf_counter() - t0  # k-NN table + density + Mapper + layout, from nothing
    memory = resp["explore-memory"]["data"]
    n_points = len(services.compute_graph(first).cloud)
    moves = []
    for r in range(repeats):
        for name, value in (("n_cubes", 11 + r), ("overlap", 0.35 + 0.05 * r), ("distance_cut", 0.45 + 0.02 * r),
                            ("clusterer", "dbscan")):
            over = {name: value} if name != "clusterer" else {"clusterer": "dbscan", "eps": 0.3 + 0.02 * r}
            moves.append(parse_request({**base, **over}))
    app_times, mapper_times, cached_times, nodes = [], [], [], []
    analysis = services.get_analysis()
    for req in moves:
        # baseline: the Mapper stage alone on the same (cached) dense cloud, a fresh Analysis memo-less call
        _, dense = services._dense(req)  # noqa: SLF001 - the benchmark measures the stage itself
        t0 = time.perf_counter()
        from tdacnn.topology.mapper import mapper_graph

        g = mapper_graph(dense.cloud.points, dense.codensity, req.mapper, dense.cloud.kernel_shape,
                         lens_values=analysis.lens(dense, req.mapper.lens))
        mapper_times.append(time.perf_counter() - t0)
        previous = memory
        dt, resp = post(req, memory)
        app_times.append(dt)
        memory = resp["explore-memory"]["data"]
        nodes.append(len(g.nodes))
        # the same move again from the same previous graph (with the new graph's own memory the
        # callback would see that graph already drawn and send nothing)
        dt2, resp2 = post(req, previous)
        assert "explore-graph" in resp2, "the repeated move redraws"
        cached_times.append(dt2)
    med = statistics.median
    return {
        "filters": n_points, "dense_points": int(round(n_points * 0.3)), "moves": len(moves),
        "median_nodes": med(nodes),
        "first_view_cold_s": round(cold_first, 3),
        "slider_move_server_s_median": round(med(app_times), 4),
        "slider_move_server_s_max": round(max(app_times), 4),
        "mapper_stage_alone_s_median": round(med(mapper_times), 4),
        "ratio_move_to_mapper_stage": round(med(app_times) / med(mapper_times), 2),
        "repeat_move_all_cached_s_median": round(med(cached_times), 4),
    }


def browser_benchmark() -> dict:
    from _browser import CHROMIUM, CHROMIUM_ARGS
    from conftest import make_home, start_app
    from playwright.sync_api import sync_playwright

    from tdacnn import config

    shipped = (config.DEFAULT_RUN / "weights.npz").is_file()
    home = Path(tempfile.mkdtemp(prefix="tdacnn-bench-home-"))
    if not shipped:
        make_home(home)
    out = {"data": "shipped default run" if shipped else "synthetic run (no data/default-run yet)"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label in ("cold", "warm_restart"):
            t0 = time.perf_counter()
            with start_app(home) as url:
                t_server = time.perf_counter() - t0
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                t1 = time.perf_counter()
                page.goto(url + "/")
                t_shell = time.perf_counter() - t1
                page.wait_for_function(
                    "() => { const el = document.getElementById('explore-graph');"
                    " return el && el._cyreg && el._cyreg.cy && el._cyreg.cy.nodes().length > 0; }", timeout=180_000)
                t_graph = time.perf_counter() - t0
                n = page.evaluate("() => document.getElementById('explore-graph')._cyreg.cy.nodes().length")
                page.close()
            out[label] = {"start_to_first_graph_s": round(t_graph, 3), "server_up_s": round(t_server, 3),
                          "page_shell_s": round(t_shell, 3),
                          "graph_after_shell_s": round(t_graph - t_server - t_shell, 3), "nodes": n}
        browser.close()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--filters", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    result = {"slider": slider_benchmark(args.filters, args.repeats)}
    if not args.no_browser:
        result["first_graph"] = browser_benchmark()
    result["note"] = "shared 2-core machine: noisy timings; compare ratios"
    if args.json:
        print(json.dumps(result))
    else:
        s = result["slider"]
        print(f"slider move on {s['filters']:,} filters ({s['dense_points']:,} kept, ~{s['median_nodes']} nodes), "
              f"{s['moves']} cover/clusterer moves:")
        print(f"  server time to new elements: median {s['slider_move_server_s_median']:.3f} s "
              f"(max {s['slider_move_server_s_max']:.3f} s)")
        print(f"  Mapper stage alone:           median {s['mapper_stage_alone_s_median']:.3f} s "
              f"-> ratio {s['ratio_move_to_mapper_stage']:.2f}x")
        print(f"  same move again (cached):     median {s['repeat_move_all_cached_s_median']:.3f} s")
        print(f"  first view from nothing (k-NN table etc.): {s['first_view_cold_s']:.2f} s")
        if "first_graph" in result:
            fg = result["first_graph"]
            print(f"cold start -> first graph in the browser ({fg['data']}):")
            for label in ("cold", "warm_restart"):
                d = fg[label]
                print(f"  {label:13s} {d['start_to_first_graph_s']:.2f} s (server up {d['server_up_s']:.2f} s, "
                      f"page {d['page_shell_s']:.2f} s, graph after page {d['graph_after_shell_s']:.2f} s, "
                      f"{d['nodes']} nodes)")
        print(result["note"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
