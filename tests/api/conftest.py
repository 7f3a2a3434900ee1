"""A real ``demine serve`` on a loopback port, over a copy of the demo programme, with users.

Everything in ``tests/api`` talks HTTP to a server process started the way an operator starts
it (the ``serve`` command); nothing is mocked. Users exist for every role, for two operator
organisations (HDT and SAFEFIELD), each with an API token.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

import backend_support
from demine.accounts.tokens import issue_token
from demine.accounts.users import add_user
from demine.storage.database import open_database
from serve_support import start_server, stop_server

PASSWORD = "correct horse battery staple"

# username -> (role, organisation code, has a password)
USERS: dict[str, tuple[str, str | None, bool]] = {
    "admin": ("admin", None, True),
    "im": ("im_officer", "NMAA", True),
    "mgr_hdt": ("operator_manager", "HDT", False),
    "op_hdt": ("operator", "HDT", True),
    "op_hdt2": ("operator", "HDT", False),
    "mgr_safe": ("operator_manager", "SAFEFIELD", False),
    "op_safe": ("operator", "SAFEFIELD", False),
    "qa": ("qa_officer", "NMAA", False),
    "viewer": ("viewer", None, True),
}


@dataclass
class Server:
    """A running server and the means to call it as any test user."""

    url: str
    db: Path | str
    process: subprocess.Popen
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, user: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def engine(self):
        return open_database(self.db)


def prepare_database(template: Path | str, path: Path) -> tuple[Path | str, dict[str, str]]:
    """Copy the demo programme, add the test users; returns the copy's ref and the users' API tokens."""
    path = backend_support.clone(template, path)
    engine = open_database(path)
    tokens = {}
    with engine.begin() as conn:
        for username, (role, org, has_password) in USERS.items():
            user = add_user(conn, username, role, org, PASSWORD if has_password else None, actor="tests")
            tokens[username] = issue_token(conn, user, name="tests").token
    engine.dispose()
    return path, tokens


def pytest_collection_modifyitems(config, items):
    """Skip this folder's ``slow`` tests unless asked for (``-m slow`` or ``DEMINE_SLOW=1``)."""
    if os.environ.get("DEMINE_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or DEMINE_SLOW=1")
    for item in items:
        if "slow" in item.keywords and Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def server(demo, tmp_path_factory):
    """One server per test session (per xdist worker) on its own copy of the demo programme."""
    db = tmp_path_factory.mktemp("api") / "server.gpkg"
    db, tokens = prepare_database(demo.template, db)
    process, url = start_server(db)
    yield Server(url=url, db=db, process=process, tokens=tokens)
    stop_server(process)


@pytest.fixture(scope="session")
def clients(server):
    """An HTTP client per test user (plus ``None`` for anonymous)."""
    made = {name: server.client(name) for name in USERS} | {None: server.client()}
    yield made
    for c in made.values():
        c.close()
