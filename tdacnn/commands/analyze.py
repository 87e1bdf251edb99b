"""``tdacnn analyze SOURCE``: density filter, Mapper graph and barcode, headless.

SOURCE is a ``.npy``/``.npz`` array of filters or patches (or a tdacnn weight
set ``.npz``), a training-run folder (holding ``weights.npz``), a checkpoint
(``.pt``/``.pth``/``.bin``/``.safetensors``, Keras ``.h5``/``.keras``, ``.onnx``), or the literal ``natural-patches``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from tdacnn.errors import UserError

__all__ = ["add_parser", "run", "load_source"]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".h5", ".keras", ".onnx")


def _channels(value: str):
    if value in ("each", "sum", "mean"):
        return value
    try:
        c = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be each, sum, mean or an input-channel number; got {value!r}")
    return c


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from tdacnn.topology.params import CLUSTERERS, LENSES, MapperParams, PersistenceParams

    mp, pp = MapperParams(), PersistenceParams()
    p = subparsers.add_parser(
        "analyze", help="density-filter a cloud of filters or patches, build its Mapper graph and barcode",
        description=__doc__.splitlines()[0] + " SOURCE: a .npy/.npz filter or patch array, a training-run "
        "folder, a checkpoint file (.pt/.pth/.bin/.safetensors, Keras .h5/.keras, .onnx), or natural-patches.")
    p.add_argument("source", metavar="SOURCE")
    g = p.add_argument_group("cloud")
    g.add_argument("--layer", type=int, default=None, help="conv layer number from 1 (default: the first)")
    g.add_argument("--iteration", type=int, default=None, help="saved iteration (default: the last)")
    g.add_argument("--channels", type=_channels, default="each", help="each | sum | mean | <input channel>")
    g.add_argument("--blur", type=float, default=0.0, metavar="SIGMA",
                   help="natural-patches only: Gaussian pre-blur of the photos in pixels (default 0)")
    g.add_argument("--n-patches", type=int, default=15000, help="natural-patches only: cloud size (default 15000)")
    g.add_argument("--seed", type=int, default=0, help="natural-patches only: sampling seed")
    g = p.add_argument_group("density")
    g.add_argument("--k", type=int, default=None,
                   help="k-th nearest neighbour (default: from the cloud's size, see tdacnn.topology.defaults)")
    g.add_argument("--p", type=float, default=None, help="percent of densest points kept (default: from the data)")
    g = p.add_argument_group("mapper")
    g.add_argument("--lens", choices=LENSES, default=mp.lens)
    g.add_argument("--cubes", type=int, default=None,
                   help="intervals per lens dimension (default: chosen for a readable graph)")
    g.add_argument("--overlap", type=float, default=None, help="interval overlap in (0, 1) (default 0.5)")
    g.add_argument("--clusterer", choices=CLUSTERERS, default=mp.clusterer)
    g.add_argument("--eps", type=float, default=None, help="DBSCAN radius (default: from the data)")
    g.add_argument("--min-samples", type=int, default=None, help="DBSCAN min samples (default 3)")
    g.add_argument("--distance-cut", type=float, default=None,
                   help="single-linkage cut (default: from the data's single-linkage merge heights)")
    g = p.add_argument_group("persistence")
    g.add_argument("--n-perm", type=int, default=pp.n_perm, help=f"max-min landmarks ({pp.n_perm}; 0 = all points)")
    g.add_argument("--maxdim", type=int, default=pp.maxdim, help="highest homology dimension, 0-2 (default 1)")
    g.add_argument("--thresh", type=float, default=pp.thresh,
                   help="stop the Rips filtration at this distance (default: none); much faster, "
                        "bars alive there get death null in --json")
    g.add_argument("--klein", action="store_true",
                   help="also place the filtered points on the Klein bottle of Carlsson et al. (2008): the "
                        "fractions near the primary circle, the secondary circles and far from them, and the "
                        "median distance (tdacnn.topology.klein)")
    g = p.add_argument_group("output")
    g.add_argument("--out", type=Path, default=None, metavar="DIR", help="write graph.json, barcode.json, params.json")
    g.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.set_defaults(func=run)
    return p


def load_source(source: str, cloud_params, blur: float = 0.0, n_patches: int = 15000, seed: int = 0,
                analysis=None):
    """A :class:`PointCloud` from any SOURCE the CLI accepts."""
    from tdacnn.analysis import Analysis
    from tdacnn.topology.points import cloud_from_array, load_array
    from tdacnn.weights import RUN_WEIGHTS_FILE, WeightSet, WeightSetError

    a = analysis or Analysis()
    if source == "natural-patches":
        return a.natural(n_patches, blur, seed)
    if blur:
        raise UserError("--blur applies to natural-patches only")
    path = Path(source)
    if not path.exists():
        raise UserError(f"{source} does not exist (expected a filter file, checkpoint, run folder or natural-patches)")
    try:
        if path.is_dir():
            if not (path / RUN_WEIGHTS_FILE).is_file():
                raise UserError(f"{path} is not a training-run folder: it has no {RUN_WEIGHTS_FILE}")
            return a.cloud(WeightSet.load(path), cloud_params)
        suffix = path.suffix.lower()
        if suffix in (".npy", ".npz"):
            if suffix == ".npz" and _is_weightset(path):
                return a.cloud(WeightSet.load(path), cloud_params)
            return cloud_from_array(load_array(path), source=path.name)
        if suffix in CHECKPOINT_SUFFIXES:
            from tdacnn.nets.checkpoints import read_weightset  # lazy: pulls in torch

            layer = cloud_params.layer or 1
            ws = read_weightset([path], layers=[layer])
            return a.cloud(ws, cloud_params.__class__(layer, cloud_params.iteration, cloud_params.channels))
    except WeightSetError as exc:
        raise UserError(str(exc)) from exc
    raise UserError(f"{path.name}: unknown file type {path.suffix!r}; use .npy, .npz, "
                    f"{', '.join(CHECKPOINT_SUFFIXES)}, a run folder or natural-patches")


def _is_weightset(path: Path) -> bool:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return "header" in z.files
    except Exception:  # noqa: BLE001 - load_array reports unreadable files
        return False


def run(args: argparse.Namespace) -> int:
    from tdacnn.analysis import Analysis
    from tdacnn.topology.mapper import graph_summary
    from tdacnn.topology.params import CloudParams, DensityParams, PersistenceParams, check_against_cloud

    cloud_params = CloudParams(args.layer, args.iteration, args.channels)
    fixed = {"k": args.k, "p": args.p, "n_cubes": args.cubes, "overlap": args.overlap, "eps": args.eps,
             "min_samples": args.min_samples, "distance_cut": args.distance_cut}
    _validate_explicit(args)
    persistence = PersistenceParams(args.maxdim, None if args.n_perm == 0 else args.n_perm, args.thresh)
    if args.n_patches < 1:
        raise UserError(f"--n-patches must be a positive integer; got {args.n_patches}")

    from tdacnn.store import results_store

    a = Analysis(store=results_store())  # the one results store: a barcode's null is computed once per size
    cloud = load_source(args.source, cloud_params, args.blur, args.n_patches, args.seed, a)
    check_against_cloud(len(cloud))
    if getattr(args, "klein", False):
        _klein_shape(cloud)  # refused before any work
    if args.k is not None:
        check_against_cloud(DensityParams().n_used(len(cloud)), DensityParams(args.k, 50.0))
    density, mapper = a.suggest(cloud, fixed, lens=args.lens, clusterer=args.clusterer)
    dense = a.dense(cloud, density)
    graph = a.graph(dense, mapper)
    bars = a.barcode(dense, persistence)
    summary = graph_summary(graph)
    result = {
        "points": len(cloud), "sampled": dense.n_sampled, "kept": len(dense), "dropped": int(cloud.n_dropped),
        "source": cloud.source,
        "graph": summary,
        **{f"h{d}": _dimension(bars, d) for d in range(len(bars.diagrams))},
        "significance": _significance(bars),
        "params": {"k": density.k, "p": density.p, "lens": mapper.lens, "n_cubes": mapper.n_cubes,
                   "overlap": mapper.overlap, "clusterer": mapper.clusterer, "distance_cut": mapper.distance_cut,
                   "eps": mapper.eps, "min_samples": mapper.min_samples},
        "auto": sorted(name for name, value in fixed.items() if value is None),
    }
    if getattr(args, "klein", False):
        result["klein"] = _klein(dense)
    params = {"source": args.source, "cloud": cloud_params.to_dict(), "density": density.to_dict(),
              "mapper": mapper.to_dict(), "persistence": persistence.to_dict(), "blur_sigma": args.blur,
              "n_patches": args.n_patches, "seed": args.seed}
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "graph.json").write_text(graph.to_json())
            (args.out / "barcode.json").write_text(bars.to_json())
            (args.out / "params.json").write_text(json.dumps(params, indent=2, default=_jsonable))
        except OSError as exc:
            raise UserError(f"cannot write to {args.out}: {exc.strerror or exc}") from None
    if args.json:
        json.dump(result, sys.stdout, default=_jsonable)
        sys.stdout.write("\n")
        return 0
    _print_summary(result, cloud, dense, args)
    return 0


def _klein_shape(cloud) -> None:
    if tuple(cloud.kernel_shape) != (3, 3):
        raise UserError(f"--klein needs 3×3 filters or patches (the Klein bottle is a model of 3×3 patches); "
                        f"these are {'×'.join(map(str, cloud.kernel_shape))}")


def _klein(dense) -> dict:
    """``{"primary", "secondary", "other", "median_distance"}`` of the filtered cloud (3×3 only)."""
    from tdacnn.topology.klein import circle_fractions, klein_coordinates

    _klein_shape(dense.cloud)
    return circle_fractions(klein_coordinates(dense.cloud.points))


def _dimension(bars, d: int) -> dict:
    """``{"significant", "bars", "p_values"}`` of dimension ``d``: bars longest first (a death alive at
    ``--thresh`` is null), each with its p-value against the null (:mod:`tdacnn.topology.significance`)."""
    return {"significant": int(bars.significant[d]) if d < len(bars.significant) else 0,
            "bars": [[float(b), float(e) if math.isfinite(e) else None] for b, e in bars.bars(d)],
            "p_values": [float(p) for p in bars.pvalues(d)]}


def _significance(bars) -> dict:
    """What the p-values mean: the rule's version, alpha, the null and its number of clouds."""
    from tdacnn.topology.persistence import SIGNIFICANCE_VERSION

    info = bars.meta.get("significance", {})
    return {"version": SIGNIFICANCE_VERSION, "alpha": info.get("alpha"), "null": info.get("null"),
            "draws": info.get("draws")}


