"""Users of the server: adding, listing, changing, disabling, and checking passwords.

Every change is written to the audit log (without the password hash). Usernames are stored
in lower case; operator roles must name their organisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from demine.accounts import passwords
from demine.accounts.ratelimit import normalise_username
from demine.accounts.roles import ORGANISATION_ROLES, PERSONAL_DATA_ROLES, ROLES
from demine.domain.errors import DemineError, NotFoundError, Problem, ValidationError
from demine.storage import schema
from demine.storage.audit import record_change, snapshot
from demine.storage.types import utcnow

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{1,63}$")


@dataclass(frozen=True)
class User:
    """A user as the server sees them on each request."""

    id: int
    username: str
    role: str
    organisation_id: int | None
    organisation: str | None  # organisation code
    full_name: str | None
    active: bool
    version: int = 1

    @property
    def sees_personal_data(self) -> bool:
        return self.role in PERSONAL_DATA_ROLES

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "organisation": self.organisation,
            "full_name": self.full_name,
            "active": self.active,
            "version": self.version,
        }


def _user_query() -> Any:
    u, o = schema.app_user, schema.organisation
    return select(
        u.c.id,
        u.c.username,
        u.c.role,
        u.c.organisation_id,
        o.c.code.label("organisation"),
        u.c.full_name,
        u.c.active,
        u.c.version,
    ).select_from(u.outerjoin(o, o.c.id == u.c.organisation_id))


def _to_user(row: Any) -> User:
    return User(**dict(row._mapping))


def _audit_state(conn: Connection, user_id: int) -> dict[str, Any]:
    row = conn.execute(select(schema.app_user).where(schema.app_user.c.id == user_id)).first()
    state = snapshot(row)
    state.pop("password_hash", None)
    return state


def _organisation_id(conn: Connection, code: str | None, record: str, problems: list[Problem]) -> int | None:
    if code is None:
        return None
    org_id = conn.execute(
        select(schema.organisation.c.id).where(schema.organisation.c.code == code)
    ).scalar_one_or_none()
    if org_id is None:
        problems.append(Problem(record, "organisation", f"no organisation {code!r}"))
    return org_id


def _role_problems(record: str, role: str, organisation: str | None) -> list[Problem]:
    problems = []
    if role not in ROLES:
        problems.append(Problem(record, "role", f"{role!r} is not one of {', '.join(ROLES)}"))
    elif role in ORGANISATION_ROLES and organisation is None:
        problems.append(Problem(record, "organisation", f"a user with role {role} needs an organisation"))
    return problems


def add_user(
    conn: Connection,
    username: str,
    role: str,
    organisation: str | None = None,
    password: str | None = None,
    full_name: str | None = None,
    actor: str = "system",
) -> User:
    """Validate and add a user; ``password`` None makes a token-only account."""
    username = normalise_username(username)
    record = f"user {username or '(no name)'}"
    problems = []
    if not USERNAME.match(username):
        problems.append(Problem(record, "username", "2-64 characters: letters, digits, '.', '_', '-', '@'"))
    elif get_user(conn, username, missing_ok=True) is not None:
        problems.append(Problem(record, "username", "already exists"))
    problems += _role_problems(record, role, organisation)
    org_id = _organisation_id(conn, organisation, record, problems)
    if password is not None:
        problems += [Problem(record, "password", p) for p in passwords.password_problems(password)]
    if problems:
        raise ValidationError(problems)
    user_id = conn.execute(
        insert(schema.app_user).values(
            username=username,
            full_name=full_name,
            role=role,
            organisation_id=org_id,
            password_hash=passwords.hash_password(password) if password is not None else None,
        )
    ).inserted_primary_key[0]
    record_change(conn, "app_user", user_id, "insert", None, _audit_state(conn, user_id), changed_by=actor)
    return get_user(conn, username)


def get_user(conn: Connection, username: str, missing_ok: bool = False) -> User | None:
    """One user by username (raises :class:`NotFoundError` unless ``missing_ok``)."""
    row = conn.execute(
        _user_query().where(schema.app_user.c.username == normalise_username(username))
    ).first()
    if row is None:
        if missing_ok:
            return None
        raise NotFoundError(f"no user {username!r}")
    return _to_user(row)


def get_user_by_id(conn: Connection, user_id: int) -> User | None:
    """One user by id, or None."""
    row = conn.execute(_user_query().where(schema.app_user.c.id == user_id)).first()
    return _to_user(row) if row is not None else None


def list_users(conn: Connection) -> list[User]:
    """Every user, by username."""
    return [_to_user(r) for r in conn.execute(_user_query().order_by(schema.app_user.c.username))]


def update_user(
    conn: Connection,
    username: str,
    *,
    role: str | None = None,
    organisation: str | None = None,
    full_name: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    actor: str = "system",
) -> User:
    """Change a user's role, organisation, name, active flag or password (None: unchanged).

    Disabling a user also revokes their sessions and tokens.
    """
    user = get_user(conn, username)
    record = f"user {user.username}"
    new_role = role if role is not None else user.role
    new_org = organisation if organisation is not None else user.organisation
    problems = _role_problems(record, new_role, new_org)
    values: dict[str, Any] = {}
    if organisation is not None:
        values["organisation_id"] = _organisation_id(conn, organisation, record, problems)
    if password is not None:
        problems += [Problem(record, "password", p) for p in passwords.password_problems(password)]
        values["password_hash"] = passwords.hash_password(password)
    if problems:
        raise ValidationError(problems)
    if role is not None:
        values["role"] = role
    if full_name is not None:
        values["full_name"] = full_name
    if active is not None:
        values["active"] = active
    if not values:
        return user
    before = _audit_state(conn, user.id)
    u = schema.app_user
    conn.execute(
        update(u).where(u.c.id == user.id).values(**values, version=u.c.version + 1, updated_at=utcnow())
    )
    if active is False or role is not None or organisation is not None or password is not None:
        # A changed role or password must not live on in sessions opened before the change.
        from demine.accounts.tokens import revoke_user_tokens

        revoke_user_tokens(conn, user.id)
    record_change(conn, "app_user", user.id, "update", before, _audit_state(conn, user.id), changed_by=actor)
    return get_user(conn, user.username)


def disable_user(conn: Connection, username: str, actor: str = "system") -> User:
    """Stop a user from logging in and revoke their sessions and tokens (the record stays)."""
    if get_user(conn, username).username == actor:
        raise DemineError("you cannot disable yourself")
    return update_user(conn, username, active=False, actor=actor)


@dataclass(frozen=True)
class LoginCandidate:
    """A user's stored password hash, read before the (slow) password check."""

    id: int
    password_hash: str | None
    active: bool


