"""Reproduce the published results: ``tdacnn reproduce``.

One module per experiment of Gabrielsson & Carlsson (and Carlsson et al. 2008),
each with ``run(ctx) -> dict``:

- :mod:`~tdacnn.reproduce.mnist` — MNIST layer 1, the circle of edge detectors;
- :mod:`~tdacnn.reproduce.cifar10` — CIFAR-10 layer 1, channels each and summed;
- :mod:`~tdacnn.reproduce.dynamics` — layers 1 and 2 over the training iterations;
- :mod:`~tdacnn.reproduce.depth` — VGG16 conv layers 2–13;
- :mod:`~tdacnn.reproduce.patches` — natural image patches beside the CNN filters.

:mod:`~tdacnn.reproduce.settings` fixes every size, :mod:`~tdacnn.reproduce.runs`
caches the training runs, :mod:`~tdacnn.reproduce.runner` runs the parts and
:mod:`~tdacnn.reproduce.report` writes ``report.html`` and ``results.json``.
"""

from tdacnn.reproduce.settings import PARTS, Settings, settings_for

__all__ = ["PARTS", "Settings", "settings_for"]
