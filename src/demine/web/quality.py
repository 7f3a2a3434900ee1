"""Field work pages: quality assurance visits with their non-conformities, risk education
sessions, the QA officer's read-only view of a submission, and the form to record a QA visit.

The lists are the register's (:mod:`demine.web.register`): the same search, filters,
organisation scope, sorting, 50 rows a page, and downloads of every row of the current filter
through the export layers (``qa_visit``, ``qa_nonconformity``, ``eore_session``), with a
period on the record's date. A QA visit is written by :func:`demine.workflow.kinds.write`, the
function behind ``POST /api/qa_visits``, with its audit rows; nothing is saved when it refuses.

Under IMAS 07.12 quality assurance checks the operators' work; it does not verify or approve
it. A QA officer therefore reads submissions (with the evidence a reviewer sees, without
personal data) but the page offers no action, and no write permission is added to the role.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, func, select

from demine.accounts.roles import ORG, scope, submission_scope
from demine.accounts.tokens import TokenInfo
from demine.api.resources import RESOURCE_OF_TABLE
from demine.api.security import context
from demine.domain.errors import DemineError, Problem, ValidationError
from demine.domain.personal import personal_columns
from demine.export.layers import LAYERS
from demine.export.write import export_layer
from demine.storage import schema as S
from demine.storage.codelists import all_code_labels
from demine.web import register as reg
from demine.web.evidence import review_evidence
from demine.web.forms import code_choices, organisation_choices
from demine.web.routes import render
from demine.web.session import PageSession, check_form_csrf
from demine.workflow import edits, kinds
from demine.workflow import submissions as workflow

router = APIRouter(include_in_schema=False)
DOWNLOADS = ("csv", "xlsx")
Text = Annotated[str | None, Query(max_length=100)]

QA_VISITS = reg.Listing(
    "qa_visits",
    "QA visits",
    "qa_visit",
    (
        "id",
        "visited_on",
        "visit_type",
        "result",
        "inspected_organisation",
        "inspecting_organisation",
        "activity",
    ),
    "-visited_on",
    None,
    "qa_visit_type",
)
EORE_SESSIONS = reg.Listing(
    "eore_sessions",
    "Risk education sessions",
    "eore_session",
    ("id", "held_on", "method", "organisation", "admin_pcode", "participants"),
    "-held_on",
    None,
    "eore_method",
)
HEADINGS = {
    "visited_on": "Date",
    "held_on": "Date",
    "visit_type": "Type",
    "result": "Result",
    "inspected_organisation": "Inspected",
    "inspecting_organisation": "By",
    "nonconformities": "Non-conformities",
    "participants": "Participants",
}


# ---------------------------------------------------------------------------------------------
# a register list with a period


def parse_query(
    q: str | None,
    type: str | None,
    org: str | None,
    admin: str | None,
    date_from: str | None,
    date_to: str | None,
    sort: str | None,
    page: str | None,
) -> tuple[reg.ListQuery, list[str]]:
    """The list's query from the address, and what was wrong with it (that part is left out)."""
    errors = []
    bounds: dict[str, date | None] = {}
    for name, label, raw in (("date_from", "From", date_from), ("date_to", "To", date_to)):
        try:
            bounds[name] = reg.parse_day(raw, label)
        except DemineError as exc:
            bounds[name] = None
            errors.append(str(exc))
    if bounds["date_from"] and bounds["date_to"] and bounds["date_from"] > bounds["date_to"]:
        errors.append("From is after To: no day is in that period; the period was left out.")
        bounds = {"date_from": None, "date_to": None}
    number = int(page) if page and page.isascii() and page.isdigit() and len(page) < 10 else 1
    query = reg.ListQuery(
        q=reg._clean(q),
        type=reg._clean(type),
        org=reg._clean(org),
        admin=reg._clean(admin),
        sort=reg._clean(sort),
        page=max(number, 1),
        **bounds,
    )
    return query, errors


def heading(name: str) -> str:
    return HEADINGS.get(name) or reg.heading(name)


