"""Staging exported form submissions as workflow submissions awaiting review.

Nothing goes into the register here: each good submission becomes a ``submitted`` row of the
``submission`` table, dry-run checked against the register exactly as an operator's
submission through the API is (:func:`demine.workflow.kinds.check`), and is written to the
register only when an IM officer approves it (:func:`demine.workflow.submissions.approve`).

* **Accounting**: every submission read ends as exactly one of *staged*, *already present*
  or *rejected*: ``read == staged + already_present + rejected``. A non-technical survey that
  cancelled land stages two records (the activity and the cancelled land); if either fails,
  neither is staged.
* **Rejections** use the importer's reason codes and rejection file
  (:mod:`demine.ingest.report`): the row of the main table, the instance id, the reason, a
  message naming the question, and the submission's original columns. Good rows are kept.
* **Idempotency**: the instance id (``meta/instanceID``, Kobo's ``_uuid``) is recorded in the
  audit row of the submission it created (reason ``field form instance <uuid>``), so ingesting
  the same export again stages nothing and reports those submissions as already present,
  whatever became of them since (verified, approved, rejected).
* Forms that the workflow does not take from operators (EORE sessions, QA visits) are staged
  the same way; approval writes them through the same validated functions.

One run is one transaction: an error that is not a row's fault leaves nothing behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from demine.accounts.roles import VIEWER
from demine.accounts.users import User, add_user, get_user
from demine.domain.errors import DemineError, NotFoundError, Problem
from demine.forms.convert import Part, Reader, to_parts
from demine.forms.exports import Export, ExportedSubmission, read_export
from demine.forms.spec import FORMS, Form, SaddGrid
from demine.ingest.report import Rejection, RejectWriter
from demine.ingest.values import CodeResolver, ValueProblem
from demine.storage import schema
from demine.storage.audit import record_change, snapshot
from demine.storage.codelists import load_code_lists
from demine.workflow import kinds
from demine.workflow.submissions import SUBMITTED

REASON_PREFIX = "field form instance "
SERVICE_USER = "field-forms"


@dataclass
class FormIngestResult:
    """What an ingest did; :meth:`as_json` is what ``demine forms ingest --json`` prints."""

    source: str
    format: str
    form: str
    read: int = 0
    staged: int = 0
    already_present: int = 0
    rejected: int = 0
    submissions: list[int] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    rejects_file: str | None = None
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.read == self.staged + self.already_present + self.rejected

    def as_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "staged": self.staged,
            "already_present": self.already_present,
            "rejected": self.rejected,
            "reasons": dict(sorted(self.reasons.items())),
            "rejects_file": self.rejects_file,
            "submissions": self.submissions,
            "form": self.form,
            "format": self.format,
            "source": self.source,
            "seconds": round(self.seconds, 3),
        }


def detect_form(export: Export, forced: str | None = None) -> Form:
    """The form an export was collected with: ``forced``, else recognised by its columns."""
    columns = set(export.columns)

    def required(form: Form) -> set[str]:
        # Geo questions may travel as the feature geometry (GeoJSON), not as a property.
        return {
            q.name
            for q in form.top_questions()
            if q.required and q.relevant is None and q.type not in ("geoshape", "geopoint")
        }

    if forced is not None:
        form = FORMS.get(forced)
        if form is None:
            raise DemineError(f"--form: {forced!r} is not one of {', '.join(FORMS)}")
        missing = sorted(required(form) - columns)
        if export.submissions and missing:
            raise DemineError(
                f"{export.path.name} is not an export of the {forced} form: "
                f"it has no {', '.join(missing)} column(s)"
            )
        return form
    hint = export.name_hint.casefold()
    for form in FORMS.values():
        if form.form_id in hint and required(form) <= columns:
            return form
    candidates = sorted(
        (
            (len(columns & {q.name for q in form.top_questions()}), name)
            for name, form in FORMS.items()
            if required(form) <= columns
        ),
        reverse=True,
    )
    if not candidates or (len(candidates) > 1 and candidates[0][0] == candidates[1][0]):
        raise DemineError(
            f"{export.path.name}: cannot tell which form it was collected with; pass --form "
            f"({', '.join(FORMS)})"
        )
    return FORMS[candidates[0][1]]


def ingest_user(conn: Connection, username: str | None) -> User:
    """The author of staged submissions: ``username``, or the ``field-forms`` service account.

    The service account is created on first use as a viewer with no password: it never acts
    itself, it only stands as the author, so whoever verifies and approves is someone else.
    """
    if username is not None:
        user = get_user(conn, username, missing_ok=True)
        if user is None:
            raise NotFoundError(f"--user: no user {username!r}")
        return user
    user = get_user(conn, SERVICE_USER, missing_ok=True)
    if user is None:
        user = add_user(conn, SERVICE_USER, VIEWER, full_name="Field form submissions", actor="forms ingest")
    return user


def known_instances(conn: Connection) -> set[str]:
    """The instance keys already staged from field forms (see the module docstring)."""
    a = schema.audit_log
    rows = conn.execute(
        select(a.c.reason).where(
            a.c.table_name == "submission", a.c.action == "insert", a.c.reason.like(f"{REASON_PREFIX}%")
        )
    )
    return {r[0][len(REASON_PREFIX) :] for r in rows}


def _organisation_id(conn: Connection, part: Part) -> int | None:
    """Whose submission it is: the organisation the record belongs to, as far as it says."""
    p = part.payload
    o = schema.organisation
    code = p.get("organisation") or p.get("inspected_organisation")
    if code:
        return conn.execute(select(o.c.id).where(o.c.code == code)).scalar()
    if p.get("team"):
        t = schema.team
        return conn.execute(select(t.c.organisation_id).where(t.c.code == p["team"])).scalar()
    if p.get("activity"):
        a = schema.activity
        return conn.execute(select(a.c.organisation_id).where(a.c.code == p["activity"])).scalar()
    if p.get("hazard"):
        h = schema.hazard
        return conn.execute(select(h.c.organisation_id).where(h.c.code == p["hazard"])).scalar()
    return None


def _reason_of(problem: Problem) -> str:
    text = f"{problem.field} {problem.message}".casefold()
    if problem.field == "reference" or problem.message.startswith("no ") or "not found" in text:
        return "unknown_reference"
    if "already exists" in text or "conflicts with an existing" in text or "appears twice" in text:
        return "duplicate"
    if "overlap" in text:
        return "release_overlap"
    if "outside" in text and "hazard" in text:
        return "release_outside_hazard"
    if "nothing to release" in text or "no remaining area" in text or "does not touch" in text:
        return "release_not_applicable"
    if "in the future" in text or "date" in problem.field or problem.field.endswith("_on"):
        return "bad_date"
    if "code list" in text:
        return "bad_code_list_value"
    if "required" in text or "missing" in text:
        return "missing_required_field"
    return "invalid_value"


def stage(conn: Connection, user: User, part: Part, instance: str, today: date) -> int:
    """Insert one checked payload as a ``submitted`` submission with its audit row; its id."""
    model = kinds.parse_payload(kinds.get_kind(part.kind), part.payload)
    submission_id = conn.execute(
        insert(schema.submission).values(
            kind=part.kind,
            status=SUBMITTED,
            payload=model.model_dump_json(),
            organisation_id=_organisation_id(conn, part),
            author_id=user.id,
        )
    ).inserted_primary_key[0]
    row = conn.execute(select(schema.submission).where(schema.submission.c.id == submission_id)).first()
    record_change(
        conn,
        "submission",
        submission_id,
        "insert",
        None,
        snapshot(row),
        f"{REASON_PREFIX}{instance}",
        changed_by=user.username,
    )
    return submission_id


def _key(uuid: str, part: Part) -> str:
    return f"{uuid}#{part.key}" if part.key else uuid


def _check_parts(conn: Connection, parts: list[Part], today: date) -> Rejection | None:
    for part in parts:
        problems = kinds.check(conn, part.kind, part.payload, today)
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            return Rejection(_reason_of(first), f"{first.field}: {first.message}{more}")
    return None


def ingest_into(
    conn: Connection,
    export: Export,
    form: Form,
    rejects: RejectWriter,
    user: User,
    today: date,
) -> FormIngestResult:
    """Stage every good submission of ``export`` in the caller's transaction."""
    result = FormIngestResult(str(export.path), export.format, form.name)
    lists = load_code_lists(conn)
    reader = Reader(CodeResolver(lists), today)
    sadd = SaddGrid.of(lists.codes("sex"), lists.codes("age_band"))
    seen = known_instances(conn)
    in_file: set[str] = set()
    for sub in export.submissions:
        result.read += 1
        if sub.uuid is not None and sub.uuid in seen and sub.uuid not in in_file:
            in_file.add(sub.uuid)
            result.already_present += 1
            continue
        rejection, parts = _convert(form, sub, reader, sadd, in_file)
        if rejection is None:
            rejection = _check_parts(conn, parts, today)
        if rejection is not None:
            result.rejected += 1
            result.reasons[rejection.reason] = result.reasons.get(rejection.reason, 0) + 1
            rejects.add(sub.row, sub.uuid, rejection, _flat(sub), None)
            continue
        assert sub.uuid is not None
        for part in parts:
            if _key(sub.uuid, part) not in seen:
                result.submissions.append(stage(conn, user, part, _key(sub.uuid, part), today))
        result.staged += 1
    return result


