"""The login form refuses a post from another site (login CSRF), and accepts its own."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from demine.cli.programme import DEMO_PASSWORD


def _post(server, origin: str | None) -> httpx.Response:
    headers = {} if origin is None else {"Origin": origin}
    form = {"username": "im", "password": DEMO_PASSWORD, "next": "/dashboard"}
    return httpx.post(f"{server.url}/login", data=form, headers=headers, follow_redirects=False, timeout=30)


def test_a_login_form_posted_from_another_site_is_refused(server):
    r = _post(server, "https://attacker.example")
    assert r.status_code == 403
    assert "another site" in r.text
    assert "demine_session" not in r.cookies  # no session was opened
    assert "set-cookie" not in {k.lower() for k in r.headers}


def test_the_site_s_own_login_form_and_non_browser_clients_log_in(server):
    own = f"http://{urlsplit(server.url).netloc}"
    for origin in (own, None):
        r = _post(server, origin)
        assert r.status_code == 303, r.text
        assert r.headers["location"].endswith("/dashboard")
        assert "demine_session" in r.cookies
