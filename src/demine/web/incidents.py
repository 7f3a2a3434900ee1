"""Accidents and their victims as a page.

``/accidents`` is the register's accident list (:data:`demine.web.register.LISTINGS`, with its
search, filters, sorting and pages, and a period) with each accident's victims beneath it.
Who the victims were is personal data (:mod:`demine.domain.personal`): only the roles allowed
to read victims (``roles.PERMISSIONS["victims"]``, the admin and the information management
officer) see the people, their names, identification and birth dates, the accident's
description, and can download the victims; every other role sees how many were killed and
injured, which is not personal. Downloads are the register's export of the current filter.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select

from demine.accounts.roles import scope
from demine.accounts.tokens import TokenInfo
from demine.api.security import context
from demine.storage import schema as S
from demine.web import register as reg
from demine.web.quality import DOWNLOADS, Text, download, list_context, parse_query, refused
from demine.web.routes import render
from demine.web.session import PageSession

router = APIRouter(include_in_schema=False)
ACCIDENTS = reg.LISTINGS["accidents"]


def sees_victims(info: TokenInfo) -> bool:
    """Whether this user sees who the victims were (the victims resource and personal data)."""
    return scope(info.user.role, "victims", "read") is not None and info.user.sees_personal_data


def _victims(conn: Connection, accident_ids: list[int], labels: dict) -> dict[int, list[dict[str, Any]]]:
    v = S.victim
    out: dict[int, list[dict[str, Any]]] = {}
    if not accident_ids:
        return out
    rows = conn.execute(select(v).where(v.c.accident_id.in_(accident_ids)).order_by(v.c.accident_id, v.c.id))
    for r in rows:
        out.setdefault(r.accident_id, []).append(
            {
                "id": r.id,
                "name": r.full_name or "",
                "identification": r.identification or "",
                "born": reg.fmt_date(r.birth_date),
                "sex": reg.code_label(labels, "sex", r.sex),
                "age_band": reg.code_label(labels, "age_band", r.age_band),
                "status": reg.code_label(labels, "victim_status", r.status),
                "activity": r.activity_at_time or "",
                "tampered": r.tampered,
            }
        )
    return out


@router.get("/accidents")
def accidents_page(
    request: Request,
    info: PageSession,
    q: Text = None,
    type: Text = None,
    org: Text = None,
    admin: Text = None,
    date_from: Text = None,
    date_to: Text = None,
    sort: Text = None,
    page: Annotated[str | None, Query(max_length=12)] = None,
) -> Response:
    """Accidents with their victims (people only for roles that may see personal data)."""
    no = refused(request, info, "accidents", "accidents")
    if no is not None:
        return no
    query, errors = parse_query(q, type, org, admin, date_from, date_to, sort, page)
    personal = sees_victims(info)
    a = S.accident
    with context(request).reading() as conn:
        data = list_context(conn, info, ACCIDENTS, query, "/accidents")
        ids = [r["_id"] for r in data["raw_rows"]]
        victims = _victims(conn, ids, data["labels"]) if personal else {}
        descriptions = (
            dict(conn.execute(select(a.c.id, a.c.description).where(a.c.id.in_(ids))).all())
            if personal
            else {}
        )
    for f in data["filters"]:
        if f["name"] == "type":
            f["label"] = "Kind"
    killed = sum(r.get("killed") or 0 for r in data["raw_rows"])
    injured = sum(r.get("injured") or 0 for r in data["raw_rows"])
    downloads = {
        f"accidents.{fmt}": f"/accidents/accidents.{fmt}?{data['download_query']}" for fmt in DOWNLOADS
    }
    if personal:
        downloads |= {
            f"victims.{fmt}": f"/accidents/victims.{fmt}?{data['download_query']}" for fmt in DOWNLOADS
        }
    return render(
        request,
        info,
        "accidents.html",
        status_code=422 if errors else 200,
        **data,
        errors=errors,
        ids=ids,
        victims=victims,
        descriptions=descriptions,
        personal=personal,
        page_killed=killed,
        page_injured=injured,
        downloads=downloads,
    )


@router.get("/accidents/{what}.{fmt}")
def accidents_download(
    request: Request,
    info: PageSession,
    what: str,
    fmt: str,
    q: Text = None,
    type: Text = None,
    org: Text = None,
    admin: Text = None,
    date_from: Text = None,
    date_to: Text = None,
) -> Response:
    """The accidents of the current filter, or their victims (personal data roles only)."""
    no = refused(request, info, "accidents", "accidents")
    if no is not None:
        return no
    if what not in ("accidents", "victims") or fmt not in DOWNLOADS:
        return reg.error_page(
            request, info, 404, "Download accidents.csv, accidents.xlsx, victims.csv or victims.xlsx."
        )
    if what == "victims" and not sees_victims(info):
        return reg.error_page(
            request,
            info,
            403,
            "Who the victims were is personal data: only an admin or an information management officer "
            "downloads it. The accidents download has how many were killed and injured.",
        )
    query, errors = parse_query(q, type, org, admin, date_from, date_to, None, None)
    if errors:
        return reg.error_page(request, info, 400, " ".join(errors))
    where = reg.condition(ACCIDENTS, info.user, query)
    if what == "accidents":
        return download(request, info, "accident", "accidents", fmt, where)
    return download(
        request,
        info,
        "victim",
        "victims",
        fmt,
        S.victim.c.accident_id.in_(select(S.accident.c.id).where(where)),
    )
