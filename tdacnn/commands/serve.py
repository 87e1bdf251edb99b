"""``tdacnn serve``: run the dashboard (the same as ``python app.py``)."""

from __future__ import annotations

import argparse
import logging
import os

log = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("serve", help="run the dashboard on http://127.0.0.1:8050",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; use 0.0.0.0 to expose it deliberately)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8050)),
                        help="port (default $PORT or 8050)")
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (off by default)")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    from tdacnn.app import create_app
    from tdacnn.errors import UserError

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535; got {args.port}")
    app = create_app()
    log.warning("tdacnn dashboard on http://%s:%s/", args.host, args.port)
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0
