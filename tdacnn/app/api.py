"""The JSON API for jobs and sources: what scripts (and the page's upload) use to drive a server.

Routes (stable; the README has ``curl`` examples)::

    POST   /api/jobs          {"kind": "train", "dataset": "digits", "networks": 4, "iterations": 100, ...}
                              -> 201 {"id", "state", "progress", "message", ...}
                              ({"kind": "load", "path": "<a checkpoint on the server>"} loads a server file)
    GET    /api/jobs          -> {"jobs": [...]} the caller's jobs, newest first (?all=1: every job, operator only)
    GET    /api/jobs/<id>     -> {"id", "kind", "state", "progress", "message", "result", ...}
    DELETE /api/jobs/<id>     -> the job, cancelled (a finished job unchanged)
    POST   /api/sources       multipart "file" -> 201 {"id", "layers", "job", "existing"}
                              (?wait=0: 202 {"job": id} at once; follow it with GET /api/jobs/<id>)
    GET    /api/sources       -> {"sources": [{"id", "label"}, ...]}

Jobs belong to the caller's session cookie (:func:`tdacnn.app.session.current_owner`):
another session's job answers 404, as an unknown one does.  A refusal is a 4xx
(or 503) with ``{"error": "<one sentence>"}``: 400 a bad value, 401 not logged in,
403 not the operator, 404 no such job, 413 too large, 429 a limit on queued jobs,
503 the queue cannot be reached.  The routes only call :mod:`tdacnn.jobs.service`.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

from tdacnn.errors import UserError, quote

__all__ = ["register", "blueprint", "UPLOAD_WAIT_S", "status_of"]

#: How long ``POST /api/sources`` waits for its load job before answering 202 with the job's id.
UPLOAD_WAIT_S = 120.0

blueprint = Blueprint("tdacnn_api", __name__, url_prefix="/api")


def status_of(exc: UserError) -> int:
    """The HTTP status of a refusal."""
    from tdacnn.jobs.service import JobLimit, NoSuchJob, QueueUnavailable

    for cls, status in ((NoSuchJob, 404), (JobLimit, 429), (QueueUnavailable, 503)):
        if isinstance(exc, cls):
            return status
    return 400


def _error(status: int, sentence: str):
    response = jsonify(error=sentence)
    response.status_code = status
    return response


def _owner() -> str | None:
    """The caller's owner id; None for the operator (who may read and cancel any job)."""
    from tdacnn.app.session import current_owner, is_operator

    return None if is_operator() else current_owner()


def _flag(name: str, default: bool) -> bool:
    value = request.args.get(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise UserError(f"{name} must be 0 or 1; got {quote(value)}")


def _body() -> dict:
    if not request.is_json:
        raise UserError("send the job as JSON (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise UserError("the request body must be a JSON object like {\"kind\": \"train\", \"dataset\": \"digits\"}")
    return body


@blueprint.errorhandler(UserError)
def _refused(exc: UserError):
    return _error(status_of(exc), str(exc))


@blueprint.post("/jobs")
def submit_job():
    from tdacnn.app.checkpoint_files import server_folder, server_path
    from tdacnn.jobs import service
    from tdacnn.nets.safeload import safe_upload_name

    params = dict(_body())
    kind = params.pop("kind", "train")
    if kind == "load":
        if set(params) - {"path"}:
            raise UserError("a load job takes only a path (upload files with POST /api/sources)")
        path = server_path(params.get("path"))
        params = {"path": str(path), "name": safe_upload_name(path.name), "staged": False}
    elif kind == "train":
        if params.get("data_root"):  # a folder on the server: only where the server may read
            params["data_root"] = str(server_folder(params["data_root"]))
    else:
        raise UserError(f"kind must be \"train\" or \"load\"; got {quote(kind)}")
    job = service.submit(kind, params, _owner() or "operator")
    response = jsonify(job.public())
    response.status_code = 201
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return response


@blueprint.get("/jobs")
def list_jobs():
    from tdacnn.app.session import is_operator
    from tdacnn.jobs import service

    every = _flag("all", False)
    if every and not is_operator():
        return _error(403, "only the operator (TDACNN_OPERATOR_TOKEN) may list every job")
    limit = request.args.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise UserError(f"limit must be a whole number from 1 to 500; got {quote(limit)}")
    owner = None if every else _owner()
    if owner is None and not every:  # the operator's own listing: the jobs it submitted
        owner = "operator"
    return jsonify(jobs=[job.public() for job in service.jobs(owner, int(limit))])


@blueprint.get("/jobs/<job_id>")
def get_job(job_id: str):
    from tdacnn.jobs import service

    return jsonify(service.get(job_id, _owner()).public())


@blueprint.delete("/jobs/<job_id>")
def cancel_job(job_id: str):
    from tdacnn.jobs import service

    return jsonify(service.cancel(job_id, _owner()).public())


@blueprint.post("/sources")
def upload_source():
    from tdacnn.app.checkpoint_files import stage_stream
    from tdacnn.jobs import service
    from tdacnn.nets.safeload import safe_upload_name

    wait = _flag("wait", True)
    upload = request.files.get("file")
    if upload is None:
        raise UserError("send the checkpoint as a multipart form field named file (curl -F file=@model.pth)")
    name = safe_upload_name(upload.filename or "upload")
    staged = stage_stream(upload.stream, name)
    try:
        job = service.submit("load", {"path": str(staged), "name": name, "staged": True}, _owner() or "operator")
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    if wait:
        job = service.wait(job.id, _owner(), UPLOAD_WAIT_S)
    if not job.terminal:
        response = jsonify(job=job.id)
        response.status_code = 202
        response.headers["Location"] = f"/api/jobs/{job.id}"
        return response
    if job.state != "done":
        return _error(400 if job.state == "failed" else 409, job.message.removeprefix("failed: "))
    response = jsonify(id=job.result.get("source"), layers=job.result.get("layers", []), job=job.id,
                       existing=bool(job.result.get("existing")))
    response.status_code = 201
    return response


@blueprint.get("/sources")
def list_sources():
    from tdacnn.jobs.sources import list_sources as options

    return jsonify(sources=[{"id": o["value"], "label": o["label"]} for o in options()])


@blueprint.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def _unknown(_rest: str):
    return _error(404, f"no API route {quote(request.path, 80)}; see the README's API section")


def register(server) -> None:
    """Add the ``/api`` routes to ``server`` (a Flask app); HTTP errors under ``/api`` answer JSON."""
    server.register_blueprint(blueprint)

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            return _error(exc.code or 500, exc.description.split(".")[0] if exc.description else exc.name)
        return exc
