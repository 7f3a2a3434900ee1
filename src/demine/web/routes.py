"""The pages: login, map, dashboard, data entry, review queue, record history, planner.

Page routes render templates with data read through the library; the page scripts send
changes to the REST API. :func:`install` mounts the pages, the static files and the small
JSON helpers the scripts need (``/web/...``) on the FastAPI application.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection, column, func, select, table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select

from demine.accounts.roles import scope, submission_scope
from demine.accounts.tokens import TokenInfo
from demine.api.geojson import dumps
from demine.api.resources import RESOURCE_OF_TABLE
from demine.api.security import Ctx, CurrentUser, context
from demine.domain import palette
from demine.domain.errors import NotFoundError
from demine.planning.parameters import STAGE_LABELS
from demine.storage import schema
from demine.synthetic.marker import BANNER as DEMO_BANNER
from demine.synthetic.marker import is_synthetic_demo
from demine.web.forms import FORMS, form_context
from demine.web.session import PageSession, login_response, logout_response, safe_next, session_token
from demine.workflow import submissions as workflow

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
BASEMAP_ENV = "DEMINE_BASEMAP_URL"
BASEMAP_ATTRIBUTION_ENV = "DEMINE_BASEMAP_ATTRIBUTION"
STATUS_COLOURS = palette.HAZARD_STATUS
METHOD_COLOURS = palette.RELEASE_METHOD
NATURAL_EARTH = "/static/vendor/natural-earth/countries-50m.json"


def _fmt_m2(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _fmt_km2(value: float | None) -> str:
    return "" if value is None else f"{value / 1e6:,.2f}"


templates.env.filters["m2"] = _fmt_m2
templates.env.filters["km2"] = _fmt_km2
templates.env.filters["stage"] = lambda code: STAGE_LABELS.get(code, code) if code else "—"


def nav(info: TokenInfo) -> list[tuple[str, str]]:
    """The menu a user sees (pages their role can use)."""
    role = info.user.role
    items = [("/map", "Map"), ("/register", "Register"), ("/dashboard", "Dashboard")]
    if scope(role, "accidents", "read"):
        items.append(("/accidents", "Accidents"))
    if submission_scope(role, "submit") or scope(role, "hazards", "create"):
        items.append(("/submit", "Enter data"))
    if submission_scope(role, "read"):
        items.append(("/review", "Review queue"))
    if scope(role, "qa_visits", "create"):
        items.append(("/qa", "QA visits"))
    if scope(role, "teams", "read"):
        items.append(("/teams", "Teams"))
    items.append(("/reports", "Reports"))
    items.append(("/planner", "Planner"))
    if role == "admin":
        items.append(("/admin/users", "Users"))
    return items


def demo_banner(request: Request) -> str | None:
    """The banner every page shows when the database holds the synthetic demo, else None."""
    try:
        with context(request).reading() as conn:
            return DEMO_BANNER if is_synthetic_demo(conn) else None
    except DBAPIError:  # a store that does not answer: the page (often an error page) still renders
        return None


def render(
    request: Request, info: TokenInfo | None, name: str, status_code: int = 200, **data: Any
) -> HTMLResponse:
    """A page with the layout's context (user, menu, CSRF token, demo banner), answered with
    ``status_code``."""
    base = {
        "user": info.user if info else None,
        "csrf": info.csrf_token if info else "",
        "nav": nav(info) if info else [],
        "path": request.url.path,
        "demo_banner": demo_banner(request),
    }
    return templates.TemplateResponse(request, name, base | data, status_code=status_code)


# ---------------------------------------------------------------------------------------------
# login


@router.get("/")
def home(request: Request) -> Response:
    """The map for a logged-in user, the login page otherwise."""
    return RedirectResponse("/map" if session_token(request) else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    """The login form."""
    return render(request, None, "login.html", next=safe_next(next), error=None, username="")


def _same_origin(request: Request) -> bool:
    """Whether a form post came from this site (browsers send ``Origin`` with every form POST)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser (curl, scripts): nothing to forge
    # Host, not scheme: behind an HTTPS proxy the app itself sees plain HTTP.
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


