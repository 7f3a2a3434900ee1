"""Logging in and out, the current user, API tokens, and user administration (admins).

``POST /auth/login`` is rate-limited by in-process token buckets (:mod:`demine.accounts.ratelimit`):
per (username, client address) 5 attempts at once, then one every 20 seconds (the 6th quick
attempt gets 429 with ``Retry-After``); per address and for the whole server too, so made-up
user names are limited as well.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response

from demine.accounts import tokens as tokens_lib
from demine.accounts import users as users_lib
from demine.accounts.ratelimit import normalise_username
from demine.accounts.roles import ADMIN, permissions_table
from demine.accounts.tokens import IssuedToken
from demine.accounts.users import User
from demine.api.context import Context
from demine.api.schemas import LoginIn, SessionOut, TokenIn, TokenOut, UserIn, UserOut, UserPatch
from demine.api.security import CSRF_COOKIE, SESSION_COOKIE, Ctx, CurrentToken, CurrentUser
from demine.api.versioning import IfMatch, etag, expected_version
from demine.workflow.errors import Forbidden, VersionConflict

router = APIRouter(tags=["Authentication"])
users_router = APIRouter(prefix="/api", tags=["Users"])
Username = Annotated[str, Path(min_length=1, max_length=100)]


def user_out(user: User) -> UserOut:
    return UserOut(**user.to_dict(), sees_personal_data=user.sees_personal_data)


class LoginRefused(Exception):
    """A login that opened no session: too many attempts (``wait`` seconds), or wrong credentials."""

    def __init__(self, wait: float | None = None) -> None:
        super().__init__("too many login attempts" if wait else "wrong username or password")
        self.wait = wait


def open_session(ctx: Context, username: str, password: str, address: str) -> tuple[User, IssuedToken]:
    """Check the rate limits and the password, then issue a browser session (the API and the pages).

    The user name is normalised once, before both the limiter and the lookup (a name padded with
    Unicode spaces is the same name to both). The argon2 check runs outside any transaction: a
    flood of logins costs CPU, bounded by the limiter, but never holds the write lock that every
    edit of the register waits for.
    """
    username = normalise_username(username)
    wait = ctx.limiter.attempt(username, address)
    if wait > 0:
        raise LoginRefused(wait)
    with ctx.reading() as conn:
        candidate = users_lib.login_candidate(conn, username)
    if not users_lib.check_password(candidate, password):
        raise LoginRefused()
    assert candidate is not None
    new_hash = users_lib.rehashed(candidate, password)
    with ctx.writing() as conn:
        user = users_lib.confirm_login(conn, candidate, new_hash)
        if user is None:
            raise LoginRefused()
        issued = tokens_lib.issue_token(conn, user, kind=tokens_lib.SESSION)
    ctx.limiter.reset(username, address)
    return user, issued


def set_session_cookies(response: Response, issued: IssuedToken, secure: bool) -> None:
    """The HttpOnly session cookie, and the CSRF token readable by the page's scripts (which copy
    it into the X-CSRF-Token header)."""
    max_age = int(tokens_lib.SESSION_TTL.total_seconds())
    response.set_cookie(
        SESSION_COOKIE, issued.token, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE,
        issued.csrf_token or "",
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=secure,
        path="/",
    )


def clear_session_cookies(response: Response) -> None:
    """Remove both session cookies from the browser."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.post("/auth/login", response_model=SessionOut, responses={401: {}, 429: {}})
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> SessionOut:
    """Open a browser session: sets the HttpOnly session cookie and returns the CSRF token."""
    address = request.client.host if request.client else "unknown"
    try:
        user, issued = open_session(ctx, body.username, body.password, address)
    except LoginRefused as refused:
        if refused.wait is None:
            raise HTTPException(401, "wrong username or password") from None
        raise HTTPException(
            429,
            "too many login attempts; wait and try again",
            headers={"Retry-After": str(math.ceil(refused.wait))},
        ) from None
    set_session_cookies(response, issued, ctx.settings.secure_cookies)
    return SessionOut(user=user_out(user), csrf_token=issued.csrf_token or "", expires_at=issued.expires_at)


