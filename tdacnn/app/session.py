"""Who is asking: the browser session's owner id, and the operator.

Every browser gets a random owner id, kept in Flask's signed session cookie
(``HttpOnly``, ``SameSite=Lax``), made on its first request.  Jobs belong to that
id (:mod:`tdacnn.jobs.service`): another browser cannot see or cancel them.  The
cookie is signed with a key generated once and kept in the data directory (file
mode 0600), so it stays valid across server restarts and across gunicorn
workers; ``TDACNN_SECRET_KEY`` overrides it (several machines behind one address
must share it).

The *operator* (``TDACNN_OPERATOR_TOKEN``) sees every job (``GET /api/jobs?all=1``):
send ``Authorization: Bearer <token>``, or, where basic auth is on
(``TDACNN_AUTH``), log in as user ``operator`` with the token as password.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path

from tdacnn import config

__all__ = ["install", "current_owner", "is_operator", "operator_credentials", "basic_auth", "secret_key",
           "SECRET_FILE", "COOKIE_NAME", "OPERATOR_USER"]

#: The signing key's file in the data directory.
SECRET_FILE = "secret_key"
COOKIE_NAME = "tdacnn_session"
#: The basic-auth user name that logs in as the operator (password: ``TDACNN_OPERATOR_TOKEN``).
OPERATOR_USER = "operator"
_OWNER = "owner"
#: Requests that never need an owner (static files): no cookie is made for them.
_STATIC = ("/_dash-component-suites/", "/assets/", "/_favicon.ico")


def secret_key(home: Path | None = None) -> bytes:
    """``TDACNN_SECRET_KEY``, else the key kept in ``<data directory>/secret_key`` (made once, mode 0600).

    Processes starting at once (gunicorn's) agree on one key: each writes a candidate
    to a file of its own and links it into place; the first link wins, the others read it.
    """
    given = os.environ.get("TDACNN_SECRET_KEY")
    if given:
        return given.encode()
    path = (home or config.home()) / SECRET_FILE
    if not path.exists():
        candidate = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_hex(32).encode())
        try:
            os.link(candidate, path)  # atomic, and never replaces a key already there
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return path.read_bytes().strip()


def install(server) -> None:
    """Sign ``server``'s session cookie with :func:`secret_key`; give every page load its owner id.

    Parameters
    ----------
    server : flask.Flask
    """
    from flask import request, session

    server.secret_key = secret_key()
    server.config.update(SESSION_COOKIE_NAME=COOKIE_NAME, SESSION_COOKIE_HTTPONLY=True,
                         SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(days=365),
                         SESSION_REFRESH_EACH_REQUEST=False)  # set once: not on every callback's answer

    @server.before_request
    def _owner():
        # made on the page load, so the callbacks the page fires at once all carry the same id
        if _OWNER not in session and not request.path.startswith(_STATIC):
            current_owner()


def current_owner() -> str:
    """The owner id of the browser making the current request (made, and set in its cookie, if new).

    Works in any Flask request, Dash callbacks included.

    Returns
    -------
    str
        32 hex digits.
    """
    from flask import session

    owner = session.get(_OWNER)
    if not isinstance(owner, str) or len(owner) != 32:
        owner = secrets.token_hex(16)
        session[_OWNER] = owner
        session.permanent = True
    return owner


def operator_credentials() -> tuple[str, str] | None:
    """``("operator", token)`` when ``TDACNN_OPERATOR_TOKEN`` is set, else None."""
    token = os.environ.get("TDACNN_OPERATOR_TOKEN")
    return (OPERATOR_USER, token) if token else None


def basic_auth(header: str | None) -> tuple[str, str] | None:
    """The ``(user, password)`` of an ``Authorization: Basic …`` header, or None."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        return None
    return user, password


def is_operator() -> bool:
    """Whether the current request carries the operator's token (bearer, or basic auth as ``operator``)."""
    from flask import request

    creds = operator_credentials()
    if creds is None:
        return False
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].strip().encode(), creds[1].encode())
    given = basic_auth(header)
    return given is not None and hmac.compare_digest(f"{given[0]}:{given[1]}".encode(),
                                                     f"{creds[0]}:{creds[1]}".encode())
