"""Browser sessions for the pages: the login form, logout, and who is looking at a page.

The session is the API's own (``demine_session`` cookie, HttpOnly, and the CSRF token it
carries): a form login here issues exactly what ``POST /auth/login`` issues, so the page's
scripts call the REST API with the cookie and the ``X-CSRF-Token`` header. Pages without a
session redirect to ``/login?next=...``.
"""

from __future__ import annotations

import math
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from demine.accounts import tokens as tokens_lib
from demine.accounts.tokens import SESSION, TokenInfo, resolve_token
from demine.api.auth import LoginRefused, clear_session_cookies, open_session, set_session_cookies
from demine.api.security import SESSION_COOKIE, context


def session_token(request: Request) -> TokenInfo | None:
    """The live session of the request's cookie, or None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    with context(request).reading() as conn:
        return resolve_token(conn, cookie, kind=SESSION)


def safe_next(target: str | None) -> str:
    """A local path to go to after logging in (never another site: open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def page_session(request: Request) -> TokenInfo:
    """The session of a page request; without one, a redirect to the login page."""
    info = session_token(request)
    if info is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "log in first", headers={"Location": f"/login?next={quote(target)}"})
    request.state.token = info
    return info


PageSession = Annotated[TokenInfo, Depends(page_session)]


def check_form_csrf(info: TokenInfo, sent: str) -> None:
    """Forms posted by the pages carry the session's CSRF token in a hidden field."""
    if not info.csrf_token or not secrets.compare_digest(sent, info.csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token for this session; reload the page")


def login_response(request: Request, username: str, password: str, target: str) -> Response | str:
    """Log in: a redirect with the session cookies, or the message to show on the form."""
    ctx = context(request)
    address = request.client.host if request.client else "unknown"
    try:
        _, issued = open_session(ctx, username, password, address)
    except LoginRefused as refused:
        if refused.wait is None:
            return "Wrong username or password."
        return f"Too many login attempts: wait {math.ceil(refused.wait)} seconds and try again."
    response = RedirectResponse(safe_next(target), status_code=303)
    set_session_cookies(response, issued, ctx.settings.secure_cookies)
    return response


def logout_response(request: Request, info: TokenInfo, csrf: Annotated[str, Form()]) -> Response:
    """End the session (CSRF-checked) and go back to the login page."""
    check_form_csrf(info, csrf)
    with context(request).writing() as conn:
        tokens_lib.revoke_token(conn, info.id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookies(response)
    return response
