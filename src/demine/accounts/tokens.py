"""Browser sessions and API tokens.

A token is 32 random bytes (URL-safe base64); the database keeps only its SHA-256, so a
leaked copy of the database opens nothing. A session also has a CSRF token (synchronizer
pattern): requests authenticated by the session cookie must echo it in ``X-CSRF-Token`` for
any unsafe method. API tokens travel as ``Authorization: Bearer`` and need no CSRF token,
since a browser never attaches them by itself.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from demine.accounts.users import User, get_user_by_id
from demine.domain.errors import NotFoundError
from demine.storage import schema

SESSION = "session"
API = "api"
SESSION_TTL = timedelta(hours=12)
API_TOKEN_TTL = timedelta(days=90)
API_TOKEN_PREFIX = "dm_"


@dataclass(frozen=True)
class IssuedToken:
    """A token as handed to its holder: the only time the plain token exists."""

    id: int
    token: str
    kind: str
    expires_at: datetime
    csrf_token: str | None = None


@dataclass(frozen=True)
class TokenInfo:
    """What a presented token resolves to."""

    id: int
    kind: str
    user: User
    csrf_token: str | None


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    # Naive UTC: the GeoPackage timestamp columns store UTC without an offset.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def issue_token(
    conn: Connection,
    user: User,
    kind: str = API,
    ttl: timedelta | None = None,
    name: str | None = None,
) -> IssuedToken:
    """Create a session (with a CSRF token) or an API token for ``user``."""
    plain = (API_TOKEN_PREFIX if kind == API else "") + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32) if kind == SESSION else None
    expires = _now() + (ttl or (SESSION_TTL if kind == SESSION else API_TOKEN_TTL))
    token_id = conn.execute(
        insert(schema.auth_token).values(
            user_id=user.id,
            kind=kind,
            token_hash=token_hash(plain),
            csrf_token=csrf,
            name=name,
            expires_at=expires,
        )
    ).inserted_primary_key[0]
    return IssuedToken(id=token_id, token=plain, kind=kind, expires_at=expires, csrf_token=csrf)


def resolve_token(conn: Connection, token: str, kind: str | None = None) -> TokenInfo | None:
    """The live token's user (active), or None for an unknown, expired or revoked token."""
    t = schema.auth_token
    query = select(t.c.id, t.c.kind, t.c.user_id, t.c.csrf_token).where(
        t.c.token_hash == token_hash(token), t.c.revoked_at.is_(None), t.c.expires_at > _now()
    )
    if kind is not None:
        query = query.where(t.c.kind == kind)
    row = conn.execute(query).first()
    if row is None:
        return None
    user = get_user_by_id(conn, row.user_id)
    if user is None or not user.active:
        return None
    return TokenInfo(id=row.id, kind=row.kind, user=user, csrf_token=row.csrf_token)


def revoke_token(conn: Connection, token_id: int, user_id: int | None = None) -> None:
    """Revoke one token (only the given user's, when ``user_id`` is set)."""
    t = schema.auth_token
    query = update(t).where(t.c.id == token_id, t.c.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(t.c.user_id == user_id)
    if conn.execute(query.values(revoked_at=_now())).rowcount == 0:
        raise NotFoundError(f"no live token {token_id}")


def revoke_user_tokens(conn: Connection, user_id: int) -> int:
    """Revoke every live session and token of a user; returns how many."""
    t = schema.auth_token
    return conn.execute(
        update(t).where(t.c.user_id == user_id, t.c.revoked_at.is_(None)).values(revoked_at=_now())
    ).rowcount


def list_tokens(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """A user's live API tokens (never the tokens themselves)."""
    t = schema.auth_token
    rows = conn.execute(
        select(t.c.id, t.c.name, t.c.created_at, t.c.expires_at)
        .where(t.c.user_id == user_id, t.c.kind == API, t.c.revoked_at.is_(None), t.c.expires_at > _now())
        .order_by(t.c.id)
    )
    return [dict(r._mapping) for r in rows]
