"""Run the tdacnn dashboard: ``python app.py`` serves it on http://127.0.0.1:8050.

Options: ``--port`` (or ``PORT``), ``--host`` (to expose it deliberately, e.g.
``--host 0.0.0.0``), ``--debug``.  Data lives under ``TDACNN_HOME`` (``./data``).

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
    parser = argparse.ArgumentParser(description="Serve the tdacnn dashboard.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8050)), help="port (default $PORT or 8050)")
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (reloader, dev tools); off by default")
    args = parser.parse_args(argv)
    print(f"tdacnn dashboard on http://{args.host}:{args.port}/", file=sys.stderr)
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
