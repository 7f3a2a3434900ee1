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


def accreditation_status(accreditations: list[Accreditation], day: date) -> str:
    """Classify a holder on ``day``: ``valid``, ``expiring`` (within 60 days), ``expired`` or ``none``.

    ``expiring`` wins over ``valid`` only when *no* current accreditation outlasts the warning
    window, so a team renewed early is not flagged.
    """
    if not accreditations:
        return "none"
    current = [a for a in accreditations if a.valid_on(day)]
    if not current:
        return "expired"
    horizon = day + timedelta(days=EXPIRY_WARNING_DAYS)
    if any(a.expires_on is None or a.expires_on > horizon for a in current):
        return "valid"
    return "expiring"
