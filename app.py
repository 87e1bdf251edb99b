"""Run the tdacnn dashboard: ``python app.py [FILE_OR_RUN ...]`` serves it on http://127.0.0.1:8050.

Checkpoints and run folders given as arguments become sources (a checkpoint is
read once by the load job, progress on stderr, whatever its size), and the page
opens on the first of them, at its first 3×3 layer; ``?layer=N`` in the URL picks
another (numbered as ``tdacnn layers FILE`` numbers them).  Options: ``--port``
(or ``PORT``), ``--host`` (to expose it deliberately, e.g. ``--host 0.0.0.0``),
``--debug``.  Data lives under ``TDACNN_HOME`` (``./data``).

For deployment: ``gunicorn app:server`` serves the same app; with ``REDIS_URL``
set, ``celery -A app:celery_app worker`` runs the background jobs.
"""

from __future__ import annotations

import argparse
import os
import sys

from tdacnn.app import create_app

app = create_app()
#: The Flask server (``gunicorn app:server``).
server = app.server


def _celery_app():
    """The Celery app when ``REDIS_URL`` is set, else None (celery is not imported without it)."""
    if not os.environ.get("REDIS_URL"):
        return None
    from tdacnn.jobs.celery_app import get_celery_app

    return get_celery_app()


#: The Celery app for ``celery -A app:celery_app worker`` (None without REDIS_URL).
celery_app = _celery_app()


def main(argv: list[str] | None = None) -> int:
    from tdacnn.commands.serve import add_arguments, serve
    from tdacnn.errors import UserError

    parser = argparse.ArgumentParser(description="Serve the tdacnn dashboard, opened on the checkpoints or run "
                                                 "folders given (like tensorboard --logdir).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return serve(app, args)
    except (UserError, ValueError) as exc:
        print(f"app.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
