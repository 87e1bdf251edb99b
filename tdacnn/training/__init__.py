"""Training ensembles of small CNNs with weight snapshots (imports torch lazily).

Main entry points: :class:`tdacnn.training.config.TrainConfig`,
:func:`tdacnn.training.ensemble.train_ensemble`, :func:`tdacnn.training.run.train_run`.
"""
