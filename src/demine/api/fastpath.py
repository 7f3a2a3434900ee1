"""The thin path: vector tiles and bounding-box pages of map layers, answered ahead of FastAPI.

A map asks for these two far more often than for anything else, and on them FastAPI's own
work (routing through every route, dependency injection, validating each parameter, two
queries to resolve the token) cost more than the answer. This ASGI middleware answers the
plain, well-formed requests itself with the same functions as the routes, so the answers are
the same byte for byte; anything else goes on to FastAPI untouched:

* ``GET /tiles/{layer}/{z}/{x}/{y}.mvt``: a tile already rendered at the register's current
  version is sent straight from the event loop (no thread, no read transaction); others are
  rendered as the route renders them (:func:`demine.api.tiles.cached_tile`).
* ``GET /api/{layer}`` of a spatial resource with no parameters but ``bbox``, ``limit`` and
  ``offset``: the ids of the page come from the R*Tree, and each feature's GeoJSON from a
  cache of feature texts kept per version of the register (a map view shows mostly features
  the previous views showed).
* Who is calling: a bearer token or a session cookie resolves once per token and register
  version; an expired token stops resolving at its expiry, and any commit (a revoked token,
  a disabled user) makes every token resolve afresh.

A request the thin path cannot answer exactly as FastAPI would (an unknown or badly written
parameter, no user or a refused one, a role without the right, a malformed box, any error
at all) is handed on to FastAPI, which answers it as it always has: the errors, their
messages and the rules stay in one place. It only runs on SQLite with the tile cache on
(:mod:`demine.api.tile_cache` tells the register's version without a read transaction);
on PostgreSQL every request goes to FastAPI.

A page is read on the event loop itself, not in a worker thread: with its features cached it
costs about a millisecond, less than the hand-over to a thread and back (under load, threads
queue for the interpreter lock at every SQLite call). Tiles still to render go to a thread.

Memory: the feature texts of each process are bounded by ``DEMINE_FEATURE_CACHE_MB``
(160 MiB by default, about 130,000 hazards; 0 keeps none); past it the oldest go first.
Run one worker process per core (``demine serve --workers``): each keeps its own caches.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from sqlalchemy import Select, func, select
from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from demine.accounts.roles import ORG
from demine.accounts.tokens import API, SESSION, TokenInfo, resolve_token, token_hash
from demine.accounts.users import User
from demine.api import geojson, tile_cache, tiles
from demine.api.context import Context
from demine.api.records import (
    MAX_LIMIT,
    _columns,
    allowed_scope,
    bbox_condition,
    page_links,
    parse_bbox,
    without_personal,
)
from demine.api.resources import RESOURCES, Resource
from demine.api.security import SESSION_COOKIE
from demine.storage import schema

log = logging.getLogger(__name__)

TILE_PATH = re.compile(r"/tiles/([a-z_]{1,50})/(0|[1-9][0-9]?)/(0|[1-9][0-9]{0,6})/(0|[1-9][0-9]{0,6})\.mvt")
LIST_PATH = re.compile(r"/api/([a-z_]{1,50})")
BEARER = re.compile(r"Bearer ([!-~]+)")  # one visible-ASCII token, nothing around it
NUMBER = re.compile(r"0|[1-9][0-9]{0,9}")  # as FastAPI reads an int; other spellings go to it
GEOJSON = "application/geo+json"
DEFAULT_LIMIT = 100  # as the list route's
MAX_TOKENS = 4096  # resolved tokens kept per process
DEFAULT_FEATURE_MB = 160  # the texts of about 130,000 hazards: a national register


class Pass(Exception):
    """This request is FastAPI's to answer."""


