"""Open checkpoints and run folders named on the server's command line as sources.

``python app.py vgg16.pth runs/mnist40`` (or ``tdacnn serve …``) calls
:func:`open_paths` before serving, as ``tensorboard --logdir`` does:

* a run folder (one holding ``weights.npz``) is used where it is
  (:func:`~tdacnn.jobs.sources.register_folder`);
* a checkpoint file goes through the same load job as an upload, submitted
  through :mod:`tdacnn.jobs.service` (owner ``"cli"``) and run by a job worker
  (the app's embedded one, started here if it is not yet: the web process never
  imports torch), into ``uploads_dir()/<name>-<hash>``.  The name
  holds the start of the sha256 of the file's bytes: a file whose bytes were
  loaded before (opened, uploaded or loaded from a server path, under any name)
  reuses that conversion at once (see :mod:`tdacnn.jobs.uploads`).

Nothing goes through the browser, whatever the size of the file.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable, Sequence

from tdacnn.errors import UserError
from tdacnn.jobs.sources import register_folder, set_opened_sources
from tdacnn.jobs.uploads import file_sha256, find_upload, upload_id
from tdacnn.weights import RUN_WEIGHTS_FILE

__all__ = ["open_paths", "upload_id_for"]

log = logging.getLogger(__name__)

#: ``report(path, fraction, text)``: progress of the conversion of one file.
Report = Callable[[Path, float, str], None]


def _quiet(_path: Path, _fraction: float, _text: str) -> None:
    pass


def upload_id_for(path: Path) -> str:
    """``<stem>-<hash>``: the upload folder a checkpoint file converts into when its bytes are new."""
    return upload_id(path.name, file_sha256(path))


#: The owner of the jobs the command line submits.
CLI_OWNER = "cli"
#: Seconds a load may wait for a worker that is not there before the command gives up.
NO_WORKER_S = 30.0


def _open_file(path: Path, report: Report) -> str:
    from tdacnn.jobs import service
    from tdacnn.jobs.supervisor import ensure_worker
    from tdacnn.nets.safeload import safe_upload_name

    digest = file_sha256(path)
    found = find_upload(digest)
    if found is not None:  # the same bytes were loaded before: no job, no torch
        report(path, 1.0, f"already loaded as upload {found}")
        return f"upload:{found}"
    ensure_worker()
    job = service.submit("load", {"path": str(path), "name": safe_upload_name(path.name), "staged": False,
                                  "upload_id": upload_id(path.name, digest)}, CLI_OWNER)
    last, give_up = None, None
    while not job.terminal:
        if (job.progress, job.message) != last:
            last = (job.progress, job.message)
            report(path, job.progress, job.message)
        problem = service.queue_problem() if job.state == "queued" else None
        give_up = None if problem is None else give_up or time.monotonic() + NO_WORKER_S
        if give_up is not None and time.monotonic() > give_up:
            service.cancel(job.id, CLI_OWNER)
            raise UserError(f"{path.name} could not be loaded: {problem}")
        job = service.wait(job.id, CLI_OWNER, 0.5)
    report(path, job.progress, job.message)
    if job.state != "done":
        raise UserError(job.message.removeprefix("failed: "))
    return str(job.result["source"])


def open_paths(paths: Sequence[str | os.PathLike], report: Report | None = None) -> list[str]:
    """Register checkpoint files and run folders as sources; the first becomes what a fresh page shows.

    Parameters
    ----------
    paths : sequence of path
        Checkpoint files (anything ``tdacnn layers`` reads) or run folders.
    report : callable(path, fraction, text), optional
        Progress of each conversion (the entry point prints it on stderr).

    Returns
    -------
    list of str
        Source ids, in the order given (duplicates kept once).

    Raises
    ------
    UserError
        A path that does not exist, a folder without weights, or a file that
        cannot be read as a checkpoint (the load job's sentence).
    """
    report = report or _quiet
    ids: list[str] = []
    for item in paths:
        path = Path(item).expanduser()
        if not path.exists():
            raise UserError(f"no file or folder at {item}")
        path = path.resolve()
        if path.is_dir():
            sid = register_folder(path)
        elif path.name == RUN_WEIGHTS_FILE:  # a run folder's own weights file: the folder
            sid = register_folder(path.parent)
        else:
            sid = _open_file(path, report)
        if sid not in ids:
            ids.append(sid)
        log.info("opened %s as source %s", path, sid)
    set_opened_sources(ids)
    return ids

