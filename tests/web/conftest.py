"""A real ``demine serve`` on loopback over a copy of the demo programme, and a real Chromium.

The browser is Debian's ``chromium`` driven by Playwright (never ``playwright install``: its
download site is not reachable). When ``/usr/bin/chromium`` is missing the set-up installs it
with apt-get as root; when it cannot (not root), the tests are skipped with the reason, except
in CI (``CI`` set), where a missing browser fails the run. WebGL runs on SwiftShader (software),
so the map really renders in headless mode. Screenshots go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from demine.cli.programme import DEMO_PASSWORD, add_demo_users
from demine.storage.database import open_database
from serve_support import start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--use-gl=angle",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-dev-shm-usage",
]


def _install_chromium() -> str | None:
    """Install Debian's chromium; returns why it could not be, or None.

    Test workers (xdist) may get here at once: a file lock makes one install while the others
    wait, and apt itself waits for a dpkg lock held by anything else.
    """
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-qq"]
    with open(Path(tempfile.gettempdir()) / "demine-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():  # another worker installed it meanwhile
            return None
        done = subprocess.run(
            [*apt, "install", "chromium"], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or not CHROMIUM.exists():  # stale package lists on a fresh machine
            subprocess.run([*apt, "update"], env=env, capture_output=True, check=False)
            done = subprocess.run(
                [*apt, "install", "chromium"], env=env, capture_output=True, text=True, check=False
            )
    if done.returncode == 0 and CHROMIUM.exists():
        return None
    return f"apt-get install chromium failed: {done.stderr.strip()[-500:]}"


def ensure_chromium() -> None:
    """Make sure /usr/bin/chromium exists: install it, skip (developer, not root) or fail (CI)."""
    if CHROMIUM.exists():
        return
    in_ci = bool(os.environ.get("CI"))
    if os.geteuid() == 0:
        problem = _install_chromium()
        if problem is None:
            return
        pytest.fail(problem)
    if in_ci:
        pytest.fail(f"{CHROMIUM} is missing in CI and this run is not root: cannot install it")
    pytest.skip(
        f"{CHROMIUM} is missing; install it with `sudo apt-get install chromium` to run the browser tests"
    )


@dataclass
class Server:
    """A running ``demine serve`` and its database."""

    url: str
    db: Path | str  # a file path (SQLite) or a URL (PostgreSQL)
    process: subprocess.Popen


@pytest.fixture(scope="session")
def server(demo, store) -> Iterator[Server]:
    """``demine serve`` on a copy of the demo programme (on the suite's store) with the demo logins."""
    db = store.clone(demo.template, "web")
    engine = open_database(db)
    with engine.begin() as conn:
        add_demo_users(conn)
    engine.dispose()
    process, url = start_server(db)
    yield Server(url=url, db=db, process=process)
    stop_server(process)
    store.drop(db)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium with software WebGL."""
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_as(browser, server):
    """``open_as(username)``: a logged-in page in its own browser context (own cookies)."""
    contexts = []

    def login(username: str, width: int = 1280, height: int = 860, url: str | None = None):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        base = url or server.url
        page.goto(f"{base}/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/map")
        return page

    yield login
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def db(server):
    """An engine on the running server's database, to check what the pages show against it."""
    engine = open_database(server.db)
    yield engine
    engine.dispose()


def api_client(server: Server, username: str) -> httpx.Client:
    """An HTTP client logged in to ``server`` through the API as a demo user."""
    client = httpx.Client(base_url=server.url, timeout=60)
    login = client.post("/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text
    return client


def save_screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def map_idle(page, handle: str = "demineMap") -> None:
    """Until the map has loaded every tile and finished drawing."""
    page.wait_for_function(f"window.{handle} && window.{handle}.map.loaded()")
    page.evaluate(
        f"""() => new Promise((resolve) => {{
            const map = window.{handle}.map;
            if (map.loaded() && map.areTilesLoaded() && !map.isMoving()) resolve();
            else map.once('idle', resolve);
        }})"""
    )


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: a full-page PNG in ``test-artifacts/web/``."""
    return save_screenshot


@pytest.fixture
def wait_for_map_idle():
    """``wait_for_map_idle(page[, handle])``: until the page's map has drawn every loaded tile."""
    return map_idle