def login_candidate(conn: Connection, username: str) -> LoginCandidate | None:
    """The stored hash of ``username`` (None when there is no such user)."""
    u = schema.app_user
    row = conn.execute(
        select(u.c.id, u.c.password_hash, u.c.active).where(u.c.username == normalise_username(username))
    ).first()
    return None if row is None else LoginCandidate(row.id, row.password_hash, bool(row.active))


def check_password(candidate: LoginCandidate | None, password: str) -> bool:
    """Whether ``password`` opens ``candidate``'s account; as slow for unknown users (argon2).

    Needs no database: call it outside any transaction, so that logins never hold the write lock
    while hashing.
    """
    if candidate is None or candidate.password_hash is None:
        passwords.verify_password(passwords.DUMMY_HASH, password)
        return False
    return passwords.verify_password(candidate.password_hash, password) and candidate.active


def confirm_login(conn: Connection, candidate: LoginCandidate, new_hash: str | None = None) -> User | None:
    """The user, if still active with the hash that was checked; stores ``new_hash`` (an upgrade)."""
    u = schema.app_user
    row = conn.execute(select(u.c.password_hash, u.c.active).where(u.c.id == candidate.id)).first()
    if row is None or not row.active or row.password_hash != candidate.password_hash:
        return None  # disabled or given a new password while the old one was being checked
    if new_hash is not None:
        conn.execute(update(u).where(u.c.id == candidate.id).values(password_hash=new_hash))
    return get_user_by_id(conn, candidate.id)


def rehashed(candidate: LoginCandidate, password: str) -> str | None:
    """A fresh hash when the stored one used weaker parameters (after a successful check)."""
    if candidate.password_hash is not None and passwords.needs_rehash(candidate.password_hash):
        return passwords.hash_password(password)
    return None


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    """The active user with this username and password, or None; upgrades old hashes.

    One connection does it all: for the command line. The server splits the steps so the
    password is checked outside the write transaction (:func:`demine.api.auth.open_session`).
    """
    candidate = login_candidate(conn, username)
    if not check_password(candidate, password):
        return None
    assert candidate is not None
    return confirm_login(conn, candidate, rehashed(candidate, password))
