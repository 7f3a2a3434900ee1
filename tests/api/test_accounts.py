"""The accounts library without a server: passwords, the rate limiter, tokens, the policy table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from demine.accounts import passwords
from demine.accounts.ratelimit import Limit, LoginRateLimiter
from demine.accounts.roles import PERMISSIONS, ROLES, permissions_table, scope
from demine.accounts.tokens import API, SESSION, issue_token, resolve_token, revoke_user_tokens, token_hash
from demine.accounts.users import add_user, authenticate, get_user, update_user
from demine.domain.errors import ValidationError
from demine.storage import schema


def test_passwords_are_argon2id_and_verify():
    stored = passwords.hash_password("a long passphrase")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "a long passphrase")
    assert not passwords.verify_password(stored, "a long passphrasE")
    assert not passwords.verify_password("not a hash", "x")
    assert passwords.password_problems("short")


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = LoginRateLimiter(capacity=3, refill_seconds=10, clock=lambda: now[0])
    assert [limiter.attempt("Ann", "1.2.3.4") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.attempt("ann", "1.2.3.4")  # usernames are case-insensitive
    assert wait == pytest.approx(10)
    assert limiter.attempt("ann", "5.6.7.8") == 0.0  # another address has its own bucket
    now[0] = 10.0
    assert limiter.attempt("ann", "1.2.3.4") == 0.0
    assert limiter.attempt("ann", "1.2.3.4") > 0
    limiter.reset("ann", "1.2.3.4")
    assert limiter.attempt("ann", "1.2.3.4") == 0.0


def test_rate_limiter_memory_is_bounded():
    limiter = LoginRateLimiter(
        capacity=2, refill_seconds=1, clock=lambda: 0.0, max_keys=100, per_server=Limit(10**6, 1)
    )
    for i in range(1000):
        limiter.attempt(f"user{i}", f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._user.buckets) <= 100 and len(limiter._address.buckets) <= 100


def test_rate_limiter_limits_an_address_and_the_server_and_normalises_names():
    now = [0.0]
    limiter = LoginRateLimiter(clock=lambda: now[0], per_address=Limit(4, 10), per_server=Limit(6, 5))
    # Made-up names from one address: each name is new, the address bucket is not.
    assert [limiter.attempt(f"x{i}", "1.1.1.1") for i in range(4)] == [0.0] * 4
    assert limiter.attempt("x9", "1.1.1.1") == pytest.approx(10)
    # Other addresses share the server's bucket: 2 left of 6.
    assert [limiter.attempt("y", f"2.2.2.{i}") for i in range(2)] == [0.0, 0.0]
    assert limiter.attempt("z", "3.3.3.3") == pytest.approx(5)
    # A good login gives its address and server tokens back.
    limiter.reset("y", "2.2.2.0")
    assert limiter.attempt("z", "3.3.3.3") == 0.0
    # One normalised name: Unicode spaces and case do not make a fresh bucket.
    fresh = LoginRateLimiter(capacity=2, clock=lambda: now[0])
    assert [fresh.attempt("qa", "a"), fresh.attempt("\u3000\u3000QA", "a")] == [0.0, 0.0]
    assert fresh.attempt(" Qa\u3000", "a") > 0


def test_users_and_tokens(demo_copy):
    with demo_copy.begin() as conn:
        with pytest.raises(ValidationError) as err:
            add_user(conn, "Bad Name!", "pilot", password="short")
        assert {p.field for p in err.value.problems} == {"username", "role", "password"}
        user = add_user(conn, "Mia", "operator", "HDT", password="a long passphrase", actor="t")
        assert user.username == "mia" and user.organisation == "HDT" and not user.sees_personal_data
        assert authenticate(conn, "MIA", "a long passphrase").id == user.id
        assert authenticate(conn, "mia", "wrong one") is None
        session = issue_token(conn, user, SESSION)
        api = issue_token(conn, user, API, ttl=timedelta(days=1))
        assert session.csrf_token and api.csrf_token is None and api.token.startswith("dm_")
        stored = conn.execute(schema.auth_token.select()).all()
        assert all(row.token_hash != api.token for row in stored)
        assert any(row.token_hash == token_hash(api.token) for row in stored)
        assert resolve_token(conn, api.token, API).user.id == user.id
        assert resolve_token(conn, api.token, SESSION) is None
        expired = issue_token(conn, user, API, ttl=timedelta(seconds=-1))
        assert resolve_token(conn, expired.token) is None
        update_user(conn, "mia", role="operator_manager", actor="t")
        assert resolve_token(conn, api.token) is None  # a role change ends old sessions
        assert get_user(conn, "mia").role == "operator_manager"
        fresh = issue_token(conn, get_user(conn, "mia"), API)
        assert revoke_user_tokens(conn, user.id) == 1
        assert resolve_token(conn, fresh.token) is None


def test_the_policy_table_is_complete_and_personal_data_is_restricted():
    for resource, actions in PERMISSIONS.items():
        assert set(actions) == {"read", "create", "update", "delete"}, resource
        assert all(set(roles) <= set(ROLES) for roles in actions.values())
    assert {r for r in ROLES if scope(r, "victims", "read")} == {"admin", "im_officer"}
    assert not any(scope(r, "remaining", a) for r in ROLES for a in ("create", "update", "delete"))
    rows = permissions_table()
    assert {"resource", "action", *ROLES} == set(rows[0])
    assert any(r["resource"] == "submissions" and r["action"] == "approve" for r in rows)
