"""What every experiment of a reproduction shares: the context, one cloud's analysis, verdicts.

:func:`analyse_cloud` runs the whole pipeline on one point cloud — optional
subsample, density filter, Mapper graph, barcode, orientation — and returns a
:class:`CloudResult` holding the objects (for figures) and a JSON-able summary
(for ``results.json``).  The circle verdict is stated once, in :func:`circle_verdict`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from tdacnn.reproduce.settings import Settings, density_k

__all__ = ["Context", "CloudResult", "analyse_cloud", "circle_verdict", "Verdict", "mapper_params",
           "persistence_params", "part_result", "median_nn_distance"]

log = logging.getLogger(__name__)

Verdict = str  # "seen", "partly seen", "not seen"

#: Fewest points for which an analysis is attempted at all.
MIN_POINTS = 12


@dataclass
class Context:
    """State shared by the experiments of one reproduction.

    Attributes
    ----------
    settings : Settings
    out_dir : Path
        Where figures, ``report.html`` and ``results.json`` go.
    data_root : Path
        Folder holding ``MNIST/raw`` and ``cifar-10-batches-py``.
    runs_root : Path
        Cache of training runs (see :mod:`tdacnn.reproduce.runs`).
    device : {"cpu", "cuda"}
    download : bool
    vgg16 : list of Path
        VGG16 checkpoints given on the command line.
    say : callable(str)
        Progress messages for the user (stderr in the CLI).
    """

    settings: Settings
    out_dir: Path
    data_root: Path
    runs_root: Path
    device: str = "cpu"
    download: bool = False
    vgg16: list[Path] = field(default_factory=list)
    say: Callable[[str], None] = lambda msg: None
    analysis: Any = None
    timings: dict[str, float] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)
    parts: tuple[str, ...] = ()
    _runs: dict[str, tuple[Any, dict, Path]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.analysis is None:
            from tdacnn.analysis import Analysis

            self.analysis = Analysis()

    def save_png(self, name: str, fig, dpi: int = 90) -> str:
        """Write a matplotlib figure as ``out_dir/name`` (256-colour PNG) and return the file name."""
        from tdacnn.view.static import to_png

        (self.out_dir / name).write_bytes(to_png(fig, dpi=dpi, palette=True))
        return name

    def train_config(self, dataset: str):
        """The :class:`TrainConfig` of the ensemble for ``dataset`` ("mnist" or "cifar10")."""
        from tdacnn.training.config import TrainConfig

        s = self.settings
        n, t = ((s.mnist_networks, s.mnist_iterations) if dataset == "mnist"
                else (s.cifar_networks, s.cifar_iterations))
        return TrainConfig(dataset=dataset, data_root=str(self.data_root), download=self.download, n_networks=n,
                           iterations=t, snapshots=s.snapshots, seed=s.seed, device=self.device,
                           backend=s.backend)

    def has_run(self, dataset: str) -> bool:
        """Whether the ensemble of ``dataset`` is trained already (this reproduction, or a complete cached run)."""
        if dataset in self._runs:
            return True
        from tdacnn.reproduce.runs import run_folder

        run_json = run_folder(self.train_config(dataset), self.runs_root) / "run.json"
        try:
            import json

            return json.loads(run_json.read_text()).get("status") == "complete"
        except (OSError, ValueError):
            return False

    def run(self, dataset: str):
        """The trained ensemble of ``dataset``: (WeightSet, run.json dict, run folder); trained once."""
        if dataset not in self._runs:
            from tdacnn.reproduce.runs import ensure_run
            from tdacnn.weights import WeightSet

            cfg = self.train_config(dataset)
            self.say(f"training {cfg.n_networks} {dataset} networks for {cfg.iterations} iterations "
                     f"(cached in {self.runs_root}) ...")
            last = [0.0]

            def progress(p) -> None:  # a tdacnn.progress.Progress
                now = time.monotonic()
                if now - last[0] > 30:
                    last[0] = now
                    self.say(f"  {dataset}: {p.line()}")

            folder, info, seconds, reused = ensure_run(cfg, self.runs_root, progress)
            self.timings[f"train_{dataset}"] = round(seconds, 1)
            info = dict(info, reused=reused, folder=str(folder))
            self._runs[dataset] = (WeightSet.load(folder), info, folder)
        return self._runs[dataset]


@dataclass
class CloudResult:
    """One cloud's analysis: objects for figures, a summary for JSON."""

    cloud: Any
    dense: Any
    graph: Any
    barcode: Any
    angles: np.ndarray
    energy: np.ndarray
    summary: dict[str, Any]


def median_nn_distance(points: np.ndarray) -> float:
    """Median distance from a point to its nearest neighbour, shape (m, d) -> float."""
    from sklearn.neighbors import NearestNeighbors

    if len(points) < 2:
        return 1.0
    dist, _ = NearestNeighbors(n_neighbors=2).fit(points).kneighbors(points)
    return float(np.median(dist[:, 1]))


def mapper_params(settings: Settings, points: np.ndarray):
    """Mapper parameters of a density-filtered cloud ``points`` (m, d): the cut scales with its spacing."""
    from tdacnn.topology.params import MapperParams

    cut = round(max(settings.mapper_cut_factor * median_nn_distance(points), 1e-6), 4)
    return MapperParams(lens="pca2", n_cubes=settings.mapper_cubes, overlap=settings.mapper_overlap,
                        clusterer="single", distance_cut=cut)


def persistence_params(settings: Settings, small: bool = False):
    from tdacnn.topology.params import PersistenceParams

    return PersistenceParams(maxdim=1, n_perm=settings.n_perm_small if small else settings.n_perm)


