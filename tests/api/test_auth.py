"""Logging in: cookies and CSRF for browsers, bearer tokens for clients, rate limits, disabling."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from serve_support import start_server, stop_server

from .conftest import PASSWORD, prepare_database


def _login(server, username, password=PASSWORD, client=None):
    client = client or httpx.Client(base_url=server.url)
    return client, client.post("/auth/login", json={"username": username, "password": password})


def test_login_sets_a_safe_session_cookie_and_csrf_guards_unsafe_methods(server):
    client, r = _login(server, "viewer")
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("demine_session="))
    assert "HttpOnly" in session and "samesite=lax" in session.lower() and "Path=/" in session
    csrf_cookie = next(c for c in cookies if c.startswith("demine_csrf="))
    assert "HttpOnly" not in csrf_cookie
    csrf = r.json()["csrf_token"]
    assert client.get("/api/hazards", params={"limit": 1}).status_code == 200
    me = client.get("/auth/me").json()
    assert me["user"]["username"] == "viewer" and me["csrf_token"] == csrf and me["auth"] == "session"
    # An unsafe request by cookie without the CSRF header is refused before anything else.
    assert client.post("/auth/tokens", json={}).status_code == 403
    assert client.post("/auth/tokens", json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    made = client.post("/auth/tokens", json={"name": "script"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    token = made.json()["token"]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.get("/auth/me").json()["auth"] == "api"
        assert api.post("/auth/tokens", json={}).status_code == 201  # bearer needs no CSRF token
    assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/hazards").status_code == 401
    client.close()


def test_wrong_passwords_and_unknown_users_get_the_same_answer(server):
    _, wrong = _login(server, "op_hdt", "not the password")
    _, unknown = _login(server, "nobody-here", "whatever it is")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    _, token_only = _login(server, "op_hdt2", "anything at all")
    assert token_only.status_code == 401


def test_login_is_rate_limited_per_username_and_address(server):
    statuses = [_login(server, "im", f"guess number {i}")[1].status_code for i in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    _, limited = _login(server, "im")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    _, other_user = _login(server, "admin")
    assert other_user.status_code == 200  # the bucket is per username


def test_revoked_and_foreign_tokens(server, clients):
    made = clients["qa"].post("/auth/tokens", json={"name": "temp"}).json()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {made['token']}"}) as c:
        assert c.get("/auth/me").status_code == 200
        assert clients["viewer"].delete(f"/auth/tokens/{made['id']}").status_code == 404  # not theirs
        assert clients["qa"].delete(f"/auth/tokens/{made['id']}").status_code == 204
        assert c.get("/auth/me").status_code == 401
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer dm_madeup"}) as c:
        assert c.get("/api/hazards").status_code == 401


def test_admins_manage_users_and_disabling_revokes_access(server, clients):
    admin = clients["admin"]
    r = admin.post(
        "/api/users",
        json={"username": "temp_op", "role": "operator", "organisation": "HDT", "password": "long enough pw"},
    )
    assert r.status_code == 201, r.text
    bad = admin.post("/api/users", json={"username": "temp_op2", "role": "operator"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "organisation"
    client, login = _login(server, "temp_op", "long enough pw")
    assert login.status_code == 200
    etag = admin.get("/api/users/temp_op").headers["etag"]
    assert admin.patch("/api/users/temp_op", json={"active": False}).status_code == 428
    off = admin.patch("/api/users/temp_op", json={"active": False}, headers={"If-Match": etag})
    assert off.status_code == 200 and off.json()["active"] is False
    assert client.get("/api/hazards").status_code == 401  # the open session died with the account
    assert _login(server, "temp_op", "long enough pw")[1].status_code == 401
    me = admin.get("/api/users/admin")
    assert (
        admin.patch(
            "/api/users/admin", json={"active": False}, headers={"If-Match": me.headers["etag"]}
        ).status_code
        == 403
    )
    client.close()


def test_users_commands(demo, tmp_path):
    import typer

    from demine.cli import server as server_cli
    from demine.domain.errors import DemineError

    app = typer.Typer()
    server_cli.register(app)
    runner = CliRunner()
    db = tmp_path / "cli.gpkg"
    db, _tokens = prepare_database(demo.template, db)
    r = runner.invoke(
        app,
        ["users", "add", "newbie", "--role", "viewer", "--password-stdin", "--db", str(db)],
        input="a fine passphrase\n",
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "x", "--role", "operator", "--db", str(db)], input="")
    assert r.exit_code != 0
    listed = runner.invoke(app, ["users", "list", "--json", "--db", str(db)])
    assert "newbie" in listed.output and '"role": "viewer"' in listed.output
    token = runner.invoke(app, ["users", "token", "newbie", "--db", str(db)]).output.strip()
    assert token.startswith("dm_")
    assert runner.invoke(app, ["users", "disable", "newbie", "--db", str(db)]).exit_code == 0
    process, url = start_server(db)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get("/api/hazards").status_code == 401  # disabled: its token is revoked
        login = httpx.post(f"{url}/auth/login", json={"username": "newbie", "password": "a fine passphrase"})
        assert login.status_code == 401
    finally:
        stop_server(process)
    with pytest.raises(DemineError):
        from demine.accounts.users import disable_user
        from demine.storage.database import open_database

        engine = open_database(db)
        with engine.begin() as conn:
            disable_user(conn, "admin", actor="admin")
