"""The approval workflow over HTTP: ``/api/submissions``.

Operators ``POST`` a record as a submission; managers ``verify``, IM officers ``approve``
(the record is then written to the register) or anyone entitled ``reject`` with a reason; the
author revises with ``PUT``. Every transition needs ``If-Match`` with the submission's ETag.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from demine.api.geojson import dumps
from demine.api.records import page_links
from demine.api.schemas import RejectIn, RevisionIn, SubmissionIn, SubmissionOut, SubmissionPage
from demine.api.security import Ctx, CurrentUser
from demine.api.versioning import IfMatch, etag, expected_version
from demine.workflow import submissions as lib
from demine.workflow.kinds import SUBMITTABLE

router = APIRouter(prefix="/api/submissions", tags=["Approval workflow"])
SubmissionId = Annotated[int, Path(ge=1, le=2**53)]
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not your role, your organisation, or your own submission"},
    404: {"description": "No such submission you may see"},
    409: {"description": "Stale If-Match, or not allowed in the submission's state"},
    422: {"description": "The record would not pass validation in the register now"},
    428: {"description": "If-Match header missing"},
}


def _response(data: dict[str, Any], status: int = 200) -> Response:
    headers = {"ETag": etag(data["version"]), "Location": f"/api/submissions/{data['id']}"}
    return Response(dumps(data), status_code=status, media_type="application/json", headers=headers)


@router.get("", response_model=SubmissionPage)
def list_submissions(
    request: Request,
    user: CurrentUser,
    ctx: Ctx,
    status: Annotated[str | None, Query(max_length=20, description=", ".join(lib.STATUSES))] = None,
    kind: Annotated[str | None, Query(max_length=30, description=", ".join(SUBMITTABLE))] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    """Submissions you may see (your organisation's, or all for the authority), newest first."""
    with ctx.reading() as conn:
        items, total = lib.list_submissions(conn, user, status, kind, limit, offset)
    links = page_links(request, offset, limit, len(items), total)
    body = {"numberMatched": total, "numberReturned": len(items), "items": items, "links": links}
    return Response(dumps(body), media_type="application/json")


@router.post("", status_code=201, response_model=SubmissionOut, responses=RESPONSES)
def submit(body: SubmissionIn, user: CurrentUser, ctx: Ctx) -> Response:
    """Submit a record for approval; it is checked against the register at once."""
    with ctx.writing() as conn:
        data = lib.submit(conn, user, body.kind, body.payload)
    return _response(data, 201)


@router.get("/{submission_id}", response_model=SubmissionOut, responses=RESPONSES)
def get_submission(submission_id: SubmissionId, user: CurrentUser, ctx: Ctx) -> Response:
    """One submission, with its version as ETag."""
    with ctx.reading() as conn:
        return _response(lib.get_submission(conn, user, submission_id))


@router.put("/{submission_id}", response_model=SubmissionOut, responses=RESPONSES)
def revise(
    submission_id: SubmissionId, body: RevisionIn, user: CurrentUser, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    """The author replaces the payload (after a rejection, or before verification) and resubmits."""
    version = expected_version(if_match)
    with ctx.writing() as conn:
        return _response(lib.revise(conn, user, submission_id, version, body.payload))


@router.post("/{submission_id}/verify", response_model=SubmissionOut, responses=RESPONSES)
def verify(submission_id: SubmissionId, user: CurrentUser, ctx: Ctx, if_match: IfMatch = None) -> Response:
    """The organisation's manager confirms the submission."""
    version = expected_version(if_match)
    with ctx.writing() as conn:
        return _response(lib.verify(conn, user, submission_id, version))


@router.post("/{submission_id}/approve", response_model=SubmissionOut, responses=RESPONSES)
def approve(submission_id: SubmissionId, user: CurrentUser, ctx: Ctx, if_match: IfMatch = None) -> Response:
    """The authority approves: the record is written to the register and counts from now on."""
    version = expected_version(if_match)
    with ctx.writing() as conn:
        return _response(lib.approve(conn, user, submission_id, version))


@router.post("/{submission_id}/reject", response_model=SubmissionOut, responses=RESPONSES)
def reject(
    submission_id: SubmissionId, body: RejectIn, user: CurrentUser, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    """Return the submission to its author with a reason."""
    version = expected_version(if_match)
    with ctx.writing() as conn:
        return _response(lib.reject(conn, user, submission_id, version, body.reason))
