"""How many points the app computes a barcode on: the limit per max dimension, and the check.

The web app refuses persistence beyond these limits with one sentence (a request would
hold a web worker for minutes); the CLI and the library have none.  Re-exported by
:mod:`tdacnn.app.services`.
"""

from __future__ import annotations

from tdacnn.errors import UserError
from tdacnn.topology.params import PersistenceParams

__all__ = ["MAX_PERSISTENCE_POINTS", "check_persistence"]

#: The most points the app computes a barcode on (the landmarks, or every filtered point for "all"),
#: by max dimension.  Vietoris–Rips grows about with the cube of the points for H1, faster for H2;
#: at these limits, on 2 cores (giotto-ph), uniform points on the 8-sphere (the worst case) took 2.2 s
#: (H0, 5,000), 8.5 s (H1, 1,500) and 1.9 s (H2, 400); real filters far less (H1 on 1,280: 0.4 s).
#: Beyond, a request holds a web worker for minutes.  The CLI has no such limit.
MAX_PERSISTENCE_POINTS = {0: 5000, 1: 1500, 2: 400}


def check_persistence(n_points: int, params: PersistenceParams) -> None:
    """Refuse persistence on more points than :data:`MAX_PERSISTENCE_POINTS` allows.

    Raises
    ------
    UserError
        One sentence: how many points, the limit, and what to change.
    """
    limit = MAX_PERSISTENCE_POINTS[params.maxdim]
    used = n_points if params.n_perm is None else min(params.n_perm, n_points)
    if used <= limit:
        return
    if params.n_perm is None or params.n_perm >= n_points:
        raise UserError(f"persistence on all {n_points:,} filtered points is too slow for the app (at most "
                        f"{limit:,} up to H{params.maxdim}): set landmarks to {min(400, limit)} or keep fewer points")
    raise UserError(f"{params.n_perm:,} landmarks are too many for the app (at most {limit:,} up to "
                    f"H{params.maxdim}): lower the number of landmarks")
