"""What the forecast is about: the hazards still open, as plain numpy arrays.

The caller (the register, or a programme summary) fills :class:`ForecastInputs`; nothing here
touches the database. Arrays are copied and frozen so a forecast cannot change them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from demine.domain.errors import Problem, ValidationError

RECORD = "forecast inputs"


@dataclass(frozen=True, eq=False)
class ForecastInputs:
    """Open hazards on the start date.

    ``area_m2``: remaining (unreleased) area of each hazard. ``hazard_class``: index into
    ``Parameters.class_names`` (0 = SHA, 1 = CHA by default). ``region``: index into
    ``region_names`` (0 for all if there is one region). ``order``: hazard indices in the order
    they will be served, first first (``None``: as given). ``recent_cleared_m2_per_year``: the
    recent clearance rate for the naive "stock ÷ rate" comparison (``None``: the baseline
    capacity's first-year clearance at median productivity).
    """

    area_m2: np.ndarray
    hazard_class: np.ndarray
    region: np.ndarray
    start: date
    order: np.ndarray | None = None
    region_names: tuple[str, ...] = ()
    recent_cleared_m2_per_year: float | None = None

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        area = np.array(self.area_m2, dtype=np.float64, copy=True).reshape(-1)
        n = area.size
        if not np.all(np.isfinite(area)):
            problems.append(Problem(RECORD, "area_m2", "must be finite numbers"))
        elif np.any(area < 0):
            i = int(np.flatnonzero(area < 0)[0])
            problems.append(Problem(RECORD, "area_m2", f"must be ≥ 0 (hazard {i} has {area[i]:g} m²)"))
        cls = _int_array(self.hazard_class, n, "hazard_class", problems)
        reg = _int_array(self.region, n, "region", problems)
        if self.order is None:
            order = np.arange(n, dtype=np.int64)
        else:
            order = np.array(self.order, dtype=np.int64, copy=True).reshape(-1)
            if order.size != n or not np.array_equal(np.sort(order), np.arange(n)):
                problems.append(Problem(RECORD, "order", f"must be a permutation of 0..{n - 1} (each once)"))
        if cls is not None and cls.size and cls.min() < 0:
            problems.append(Problem(RECORD, "hazard_class", "must be ≥ 0"))
        if reg is not None and reg.size and reg.min() < 0:
            problems.append(Problem(RECORD, "region", "must be ≥ 0"))
        names = tuple(self.region_names)
        if reg is not None and names and reg.size and reg.max() >= len(names):
            problems.append(Problem(RECORD, "region", f"index {int(reg.max())} has no entry in region_names"))
        rate = self.recent_cleared_m2_per_year
        if rate is not None and not (np.isfinite(rate) and rate >= 0):
            problems.append(Problem(RECORD, "recent_cleared_m2_per_year", "must be ≥ 0"))
        if problems:
            raise ValidationError(problems)
        for name, arr in (("area_m2", area), ("hazard_class", cls), ("region", reg)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        order.setflags(write=False)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "region_names", names)

    @property
    def n_hazards(self) -> int:
        return int(self.area_m2.size)

    @property
    def n_regions(self) -> int:
        if self.region_names:
            return len(self.region_names)
        return int(self.region.max()) + 1 if self.region.size else 0

    @property
    def stock_m2(self) -> float:
        return float(self.area_m2.sum())

    def region_name(self, r: int) -> str:
        return self.region_names[r] if self.region_names else str(r)


def single_region(
    area_m2: Sequence[float] | np.ndarray,
    start: date,
    hazard_class: Sequence[int] | np.ndarray | None = None,
) -> ForecastInputs:
    """Inputs for hazards all in one region, served in the order given."""
    area = np.asarray(area_m2, dtype=np.float64)
    cls = np.zeros(area.size, dtype=np.int64) if hazard_class is None else hazard_class
    return ForecastInputs(area, np.asarray(cls), np.zeros(area.size, dtype=np.int64), start)


def _int_array(values: object, n: int, name: str, problems: list[Problem]) -> np.ndarray | None:
    arr = np.asarray(values).reshape(-1)
    if arr.size != n:
        problems.append(Problem(RECORD, name, f"has {arr.size} entries, area_m2 has {n}"))
        return None
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        as_int = arr.astype(np.int64)
        if not np.array_equal(as_int, arr):
            problems.append(Problem(RECORD, name, "must be whole numbers"))
            return None
        arr = as_int
    return np.array(arr, dtype=np.int64, copy=True)