def list_context(
    conn: Connection, info: TokenInfo, listing: reg.Listing, query: reg.ListQuery, base: str
) -> dict[str, Any]:
    """What the list partial shows: filters, headers, one page of cells, pager and downloads."""
    layer = LAYERS[listing.layer]()
    rows, total, page = reg.page_rows(conn, listing, info.user, query)
    labels = all_code_labels(conn)
    areas = dict(conn.execute(select(S.admin_area.c.pcode, S.admin_area.c.name)).all())
    options = reg._options(conn, listing)
    query.page = page
    sort_name, descending = reg._sort_key(listing, layer, query.sort)
    headers = []
    for name in listing.columns:
        column = layer.column(name)
        active = name == sort_name
        headers.append(
            {
                "name": name,
                "label": heading(name),
                "href": "?" + query.params(sort=name if not active or descending else f"-{name}", page=None),
                "sort": ("descending" if descending else "ascending") if active else None,
                "num": column is not None and column.type in reg.NUMERIC,
            }
        )
    pages = max(1, -(-total // reg.PAGE_SIZE))
    filters = [
        {"name": key, "label": reg.FILTER_LABELS[key], "options": values, "value": getattr(query, key)}
        for key, values in options.items()
    ]
    return {
        "listing": listing,
        "query": query,
        "base": base,
        "headers": headers,
        "raw_rows": rows,
        "rows": reg._cells(listing, layer, rows, labels, areas),
        "labels": labels,
        "total": total,
        "page": page,
        "pages": pages,
        "first": (page - 1) * reg.PAGE_SIZE + 1,
        "last": (page - 1) * reg.PAGE_SIZE + len(rows),
        "prev_href": "?" + query.params(page=page - 1) if page > 1 else None,
        "next_href": "?" + query.params(page=page + 1) if page < pages else None,
        "filters": filters,
        "filtered": any(
            getattr(query, k) for k in ("q", "type", "org", "admin", "date_from", "date_to", "status")
        ),
        "download_query": query.params(page=None, sort=None),
    }


def download(request: Request, info: TokenInfo, layer: str, name: str, fmt: str, where: Any) -> Response:
    """Every row of ``layer`` matching ``where`` as a CSV or XLSX file (the register's export)."""
    import tempfile
    from pathlib import Path as FilePath

    user = info.user
    with tempfile.TemporaryDirectory(prefix="demine-export-") as folder:
        path = FilePath(folder) / f"{name}.{fmt}"
        with context(request).reading() as conn:
            result = export_layer(
                conn,
                layer,
                path,
                fmt,
                condition=where,
                include_personal_data=user.sees_personal_data,
                role=user.role,
            )
        body = path.read_bytes()
    headers = {
        "Content-Disposition": f'attachment; filename="{name}-{date.today().isoformat()}.{fmt}"',
        "X-Demine-Rows": str(result.rows),
    }
    return Response(body, media_type=reg.EXPORTS[fmt], headers=headers)


def refused(request: Request, info: TokenInfo, resource: str, what: str) -> Response | None:
    """The 403 page for a role that may not read ``resource``, else None."""
    if scope(info.user.role, resource, "read") is None:
        return reg.error_page(
            request, info, 403, f"A {info.user.role.replace('_', ' ')} does not see {what}."
        )
    return None


# ---------------------------------------------------------------------------------------------
# QA visits


def _nonconformities(conn: Connection, visit_ids: list[int], labels: dict) -> dict[int, list[dict]]:
    n = S.qa_nonconformity
    out: dict[int, list[dict]] = {}
    if not visit_ids:
        return out
    rows = conn.execute(
        select(n.c.id, n.c.visit_id, n.c.nc_type, n.c.severity, n.c.measures)
        .where(n.c.visit_id.in_(visit_ids))
        .order_by(n.c.visit_id, n.c.id)
    )
    for r in rows:
        out.setdefault(r.visit_id, []).append(
            {
                "type": reg.code_label(labels, "nc_type", r.nc_type),
                "severity": r.severity,
                "severity_label": reg.code_label(labels, "nc_severity", r.severity),
                "measures": r.measures or "",
            }
        )
    return out


def _qa_choices(conn: Connection) -> dict[str, Any]:
    return {
        "orgs": organisation_choices(conn),
        "visit_types": code_choices(conn, "qa_visit_type"),
        "results": code_choices(conn, "qa_result"),
        "nc_types": code_choices(conn, "nc_type"),
        "severities": code_choices(conn, "nc_severity"),
    }


NC_ROWS = 3  # blank non-conformity rows on the form


def _qa_page(
    request: Request,
    info: TokenInfo,
    query: reg.ListQuery,
    errors: list[str],
    status: int = 200,
    form: dict[str, Any] | None = None,
    form_errors: list[str] | None = None,
    done: str | None = None,
) -> Response:
    user = info.user
    may_record = scope(user.role, "qa_visits", "create") is not None
    with context(request).reading() as conn:
        data = list_context(conn, info, QA_VISITS, query, "/qa")
        ncs = _nonconformities(conn, [r["_id"] for r in data["raw_rows"]], data["labels"])
        choices = _qa_choices(conn) if may_record else {}
    # An operator sees their own organisation's visits only: no organisation to choose.
    own_only = scope(user.role, "qa_visits", "read") == ORG
    data["filters"] = [f for f in data["filters"] if not (own_only and f["name"] == "org")]
    for f in data["filters"]:
        if f["name"] == "org":
            f["label"] = "Inspected organisation"
    return render(
        request,
        info,
        "qa.html",
        status_code=status,
        **data,
        errors=errors,
        ncs=ncs,
        ids=[r["_id"] for r in data["raw_rows"]],
        from_review=request.query_params.get("from") == "review",
        may_record=may_record,
        reads_submissions=checks_submissions(user.role),
        choices=choices,
        form=form
        or {"visited_on": date.today().isoformat(), "inspecting_organisation": user.organisation or ""},
        form_errors=form_errors or [],
        nc_rows=NC_ROWS,
        done=done,
        downloads={fmt: f"/qa/visits.{fmt}?{data['download_query']}" for fmt in DOWNLOADS},
        nc_downloads={fmt: f"/qa/nonconformities.{fmt}?{data['download_query']}" for fmt in DOWNLOADS},
    )


@router.get("/qa")
def qa_page(
    request: Request,
    info: PageSession,
    q: Text = None,
    type: Text = None,
    org: Text = None,
    date_from: Text = None,
    date_to: Text = None,
    sort: Text = None,
    page: Annotated[str | None, Query(max_length=12)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """QA visits with their non-conformities: filters, pages, downloads; the form to record one."""
    no = refused(request, info, "qa_visits", "QA visits")
    if no is not None:
        return no
    query, errors = parse_query(q, type, org, None, date_from, date_to, sort, page)
    message = f"Recorded QA visit #{done}." if done and done.isdigit() else None
    return _qa_page(request, info, query, errors, 422 if errors else 200, done=message)


@router.get("/qa/{what}.{fmt}")
def qa_download(
    request: Request,
    info: PageSession,
    what: str,
    fmt: str,
    q: Text = None,
    type: Text = None,
    org: Text = None,
    date_from: Text = None,
    date_to: Text = None,
) -> Response:
    """The visits (or their non-conformities) of the current filter as CSV or XLSX."""
    no = refused(request, info, "qa_visits", "QA visits")
    if no is not None:
        return no
    if what not in ("visits", "nonconformities") or fmt not in DOWNLOADS:
        return reg.error_page(
            request,
            info,
            404,
            "Download visits.csv, visits.xlsx, nonconformities.csv or nonconformities.xlsx.",
        )
    query, errors = parse_query(q, type, org, None, date_from, date_to, None, None)
    if errors:
        return reg.error_page(request, info, 400, " ".join(errors))
    where = reg.condition(QA_VISITS, info.user, query)
    if what == "visits":
        return download(request, info, "qa_visit", "qa-visits", fmt, where)
    visits = select(S.qa_visit.c.id).where(where)
    return download(
        request,
        info,
        "qa_nonconformity",
        "qa-nonconformities",
        fmt,
        S.qa_nonconformity.c.visit_id.in_(visits),
    )


def _form_text(form: Any, name: str, limit: int = 200) -> str:
    return str(form.get(name, "") or "").strip()[:limit]


@router.post("/qa")
async def record_qa_visit(request: Request, info: PageSession) -> Response:
    """Record a QA visit and its non-conformities (``POST /api/qa_visits``' function)."""
    form = await request.form()
    check_form_csrf(info, str(form.get("csrf", "")))
    user = info.user
    if scope(user.role, "qa_visits", "create") is None:
        return reg.error_page(
            request, info, 403, f"A {user.role.replace('_', ' ')} does not record QA visits."
        )
    sent = {
        k: _form_text(form, k, 2000 if k == "comments" else 100)
        for k in (
            "inspected_organisation",
            "inspecting_organisation",
            "visited_on",
            "visit_type",
            "activity",
            "result",
            "comments",
        )
    }
    problems: list[str] = []
    ncs = []
    for i in range(NC_ROWS):
        nc = {k: _form_text(form, f"nc{i}_{k}", 1000) for k in ("nc_type", "severity", "measures")}
        sent |= {f"nc{i}_{k}": v for k, v in nc.items()}
        if not any(nc.values()):
            continue
        if not nc["nc_type"] or not nc["severity"]:
            problems.append(f"Non-conformity {i + 1}: choose its type and its severity.")
            continue
        ncs.append({"nc_type": nc["nc_type"], "severity": nc["severity"], "measures": nc["measures"] or None})
    payload: dict[str, Any] = {k: v or None for k, v in sent.items() if not k.startswith("nc")}
    payload["nonconformities"] = ncs
    if not problems:
        try:
            with context(request).writing() as conn:
                written = kinds.write(conn, "qa_visit", payload, actor=user.username)
            return RedirectResponse(f"/qa?done={written.ids[0]}#qa-recorded", status_code=303)
        except ValidationError as exc:
            problems = [_sentence(p) for p in exc.problems]
        except DemineError as exc:
            problems = [str(exc)]
    query, _ = parse_query(None, None, None, None, None, None, None, None)
    return _qa_page(request, info, query, [], 422, form=sent, form_errors=problems)


def _sentence(p: Problem) -> str:
    field = (p.field or "").replace("_", " ")
    return f"{field.capitalize()}: {p.message}" if field and field != "record" else p.message


# ---------------------------------------------------------------------------------------------
# risk education


@router.get("/eore")
def eore_page(
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
    """Risk education sessions with how many attended: filters, pages and downloads."""
    no = refused(request, info, "eore_sessions", "EORE sessions")
    if no is not None:
        return no
    query, errors = parse_query(q, type, org, admin, date_from, date_to, sort, page)
    p, e = S.eore_participant, S.eore_session
    with context(request).reading() as conn:
        data = list_context(conn, info, EORE_SESSIONS, query, "/eore")
        where = reg.condition(EORE_SESSIONS, info.user, query)
        attended = conn.execute(
            select(func.coalesce(func.sum(p.c.count), 0)).where(
                p.c.session_id.in_(select(e.c.id).where(where))
            )
        ).scalar_one()
    for f in data["filters"]:
        if f["name"] == "type":
            f["label"] = "Method"
    return render(
        request,
        info,
        "eore.html",
        status_code=422 if errors else 200,
        **data,
        errors=errors,
        attended=attended,
        reads_submissions=checks_submissions(info.user.role),
        ids=[r["_id"] for r in data["raw_rows"]],
        downloads={fmt: f"/eore/sessions.{fmt}?{data['download_query']}" for fmt in DOWNLOADS},
    )


@router.get("/eore/sessions.{fmt}")
def eore_download(
    request: Request,
    info: PageSession,
    fmt: str,
    q: Text = None,
    type: Text = None,
    org: Text = None,
    admin: Text = None,
    date_from: Text = None,
    date_to: Text = None,
) -> Response:
    """The sessions of the current filter as CSV or XLSX (attendance totals per session)."""
    no = refused(request, info, "eore_sessions", "EORE sessions")
    if no is not None:
        return no
    if fmt not in DOWNLOADS:
        return reg.error_page(request, info, 404, "Download sessions.csv or sessions.xlsx.")
    query, errors = parse_query(q, type, org, admin, date_from, date_to, None, None)
    if errors:
        return reg.error_page(request, info, 400, " ".join(errors))
    return download(
        request, info, "eore_session", "eore-sessions", fmt, reg.condition(EORE_SESSIONS, info.user, query)
    )


# ---------------------------------------------------------------------------------------------
# the QA officer's view of a submission


def checks_submissions(role: str) -> bool:
    """Whether ``role`` reads submissions as quality assurance: it records QA visits and has no
    part in the workflow (the QA officer; an admin reviews them as the authority)."""
    return submission_scope(role, "read") is None and scope(role, "qa_visits", "create") is not None


def qa_submission_page(request: Request, info: TokenInfo, submission_id: int) -> Response:
    """A submission with its evidence, read only, for quality assurance (no personal data)."""
    from demine.web.routes import _payload_summary

    user = info.user
    s = S.submission
    with context(request).reading() as conn:
        # Read outside the workflow's scopes: QA reads every organisation's submissions but
        # takes no workflow action, so the workflow's permissions stay as they are.
        row = conn.execute(workflow._query().where(s.c.id == submission_id)).first()
        if row is None:
            return reg.error_page(request, info, 404, f"There is no submission #{submission_id}.")
        item = workflow.redacted(workflow._as_dict(row), user)
        if item["kind"] == edits.EDIT and not user.sees_personal_data:
            hidden = personal_columns(str(item["payload"].get("table", "")))
            changes = item["payload"].get("changes", {})
            item["payload"] = item["payload"] | {
                "changes": {k: v for k, v in changes.items() if k not in hidden}
            }
            item["personal_data_hidden"] = item.get("personal_data_hidden") or bool(set(changes) & hidden)
        labels = all_code_labels(conn)
        evidence = review_evidence(conn, item, labels)
    item["actions"] = []
    item["revisable"] = False
    item["summary"] = _payload_summary(item)
    res = RESOURCE_OF_TABLE.get(item.get("record_table") or item["payload"].get("table") or "")
    record_id = item.get("record_id") or item["payload"].get("record_id")
    item["record_url"] = f"/records/{res.name}/{record_id}" if res and record_id else None
    return render(request, info, "review_submission.html", item=item, read_only=True, **evidence)


@router.get("/qa/submissions")
def qa_submissions(
    request: Request, info: PageSession, page: Annotated[str | None, Query(max_length=12)] = None
) -> Response:
    """Submissions newest first, read only, for quality assurance."""
    from demine.web.routes import _payload_summary

    if not checks_submissions(info.user.role):
        return reg.error_page(
            request, info, 403, "This list is quality assurance's read-only view of submissions."
        )
    number = int(page) if page and page.isascii() and page.isdigit() and len(page) < 10 else 1
    s = S.submission
    with context(request).reading() as conn:
        total = conn.execute(select(func.count()).select_from(s)).scalar_one()
        pages = max(1, -(-total // reg.PAGE_SIZE))
        number = min(max(number, 1), pages)
        rows = conn.execute(
            workflow._query()
            .order_by(s.c.id.desc())
            .limit(reg.PAGE_SIZE)
            .offset((number - 1) * reg.PAGE_SIZE)
        ).all()
    items = [workflow.redacted(workflow._as_dict(r), info.user) for r in rows]
    for item in items:
        item["summary"] = _payload_summary(item)
    return render(
        request,
        info,
        "qa_submissions.html",
        items=items,
        total=total,
        page=number,
        pages=pages,
        prev_href=f"?page={number - 1}" if number > 1 else None,
        next_href=f"?page={number + 1}" if number < pages else None,
    )
