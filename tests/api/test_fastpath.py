"""The thin path (demine.api.fastpath) answers tiles and bbox pages exactly as FastAPI would.

Over HTTP to the real server: ``Authorization: bearer ...`` (lower case, which FastAPI
accepts) is handed on to FastAPI by the thin path, ``Bearer ...`` is answered by it, so the
same URL gives both answers to compare. In process, on a copy of the demo programme: the
thin path did answer (its counter), and what it answers equals what FastAPI alone answers.
"""

from __future__ import annotations

import asyncio
import math
import os

import httpx
import pytest
from sqlalchemy import func, select

from demine.accounts.tokens import issue_token
from demine.accounts.users import add_user
from demine.api import fastpath
from demine.api.app import create_app
from demine.api.context import Settings
from demine.storage import schema
from demine.storage.database import open_database

from .conftest import PASSWORD

pytestmark = pytest.mark.skipif(
    os.environ.get("DEMINE_TEST_BACKEND", "sqlite") != "sqlite",
    reason="the thin path runs on SQLite; PostgreSQL goes to FastAPI",
)


def _extent(server) -> tuple[float, float, float, float]:
    engine = server.engine()
    with engine.connect() as conn:
        box = conn.exec_driver_sql(
            "SELECT min(minx), min(miny), max(maxx), max(maxy) FROM rtree_hazard_geom"
        ).one()
    engine.dispose()
    return tuple(box)


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _paths(box: tuple[float, float, float, float]) -> list[str]:
    minx, miny, maxx, maxy = box
    w, h = (maxx - minx) / 3, (maxy - miny) / 3
    views = [
        (minx + i * w, miny + j * h, minx + (i + 1) * w, miny + (j + 1) * h)
        for i in range(3)
        for j in range(3)
    ]
    paths = ["/api/hazards?bbox=" + ",".join(f"{v:.5f}" for v in view) for view in views]
    paths += [
        f"/api/hazards?limit=7&offset=3&bbox={minx},{miny},{maxx},{maxy}",  # paged: next and prev links
        "/api/hazards?limit=5",
        "/api/hazards?bbox=0,0,0.001,0.001",  # nothing there
        "/api/release_products?limit=20",
        "/api/accidents?limit=20",  # personal data (the description) hidden from most roles
        "/api/hazards?bbox=1,1,0,0",  # malformed: FastAPI's 400
        "/api/hazards?limit=0",  # out of range: FastAPI's 422
    ]
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    for z in (8, 11, 13):
        x, y = _tile_of(cx, cy, z)
        paths += [f"/tiles/hazards/{z}/{x + dx}/{y}.mvt" for dx in (-1, 0, 1)]
    paths += ["/tiles/finds/9/0/0.mvt", "/tiles/nope/3/1/1.mvt", "/tiles/hazards/2/5/0.mvt"]
    return paths


def _answer(r: httpx.Response) -> tuple:
    return r.status_code, r.content, sorted((k, v) for k, v in r.headers.items() if k != "date")


@pytest.mark.parametrize("user", ["viewer", "op_hdt", "admin"])
def test_thin_path_answers_as_fastapi_does(server, user):
    token = server.tokens[user]
    thin = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    full = httpx.Client(base_url=server.url, headers={"Authorization": f"bearer {token}"}, timeout=60)
    with thin, full:
        for path in _paths(_extent(server)):
            first = thin.get(path)
            assert _answer(first) == _answer(full.get(path)), path
            assert _answer(thin.get(path)) == _answer(first), path  # from the caches now
            if "etag" in first.headers and path.startswith("/tiles/"):
                again = thin.get(path, headers={"If-None-Match": first.headers["etag"]})
                assert again.status_code == 304 and again.content == b""