def _convert(
    form: Form, sub: ExportedSubmission, reader: Reader, sadd: SaddGrid, in_file: set[str]
) -> tuple[Rejection | None, list[Part]]:
    if sub.uuid is None:
        return Rejection("missing_required_field", "instanceID: the submission has no instance id"), []
    if sub.uuid in in_file:
        return Rejection("duplicate", f"instanceID: {sub.uuid} appears earlier in the export"), []
    in_file.add(sub.uuid)
    try:
        return None, to_parts(form, sub, reader, sadd)
    except ValueProblem as exc:
        return Rejection(exc.reason, exc.message), []


def _flat(sub: ExportedSubmission) -> dict[str, Any]:
    data = dict(sub.raw)
    for name, rows in sub.repeats.items():
        data[name] = rows
    return data


def default_rejects_path(path: Path) -> Path:
    """``./<file>-rejects.csv`` in the working directory, like the importer's default."""
    return Path.cwd() / f"{path.stem}-rejects.csv"


def ingest_file(
    engine: Engine,
    path: str | Path,
    form: str | None = None,
    rejects: str | Path | None = None,
    username: str | None = None,
    today: date | None = None,
) -> FormIngestResult:
    """Read an export and stage its submissions in one transaction (see the module docstring)."""
    started = time.perf_counter()
    path = Path(path)
    export = read_export(path)
    chosen = detect_form(export, form)
    rejects_path = Path(rejects) if rejects is not None else default_rejects_path(path)
    columns = list(dict.fromkeys(k for s in export.submissions for k in _flat(s)))
    writer = RejectWriter(rejects_path, columns, None)
    try:
        with engine.begin() as conn:
            user = ingest_user(conn, username)
            result = ingest_into(conn, export, chosen, writer, user, today or date.today())
        result.rejects_file = writer.commit()
    except BaseException:
        writer.discard()
        raise
    result.seconds = time.perf_counter() - started
    return result
