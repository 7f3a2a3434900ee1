"""The login form: refuses a post from another site (login CSRF), accepts its own, is rate-limited."""

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


def test_the_login_form_is_rate_limited_like_the_api(server):
    form = {"username": "nobody-at-all", "password": "guess", "next": "/"}
    answers = [
        httpx.post(f"{server.url}/login", data=form, follow_redirects=False, timeout=30) for _ in range(6)
    ]
    assert [r.status_code for r in answers] == [401] * 6
    assert all("Wrong username or password." in r.text for r in answers[:5])
    assert "Too many login attempts: wait" in answers[5].text
    assert not any("demine_session" in r.cookies for r in answers)
