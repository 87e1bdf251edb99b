"""``tdacnn serve [FILE_OR_RUN ...]``: run the dashboard (the same as ``python app.py [FILE_OR_RUN ...]``).

Checkpoints and run folders named on the command line become sources before the
server starts (a checkpoint is converted once by the load job, with progress on
stderr, whatever its size: nothing goes through the browser), and a fresh page
opens Explore on the first of them, at its first 3×3 layer.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import sys
from pathlib import Path

__all__ = ["add_parser", "add_arguments", "serve", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``tdacnn serve`` and ``python app.py``."""
    parser.add_argument("paths", nargs="*", metavar="FILE_OR_RUN",
                        help="checkpoints (.pt/.pth/.safetensors/.npz ...) or run folders to open as sources; "
                             "the page opens on the first")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; use 0.0.0.0 to expose it deliberately)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8050)),
                        help="port (default $PORT or 8050)")
    parser.add_argument("--debug", action="store_true", help="Dash debug mode (reloader, dev tools); off by default")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "serve", help="run the dashboard on http://127.0.0.1:8050, opened on the files given",
        description="Run the dashboard (the same as python app.py). Checkpoints and run folders given become "
                    "sources before the server starts (a checkpoint is read once, progress on stderr, whatever "
                    "its size); the page opens on the first, at its first 3x3 layer; ?layer=N in the URL picks "
                    "another, numbered as 'tdacnn layers FILE' numbers them.")
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


#: The last progress line printed per file (a line is printed when it changes).
_LAST: dict[Path, str] = {}


def _report(path: Path, fraction: float, text: str) -> None:
    if _LAST.get(path) != text:
        _LAST[path] = text
        sys.stderr.write(f"{path.name}: {100 * fraction:3.0f}% {text}\n")
        sys.stderr.flush()


def serve(app, args: argparse.Namespace) -> int:
    """Start the job worker, open ``args.paths`` as sources, then serve ``app`` until interrupted.

    The files given may also be loaded with "Load from server path" (besides the data
    directory and ``TDACNN_ALLOWED_PATHS``).  The development server's ``Server``
    header names no version (:class:`~tdacnn.app.security.QuietRequestHandler`).

    Raises
    ------
    UserError
        A bad port, a path that does not exist, a file that is no checkpoint.
    """
    from tdacnn.app.checkpoint_files import allow_paths
    from tdacnn.app.security import QuietRequestHandler
    from tdacnn.errors import UserError
    from tdacnn.jobs.supervisor import ensure_worker

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535; got {args.port}")
    faulthandler.enable()  # a crash in native code (BLAS, ripser) leaves its Python stacks on stderr
    ensure_worker()  # first: the files given are loaded by jobs on it
    if args.paths:
        from tdacnn.app.factory import warm_up
        from tdacnn.jobs.opening import open_paths

        ids = open_paths(args.paths, _report)
        allow_paths(p for p in args.paths if Path(p).expanduser().is_file())
        sys.stderr.write(f"opened {len(ids)} source(s): {', '.join(ids)}\n")
        warm_up()  # the first view of the first opened source
    sys.stderr.write(f"tdacnn dashboard on http://{args.host}:{args.port}/\n")
    app.run(host=args.host, port=args.port, debug=args.debug, request_handler=QuietRequestHandler)
    return 0


def run(args: argparse.Namespace) -> int:
    from tdacnn.app import create_app

    return serve(create_app(), args)
