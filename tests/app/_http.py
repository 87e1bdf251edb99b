"""A small HTTP client for tests that drive a real server: one cookie jar per "browser session"."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit


class Session:
    """Requests sharing one cookie jar, as one browser would (``curl -c jar -b jar``)."""

    def __init__(self, base: str, jar: http.cookiejar.CookieJar | None = None, auth: tuple[str, str] | None = None,
                 bearer: str | None = None) -> None:
        self.base = base
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.headers: dict[str, str] = {}
        if auth:
            self.headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        if bearer:
            self.headers["Authorization"] = f"Bearer {bearer}"

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
                timeout: float = 60):
        """``(status, parsed JSON or text, headers)``; HTTP errors are returned, not raised."""
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=timeout) as r:
                status, raw, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as exc:
            status, raw, hdrs = exc.code, exc.read(), exc.headers
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, text, hdrs

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw)

    def post_json(self, path: str, value, **kw):
        return self.request("POST", path, json.dumps(value).encode(), "application/json", **kw)

    def post_file(self, path: str, filename: str, data: bytes, **kw):
        boundary = "tdacnn-test-boundary-7b1f"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", path, body, f"multipart/form-data; boundary={boundary}", **kw)


def _complete(raw: bytes) -> bool:
    """Whether ``raw`` holds a whole HTTP response: its headers and as many body bytes as they declare."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def declare_huge_body(base: str, path: str, declared: int, send: int = 2**20, content_type: str = "application/json",
                      timeout: float = 60) -> tuple[int, bytes, int]:
    """POST to ``path`` declaring ``declared`` bytes of body, send only ``send`` of them, then read the answer.

    Returns ``(status, body, bytes actually sent)``: an answer at all proves the server decided from the
    declared length, without waiting for (or holding) the rest.
    """
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\nContent-Type: {content_type}\r\n"
                      f"Content-Length: {declared}\r\nConnection: close\r\n\r\n").encode())
        sent = 0
        chunk = b"[" + b"0," * 32767 + b"0"
        try:
            while sent < send:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server answered and closed while we were still sending
            pass
        raw = b""
        try:
            while not _complete(raw):  # a whole answer (by its Content-Length), or the server closed
                part = sock.recv(65536)
                if not part:
                    break
                raw += part
        except OSError:
            pass
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    return status, body, sent
