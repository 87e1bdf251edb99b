"""Open checkpoints and run folders named on the server's command line as sources.

``python app.py vgg16.pth runs/mnist40`` (or ``tdacnn serve …``) calls
:func:`open_paths` before serving, as ``tensorboard --logdir`` does:

* a run folder (one holding ``weights.npz``) is used where it is
  (:func:`~tdacnn.jobs.sources.register_folder`);
* a checkpoint file goes through the same load job as an upload
  (:func:`~tdacnn.jobs.tasks.load_checkpoint_job`, run by
  :func:`~tdacnn.jobs.runner.run_job_isolated` in a fresh interpreter, so the web
  process never imports torch), into ``uploads_dir()/<name>-<hash>``.  The name
  holds the start of the sha256 of the file's bytes: a file whose bytes were
  loaded before (opened, uploaded or loaded from a server path, under any name)
  reuses that conversion at once (see :mod:`tdacnn.jobs.uploads`).

Nothing goes through the browser, whatever the size of the file.
"""

from __future__ import annotations

import logging
import os
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


def _open_file(path: Path, report: Report) -> str:
    from tdacnn.jobs.runner import run_job_isolated
    from tdacnn.jobs.tasks import start_job
    from tdacnn.nets.safeload import safe_upload_name

    digest = file_sha256(path)
    found = find_upload(digest)
    if found is not None:  # the same bytes were loaded before: no job, no torch
        report(path, 1.0, f"already loaded as upload {found}")
        return f"upload:{found}"
    job = start_job("load", {"path": str(path), "name": safe_upload_name(path.name), "staged": False,
                             "upload_id": upload_id(path.name, digest)})
    final = run_job_isolated(job.id, lambda p: report(path, p.fraction, p.text))
    if final is None or final.status != "done":
        message = final.message if final is not None else "the load job disappeared"
        raise UserError(message.removeprefix("failed: "))
    return str(final.result["source"])


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

