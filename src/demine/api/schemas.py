"""Request and response models of the API's own endpoints (auth, users, submissions, errors).

Record payloads are :mod:`demine.workflow.payloads`; generic record bodies are generated from
the schema in :mod:`demine.api.records`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from demine.accounts.roles import ROLES
from demine.workflow import payloads as p
from demine.workflow.edits import EditPayload
from demine.workflow.payloads import NO_NUL

Role = Literal[ROLES]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemOut(BaseModel):
    record: str
    field: str
    message: str


class ErrorOut(BaseModel):
    detail: str
    problems: list[ProblemOut] = []


class ConflictOut(BaseModel):
    detail: str
    current_version: int | None = None
    current: dict[str, Any] | None = None


class LoginIn(Strict):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    organisation: str | None
    full_name: str | None
    active: bool
    version: int
    sees_personal_data: bool = False


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str
    expires_at: datetime


class TokenIn(Strict):
    name: Annotated[str | None, Field(max_length=200, pattern=NO_NUL)] = None
    days: Annotated[int, Field(ge=1, le=366)] = 90


class TokenOut(BaseModel):
    id: int
    token: str
    expires_at: datetime


class UserIn(Strict):
    username: Annotated[str, Field(min_length=2, max_length=64)]
    role: Role
    organisation: Annotated[str | None, Field(max_length=100, pattern=NO_NUL)] = None
    full_name: Annotated[str | None, Field(max_length=200, pattern=NO_NUL)] = None
    password: Annotated[str | None, Field(min_length=1, max_length=1024)] = None


class UserPatch(Strict):
    role: Role | None = None
    organisation: Annotated[str | None, Field(max_length=100, pattern=NO_NUL)] = None
    full_name: Annotated[str | None, Field(max_length=200, pattern=NO_NUL)] = None
    active: bool | None = None
    password: Annotated[str | None, Field(min_length=1, max_length=1024)] = None


class _Submission(Strict):
    pass


class HazardSubmission(_Submission):
    kind: Literal["hazard"]
    payload: p.HazardPayload


class ActivitySubmission(_Submission):
    kind: Literal["activity"]
    payload: p.ActivityPayload


class ReleaseSubmission(_Submission):
    kind: Literal["release"]
    payload: p.ReleasePayload


class ProgressReportSubmission(_Submission):
    kind: Literal["progress_report"]
    payload: p.ProgressReportPayload


class FindSubmission(_Submission):
    kind: Literal["find"]
    payload: p.FindPayload


class AccidentSubmission(_Submission):
    kind: Literal["accident"]
    payload: p.AccidentPayload


class EditSubmission(_Submission):
    """A change to an existing record, approved like a new one (demine.workflow.edits)."""

    kind: Literal["edit"]
    payload: EditPayload


SubmissionIn = Annotated[
    HazardSubmission
    | ActivitySubmission
    | ReleaseSubmission
    | ProgressReportSubmission
    | FindSubmission
    | AccidentSubmission
    | EditSubmission,
    Field(discriminator="kind"),
]


class RevisionIn(Strict):
    payload: dict[str, Any]


class RejectIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=5000, pattern=NO_NUL)]


class SubmissionOut(BaseModel):
    id: int
    kind: str
    status: str
    payload: dict[str, Any]
    organisation: str | None
    author: str
    verifier: str | None
    verified_at: datetime | None
    approver: str | None
    decided_at: datetime | None
    reason: str | None
    record_table: str | None
    record_id: int | None
    created_at: datetime
    updated_at: datetime
    version: int


class SubmissionPage(BaseModel):
    numberMatched: int
    numberReturned: int
    items: list[SubmissionOut]
    links: list[dict[str, str]]


class Health(BaseModel):
    status: str
    schema_revision: str | None
    as_of: date
