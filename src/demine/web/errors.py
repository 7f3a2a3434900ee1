"""Errors a person meets in the browser as HTML pages with a way back; the API keeps its JSON.

A request for a page (anything outside the machine interfaces in :data:`MACHINE_PREFIXES`) that
ends in an error gets ``error.html``: what went wrong, in words, and links back into the
interface. Requests to the REST API, OGC API, tiles, the pages' JSON helpers and the static
files get the JSON answers of :mod:`demine.api.errors`, unchanged, so scripts and clients
read the same problems as before. Login-required redirects stay redirects (with a readable body).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from demine.accounts.tokens import TokenInfo
from demine.api.errors import error_response
from demine.domain.errors import DemineError

log = logging.getLogger(__name__)

MACHINE_PREFIXES = (
    "/api",
    "/auth",
    "/ogc",
    "/tiles",
    "/web",
    "/static",
    "/health",
    "/openapi.json",
    "/docs",
    "/redoc",
)
"""Paths read by programs, not people: their errors stay JSON."""

TITLES = {
    400: "Cannot read this request",
    401: "Log in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not available this way",
    409: "Changed meanwhile",
    413: "Too large",
    422: "Cannot read this address",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Busy: try again in a moment",
}

Handler = Callable[[Request, Any], Awaitable[Response]]


def is_page(request: Request) -> bool:
    """Whether the request is for a page a person looks at (not an API, tile or script helper)."""
    path = request.url.path
    return not any(path == p or path.startswith(p + "/") for p in MACHINE_PREFIXES)


def _viewer(request: Request) -> TokenInfo | None:
    """Who is looking, for the page's menu; nobody when even that cannot be read."""
    info = getattr(request.state, "token", None)
    if info is not None:
        return info
    from demine.web.session import session_token

    try:
        return session_token(request)
    except Exception:  # an error page must render even when the store does not answer
        return None


def error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """``error.html`` for ``status`` with ``message``; a bare page if the template itself fails."""
    from demine.web.routes import render

    title = TITLES.get(status, "Cannot show this page")
    try:
        page = render(request, _viewer(request), "error.html", status=status, title=title, message=message)
    except Exception:  # the layout needs the store; the person still needs a way back
        log.exception("error page for %s could not be rendered", request.url.path)
        body = (
            f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{escape(title)} · demine</title>"
            f"<h1>{escape(title)} ({status})</h1><p>{escape(message)}</p>"
            "<p><a href='/'>Back to demine</a></p></html>"
        )
        page = HTMLResponse(body)
    page.status_code = status
    for key, value in (headers or {}).items():
        page.headers[key] = value
    return page


def _redirect_page(status: int, location: str, message: str) -> Response:
    # Browsers follow the Location header; the body is for anything that does not.
    body = (
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>demine</title>"
        f"<p>{escape(message.capitalize())}: <a href='{escape(location)}'>continue</a>.</p></html>"
    )
    return HTMLResponse(body, status_code=status, headers={"Location": location})


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in list(exc.errors())[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where}: {error.get('msg', 'not valid')}" if where else str(error.get("msg")))
    return "The address has a value this page cannot use (" + "; ".join(parts) + ")."


def install(app: FastAPI) -> None:
    """Give page requests HTML error pages; every other request keeps ``app``'s JSON handlers.

    Call after :func:`demine.api.errors.install`: the handlers registered there are the ones
    kept for the API.
    """
    http_json: Handler = app.exception_handlers[StarletteHTTPException]
    invalid_json: Handler = app.exception_handlers[RequestValidationError]
    demine_json: Handler = app.exception_handlers[DemineError]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_page(request):
            return await http_json(request, exc)
        headers = dict(exc.headers or {})
        if 300 <= exc.status_code < 400 and "Location" in headers:
            return _redirect_page(exc.status_code, headers["Location"], str(exc.detail))
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":  # no route at all
            message = f"There is no page at {request.url.path}."
        elif exc.status_code == 405 and message == "Method Not Allowed":
            message = f"{request.url.path} cannot be opened this way ({request.method})."
        return error_page(request, exc.status_code, message, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if not is_page(request):
            return await invalid_json(request, exc)
        return error_page(request, 422, _validation_message(exc))

    @app.exception_handler(DemineError)
    async def _demine(request: Request, exc: DemineError) -> Response:
        if not is_page(request):
            return await demine_json(request, exc)
        answer = error_response(exc)
        retry = {"Retry-After": answer.headers["Retry-After"]} if "Retry-After" in answer.headers else {}
        return error_page(request, answer.status_code, str(exc), retry)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Starlette still logs the exception after this answer (ServerErrorMiddleware re-raises it).
        if not is_page(request):
            return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
        return error_page(
            request,
            500,
            "The server met an error it did not expect; it has been logged. "
            "Go back and try again, or tell your information management officer.",
        )
