"""Accreditation status: whether a team or person may do an activity on a given day.

IMAS 07.30 requires organisations and their teams to be accredited for each activity type
before they operate; the planner counts only teams whose accreditation is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Dashboards warn this many days before an accreditation lapses (issue 7 asks for 60).
EXPIRY_WARNING_DAYS = 60


@dataclass(frozen=True)
class Accreditation:
    """One accreditation: an activity type, valid from ``issued_on`` to ``expires_on``."""

    activity_type: str
    issued_on: date
    expires_on: date | None

    def valid_on(self, day: date) -> bool:
        """True when the accreditation covers ``day`` (both ends inclusive)."""
        return self.issued_on <= day and (self.expires_on is None or day <= self.expires_on)


def covered_until(accreditations: list[Accreditation], day: date) -> date | None:
    """The last day of unbroken cover from ``day`` on (``date.max`` when open-ended).

    Renewals recorded ahead count when they start no later than the day after the
    current cover ends. None when nothing covers ``day``.
    """
    current = [a for a in accreditations if a.valid_on(day)]
    if not current:
        return None
    end = max(date.max if a.expires_on is None else a.expires_on for a in current)
    extended = True
    while extended and end != date.max:
        extended = False
        for a in accreditations:
            a_end = date.max if a.expires_on is None else a.expires_on
            if a.issued_on <= end + timedelta(days=1) and a_end > end:
                end, extended = a_end, True
    return end


def accreditation_status(accreditations: list[Accreditation], day: date) -> str:
    """Classify a holder on ``day``: ``valid``, ``expiring`` (cover ends within 60 days),
    ``expired`` or ``none`` (never accredited, or only accredited from a later date).

    A renewal recorded ahead of time extends the cover, so a team renewed early is not
    flagged.
    """
    if not any(a.issued_on <= day for a in accreditations):
        return "none"
    end = covered_until(accreditations, day)
    if end is None:
        return "expired"
    return "valid" if end > day + timedelta(days=EXPIRY_WARNING_DAYS) else "expiring"
