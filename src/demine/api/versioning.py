"""ETags and If-Match: the HTTP face of optimistic concurrency.

A record's ETag is its version number in quotes. Changing a record needs ``If-Match`` with
the ETag the client read: without one the server answers 428 Precondition Required (a blind
overwrite is never accepted, so ``If-Match: *`` is refused too); with a stale one, 409 Conflict
with the current version and record.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, HTTPException

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag of the version you read (required to change a record).",
        max_length=100,
    ),
]


def etag(version: int | None) -> str:
    """The ETag of a version."""
    return f'"{version}"'


def expected_version(if_match: str | None) -> int:
    """The version an ``If-Match`` header names; 428 without one, 400 when unreadable."""
    if if_match is None or not if_match.strip():
        raise HTTPException(428, "If-Match header required: send the ETag of the version you read")
    value = if_match.strip()
    if value == "*":
        raise HTTPException(428, "If-Match: * is not accepted: send the ETag of the version you read")
    value = value.removeprefix("W/").strip().strip('"')
    if not value.isdigit() or len(value) > 15:
        raise HTTPException(400, f"If-Match {if_match!r} is not an ETag this server issued")
    return int(value)
