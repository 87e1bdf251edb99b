"""``tdacnn worker``: run a job worker (trainings and checkpoint loads from the queue).

The app starts one of its own; start more, on this machine or others, to share
the work: they take jobs from the same queue (the SQLite file in the data
directory, or Redis when ``REDIS_URL`` is set) and must share the data
directory (``TDACNN_HOME``) with the app.  Stop one with Ctrl-C or SIGTERM: its
running jobs go back in the queue.
"""

from __future__ import annotations

import argparse

HELP = "run a job worker: take trainings and checkpoint loads from the queue (Ctrl-C stops it)"


def add_parser(subparsers) -> argparse.ArgumentParser:
    from tdacnn.jobs.worker import add_arguments

    parser = subparsers.add_parser("worker", help=HELP, description=HELP + ". " + __doc__.split("\n\n")[1])
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import logging

    from tdacnn.jobs.worker import serve

    logging.getLogger("tdacnn").setLevel(logging.INFO)
    return serve(args)
