"""Sizes and parameters of a reproduction: ``quick`` (tests), ``cpu`` (a 2-core laptop, half an hour),
``full`` (the seed's sizes on a 2-core machine, a few hours), ``gpu`` (full size on a CUDA GPU).

Everything a reproduction computes is fixed here and written into its report,
so a reader can rerun it.  The density parameter follows the paper's ratio:
Gabrielsson & Carlsson used k = 200 on 6,400 filters (100 networks × 64), so a
cloud of n points gets ``k = round(200 n / 6400)``, kept between 5 and 300;
``p = 30`` % throughout.  The natural-image patches use the 2008 paper's own
X(300, 30) and X(15, 30).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from tdacnn.errors import UserError

__all__ = ["Settings", "settings_for", "density_k", "PARTS", "Profile"]

Profile = Literal["quick", "cpu", "full", "gpu"]

#: The experiments, in report order.
PARTS = ("mnist", "cifar10", "dynamics", "depth", "patches")


@dataclass(frozen=True)
class Settings:
    """Every size and parameter of one reproduction.

    Attributes
    ----------
    profile : {"quick", "cpu", "full", "gpu"}
    mnist_networks, mnist_iterations, cifar_networks, cifar_iterations : int
        Ensemble sizes and optimiser steps (Adam, lr 1e-3, batch 64).
    snapshots : tuple of int
        Iterations at which the conv weights are saved (training dynamics).
    seed : int
        Seed of the training runs and of every subsample.
    density_p : float
        Percent of densest points kept.
    k_min, k_max : int
        Bounds of the paper-ratio k (see :func:`density_k`).
    mapper_cubes, mapper_overlap, mapper_cut_factor : int, float, float
        Mapper: lens = first two principal components, this many intervals per
        lens dimension with this overlap, single-linkage clusters cut at
        ``mapper_cut_factor`` times the median nearest-neighbour distance of the
        density-filtered cloud (so sparse and dense clouds are clustered alike).
    n_perm, n_perm_small : int
        Max-min landmarks for the main barcodes, and for the many small ones
        (training dynamics, VGG16 layers).
    max_points : int
        Clouds larger than this (layer 2, VGG16 layers) are subsampled at random
        (seeded) before the density filter.
    patches : int
        Size of the natural-patch cloud.
    blur_sigma : float
        The documented pre-blur of the photos (pixels) for the "with blur" runs.
    patch_ks : tuple of int
        The k of the patch experiments (the 2008 paper's 300 and 15).
    """

    profile: Profile = "cpu"
    mnist_networks: int = 40
    mnist_iterations: int = 1000
    cifar_networks: int = 10
    cifar_iterations: int = 1000
    snapshots: tuple[int, ...] = (0, 100, 200, 400, 500, 1000)
    seed: int = 0
    density_p: float = 30.0
    k_min: int = 5
    k_max: int = 300
    mapper_cubes: int = 8
    mapper_overlap: float = 0.5
    mapper_cut_factor: float = 2.0
    n_perm: int = 300
    n_perm_small: int = 200
    max_points: int = 15000
    patches: int = 15000
    blur_sigma: float = 0.6
    patch_ks: tuple[int, ...] = (300, 15)
    backend: Literal["auto", "serial"] = "auto"
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("snapshots", "patch_ks", "notes"):
            d[k] = list(d[k])
        return d


_PROFILES: dict[str, Settings] = {
    "quick": Settings(profile="quick", mnist_networks=2, mnist_iterations=30, cifar_networks=2, cifar_iterations=30,
                      snapshots=(0, 10, 30), n_perm=60, n_perm_small=40, max_points=1500, patches=1500,
                      patch_ks=(100, 15), mapper_cubes=6, backend="serial",
                      notes=("quick mode: tiny sizes for tests, the results mean nothing",)),
    "cpu": Settings(),
    # The seed's sizes where a 2-core CPU allows them: MNIST layer 1 pooled over 100 networks (as the
    # paper), CIFAR-10 layers 1 and 2 up to 5,000 iterations so the layer-1 -> layer-2 hand-over is tested.
    "full": Settings(profile="full", mnist_networks=100, mnist_iterations=1000, cifar_networks=20,
                     cifar_iterations=5000, snapshots=(0, 100, 200, 400, 500, 1000, 2000, 5000)),
    "gpu": Settings(profile="gpu", mnist_networks=100, mnist_iterations=2000, cifar_networks=100,
                    cifar_iterations=5000, snapshots=(0, 100, 200, 400, 500, 1000, 2000, 5000), n_perm=400,
                    n_perm_small=300, max_points=30000, patches=50000),
}


def settings_for(profile: Profile, networks: int | None = None, iterations: int | None = None,
                 seed: int | None = None) -> Settings:
    """The settings of a profile, with the command line's overrides.

    Parameters
    ----------
    profile : {"quick", "cpu", "full", "gpu"}
    networks, iterations : int, optional
        Override both datasets' ensemble size / training steps.
    seed : int, optional
    """
    if profile not in _PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose quick, cpu, full or gpu")
    s = _PROFILES[profile]
    if networks is not None:
        if networks < 1:
            raise UserError(f"--networks must be at least 1; got {networks}")
        s = replace(s, mnist_networks=networks, cifar_networks=networks)
    if iterations is not None:
        if iterations < 1:
            raise UserError(f"--iterations must be at least 1; got {iterations}")
        s = replace(s, mnist_iterations=iterations, cifar_iterations=iterations)
    if seed is not None:
        if seed < 0:
            raise UserError(f"--seed must be ≥ 0; got {seed}")
        s = replace(s, seed=seed)
    return s


def density_k(n_points: int, settings: Settings) -> int:
    """The paper-ratio k for a cloud of ``n_points``: ``round(200 n / 6400)`` within [k_min, k_max], < n."""
    k = int(round(200 * n_points / 6400))
    k = max(settings.k_min, min(settings.k_max, k))
    return max(1, min(k, n_points - 1))
