"""The forecast's clock: day ``0`` is the start date, one step per calendar day.

Both engines (vectorised and day-by-day) use the same day numbering, so a completion on day
``d`` means "finished during ``start + d``". Year ends are 31 December.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import numpy as np

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


@dataclass(frozen=True)
class Timeline:
    """``days`` consecutive calendar days from ``start``."""

    start: date
    days: int

    @classmethod
    def for_years(cls, start: date, years: float) -> Timeline:
        """A timeline covering ``years`` years (rounded up to whole days) from ``start``."""
        end = _add_years(start, years)
        return cls(start, max(1, (end - start).days))

    @cached_property
    def _dates(self) -> np.ndarray:
        return np.datetime64(self.start, "D") + np.arange(self.days)

    @cached_property
    def month(self) -> np.ndarray:
        """Calendar month (1–12) of each day."""
        return (self._dates.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int8)

    @cached_property
    def year(self) -> np.ndarray:
        """Calendar year of each day."""
        return self._dates.astype("datetime64[Y]").astype(np.int64) + 1970

    @cached_property
    def year_ends(self) -> tuple[np.ndarray, np.ndarray]:
        """(years, day indices) of every 31 December inside the timeline."""
        first = self.start.year
        last = self.date_of(self.days - 1).year
        years, idx = [], []
        for y in range(first, last + 1):
            i = (date(y, 12, 31) - self.start).days
            if 0 <= i < self.days:
                years.append(y)
                idx.append(i)
        return np.array(years, dtype=np.int64), np.array(idx, dtype=np.int64)

    def date_of(self, day: int) -> date:
        """The calendar date of day index ``day``."""
        return self.start + timedelta(days=int(day))

    def index_of(self, when: date) -> int:
        """Day index of ``when`` (negative before the start, ≥ ``days`` after the end)."""
        return (when - self.start).days


def _add_years(start: date, years: float) -> date:
    return start + timedelta(days=round(years * DAYS_PER_YEAR))
