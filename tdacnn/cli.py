"""The ``tdacnn`` command line: the same operations as the app, headless.

Each subcommand lives in ``tdacnn/commands/<name>.py`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``.  Errors a user can fix are
raised as :class:`tdacnn.errors.UserError` (or ``ValueError``) and printed as one
sentence on stderr with exit code 2; nothing prints a traceback at them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from tdacnn import __version__
from tdacnn.errors import UserError

#: subcommand name -> module under tdacnn.commands
COMMANDS = ("analyze", "train", "layers", "serve", "worker", "reproduce", "make-default-run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tdacnn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tdacnn {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"tdacnn.commands.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:  # a command not built yet must not break the others
            if exc.name and exc.name.startswith("tdacnn.commands"):
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, FileNotFoundError) as exc:
        print(f"tdacnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tdacnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
