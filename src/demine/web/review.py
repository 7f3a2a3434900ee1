"""Pages of the review: one submission with its evidence, and editing a record through the workflow.

``/review/{id}`` shows a submission as a reviewer needs it: every field with its label, the
difference from the register, the findings of the register's checks on its polygon and a map
over the neighbouring hazards and its admin area (:mod:`demine.web.evidence`), with the actions
the reviewer may take. ``/records/{resource}/{id}/edit`` is a form prefilled with a record's
current values; what the operator changes is sent as an ``edit`` submission
(:mod:`demine.workflow.edits`) and reviewed like a new record.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Boolean, Connection, Date, Double, Integer

from demine.accounts.roles import submission_scope
from demine.accounts.tokens import TokenInfo
from demine.api import records as api_records
from demine.api.resources import RESOURCE_OF_TABLE, RESOURCES
from demine.api.security import context
from demine.domain.errors import DemineError, NotFoundError, Problem, ValidationError
from demine.storage.codelists import all_code_labels
from demine.web.evidence import review_evidence
from demine.web.forms import code_choices
from demine.web.register import SINGULAR, error_page, heading
from demine.web.routes import render
from demine.web.session import PageSession, check_form_csrf
from demine.workflow import edits
from demine.workflow import submissions as workflow
from demine.workflow.errors import Forbidden, InvalidChange, VersionConflict
from demine.workflow.records import RULES, current_state, editable_columns, table_of

router = APIRouter(include_in_schema=False)
SubmissionId = Annotated[int, Path(ge=1, le=2**53)]


@router.get("/review/{submission_id}")
def submission_page(request: Request, info: PageSession, submission_id: SubmissionId) -> Response:
    """One submission with its evidence: fields, difference, check findings, map, actions."""
    from demine.web.routes import _actions, _payload_summary

    user = info.user
    if submission_scope(user.role, "read") is None:
        from demine.web.quality import checks_submissions, qa_submission_page

        if checks_submissions(user.role):  # quality assurance reads, takes no workflow action
            return qa_submission_page(request, info, submission_id)
        return error_page(request, info, 403, f"a {user.role} does not see submissions")
    try:
        with context(request).reading() as conn:
            item = workflow.get_submission(conn, user, submission_id)
            labels = all_code_labels(conn)
            evidence = review_evidence(conn, item, labels)
    except NotFoundError:
        return error_page(request, info, 404, f"There is no submission #{submission_id} you may see.")
    item["actions"] = _actions(info, item)
    item["summary"] = _payload_summary(item)
    res = RESOURCE_OF_TABLE.get(item.get("record_table") or item["payload"].get("table") or "")
    record_id = item.get("record_id") or item["payload"].get("record_id")
    item["record_url"] = f"/records/{res.name}/{record_id}" if res and record_id else None
    item["revisable"] = (
        item["author_id"] == user.id
        and item["status"] in ("submitted", "rejected")
        and item["kind"] != edits.EDIT
    )
    return render(request, info, "review_submission.html", item=item, **evidence)


def _edit_summary(item: dict[str, Any]) -> str:
    payload = item["payload"]
    changed = ", ".join(heading(k) for k in payload.get("changes", {}))
    return f"edit of {payload.get('table', '').replace('_', ' ')} {payload.get('record_id')}: {changed}"


# ---------------------------------------------------------------------------------------------
# editing a record through the workflow


def may_edit(info: TokenInfo, resource: str) -> bool:
    """Whether this user edits records of ``resource`` through the workflow (operators)."""
    res = RESOURCES.get(resource)
    return (
        res is not None
        and res.table.name in edits.EDITABLE_TABLES
        and submission_scope(info.user.role, "submit") is not None
    )


def _form_fields(conn: Connection, table: str, state: dict[str, Any], user: Any) -> list[dict[str, Any]]:
    rules = RULES[table]
    t = table_of(table)
    out = []
    for name in editable_columns(table):
        column = t.c[name]
        if column.foreign_keys or name in edits.NOT_BY_EDIT or name == "geom":
            continue  # links and places are changed by the authority, which sees both sides
        if name == "description" and not user.sees_personal_data:
            continue
        value = state.get(name)
        field: dict[str, Any] = {
            "name": name,
            "label": heading(name),
            "value": "" if value is None else value,
        }
        if name in rules.code_lists:
            field |= {"kind": "select", "choices": code_choices(conn, rules.code_lists[name])}
        elif name in rules.multi_code_lists:
            chosen = str(value or "").split(",")
            field |= {
                "kind": "multi",
                "choices": code_choices(conn, rules.multi_code_lists[name]),
                "value": chosen,
            }
        elif isinstance(column.type, Date):
            field["kind"] = "date"
        elif isinstance(column.type, Integer | Double):
            field["kind"] = "number"
        elif isinstance(column.type, Boolean):
            field["kind"] = "bool"
        else:
            field["kind"] = "text"
        out.append(field)
    return out


def _typed(kind: str, raw: Any) -> Any:
    if kind == "multi":
        return ",".join(v for v in raw if v)  # none chosen: an empty list, as the register keeps it
    if kind == "bool":
        return raw == "on"
    text = (raw or "").strip()
    if text == "":
        return None
    if kind == "number":
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    return text


def _edit_target(request: Request, info: TokenInfo, resource: str, number: str) -> tuple[Any, int] | Response:
    if not may_edit(info, resource):
        return error_page(request, info, 403, "Only operators edit records through the workflow here.")
    record_id = int(number) if number.isascii() and number.isdigit() and len(number) <= 16 else 0
    if not 1 <= record_id <= 2**53:
        return error_page(request, info, 404, f"There is no record #{number[:20]}.")
    return RESOURCES[resource], record_id


def _edit_page(
    request: Request,
    info: TokenInfo,
    res: Any,
    record_id: int,
    problems: list[Problem] | None = None,
    sent: dict[str, Any] | None = None,
    status: int = 200,
    message: str | None = None,
) -> Response:
    try:
        with context(request).reading() as conn:
            api_records.read_record(conn, res, info.user, record_id)
            state = current_state(conn, res.table.name, record_id)
            fields = _form_fields(conn, res.table.name, state, info.user)
    except (NotFoundError, Forbidden):
        return error_page(request, info, 404, f"There is no record #{record_id} (or it is not yours to see).")
    for f in fields:
        if sent is not None and f["name"] in sent:
            f["value"] = sent[f["name"]]
        f["errors"] = [p.message for p in problems or () if p.field == f["name"]]
    other = [str(p) for p in problems or () if p.field not in {f["name"] for f in fields}]
    title = SINGULAR.get(res.name) or res.title
    return render(
        request,
        info,
        "record_edit.html",
        status_code=status,
        res=res,
        record_id=record_id,
        title=title,
        code=state.get("code") or f"#{record_id}",
        version=state["version"],
        fields=fields,
        other_problems=other,
        message=message,
    )


@router.get("/records/{resource}/{number}/edit")
def edit_form(request: Request, info: PageSession, resource: str, number: str) -> Response:
    """A form prefilled with the record's current values; sending it makes an edit submission."""
    target = _edit_target(request, info, resource, number)
    if isinstance(target, Response):
        return target
    return _edit_page(request, info, *target)


