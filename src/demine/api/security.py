"""Who is calling: bearer tokens for API clients, a session cookie plus CSRF token for browsers.

* ``Authorization: Bearer <token>`` — an API token (``demine users token`` or ``POST /auth/tokens``).
* Cookie ``demine_session`` (HttpOnly, SameSite=Lax) — set by ``POST /auth/login``. Unsafe
  methods (POST, PUT, PATCH, DELETE) authenticated by the cookie must also send the session's
  CSRF token in ``X-CSRF-Token`` (synchronizer token pattern; the token is returned by login
  and by ``GET /auth/me``, and mirrored in the readable cookie ``demine_csrf``). SameSite=Lax
  already keeps the cookie off cross-site POSTs; the token also covers same-site attackers.

Everything except the landing pages, ``/health`` and the OpenAPI document needs a user:
uncleared hazard polygons are not public information.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from demine.accounts.tokens import API, SESSION, TokenInfo, resolve_token
from demine.accounts.users import User
from demine.api.context import Context

SESSION_COOKIE = "demine_session"
CSRF_COOKIE = "demine_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer dm_...`")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="Browser session from POST /auth/login; unsafe methods also need the X-CSRF-Token header.",
)


def context(request: Request) -> Context:
    """The server's :class:`Context`."""
    return request.app.state.ctx


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="demine"'})


def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> TokenInfo:
    """The caller's token, checked (CSRF too, for cookie sessions); 401 without one."""
    ctx = context(request)
    if bearer is not None:
        with ctx.reading() as conn:
            info = resolve_token(conn, bearer.credentials, kind=API)
        if info is None:
            raise _unauthorised("invalid, expired or revoked token")
    elif cookie:
        with ctx.reading() as conn:
            info = resolve_token(conn, cookie, kind=SESSION)
        if info is None:
            raise _unauthorised("session expired; log in again")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not info.csrf_token or not secrets.compare_digest(sent, info.csrf_token):
                raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header for this session")
    else:
        raise _unauthorised("authentication required: a bearer token or a session cookie")
    request.state.token = info
    return info


def current_user(info: Annotated[TokenInfo, Depends(authenticate)]) -> User:
    """The authenticated user."""
    return info.user


CurrentUser = Annotated[User, Depends(current_user)]
CurrentToken = Annotated[TokenInfo, Depends(authenticate)]
Ctx = Annotated[Context, Depends(context)]