def test_a_commit_reaches_the_next_bbox_page_and_a_revoked_token_is_refused(server, clients):
    view = "/api/hazards?limit=3&bbox=" + ",".join(map(str, _extent(server)))
    made = clients["im"].post("/auth/tokens", json={"name": "thin path"}).json()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {made['token']}"}) as c:
        first = c.get(view).json()["features"][0]
        assert c.get(view).status_code == 200  # the token and the features are cached now
        hazard = clients["im"].get(f"/api/hazards/{first['id']}")
        new_name = (first["properties"]["name"] or "") + " (renamed)"
        changed = clients["im"].patch(
            f"/api/hazards/{first['id']}",
            json={"name": new_name},
            headers={"If-Match": hazard.headers["etag"]},
        )
        assert changed.status_code == 200, changed.text
        assert c.get(view).json()["features"][0]["properties"]["name"] == new_name
        assert c.get("/tiles/hazards/3/4/3.mvt").status_code in (200, 204)
        assert clients["im"].delete(f"/auth/tokens/{made['id']}").status_code == 204
        refused = c.get(view)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        assert c.get("/tiles/hazards/3/4/3.mvt").status_code == 401


def test_in_process_the_thin_path_answers_and_equals_fastapi(demo_copy):
    db = demo_copy.url.database
    with demo_copy.begin() as conn:
        viewer = add_user(conn, "thin_viewer", "viewer", actor="tests")
        token = issue_token(conn, viewer, name="tests").token
        box = conn.exec_driver_sql(
            "SELECT min(minx), min(miny), max(maxx), max(maxy) FROM rtree_hazard_geom"
        ).one()
        hazards = conn.execute(select(func.count()).select_from(schema.hazard)).scalar_one()
    app = create_app(Settings(db=db))
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    layer = app.middleware_stack
    while not isinstance(layer, fastpath.FastPath):
        layer = layer.app
    thin = layer

    async def get(path: str) -> tuple:
        target, _, query = path.partition("?")
        scope = {
            "type": "http",
            "method": "GET",
            "path": target,
            "raw_path": target.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000),
            "http_version": "1.1",
            "root_path": "",
        }
        sent = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        start = sent[0]
        body = b"".join(m.get("body", b"") for m in sent[1:])
        return start["status"], body, sorted(start["headers"])

    async def compare() -> None:
        paths = [f"/api/hazards?limit={hazards}&bbox={box[0]},{box[1]},{box[2]},{box[3]}"]
        paths += [p for p in _paths(tuple(box)) if not p.startswith("/tiles/nope")]
        before = thin.served
        answers = [await get(p) for p in paths]
        assert thin.served - before == sum(a[0] == 200 or a[0] == 204 for a in answers) > len(paths) // 2
        # The same requests with the thin path stepping aside: FastAPI's own answers.
        call = fastpath.FastPath.__call__

        async def aside(self, scope, receive, send) -> None:
            await self.app(scope, receive, send)

        fastpath.FastPath.__call__ = aside
        try:
            assert [await get(p) for p in paths] == answers
        finally:
            fastpath.FastPath.__call__ = call
        assert len(answers[0][1]) > 1000

    try:
        asyncio.run(compare())
    finally:
        app.state.ctx.close()
        open_database(db).dispose()


def test_a_browser_session_gets_the_same_answers_until_it_logs_out(server):
    view = "/api/hazards?limit=50&bbox=" + ",".join(map(str, _extent(server)))
    tile = next(p for p in _paths(_extent(server)) if p.startswith("/tiles/hazards/11/"))
    with (
        httpx.Client(base_url=server.url, timeout=60) as browser,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"bearer {server.tokens['viewer']}"}
        ) as full,
    ):
        login = browser.post("/auth/login", json={"username": "viewer", "password": PASSWORD})
        assert login.status_code == 200
        for path in (view, tile, view):
            assert _answer(browser.get(path)) == _answer(full.get(path)), path
        csrf = login.json()["csrf_token"]
        assert browser.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        browser.cookies.set("demine_session", login.cookies["demine_session"])  # kept by a stale tab
        assert browser.get(tile).status_code == 401
        assert browser.get(view).status_code == 401