@router.post("/records/{resource}/{number}/edit")
async def edit_send(request: Request, info: PageSession, resource: str, number: str) -> Response:
    """Send the changed fields as an ``edit`` submission (only what differs from the version read)."""
    form = await request.form()
    check_form_csrf(info, str(form.get("csrf", "")))
    target = _edit_target(request, info, resource, number)
    if isinstance(target, Response):
        return target
    res, record_id = target
    try:
        version = int(str(form.get("version", "")))
    except ValueError:
        return _edit_page(request, info, res, record_id, [Problem("edit", "version", "missing")], status=422)
    ctx = context(request)
    with ctx.reading() as conn:
        state = current_state(conn, res.table.name, record_id)
        fields = _form_fields(conn, res.table.name, state, info.user)
    changes: dict[str, Any] = {}
    sent: dict[str, Any] = {}
    problems: list[Problem] = []
    for f in fields:
        raw = form.getlist(f["name"]) if f["kind"] == "multi" else form.get(f["name"])
        sent[f["name"]] = raw if raw is not None else ""
        try:
            value = _typed(f["kind"], raw)
        except ValueError:
            problems.append(Problem(f"{res.table.name} {record_id}", f["name"], "must be a number"))
            continue
        now = state.get(f["name"])
        if isinstance(now, float) and isinstance(value, int):
            value = float(value)
        if f["kind"] == "multi" and set(value.split(",")) - {""} == set(str(now or "").split(",")) - {""}:
            continue  # the same codes in the form's order: no change
        if value != now and not (value is None and now in (None, "")):
            changes[f["name"]] = value
    if problems:
        return _edit_page(request, info, res, record_id, problems, sent, 422)
    payload = {"table": res.table.name, "record_id": record_id, "version": version, "changes": changes}
    try:
        with ctx.writing() as conn:
            created = workflow.submit(conn, info.user, edits.EDIT, payload, date.today())
    except VersionConflict:
        message = (
            "This record was changed by someone else after you opened the form. "
            "The form now shows its current values: make your change again."
        )
        return _edit_page(request, info, res, record_id, status=409, message=message)
    except ValidationError as exc:
        return _edit_page(request, info, res, record_id, exc.problems, sent, 422)
    except (InvalidChange, DemineError) as exc:
        return _edit_page(request, info, res, record_id, [Problem("edit", "record", str(exc))], sent, 422)
    return RedirectResponse(f"/review/{created['id']}", status_code=303)
