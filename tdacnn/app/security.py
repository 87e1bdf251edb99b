"""What every response and request goes through: optional basic auth, body caps, headers, no version banners.

* **Basic auth** (optional): ``TDACNN_AUTH="user:password"`` protects every route
  (the page, its callbacks, assets and ``/api/…``); the operator
  (``TDACNN_OPERATOR_TOKEN``) may log in as user ``operator``.  Without it the app
  is open to whoever reaches its address (it binds 127.0.0.1 unless told otherwise).
* **Request bodies** are refused with HTTP 413 and one sentence before they are
  read when they declare more than the route's cap (:func:`body_limit`): 64 KB
  for the JSON API, a few MB for Dash's callbacks, the upload limit for
  ``POST /api/sources``.  A body must declare its length (a chunked one gets 411:
  browsers and curl always declare it).
* **Headers** on every response: ``X-Content-Type-Options: nosniff``, a
  ``frame-ancestors 'self'`` policy (no framing by other sites), a
  ``Referrer-Policy``.  The ``Server`` header names no version: the development
  server's says ``tdacnn`` (:class:`QuietRequestHandler`), gunicorn's ``gunicorn``.
* **The page** names no versions: :class:`QuietDash` drops Dash's, Python's and
  plotly's versions from ``_dash-config`` and replaces the version in script URLs
  by a keyed hash (still a new URL when a file changes).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from dash import Dash
from werkzeug.serving import WSGIRequestHandler

from tdacnn.errors import UserError
from tdacnn.nets.safeload import MAX_UPLOAD_BYTES  # numpy only

__all__ = ["install", "body_limit", "QuietDash", "QuietRequestHandler", "HEADERS", "API_BODY_BYTES",
           "CALLBACK_BODY_BYTES", "OTHER_BODY_BYTES", "UPLOAD_BODY_BYTES", "SERVER_NAME", "auth_setting"]

#: Cap on a JSON API request body (a training request is a few hundred bytes).
API_BODY_BYTES = 64 * 2**10
#: Cap on a Dash callback request.  The largest legitimate one is a session file loaded in Explore
#: (at most MAX_SESSION_BYTES = 1 MB: a 1.4 MB body, tests/app/test_api.py::test_the_largest_callback_body_fits);
#: next, a selection of every node of a graph sent to the gallery (measured: 109 KB for 165 nodes, so about
#: 200 KB at the 300 nodes a readable graph keeps); the first graph's callbacks send at most 4.5 KB.
CALLBACK_BODY_BYTES = 4 * 2**20
#: Cap on ``POST /api/sources``: the upload limit plus room for the multipart framing.
UPLOAD_BODY_BYTES = MAX_UPLOAD_BYTES + 2**20
#: Cap on any other request (the page's GETs carry no body).
OTHER_BODY_BYTES = 64 * 2**10
#: What the development server's ``Server`` header says.
SERVER_NAME = "tdacnn"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}
#: Keys of ``_dash-config`` that name versions (the page works without them: the dev tools are off).
_VERSION_KEYS = ("dash_version", "python_version", "plotly_version", "ddk_version", "dash_version_url")
#: Dash's fingerprint in a script URL (``name.v4_4_1m1796024718.js``) and the favicon's ``?v=4.4.1``.
_FINGERPRINT = re.compile(r"\.v[\w-]+m[0-9a-fA-F]+\.")
_FAVICON_VERSION = re.compile(r"(_favicon\.ico)\?v=[^\"']*")


def body_limit(method: str, path: str) -> int:
    """The largest request body accepted for ``method path``, in bytes."""
    if path == "/api/sources" and method == "POST":
        return UPLOAD_BODY_BYTES
    if path.startswith("/api/"):
        return API_BODY_BYTES
    if path.endswith("/_dash-update-component"):
        return CALLBACK_BODY_BYTES
    return OTHER_BODY_BYTES


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 2**10} KB"


def too_large_sentence(method: str, path: str) -> str:
    limit = body_limit(method, path)
    if limit == UPLOAD_BODY_BYTES:
        return (f"the upload is too large: browser and API uploads are limited to {_size(MAX_UPLOAD_BYTES)}; load big "
                "files on the server (tdacnn serve FILE, or a path under \"Load from server path\")")
    return f"the request is too large: this address accepts at most {_size(limit)} per request"


def auth_setting() -> tuple[str, str] | None:
    """``TDACNN_AUTH`` as ``(user, password)``, None when unset.

    Raises
    ------
    UserError
        The variable is set but is not ``user:password``.
    """
    value = os.environ.get("TDACNN_AUTH")
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise UserError("TDACNN_AUTH must be user:password (both non-empty)")
    return user, password


def _matches(given: tuple[str, str] | None, wanted: tuple[str, str] | None) -> bool:
    if given is None or wanted is None:
        return False
    return hmac.compare_digest(f"{given[0]}:{given[1]}".encode(), f"{wanted[0]}:{wanted[1]}".encode())


def install(server) -> None:
    """Register auth, body caps and headers on ``server`` (a Flask app).

    Raises
    ------
    UserError
        A malformed ``TDACNN_AUTH``.
    """
    from flask import jsonify, request
    from werkzeug.exceptions import RequestEntityTooLarge

    from tdacnn.app.session import basic_auth, operator_credentials

    login = auth_setting()

    def refuse(status: int, sentence: str, **headers: str):
        response = jsonify(error=sentence)
        response.status_code = status
        response.headers.update(headers)
        return response

    @server.before_request
    def _guard():
        if login is not None:
            given = basic_auth(request.headers.get("Authorization"))
            if not (_matches(given, login) or _matches(given, operator_credentials())):
                return refuse(401, "log in: this server asks for a user name and password",
                              **{"WWW-Authenticate": 'Basic realm="tdacnn", charset="UTF-8"'})
        limit = body_limit(request.method, request.path)
        request.max_content_length = limit  # a backstop: never read past the cap
        if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            return refuse(411, "send the request body with a Content-Length (not chunked)", Connection="close")
        if request.content_length is not None and request.content_length > limit:
            return refuse(413, too_large_sentence(request.method, request.path), Connection="close")
        return None

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc):
        return refuse(413, too_large_sentence(request.method, request.path), Connection="close")

    @server.after_request
    def _headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class QuietDash(Dash):
    """A Dash app whose page names no versions (of Dash, Python, plotly or the component bundles)."""

    def _config(self):
        config = super()._config()
        for key in _VERSION_KEYS:
            config.pop(key, None)
        config["disable_version_check"] = True
        return config

    def _hide(self, fingerprint: str) -> str:
        key = self.server.secret_key or b""
        key = key.encode() if isinstance(key, str) else key
        return hmac.new(key, fingerprint.encode(), hashlib.sha256).hexdigest()[:12]

    def interpolate_index(self, **kwargs) -> str:
        html = super().interpolate_index(**kwargs)
        html = _FINGERPRINT.sub(lambda m: f".v_m{self._hide(m.group(0))}.", html)
        return _FAVICON_VERSION.sub(lambda m: f"{m.group(1)}?v={self._hide(m.group(0))}", html)


class QuietRequestHandler(WSGIRequestHandler):
    """The development server's request handler, saying ``Server: tdacnn`` without versions."""

    def version_string(self) -> str:
        return SERVER_NAME