@router.post("/login")
def login_form(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Log in from the form (form-encoded; sets the same cookies as ``POST /auth/login``)."""
    if not _same_origin(request):
        # Login CSRF: another site's form would log the browser into an account of its choosing,
        # and what the user then enters would be filed under that account.
        page = render(
            request,
            None,
            "login.html",
            next="/",
            error="This login form was sent from another site. Open the login page and log in here.",
            username="",
        )
        page.status_code = 403
        return page
    result = login_response(request, username.strip(), password, next)
    if isinstance(result, str):
        page = render(request, None, "login.html", next=safe_next(next), error=result, username=username)
        page.status_code = 401
        return page
    return result


@router.post("/logout")
def logout_form(request: Request, info: PageSession, csrf: Annotated[str, Form(max_length=200)]) -> Response:
    """Log out (the form carries the CSRF token)."""
    return logout_response(request, info, csrf)


# ---------------------------------------------------------------------------------------------
# map


def _basemap() -> dict[str, str] | None:
    url = os.environ.get(BASEMAP_ENV, "").strip()
    if not url:
        return None
    # Most tile licences (OpenStreetMap's among them) require a visible credit on the map.
    credit = os.environ.get(BASEMAP_ATTRIBUTION_ENV, "").strip()
    if url.endswith(".json") or "style" in url.rsplit("/", 1)[-1]:
        return {"kind": "style", "url": url, "attribution": credit}
    if url.endswith(".pmtiles") or url.startswith("pmtiles://"):
        return {"kind": "pmtiles", "url": url.removeprefix("pmtiles://"), "attribution": credit}
    return {"kind": "raster", "url": url, "attribution": credit}


@router.get("/map")
def map_page(request: Request, info: PageSession) -> Response:
    """The map of hazards, release products, finds and accidents."""
    ctx = context(request)
    o, a, h = schema.organisation, schema.admin_area, schema.hazard
    with ctx.reading() as conn:
        organisations = conn.execute(select(o.c.id, o.c.code, o.c.name).order_by(o.c.code)).all()
        areas = conn.execute(select(a.c.pcode, a.c.name, a.c.level).order_by(a.c.pcode)).all()
        statuses = [r[0] for r in conn.execute(select(h.c.status).distinct().order_by(h.c.status))]
    basemap = _basemap()
    return render(
        request,
        info,
        "map.html",
        organisations=organisations,
        areas=areas,
        statuses=statuses,
        status_colours=STATUS_COLOURS,
        method_colours=METHOD_COLOURS,
        palette=palette.for_web(),
        basemap=basemap,
        # Natural Earth under the register unless a configured base map replaces it.
        natural_earth=None if basemap else NATURAL_EARTH,
        may_report=submission_scope(info.user.role, "submit") is not None
        or scope(info.user.role, "hazards", "create") is not None,
    )


def _extent(conn: Connection, query: Select) -> list[float] | None:
    """The bounding box of the hazards ``query`` selects (GeoPackage R*Tree, or PostGIS ST_Extent)."""
    ids = query.with_only_columns(schema.hazard.c.id).scalar_subquery()
    if conn.dialect.name == "postgresql":
        box = func.ST_Extent(schema.hazard.c.geom)
        bounds = select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box)).where(
            schema.hazard.c.id.in_(ids)
        )
    else:
        rt = table("rtree_hazard_geom", *(column(c) for c in ("id", "minx", "maxx", "miny", "maxy")))
        bounds = select(
            func.min(rt.c.minx), func.min(rt.c.miny), func.max(rt.c.maxx), func.max(rt.c.maxy)
        ).where(rt.c.id.in_(ids))
    try:
        box_row = conn.execute(bounds).first()
    except DBAPIError:  # a store without a spatial index table: the map keeps its view
        return None
    return [float(v) for v in box_row] if box_row is not None and box_row[0] is not None else None


@router.get("/web/map/hazards")
def map_hazards(
    user: CurrentUser,
    ctx: Ctx,
    status: Annotated[str | None, Query(max_length=50)] = None,
    type: Annotated[str | None, Query(max_length=50)] = None,
    organisation: Annotated[str | None, Query(max_length=100)] = None,
    admin_area: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Ids and codes of the hazards matching the map's filters, and their extent.

    The map filters its tile layers by these ids (the tiles carry no admin area) and the
    release products and finds by these codes.
    """
    h, o = schema.hazard, schema.organisation
    query = select(h.c.id, h.c.code)
    if status:
        query = query.where(h.c.status == status)
    if type:
        query = query.where(h.c.hazard_type == type)
    if organisation:
        query = query.where(
            h.c.organisation_id == select(o.c.id).where(o.c.code == organisation).scalar_subquery()
        )
    if admin_area:
        query = query.where(h.c.admin_pcode.startswith(admin_area, autoescape=True))
    with ctx.reading() as conn:
        rows = conn.execute(query.order_by(h.c.id)).all()
        box = _extent(conn, query) if rows else None
    body = {"count": len(rows), "ids": [r.id for r in rows], "codes": [r.code for r in rows], "bbox": box}
    return Response(dumps(body), media_type="application/json")


# The dashboard is demine.web.dashboard's router (its filters, figures and links).


# ---------------------------------------------------------------------------------------------
# data entry and review


def _can_enter(info: TokenInfo, form_resource: str) -> str | None:
    """How this user enters records: ``submit`` (workflow), ``direct`` (authority) or None."""
    if submission_scope(info.user.role, "submit"):
        return "submit"
    if scope(info.user.role, form_resource, "create"):
        return "direct"
    return None


@router.get("/submit")
def submit_index(request: Request, info: PageSession) -> Response:
    """The kinds of record this user can enter."""
    forms = [f for f in FORMS.values() if _can_enter(info, f.resource)]
    return render(request, info, "submit_index.html", forms=forms)


@router.get("/submit/{kind}")
def submit_page(
    request: Request,
    info: PageSession,
    kind: str,
    center: Annotated[str | None, Query(max_length=60)] = None,
    zoom: Annotated[float | None, Query(ge=0, le=22)] = None,
    revise: Annotated[
        int | None, Query(ge=1, le=2**53, description="A submission of yours to revise")
    ] = None,
) -> Response:
    """The form for one kind of record (``?revise=ID``: prefilled with a submission to correct)."""
    form = FORMS.get(kind)
    if form is None:
        raise HTTPException(404, f"no form {kind!r}; there are {', '.join(FORMS)}")
    mode = _can_enter(info, form.resource)
    if mode is None:
        raise HTTPException(403, f"a {info.user.role} does not enter {form.title.lower()} records")
    revision = None
    with context(request).reading() as conn:
        fields = form_context(conn, form, info.user)
        if revise is not None:
            revision = _revision(conn, info, kind, revise)
    view = None
    if center:
        try:
            lon, lat = (float(v) for v in center.split(","))
            view = {"center": [lon, lat], "zoom": zoom or 12}
        except ValueError:
            view = None
    return render(
        request,
        info,
        "submit.html",
        form=form,
        fields=fields,
        mode=mode,
        view=view,
        today=date.today(),
        revision=revision,
    )


def _revision(conn: Connection, info: TokenInfo, kind: str, submission_id: int) -> dict[str, Any]:
    """A submission its author may still correct (submitted or rejected), for the form."""
    try:
        found = workflow.get_submission(conn, info.user, submission_id)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    if found["author_id"] != info.user.id:
        raise HTTPException(403, "only the author revises a submission")
    if found["kind"] != kind:
        raise HTTPException(404, f"submission {submission_id} is a {found['kind']}, not a {kind}")
    if found["status"] not in ("submitted", "rejected"):
        raise HTTPException(
            409, f"submission {submission_id} is {found['status']}; it can no longer be revised"
        )
    return {k: found[k] for k in ("id", "version", "status", "reason", "payload")}


REVIEW_STATUSES = ("submitted", "verified", "rejected", "approved")
REVIEW_PAGE = 50


@router.get("/review")
def review_page(
    request: Request,
    info: PageSession,
    status: Annotated[str | None, Query(max_length=20)] = None,
    page: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Submissions waiting for this user, and their history, 50 a page."""
    user = info.user
    if submission_scope(user.role, "read") is None:
        if scope(user.role, "qa_visits", "create"):
            # A QA officer reviews the work on the ground, not the submissions: their queue.
            return RedirectResponse("/qa?from=review", status_code=303)
        raise HTTPException(403, f"a {user.role} does not see submissions")
    chosen = status if status in REVIEW_STATUSES else None
    number = int(page) if page and page.isascii() and page.isdigit() and len(page) < 10 else 1
    with context(request).reading() as conn:
        total = workflow.list_submissions(conn, user, chosen, None, 1, 0)[1]
        pages = max(1, -(-total // REVIEW_PAGE))
        number = min(max(number, 1), pages)  # past the end: the last page
        offset = (number - 1) * REVIEW_PAGE
        items, total = workflow.list_submissions(conn, user, chosen, None, REVIEW_PAGE, offset)
    for item in items:
        item["actions"] = _actions(info, item)
        item["revisable"] = item["author_id"] == user.id and item["status"] in ("submitted", "rejected")
        item["summary"] = _payload_summary(item)
        res = RESOURCE_OF_TABLE.get(item.get("record_table") or "")
        item["record_url"] = (
            f"/records/{res.name}/{item['record_id']}" if res and item.get("record_id") else None
        )

    def href(n: int) -> str:
        return "/review?" + urlencode({k: v for k, v in (("status", chosen), ("page", n)) if v and v != 1})

    return render(
        request,
        info,
        "review.html",
        items=items,
        total=total,
        status=chosen,
        statuses=REVIEW_STATUSES,
        page=number,
        pages=pages,
        first=offset + 1,
        prev_href=href(number - 1) if number > 1 else None,
        next_href=href(number + 1) if number < pages else None,
    )


def _actions(info: TokenInfo, item: dict[str, Any]) -> list[str]:
    user, status = info.user, item["status"]
    if item["author_id"] == user.id:
        return []
    actions = []
    if status == "submitted" and submission_scope(user.role, "verify"):
        actions.append("verify")
    if status == "verified" and submission_scope(user.role, "approve"):
        actions.append("approve")
    may_reject = status == "submitted" or (status == "verified" and submission_scope(user.role, "approve"))
    if may_reject and submission_scope(user.role, "reject"):
        actions.append("reject")
    return actions


def _payload_summary(item: dict[str, Any]) -> str:
    payload = item["payload"]
    if item["kind"] == "edit":
        from demine.web.review import _edit_summary

        return _edit_summary(item)
    keys = ("code", "hazard", "team", "category", "hazard_type", "method", "activity_type", "area_m2")
    parts = [f"{k}: {payload[k]}" for k in keys if payload.get(k) not in (None, "", [])]
    for key in ("reported_on", "released_on", "report_date", "found_on", "start_date"):
        if payload.get(key):
            parts.append(f"{key.replace('_', ' ')}: {payload[key]}")
            break
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# a record and its history: demine.web.register (record_page), with the register's lists


def install(app: FastAPI) -> None:
    """Add the pages, the static files and the planner to ``app``."""
    from demine.web import admin, dashboard, errors, incidents, planner, quality, register, review

    errors.install(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """Browsers ask for this path whatever the page links: send them to the SVG icon."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    app.include_router(router)
    app.include_router(dashboard.router)
    app.include_router(planner.router)
    app.include_router(register.router)
    app.include_router(review.router)
    app.include_router(admin.router)
    app.include_router(quality.router)
    app.include_router(incidents.router)