def circle_verdict(h1_significant: int, betti1: int, lengths: Sequence[float] = (),
                   p_values: Sequence[float] = ()) -> tuple[Verdict, str]:
    """Whether a cloud is a circle, from its barcode and its Mapper complex.

    ``seen``: exactly one significant H1 bar (the one rule of :mod:`tdacnn.topology.significance`:
    a Monte Carlo test against random filters) *and* the Mapper complex has first Betti
    number 1; ``partly seen``: one of the two; ``not seen``: neither.
    """
    from tdacnn.topology.significance import format_p

    bar = h1_significant == 1
    graph = betti1 == 1
    why = f"{h1_significant} significant H1 bar{'s' if h1_significant != 1 else ''}"
    if len(lengths) >= 2:
        why += f" (longest {lengths[0]:.2f}" + (f", {format_p(p_values[0])}" if len(p_values) else "")
        why += f"; next {lengths[1]:.2f}" + (f", {format_p(p_values[1])}" if len(p_values) > 1 else "") + ")"
    elif len(lengths) == 1:
        why += f" (one bar, {lengths[0]:.2f}" + (f", {format_p(p_values[0])}" if len(p_values) else "") + ")"
    why += f", Mapper betti1 = {betti1}"
    if bar and graph:
        return "seen", why
    if bar or graph:
        return "partly seen", why
    return "not seen", why


def analyse_cloud(ctx: Context, cloud, label: str, k: int | None = None, small: bool = False,
                  seed_offset: int = 0) -> CloudResult:
    """Density filter, Mapper graph, barcode and orientation of one cloud.

    Parameters
    ----------
    ctx : Context
    cloud : PointCloud
    label : str
        Names the cloud in logs and in the summary.
    k : int, optional
        Density k; the paper ratio (:func:`density_k`) when None.
    small : bool
        Use the smaller landmark count (many clouds in one experiment).

    Returns
    -------
    CloudResult
        ``summary`` has ``points`` (before any subsample), ``analysed``, ``kept``,
        ``density``, ``graph`` (nodes, edges, components, cycle_rank, betti1),
        ``h1`` (significant, the longest lengths), ``orientation`` and ``verdict``.
    """
    from tdacnn.errors import UserError
    from tdacnn.topology.mapper import graph_summary
    from tdacnn.topology.orientation import axis_excess, orientation
    from tdacnn.topology.params import DensityParams

    s = ctx.settings
    t0 = time.monotonic()
    n_all = len(cloud)
    if n_all < MIN_POINTS:
        raise UserError(f"{label}: only {n_all} points, too few to analyse")
    if n_all > s.max_points:
        rng = np.random.default_rng([s.seed, seed_offset])
        cloud = cloud.subset(np.sort(rng.choice(n_all, size=s.max_points, replace=False)))
    n = len(cloud)
    k = density_k(n, s) if k is None else max(1, min(int(k), n - 1))
    density = DensityParams(k=k, p=s.density_p, max_points=None)  # already subsampled above, with its own seed
    dense = ctx.analysis.dense(cloud, density)
    mparams = mapper_params(s, dense.cloud.points)
    graph = ctx.analysis.graph(dense, mparams)
    pparams = persistence_params(s, small)
    # the barcode with each bar's p-value against the same pipeline on random filters (the null is
    # cached per cloud size, so the snapshots of one layer share it)
    bars = ctx.analysis.barcode(dense, pparams)
    gsum = graph_summary(graph)
    h1 = np.asarray(bars.bars(1), dtype=float).reshape(-1, 2)  # longest first
    lengths = (h1[:, 1] - h1[:, 0]).tolist()
    pvals = bars.pvalues(1).tolist()
    verdict, why = circle_verdict(bars.h1_significant, gsum["betti1"], lengths, pvals)
    if dense.cloud.kernel_shape == (3, 3):
        angles, energy = orientation(dense.cloud.points)
    else:
        angles, energy = np.zeros(0), np.zeros(0)
    summary = {
        "label": label,
        "source": cloud.source,
        "points": int(n_all),
        "analysed": int(n),
        "subsampled": bool(n < n_all),
        "dropped_constant": int(cloud.n_dropped),
        "kept": int(len(dense)),
        "density": density.to_dict(),
        "mapper": mparams.to_dict(),
        "persistence": {**pparams.to_dict(), "engine": bars.meta.get("engine", ""), "landmarks": int(bars.n_landmarks),
                        "rule": bars.meta.get("significance", {}).get("rule", "")},
        "graph": {k2: int(v) for k2, v in gsum.items()},
        "h1": {"significant": int(bars.h1_significant), "lengths": [round(x, 4) for x in lengths[:10]],
               "p_values": [float(f"{p:.3g}") for p in pvals[:10]],
               "bars": [[round(float(b), 4), round(float(d), 4)] for b, d in h1[:10]]},
        "verdict": verdict,
        "why": why,
        "orientation": {
            "axis_excess": round(axis_excess(angles), 3) if len(angles) else None,
            "median_energy_on_circle": round(float(np.median(energy)), 3) if len(energy) else None,
        },
    }
    summary["seconds"] = round(time.monotonic() - t0, 2)
    log.info("%s: %s (%s) in %.1f s", label, verdict, why, summary["seconds"])
    return CloudResult(cloud, dense, graph, bars, angles, energy, summary)


def part_result(name: str, title: str) -> dict[str, Any]:
    """An empty result record of one experiment."""
    return {"name": name, "title": title, "status": "ok", "verdict": None, "summary": "", "numbers": {},
            "params": {}, "figures": [], "notes": [], "seconds": None}
