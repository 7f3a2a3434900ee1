"""Errors of the workflow and of record changes, each mapping to one HTTP status in the API."""

from __future__ import annotations

from typing import Any

from demine.domain.errors import DemineError


class Forbidden(DemineError):
    """The user's role or organisation does not allow this (HTTP 403)."""


class VersionConflict(DemineError):
    """The record changed since the caller read it (HTTP 409); carries the current state."""

    def __init__(self, message: str, current: dict[str, Any] | None, current_version: int | None) -> None:
        super().__init__(message)
        self.current = current
        self.current_version = current_version


class InvalidChange(DemineError):
    """The change is not allowed in the record's state (HTTP 409), e.g. approving a rejected
    submission or editing the accounting fields of a land release product."""
