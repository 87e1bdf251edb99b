"""Run the tdacnn dashboard: ``python app.py [FILE_OR_RUN ...]`` serves it on http://127.0.0.1:8050.

Checkpoints and run folders given as arguments become sources (a checkpoint is
read once by a load job, progress on stderr, whatever its size), and the page
opens on the first of them, at its first 3×3 layer; ``?layer=N`` in the URL picks
another (numbered as ``tdacnn layers FILE`` numbers them).  Options: ``--port``
(or ``PORT``), ``--host`` (to expose it deliberately, e.g. ``--host 0.0.0.0``),
``--debug``.  Data lives under ``TDACNN_HOME`` (``./data``).

For deployment: ``gunicorn app:server`` serves the same app (``gunicorn.conf.py``
beside this file sets the workers and binds 127.0.0.1:8050 unless told otherwise).
Either way the app starts its job worker (``python -m tdacnn.jobs.worker``, in its
own process group, ending with the app) unless ``TDACNN_LOCAL_WORKER=0``; more
workers can run on other machines with ``REDIS_URL`` (see docs/scaling.md).
"""

from __future__ import annotations

import argparse
import sys

from tdacnn.app import create_app
from tdacnn.errors import UserError

try:
    app = create_app()
except UserError as exc:  # a malformed setting (TDACNN_AUTH): one sentence
    if __name__ != "__main__":
        raise
    print(f"app.py: error: {exc}", file=sys.stderr)
    sys.exit(2)
#: The Flask server (``gunicorn app:server``).
server = app.server

if __name__ != "__main__":  # imported by gunicorn: start the job worker now (python app.py: in serve())
    from tdacnn.jobs.supervisor import ensure_worker

    ensure_worker()


def main(argv: list[str] | None = None) -> int:
    from tdacnn.commands.serve import add_arguments, serve

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
