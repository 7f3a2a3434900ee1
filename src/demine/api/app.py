"""The FastAPI application: ``create_app(settings)`` wires the routers to one database.

``demine serve`` runs it under uvicorn; with ``--workers N`` uvicorn imports
:func:`app_from_env` in each worker process (settings from ``DEMINE_DB`` and
``DEMINE_SECURE_COOKIES``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from fastapi import FastAPI, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import RedirectResponse

from demine.api import auth, errors, fastpath, features, limits, records, reports, tiles, workflow
from demine.api.context import Context, Settings, settings_from_env
from demine.api.geojson import dumps
from demine.storage.database import current_revision

DESCRIPTION = """\
The register of a national mine action programme over HTTP.

* **REST** under `/api`: every entity, with filters, paging and GeoJSON for layers; changes need
  `If-Match` with the record's ETag (a stale one gets 409 with the current record); every change
  is audited and restorable (`/history`, `/restore/{audit_id}`).
* **Approval workflow** under `/api/submissions`: operators submit, managers verify, IM officers
  approve; the register (and every figure) holds approved records only.
* **OGC API – Features** under `/ogc` and **vector tiles** under `/tiles`.
* **The web interface** at `/` (log in at `/login`): map, dashboard, data entry, review queue, planner.

Authenticate with `Authorization: Bearer <token>` (`demine users token NAME`, or
`POST /auth/tokens`) or a session cookie from `POST /auth/login` (then send `X-CSRF-Token`
on unsafe methods). Only the landing pages, `/health` and this document are public.
"""


def create_app(settings: Settings) -> FastAPI:
    """The application serving ``settings.db``."""
    ctx = Context.open(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = FastAPI(
        title="demine",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served below from the vendored Swagger UI: FastAPI's own pages load it from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    # Inside the Guard (its checks and headers apply to every answer): the thin path for tiles
    # and bounding-box pages (demine.api.fastpath), then FastAPI for everything else.
    app.add_middleware(fastpath.FastPath, ctx=ctx, owner=app)
    app.add_middleware(limits.Guard, max_body_bytes=settings.max_body_bytes, limiter=ctx.limiter)
    errors.install(app)
    app.include_router(auth.router)
    app.include_router(auth.users_router)
    app.include_router(reports.router)
    app.include_router(workflow.router)
    app.include_router(records.router)
    app.include_router(features.router)
    app.include_router(tiles.router)
    # The browser interface (pages, static files, the planner's fragments).
    from demine.web.routes import install as install_web

    install_web(app)

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        """The interactive API documentation, from files shipped with demine (works offline)."""
        vendor = "/static/vendor/swagger-ui"
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="demine API",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            oauth2_redirect_url="/docs/oauth2-redirect",
            # No badge from the online validator: the page makes no request off this server.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def docs_redirect() -> Response:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        """One documentation page: ReDoc's address leads to it."""
        return RedirectResponse("/docs", status_code=301)

    @app.get("/health", tags=["Service"])
    def health() -> Response:
        """Liveness and the schema revision (public)."""
        body = {"status": "ok", "schema_revision": current_revision(ctx.read_engine), "as_of": date.today()}
        return Response(dumps(body), media_type="application/json")

    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes."""
    return create_app(settings_from_env())
