"""Reporting periods as users write them: a month ``2026-05``, a year ``2026``, or a range
``2025-01-01..2025-12-31`` (both ends included)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from demine.domain.errors import DemineError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
HELP = "YYYY-MM (a month), YYYY (a year) or YYYY-MM-DD..YYYY-MM-DD (a range, both days included)"


@dataclass(frozen=True)
class Period:
    """The first and last day of a reporting period, and how to name it."""

    start: date
    end: date
    kind: str  # month | year | range

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{calendar.month_name[self.start.month]} {self.start.year}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    @property
    def slug(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "year":
            return f"{self.start:%Y}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def months(self) -> list[date]:
        """The first day of every month the period touches."""
        out, day = [], self.start.replace(day=1)
        while day <= self.end:
            out.append(day)
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return out


def parse_period(text: str) -> Period:
    """A :class:`Period` from ``text``; anything else is a :class:`DemineError` naming the formats."""
    value = (text or "").strip()
    try:
        if m := _MONTH.match(value):
            year, month = int(m[1]), int(m[2])
            last = calendar.monthrange(year, month)[1]
            return Period(date(year, month, 1), date(year, month, last), "month")
        if m := _YEAR.match(value):
            year = int(m[1])
            return Period(date(year, 1, 1), date(year, 12, 31), "year")
        if m := _RANGE.match(value):
            start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if end < start:
                raise DemineError(f"--period: {value!r} ends before it starts")
            return Period(start, end, "range")
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise DemineError(f"--period: {value!r} is not a valid date ({exc})") from None
    raise DemineError(f"--period: {value!r} is not a period; write {HELP}")