def _now() -> datetime:
    # As demine.accounts.tokens compares expiry: naive UTC, to the second.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class FeatureTexts:
    """GeoJSON Feature texts by resource, personal data shown or not, and id, for one register
    version. A newer version empties it; texts read under an older one are never kept.

    Past its budget the oldest texts go first (lookups do not reorder: a page asks for a
    hundred or more, and keeping an exact recency order cost more than the lookups).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.generation = -1
        self._texts: dict[tuple[str, bool], dict[int, str]] = {}
        self._order: deque[tuple[tuple[str, bool], int, int]] = deque()
        self._lock = threading.Lock()

    def _at(self, generation: int) -> bool:
        # Under the lock.
        if generation > self.generation:
            self._texts.clear()
            self._order.clear()
            self.nbytes = 0
            self.generation = generation
        return generation == self.generation

    def get_many(self, generation: int, layer: tuple[str, bool], ids: list[int]) -> list[str | None]:
        with self._lock:
            texts = self._texts.get(layer) if self._at(generation) else None
        if texts is None:
            return [None] * len(ids)
        get = texts.get  # reading a dict is atomic, and a stored text never changes
        return [get(i) for i in ids]

    def put_many(self, generation: int, layer: tuple[str, bool], items: dict[int, str]) -> None:
        with self._lock:
            if not self._at(generation):
                return
            texts = self._texts.setdefault(layer, {})
            for i, text in items.items():
                size = len(text) + 100
                if i in texts or size > self.max_bytes:
                    continue
                texts[i] = text
                self._order.append((layer, i, size))
                self.nbytes += size
            while self.nbytes > self.max_bytes:
                old_layer, old, size = self._order.popleft()
                del self._texts[old_layer][old]
                self.nbytes -= size


def _feature_budget() -> int:
    raw = os.environ.get("DEMINE_FEATURE_CACHE_MB", "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_FEATURE_MB
    except ValueError:
        mb = -1.0
    if not mb >= 0:
        log.warning(
            "DEMINE_FEATURE_CACHE_MB=%r is not a number of MiB >= 0; using %d", raw, DEFAULT_FEATURE_MB
        )
        mb = DEFAULT_FEATURE_MB
    return int(mb * 1024 * 1024)


class FastPath:
    """The middleware of the module docstring."""

    def __init__(self, app: ASGIApp, ctx: Context, owner: Any) -> None:
        self.app = app
        self.ctx = ctx
        self.owner = owner  # the FastAPI application: its state holds the tile cache
        self.features = FeatureTexts(_feature_budget())
        self.served = 0  # requests the thin path answered (for tests and profiling)
        self._tokens: dict[tuple[str, str], tuple[int, TokenInfo, datetime]] = {}

    def _cache(self) -> tile_cache.TileCache:
        return tile_cache.of(self.owner, self.ctx.read_engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            handler = None
            if path.startswith("/tiles/"):
                handler = self._tile
            elif path.startswith("/api/"):
                handler = self._list
            if handler is not None and self._cache().current() is not None:
                try:
                    response = await handler(scope, path)
                except Pass:
                    response = None
                except Exception:
                    log.debug("thin path handed on %s", path, exc_info=True)
                    response = None
                if response is not None:
                    self.served += 1
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    # --- who is calling

    async def _user(self, headers: Headers) -> User:
        """The caller, as :func:`demine.api.security.authenticate` finds them, or :class:`Pass`."""
        authorization = headers.get("authorization")
        if authorization is not None:
            match = BEARER.fullmatch(authorization)
            if match is None:
                raise Pass
            token, kind = match.group(1), API
        else:
            token = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
            if not token:
                raise Pass
            kind = SESSION
        key = (kind, token_hash(token))
        cache = self._cache()
        found = self._tokens.get(key)
        if found is not None:
            generation, info, expires = found
            if generation == cache.current() and expires > _now():
                return info.user
        info = await anyio.to_thread.run_sync(self._resolve, cache, key, token, kind)
        if info is None:
            raise Pass  # FastAPI answers 401, with its message
        return info.user

    def _resolve(
        self, cache: tile_cache.TileCache, key: tuple[str, str], token: str, kind: str
    ) -> TokenInfo | None:
        t = schema.auth_token
        with self.ctx.reading() as conn:
            generation, keepable = cache.version(conn)
            info = resolve_token(conn, token, kind=kind)
            if info is None:
                return None
            expires = conn.execute(select(t.c.expires_at).where(t.c.id == info.id)).scalar_one()
        if keepable and isinstance(expires, datetime):
            if len(self._tokens) >= MAX_TOKENS:
                self._tokens.clear()
            self._tokens[key] = (generation, info, expires)
        return info

    # --- tiles

    async def _tile(self, scope: Scope, path: str) -> Response:
        match = TILE_PATH.fullmatch(path)
        if match is None:
            raise Pass
        spec = tiles.LAYERS.get(match.group(1))
        z, x, y = (int(v) for v in match.group(2, 3, 4))
        if spec is None or z > tiles.MAX_ZOOM or x >= 2**z or y >= 2**z:
            raise Pass
        headers = Headers(scope=scope)
        await self._user(headers)  # tiles are the same for every user
        cache = self._cache()
        generation = cache.current()
        found = cache.get((spec.name, z, x, y, generation))
        if found is None:
            found = await anyio.to_thread.run_sync(tiles.cached_tile, self.ctx, cache, spec, z, x, y)
        return tiles.tile_response(found, headers.get("if-none-match"))

    # --- bounding-box pages of a layer

    async def _list(self, scope: Scope, path: str) -> Response:
        match = LIST_PATH.fullmatch(path)
        res = RESOURCES.get(match.group(1)) if match else None
        if res is None or not res.spatial:
            raise Pass
        params = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        names = [name for name, _ in params]
        if len(set(names)) != len(names) or not set(names) <= {"bbox", "limit", "offset"}:
            raise Pass
        values = dict(params)
        limit, offset = DEFAULT_LIMIT, 0
        if "limit" in values:
            if not NUMBER.fullmatch(values["limit"]) or not 1 <= int(values["limit"]) <= MAX_LIMIT:
                raise Pass
            limit = int(values["limit"])
        if "offset" in values:
            if not NUMBER.fullmatch(values["offset"]) or int(values["offset"]) > 1_000_000_000:
                raise Pass
            offset = int(values["offset"])
        box = None
        if "bbox" in values:
            if len(values["bbox"]) > 200:
                raise Pass
            box = parse_bbox(values["bbox"])  # a malformed box raises: FastAPI answers 400
        user = await self._user(Headers(scope=scope))
        found = allowed_scope(user, res, "read")  # a refusal raises: FastAPI answers 403
        rows, matched = self._page(res, user, found, box, limit, offset)
        request = Request(scope)
        links = page_links(request, offset, limit, len(rows), matched, GEOJSON)
        return Response(geojson.feature_collection(rows, matched, links), media_type=GEOJSON)

    def _page(
        self, res: Resource, user: User, found: str, box: Any, limit: int, offset: int
    ) -> tuple[list[str], int]:
        """The feature texts of a page and how many match, as :func:`demine.api.records.list_records`
        finds them (the same filter, scope and order)."""
        t = res.table

        def query() -> Select:
            q = select(t.c.id)
            if box is not None:
                q = q.where(bbox_condition(t, res.rtree, box))
            if found == ORG:
                q = q.where(res.organisation() == user.organisation_id)
            return q

        hidden = bool(res.personal) and not user.sees_personal_data
        cache = self._cache()
        with self.ctx.reading() as conn:
            generation, keepable = cache.version(conn)
            if found == ORG:
                ids = [r[0] for r in conn.execute(query().order_by(t.c.id).limit(limit).offset(offset))]
            else:
                # The same statement as SQLAlchemy's, written once: building and fetching it
                # through the ORM layer cost more than SQLite's work.
                ids = _raw_ids(conn, res, box, limit, offset)
            if offset == 0 and len(ids) < limit:
                matched = len(ids)
            else:
                matched = conn.execute(select(func.count()).select_from(query().subquery())).scalar_one()
            layer = (res.name, hidden)
            texts = self.features.get_many(generation, layer, ids)
            missing = [i for i, text in zip(ids, texts, strict=True) if text is None]
            if missing:
                new: dict[int, str] = {}
                for start in range(0, len(missing), 500):
                    chunk = missing[start : start + 500]
                    rows = [
                        without_personal(res, user, dict(r._mapping))
                        for r in conn.execute(select(*_columns(res, listing=True)).where(t.c.id.in_(chunk)))
                    ]
                    ids_of = [r["id"] for r in rows]
                    if len(ids_of) < len(chunk):
                        raise Pass  # the R*Tree names a row that is not there: FastAPI's query
                    for i, text in zip(ids_of, geojson.feature_texts(rows), strict=True):
                        new[i] = text
                texts = [text if text is not None else new[i] for i, text in zip(ids, texts, strict=True)]
                if keepable:
                    self.features.put_many(generation, layer, new)
        return texts, matched


def _raw_ids(
    conn: Any, res: Resource, box: tuple[float, float, float, float] | None, limit: int, offset: int
) -> list[int]:
    """The ids of a page, as the route's query finds them, straight from SQLite.

    With a box they come from the R*Tree alone: the GeoPackage's triggers keep it holding
    exactly the rows with a geometry, and reading each row of the table only to learn it
    exists was most of the query's time (a row the R*Tree names but the table lacks sends
    the request to FastAPI, see :meth:`FastPath._page`).
    """
    cursor = conn.connection.driver_connection.cursor()
    if box is None:
        sql = f'SELECT id FROM "{res.table.name}" ORDER BY id LIMIT ? OFFSET ?'
        args: tuple = (limit, offset)
    else:
        minx, miny, maxx, maxy = box
        sql = (
            f'SELECT id FROM "{res.rtree}" WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?'
            " ORDER BY id LIMIT ? OFFSET ?"
        )
        args = (minx, maxx, miny, maxy, limit, offset)
    try:
        return [r[0] for r in cursor.execute(sql, args).fetchall()]
    finally:
        cursor.close()