def _validate_explicit(args: argparse.Namespace) -> None:
    """Refuse an out-of-range explicit value before any work (the parameter classes say why)."""
    from tdacnn.topology.params import DensityParams, MapperParams

    def given(value, stand_in):
        return stand_in if value is None else value

    DensityParams(given(args.k, 1), given(args.p, 50.0))
    MapperParams(args.lens, given(args.cubes, 10), given(args.overlap, 0.5), args.clusterer, given(args.eps, 0.5),
                 given(args.min_samples, 3), given(args.distance_cut, 0.5))


def _jsonable(x):
    if isinstance(x, float) and math.isinf(x):
        return None
    return str(x)


def _print_summary(r: dict, cloud, dense, args) -> None:
    from tdacnn.topology.significance import format_p

    g, h1 = r["graph"], r["h1"]
    lines = [
        f"source   {cloud.source or args.source}",
        f"points   {dense.describe()}; {r['dropped']} constant slices dropped",
        f"mapper   {g['nodes']} nodes, {g['edges']} edges, {g['components']} component(s), "
        f"cycle rank {g['cycle_rank']}, betti1 {g['betti1']}  (lens {args.lens}, {r['params']['n_cubes']} cubes, "
        f"overlap {r['params']['overlap']:g}, {args.clusterer}"
        + (f" cut {r['params']['distance_cut']:g}" if args.clusterer == "single" else f" eps {r['params']['eps']:g}")
        + ")",
        "auto     " + (", ".join(r["auto"]) + " from the data" if r["auto"] else "none (all given)"),
        f"H1       {h1['significant']} significant bar(s) of {len(h1['bars'])} (p ≤ {r['significance']['alpha']:g} "
        f"against {r['significance']['null']}, {r['significance']['draws']} clouds)",
    ]
    for (b, d), p in list(zip(h1["bars"], h1["p_values"]))[:8]:
        lines.append(f"         [{b:.3f}, {d:.3f})  length {d - b:.3f}  {format_p(p)}" if d is not None
                     else f"         [{b:.3f}, alive at --thresh)  {format_p(p)}")
    if "klein" in r:
        k = r["klein"]
        lines.append(f"klein    {100 * k['primary']:.0f} % near the primary circle, {100 * k['secondary']:.0f} % near "
                     f"the secondary circles, {100 * k['other']:.0f} % far from them; median distance to the "
                     f"Klein bottle {k['median_distance']:.3f}")
    if args.out is not None:
        lines.append(f"wrote    {args.out}/graph.json, barcode.json, params.json")
    print("\n".join(lines))
