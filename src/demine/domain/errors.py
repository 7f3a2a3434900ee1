"""Errors raised for user mistakes: each names the record, the field and the reason.

The CLI turns these into one line per problem, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one record."""

    record: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field}: {self.message}"


class DemineError(Exception):
    """Base class of every error caused by input or state, not by a bug."""


class ValidationError(DemineError):
    """A record failed validation; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class NotFoundError(DemineError):
    """A record asked for by id or code does not exist."""


class StoreBusy(DemineError):
    """Another writer held the database too long (or the store broke a deadlock): nothing was
    written, and trying again later will work. The API answers 503 with ``Retry-After``."""


class ReleaseRejected(DemineError):
    """A land release product breaks the accounting rules (outside the hazard, overlapping)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def raise_if(problems: list[Problem]) -> None:
    """Raise a :class:`ValidationError` when any problem was found."""
    if problems:
        raise ValidationError(problems)
