"""Library errors as HTTP responses: one status per error class, problems listed field by field.

==========================  ======  ==================================================
error                       status  body
==========================  ======  ==================================================
ValidationError,            422     ``detail`` and ``problems`` (record, field, message)
ReleaseRejected
NotFoundError               404     ``detail``
StoreBusy                   503     ``detail``, ``Retry-After: 5``
Forbidden                   403     ``detail``
VersionConflict             409     ``detail``, ``current_version``, ``current`` record
InvalidChange               409     ``detail``
other DemineError with      422     ``detail`` and ``problems``
``problems``
other DemineError           400     ``detail``
==========================  ======  ==================================================
"""

from __future__ import annotations

from typing import Any

import shapely
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from demine.api.geojson import dumps
from demine.domain.errors import DemineError, NotFoundError, ReleaseRejected, StoreBusy, ValidationError
from demine.workflow.errors import Forbidden, InvalidChange, VersionConflict


def problems_json(problems: list[Any]) -> list[dict[str, str]]:
    return [{"record": p.record, "field": p.field, "message": p.message} for p in problems]


def _plain_record(state: dict[str, Any] | None) -> dict[str, Any] | None:
    # Audit-style states carry geometry as WKT; API clients expect GeoJSON.
    if state is None:
        return None
    out = dict(state)
    if isinstance(out.get("geom"), str):
        out["geometry"] = shapely.geometry.mapping(shapely.from_wkt(out.pop("geom")))
    return out


def _json(body: dict[str, Any], status_code: int, headers: dict[str, str] | None = None) -> Response:
    # Bodies may hold dates and timestamps (a conflicting record): serialise them as the API does.
    return Response(dumps(body), status_code=status_code, headers=headers, media_type="application/json")


def error_response(exc: DemineError) -> Response:
    """The response for a library error."""
    if isinstance(exc, ValidationError | ReleaseRejected):
        body = {"detail": "; ".join(str(p) for p in exc.problems), "problems": problems_json(exc.problems)}
        return _json(body, status_code=422)
    if isinstance(exc, NotFoundError):
        return _json({"detail": str(exc)}, status_code=404)
    if isinstance(exc, StoreBusy):
        return _json({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
    if isinstance(exc, Forbidden):
        return _json({"detail": str(exc)}, status_code=403)
    if isinstance(exc, VersionConflict):
        headers = {"ETag": f'"{exc.current_version}"'} if exc.current_version is not None else {}
        body = {
            "detail": str(exc),
            "current_version": exc.current_version,
            "current": _plain_record(exc.current),
        }
        return _json(body, status_code=409, headers=headers)
    if isinstance(exc, InvalidChange):
        return _json({"detail": str(exc)}, status_code=409)
    if isinstance(getattr(exc, "problems", None), list):  # e.g. a planner scenario's problems
        return _json({"detail": str(exc), "problems": problems_json(exc.problems)}, status_code=422)
    return _json({"detail": str(exc)}, status_code=400)


MAX_ERRORS = 50
MAX_ECHO = 100


def brief_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Request validation errors without echoing what was sent, beyond short scalar values.

    FastAPI's default answer repeats each offending input: a 30 MB body came back whole.
    """
    out = []
    for error in errors[:MAX_ERRORS]:
        item = {"type": error.get("type"), "loc": list(error.get("loc", ())), "msg": error.get("msg")}
        value = error.get("input")
        if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= MAX_ECHO):
            item["input"] = value
        out.append(item)
    if len(errors) > MAX_ERRORS:
        out.append({"type": "too_many_errors", "loc": [], "msg": f"{len(errors) - MAX_ERRORS} more errors"})
    return out


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        return _json({"detail": brief_errors(list(exc.errors()))}, status_code=422)

    @app.exception_handler(DemineError)
    async def _demine_error(_request: Request, exc: DemineError) -> Response:
        return error_response(exc)
