"""Training ensembles of small CNNs with weight snapshots (imports torch lazily).

Main entry points: :class:`tdacnn.training.config.TrainConfig`,
:func:`tdacnn.training.run.train_run` (a run folder, resumable),
:func:`tdacnn.training.run.train_weights` (a slice of a run, in memory) and
:func:`tdacnn.training.ensemble.train_ensemble`; :class:`Cancelled` is what
``train_weights`` raises when its ``cancel()`` turns true.
"""

from tdacnn.training.state import Cancelled

__all__ = ["Cancelled"]
