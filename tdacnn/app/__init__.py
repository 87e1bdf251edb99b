"""tdacnn.app: the Dash dashboard (Explore, Dynamics, Depth, Jobs).

``create_app()`` builds it; layouts and callbacks live in one module per view
(:mod:`~tdacnn.app.explore`, :mod:`~tdacnn.app.gallery`, :mod:`~tdacnn.app.dynamics`,
:mod:`~tdacnn.app.jobs_panel`), over the plain-Python :mod:`~tdacnn.app.services`.
"""

__all__ = ["create_app"]


def create_app(*args, **kwargs):
    """Build the Dash app (see :func:`tdacnn.app.factory.create_app`)."""
    from tdacnn.app.factory import create_app as _create

    return _create(*args, **kwargs)
