"""What every request meets before a route: body-size caps, anonymous writes refused unread,
and the response headers that keep pages out of frames and private data out of caches.

One pure ASGI middleware (:class:`Guard`) around every route, so that nothing reads a body first:

* **Body caps**: a body over its path's cap gets ``413`` at once, judged on
  ``Content-Length`` before a byte is read, and counted while streaming when the header is
  absent or lies. Logins take at most :data:`LOGIN_BODY_BYTES`; everything else
  :data:`DEFAULT_BODY_BYTES` (``Settings.max_body_bytes``), room for any single record with a
  detailed polygon (files go through ``demine import``).
* **Login floods**: a login from an address (or to a server) that the login limiter
  (:mod:`demine.accounts.ratelimit`) already refuses gets ``429`` here, before its body is
  read, parsed or handed to a worker thread: a flood of refused logins costs next to nothing.
* **NUL characters** in a URL's path or query are refused (``400``): PostgreSQL cannot hold
  them in text, so a filter carrying one would otherwise fail inside the database.
* **Anonymous writes**: a POST, PUT, PATCH or DELETE to the API with neither a bearer token
  nor a session cookie is refused (``401``) before its body is read or parsed. Without this,
  FastAPI parses the JSON of every request before any dependency checks who sent it.
* **Headers on every response**: ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``
  (no other site can frame the approve buttons), ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: same-origin``, and ``Cache-Control: no-store`` wherever a route set no
  cache policy of its own: the register (victims' personal data, uncleared hazards) must not
  stay in shared or browser caches. Static files keep their own caching.
"""

from __future__ import annotations

import json
import math

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from demine.accounts.ratelimit import LoginRateLimiter

DEFAULT_BODY_BYTES = 16 * 1024 * 1024
LOGIN_BODY_BYTES = 16 * 1024
LOGIN_PATHS = frozenset({"/auth/login", "/login"})
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Writes that need no credentials: logging in.
ANONYMOUS_WRITES = LOGIN_PATHS
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its cap.

    An HTTPException, so that FastAPI passes it on while reading a body (it turns any other
    error there into a 400) and its handler answers 413.
    """

    def __init__(self, cap: int) -> None:
        super().__init__(413, f"the request body is over {_mib(cap)}", headers={"connection": "close"})


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n / 1024:g} KiB"


def body_cap(path: str, default: int) -> int:
    """The largest body a request to ``path`` may carry."""
    return LOGIN_BODY_BYTES if path in LOGIN_PATHS else default


class Guard:
    """The middleware of the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_BODY_BYTES,
        limiter: LoginRateLimiter | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        cap = body_cap(path, self.max_body_bytes)
        static = path.startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    out.setdefault(name, value)
                if not static:
                    out.setdefault("cache-control", "no-store")
            await send(message)

        if "\x00" in path or b"%00" in scope.get("query_string", b""):
            # PostgreSQL cannot compare text with a NUL in it, and no code or name holds one.
            await _refuse(send_with_headers, 400, "NUL (\\x00) characters are not allowed in a URL")
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await _refuse(send_with_headers, 413, f"the request body is over {_mib(cap)}")
            return
        if self.limiter is not None and path in LOGIN_PATHS and scope["method"] == "POST":
            client = scope.get("client")
            wait = self.limiter.blocked(client[0] if client else "unknown")
            if wait > 0:
                message = f"Too many login attempts from here: wait {math.ceil(wait)} seconds and try again."
                extra = {"retry-after": str(math.ceil(wait))}
                if path == "/login":  # the browser's form: a page, not JSON
                    await _refuse_page(send_with_headers, 429, message, extra)
                else:
                    await _refuse(send_with_headers, 429, message, extra)
                return
        if (
            scope["method"] in UNSAFE
            and path not in ANONYMOUS_WRITES
            and "authorization" not in headers
            and "demine_session=" not in headers.get("cookie", "")
        ):
            await _refuse(
                send_with_headers,
                401,
                "authentication required: a bearer token or a session cookie",
                {"www-authenticate": 'Bearer realm="demine"'},
            )
            return

        received = 0

        async def receive_capped() -> Message:
            # Raised inside a route, the 413 is answered by the app's own HTTPException handler.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap)
            return message

        await self.app(scope, receive_capped, send_with_headers)


async def _refuse(send: Send, status: int, detail: str, extra: dict[str, str] | None = None) -> None:
    # The client may still be sending: tell it the connection ends here.
    headers = (extra or {}) | {"connection": "close"}
    await _answer(send, status, json.dumps({"detail": detail}).encode(), "application/json", headers)


async def _refuse_page(send: Send, status: int, message: str, extra: dict[str, str]) -> None:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>demine: try again later</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
        f'<main><h1>Try again later</h1><p>{message}</p><p><a href="/login">Back to the login page</a></p>'
        "</main></body></html>"
    ).encode()
    await _answer(send, status, body, "text/html; charset=utf-8", extra)


async def _answer(send: Send, status: int, body: bytes, content_type: str, extra: dict[str, str]) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