@router.post("/auth/logout", status_code=204)
def logout(info: CurrentToken, ctx: Ctx) -> Response:
    """End this session (or revoke the bearer token used for this request)."""
    with ctx.writing() as conn:
        tokens_lib.revoke_token(conn, info.id)
    response = Response(status_code=204)
    clear_session_cookies(response)
    return response


@router.get("/auth/me")
def me(info: CurrentToken) -> dict:
    """The current user, and the session's CSRF token when logged in by cookie."""
    return {"user": user_out(info.user).model_dump(), "csrf_token": info.csrf_token, "auth": info.kind}


@router.post("/auth/tokens", response_model=TokenOut, status_code=201)
def create_token(body: TokenIn, user: CurrentUser, ctx: Ctx) -> TokenOut:
    """A new API token for yourself (shown once)."""
    with ctx.writing() as conn:
        issued = tokens_lib.issue_token(
            conn, user, kind=tokens_lib.API, ttl=timedelta(days=body.days), name=body.name
        )
    return TokenOut(id=issued.id, token=issued.token, expires_at=issued.expires_at)


@router.get("/auth/tokens")
def list_tokens(user: CurrentUser, ctx: Ctx) -> dict:
    """Your live API tokens (never the tokens themselves)."""
    with ctx.reading() as conn:
        return {"items": tokens_lib.list_tokens(conn, user.id)}


@router.delete("/auth/tokens/{token_id}", status_code=204, responses={404: {}})
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**53)], user: CurrentUser, ctx: Ctx) -> Response:
    """Revoke one of your API tokens."""
    with ctx.writing() as conn:
        tokens_lib.revoke_token(conn, token_id, user_id=user.id)
    return Response(status_code=204)


@users_router.get("/permissions")
def permissions(user: CurrentUser) -> dict:
    """Who may do what: one row per resource and action, one column per role."""
    return {"items": permissions_table()}


def _admin(user: User) -> None:
    if user.role != ADMIN:
        raise Forbidden("only an admin manages users")


@users_router.get("/users")
def list_users(user: CurrentUser, ctx: Ctx) -> dict:
    """Every user (admins)."""
    _admin(user)
    with ctx.reading() as conn:
        return {"items": [user_out(u).model_dump() for u in users_lib.list_users(conn)]}


@users_router.post("/users", status_code=201, response_model=UserOut, responses={403: {}, 422: {}})
def add_user(body: UserIn, user: CurrentUser, ctx: Ctx, response: Response) -> UserOut:
    """Add a user (admins); without a password the account logs in by API token only."""
    _admin(user)
    with ctx.writing() as conn:
        added = users_lib.add_user(
            conn,
            body.username,
            body.role,
            organisation=body.organisation,
            password=body.password,
            full_name=body.full_name,
            actor=user.username,
        )
    response.headers["ETag"] = etag(added.version)
    return user_out(added)


@users_router.get("/users/{username}", response_model=UserOut, responses={403: {}, 404: {}})
def get_user(username: Username, user: CurrentUser, ctx: Ctx, response: Response) -> UserOut:
    """One user (admins, or yourself)."""
    if user.username != normalise_username(username):
        _admin(user)
    with ctx.reading() as conn:
        found = users_lib.get_user(conn, username)
    response.headers["ETag"] = etag(found.version)
    return user_out(found)


@users_router.patch(
    "/users/{username}", response_model=UserOut, responses={403: {}, 404: {}, 409: {}, 422: {}, 428: {}}
)
def patch_user(
    username: Username,
    body: UserPatch,
    user: CurrentUser,
    ctx: Ctx,
    response: Response,
    if_match: IfMatch = None,
) -> UserOut:
    """Change a user's role, organisation, name, password or active flag (admins; If-Match)."""
    _admin(user)
    version = expected_version(if_match)
    with ctx.writing() as conn:
        current = users_lib.get_user(conn, username)
        if current.version != version:
            raise VersionConflict(
                f"user {current.username} is at version {current.version}", current.to_dict(), current.version
            )
        if current.username == user.username and (body.active is False or body.role not in (None, ADMIN)):
            raise Forbidden("you cannot disable or demote yourself")
        changed = users_lib.update_user(
            conn, username, actor=user.username, **body.model_dump(exclude_unset=True, exclude_none=True)
        )
    response.headers["ETag"] = etag(changed.version)
    return user_out(changed)
