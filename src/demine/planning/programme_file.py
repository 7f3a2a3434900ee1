"""A national programme summary as a TOML file: forecast a country from published annual figures.

An analyst preparing or reviewing an Ottawa Convention Article 5 extension request has
national totals, not a register: the area still suspected or confirmed, what was cancelled,
reduced and cleared each year, perhaps the number of teams. This module reads such a summary
and turns it into a :class:`~demine.planning.prepared.PreparedForecast`, with no database.

Format (dates are TOML dates or ``"YYYY-MM-DD"``; areas in m², ≥ 0; unknown keys are errors)::

    name = "Croatia"
    country = "HRV"
    description = "Mine-suspected area, national totals"
    sources = ["Landmine Monitor, Croatia 2016"]
    start = 2016-01-01             # forecast from this date

    # Remaining area on the start date: by class (SHA: not yet surveyed, CHA: confirmed), or
    # remaining_m2 when the split is unknown (then split as in the latest history year that
    # has one; without any, all of it counts as SHA).
    sha_m2 = 189_000_000
    cha_m2 = 294_000_000

    hazards = 1000                 # optional: pieces the stock is split into (default 1000)
    working_days_per_year = 220    # optional (default 220, planning-figures §7)
    completed_on = 2026-03-01      # optional: when the programme was declared complete
    discovery_years = 10           # optional: new contamination stops after this many years

    [teams]                        # optional: accredited teams on the start date
    manual = 120                   # manual | mdd | mechanical | nts | ts
    mdd = 10

    [[history]]                    # optional: one table per calendar year, oldest first
    year = 2015
    remaining_m2 = 483_000_000     # at the end of the year; or remaining_sha_m2 + remaining_cha_m2
    cancelled_m2 = 27_150_000      # released that year by method ...
    reduced_m2 = 0
    cleared_m2 = 40_600_000
    released_m2 = 67_750_000       # ... or only the total, when the split is unknown
    teams = { manual = 120 }       # optional: teams working that year

Every history year must end before ``start``. How the file becomes a forecast (each step is
reported in the forecast's notes):

* **Stock**: ``sha_m2`` and ``cha_m2`` split into ``hazards`` equal pieces, the two classes
  interleaved in the service order (a national programme works both at once), one region.
* **Release history**: where a year's total is missing but the remaining area is known at both
  ends of a span, the fall of the stock is taken as released (no discoveries assumed; never
  less than a published cleared figure; nothing is inferred where the stock did not fall).
  Where both are known, what the stock grew by beyond the releases is *discovered* area: one
  observation per span of m² found per year (floored at 0.1 % of the stock: a span where the
  estimate shrank by more than the releases found nothing new), expressed as a share of the
  forecast's starting stock, as the model uses it.
* **Funnel**: spans with the class split and the methods show what share of the SHA surveyed
  was cancelled and how confirmed land ended, reduced or cleared (:meth:`_class_flows`);
  otherwise the years by method shift the prior shares (steady state assumed). Either way 10
  pseudo-hazards per year of figures, as in :func:`~demine.planning.calibrate.calibrate`.
* **Capacity**: each year's national output per stage — the land NTS surveyed (cancelled ÷
  the cancelled share), the land TS worked (reduced ÷ the reduced share of what NTS left),
  the land cleared; a total without a split is spread by the funnel — is one observation of
  the stage's m² per team-day: output ÷ (teams × working days) where team counts are known
  (a year's ``teams``, or ``[teams]`` for the last three years of history when no year has
  its own); otherwise the stage's recent output (mean of the last three years) becomes team
  equivalents of a reference type (manual for clearance, nts, ts) at the prior median
  productivity. These observations calibrate productivity like daily progress reports: the
  year-to-year spread becomes the uncertainty. A stage with neither teams nor output is an
  error (it could never finish).
* **Naive rate**: mean cleared m² of the last three years with a cleared figure (without one,
  of the total released).
* **How long discoveries go on**: ``discovery_years``; by default, when discoveries were
  measured, as long again as the figures go back (from 1 January of the first history year to
  the start), as for the register (:mod:`.register_history`); otherwise the whole horizon.

:meth:`Programme.prepare` with ``at=YEAR`` uses only the years up to ``YEAR`` and starts on
1 January of the next year from that year's remaining area: the basis of
:mod:`demine.planning.backtest`. ``[teams]`` then does not count (it describes the file's start
date, which is after ``YEAR``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from demine.domain.errors import DemineError, Problem
from demine.planning.calibrate import History, calibrate
from demine.planning.capacity import CapacityPlan, Season
from demine.planning.inputs import ForecastInputs
from demine.planning.parameters import (
    STAGE_OF,
    STAGES,
    TEAM_TYPES,
    WORKING_DAYS_PER_YEAR,
    Parameters,
    default_parameters,
)
from demine.planning.prepared import PreparedForecast
from demine.planning.scenario import _Checker, _show
from demine.planning.timeline import DAYS_PER_YEAR

DEFAULT_HAZARDS = 1000
MAX_HAZARDS = 100_000
RECENT_YEARS = 3
WEIGHT_PER_YEAR = 10  # pseudo-hazards per year of funnel evidence, as calibrate() gives annual totals
REFERENCE_TYPE = {"nts": "nts", "ts": "ts", "clearance": "manual"}
MIN_DISCOVERY_SHARE = 0.001  # a span in which the estimate shrank beyond the releases found ~nothing
MIN_SHARE = 0.05  # below this a stage's release share is too small to scale its output by
AGREE = 0.01  # a total and its parts may differ by rounding, not more

TOP_KEYS = {
    "name",
    "country",
    "description",
    "sources",
    "start",
    "sha_m2",
    "cha_m2",
    "remaining_m2",
    "hazards",
    "working_days_per_year",
    "completed_on",
    "discovery_years",
    "teams",
    "history",
}
YEAR_KEYS = {
    "year",
    "remaining_m2",
    "remaining_sha_m2",
    "remaining_cha_m2",
    "cancelled_m2",
    "reduced_m2",
    "cleared_m2",
    "released_m2",
    "teams",
    "note",
}
METHODS = ("cancelled", "reduced", "cleared")


class ProgrammeError(DemineError):
    """A programme file is wrong; every problem names the key and says why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class ProgrammeYear:
    """One calendar year of published figures (``None``: not published)."""

    year: int
    remaining_m2: float | None = None  # at the end of the year
    remaining_sha_m2: float | None = None
    remaining_cha_m2: float | None = None
    cancelled_m2: float | None = None
    reduced_m2: float | None = None
    cleared_m2: float | None = None
    released_m2: float | None = None  # the total, given or the sum of the three methods
    teams: Mapping[str, float] | None = None

    @property
    def has_split(self) -> bool:
        """Released area is known by method."""
        return None not in (self.cancelled_m2, self.reduced_m2, self.cleared_m2)

    @property
    def has_class_split(self) -> bool:
        return self.remaining_sha_m2 is not None and self.remaining_cha_m2 is not None


@dataclass(frozen=True)
class Programme:
    """A national programme summary (see the module docstring for the file format)."""

    start: date
    sha_m2: float
    cha_m2: float
    class_known: bool = True
    name: str = "programme"
    country: str = ""
    description: str = ""
    sources: tuple[str, ...] = ()
    hazards: int = DEFAULT_HAZARDS
    working_days_per_year: float = WORKING_DAYS_PER_YEAR
    teams: Mapping[str, float] | None = None
    history: tuple[ProgrammeYear, ...] = ()
    completed_on: date | None = None
    discovery_years: float | None = None
    path: str = "programme"

    def year(self, y: int) -> ProgrammeYear | None:
        """The history row of calendar year ``y``, if any."""
        return next((r for r in self.history if r.year == y), None)

    def prepare(self, at: int | None = None, *, priors: Parameters | None = None) -> PreparedForecast:
        """The forecast from the file's start (``at=None``) or from 1 January after year ``at``."""
        return _Preparation(self, at, priors or default_parameters()).run()


def load_programme(path: str | Path) -> Programme:
    """Read and check a programme summary TOML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProgrammeError([Problem(str(p), "(file)", f"cannot read: {exc.strerror}")]) from exc
    return parse_programme(text, source=str(p))


def parse_programme(text: str, source: str = "programme") -> Programme:
    """Parse programme TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProgrammeError([Problem(source, "(syntax)", f"not valid TOML: {exc}")]) from exc
    return programme_from_dict(data, source)


def programme_from_dict(data: Mapping[str, Any], source: str = "programme") -> Programme:
    """Build a :class:`Programme` from parsed TOML, collecting every problem before raising."""
    c = _Checker(source)
    c.unknown(data, "", TOP_KEYS)
    name = c.text(data, "", "name", default="programme") or "programme"
    country = c.text(data, "", "country", default="") or ""
    description = c.text(data, "", "description", default="") or ""
    sources = _sources(c, data.get("sources", []))
    start = c.date(data, "", "start", required=True)
    area = {"check": lambda x: x >= 0, "rule": "≥ 0 m²"}
    sha = c.number(data, "", "sha_m2", default=None, **area)
    cha = c.number(data, "", "cha_m2", default=None, **area)
    total = c.number(data, "", "remaining_m2", default=None, **area)
    class_known = sha is not None or cha is not None
    if class_known:
        sha, cha = sha or 0.0, cha or 0.0
        if total is not None and not _agree(total, sha + cha):
            c.problem("remaining_m2", f"{total:,.0f} m² is not sha_m2 + cha_m2 = {sha + cha:,.0f} m²")
    elif total is not None:
        sha, cha = total, 0.0
    n0 = len(c.problems)
    if not any(k in data for k in ("sha_m2", "cha_m2", "remaining_m2")):
        c.problem(
            "sha_m2", "is required: the remaining area on the start date (sha_m2, cha_m2 or remaining_m2)"
        )
    elif len(c.problems) == n0 and (sha or 0.0) + (cha or 0.0) <= 0:
        c.problem("sha_m2", "the remaining area on the start date is 0: there is nothing to forecast")
    hazards = c.number(
        data,
        "",
        "hazards",
        default=float(DEFAULT_HAZARDS),
        check=lambda x: x == int(x) and 1 <= x <= MAX_HAZARDS,
        rule=f"a whole number from 1 to {MAX_HAZARDS:,}",
    )
    days = c.number(
        data,
        "",
        "working_days_per_year",
        default=WORKING_DAYS_PER_YEAR,
        check=lambda x: 0 < x <= 365.25,
        rule="> 0 and ≤ 365.25",
    )
    completed = c.date(data, "", "completed_on", required=False)
    discovery_years = c.number(data, "", "discovery_years", default=None, check=lambda x: x >= 0, rule="≥ 0")
    teams = _teams(c, data.get("teams"), "teams") if "teams" in data else None
    history = _history(c, data, start)
    if completed is not None and history and completed < date(history[0].year, 1, 1):
        c.problem("completed_on", f"{completed} is before the first history year {history[0].year}")
    if c.problems:
        raise ProgrammeError(c.problems)
    assert start is not None and sha is not None and cha is not None
    return Programme(
        start=start,
        sha_m2=sha,
        cha_m2=cha,
        class_known=class_known,
        name=name,
        country=country,
        description=description,
        sources=sources,
        hazards=int(hazards or DEFAULT_HAZARDS),
        working_days_per_year=days or WORKING_DAYS_PER_YEAR,
        teams=teams,
        history=history,
        completed_on=completed,
        discovery_years=discovery_years,
        path=source,
    )


# --- parsing helpers -------------------------------------------------------------------------


def _sources(c: _Checker, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    c.problem("sources", f"must be a string or a list of strings, got {_show(value)}")
    return ()


def _teams(c: _Checker, value: Any, where: str) -> dict[str, float] | None:
    if not isinstance(value, Mapping):
        c.problem(
            where, f"must be a table of team counts by type, like {{ manual = 40 }}, got {_show(value)}"
        )
        return None
    n0 = len(c.problems)
    out = {}
    for key in value:
        if key not in TEAM_TYPES:
            c.problem(f"{where}.{key}", f"unknown team type; expected one of {', '.join(TEAM_TYPES)}")
            continue
        x = c.number(value, where, key, check=lambda v: v >= 0, rule="≥ 0")
        if x is not None:
            out[key] = x
    return out if len(c.problems) == n0 else None


def _history(c: _Checker, data: Mapping[str, Any], start: date | None) -> tuple[ProgrammeYear, ...]:
    rows = []
    previous: int | None = None
    area = {"default": None, "check": lambda x: x >= 0, "rule": "≥ 0 m²"}
    for i, t in c.tables(data, "history"):
        where = f"history[{i}]"
        n0 = len(c.problems)
        c.unknown(t, where, YEAR_KEYS)
        year = c.number(
            t, where, "year", check=lambda x: x == int(x) and 1900 <= x <= 2200, rule="a year like 2015"
        )
        values = {k: c.number(t, where, k, **area) for k in sorted(YEAR_KEYS - {"year", "teams", "note"})}
        if "note" in t and not isinstance(t["note"], str):
            c.problem(f"{where}.note", f"must be a string, got {_show(t['note'])}")
        teams = _teams(c, t["teams"], f"{where}.teams") if "teams" in t else None
        if year is not None:
            y = int(year)
            if previous is not None and y <= previous:
                c.problem(f"{where}.year", f"{y} must come after {previous} (years in increasing order)")
            elif start is not None and date(y, 12, 31) >= start:
                c.problem(f"{where}.year", f"{y} does not end before start {start}")
            previous = y
        split = [values[f"{m}_m2"] for m in METHODS]
        released = values["released_m2"]
        if None not in split:
            parts = sum(split)  # type: ignore[arg-type]
            if released is not None and not _agree(released, parts):
                c.problem(
                    f"{where}.released_m2",
                    f"{released:,.0f} m² is not cancelled + reduced + cleared = {parts:,.0f} m²",
                )
            released = parts if released is None else released
        sha, cha, remaining = (values[k] for k in ("remaining_sha_m2", "remaining_cha_m2", "remaining_m2"))
        if (sha is None) != (cha is None):
            missing = "remaining_cha_m2" if cha is None else "remaining_sha_m2"
            c.problem(
                f"{where}.{missing}", "give both remaining_sha_m2 and remaining_cha_m2, or remaining_m2"
            )
        elif sha is not None and cha is not None:
            if remaining is not None and not _agree(remaining, sha + cha):
                c.problem(
                    f"{where}.remaining_m2",
                    f"{remaining:,.0f} m² is not remaining_sha_m2 + remaining_cha_m2 = {sha + cha:,.0f} m²",
                )
            remaining = sha + cha if remaining is None else remaining
        if len(c.problems) > n0 or year is None:
            continue
        rows.append(
            ProgrammeYear(
                year=int(year),
                remaining_m2=remaining,
                remaining_sha_m2=sha,
                remaining_cha_m2=cha,
                cancelled_m2=split[0],
                reduced_m2=split[1],
                cleared_m2=split[2],
                released_m2=released,
                teams=teams,
            )
        )
    return tuple(rows)


def _agree(a: float, b: float) -> bool:
    return abs(a - b) <= AGREE * max(abs(a), abs(b)) + 1.0


# --- from figures to a forecast --------------------------------------------------------------


@dataclass
class _Year:
    """One year's national output, as used for calibration (``None``: unknown)."""

    year: int
    released: float | None = None
    inferred: bool = False  # released taken from the decrease of the stock
    output: dict[str, float | None] = field(default_factory=dict)  # per stage


class _Preparation:
    """Turns a :class:`Programme` (up to year ``at``) into a :class:`PreparedForecast`."""

    def __init__(self, programme: Programme, at: int | None, priors: Parameters) -> None:
        self.p = programme
        self.at = at
        self.priors = priors
        self.notes: list[str] = []
        self.warnings: list[str] = []

    def run(self) -> PreparedForecast:
        p, at = self.p, self.at
        if at is None:
            start, sha, cha = p.start, p.sha_m2, p.cha_m2
            if not p.class_known:
                sha, cha = self._split(p.sha_m2 + p.cha_m2, start.year - 1)
            rows = list(p.history)
            teams_now = dict(p.teams) if p.teams is not None else None
        else:
            start, sha, cha = self._backtest_start(at)
            rows = [r for r in p.history if r.year <= at]
            teams_now = next((dict(r.teams) for r in reversed(rows) if r.teams is not None), None)
        years = self._years(rows)
        funnel_history = History(
            years=[r.year for r in rows if r.has_split],
            cancelled_m2=[r.cancelled_m2 for r in rows if r.has_split],
            reduced_m2=[r.reduced_m2 for r in rows if r.has_split],
            cleared_m2=[r.cleared_m2 for r in rows if r.has_split],
            release_by_class=self._class_flows(rows),
        )
        shares = self._mean_shares(calibrate(funnel_history, self.priors), sha, cha)
        self._stage_outputs(rows, years, shares)
        teams, samples, sources = self._capacity(rows, years, teams_now)
        found, stock = self._discoveries(rows)
        history = History(
            years=funnel_history.years,
            cancelled_m2=funnel_history.cancelled_m2,
            reduced_m2=funnel_history.reduced_m2,
            cleared_m2=funnel_history.cleared_m2,
            discovered_m2=found,
            stock_m2=stock,
            productivity=samples,
            release_by_class=funnel_history.release_by_class,
        )
        parameters = calibrate(history, self.priors, stock_m2=sha + cha)
        parameters = parameters.replace(sources={**parameters.sources, **sources})
        discovery_years = p.discovery_years
        if discovery_years is None and found and rows:
            # As long again as the figures have been recorded (see the register's rule).
            discovery_years = round((start - date(rows[0].year, 1, 1)).days / DAYS_PER_YEAR, 1)
        if discovery_years is not None:
            parameters = parameters.replace(new_contamination_years=discovery_years)
        naive = self._naive_rate(rows, years)
        inputs = self._inputs(start, sha, cha, naive)
        capacity = CapacityPlan(
            teams=teams,
            seasons={t: Season(working_days_per_year=p.working_days_per_year) for t in TEAM_TYPES},
        )
        self._funnel_notes(funnel_history, parameters)
        share = parameters.new_contamination_share_per_year
        until = (
            "for the whole horizon"
            if discovery_years is None
            else f"for {discovery_years:g} years"
            + (" (discovery_years)" if p.discovery_years is not None else " (as long as the figures go back)")
        )
        if found:
            self.notes.append(
                f"new contamination: {len(found)} span(s) of stock and release figures → median "
                f"{share.median:.1%} of the stock per year, {until}"
            )
        else:
            self.notes.append(
                f"new contamination: no span with both stock and release figures; prior "
                f"{share.median:.0%} of the stock per year, {until}"
            )
        label = f"programme file {p.path}" + (f" (backtest at {at})" if at is not None else "")
        return PreparedForecast(
            source=label,
            inputs=inputs,
            parameters=parameters,
            capacity=capacity,
            history=history,
            notes=(self._stock_note(start, sha, cha), *self.notes),
            warnings=tuple(self.warnings),
        )

    # -- stock ---------------------------------------------------------------------------------

    def _backtest_start(self, at: int) -> tuple[date, float, float]:
        p = self.p
        row = p.year(at)
        if row is None or row.remaining_m2 is None:
            known = [str(r.year) for r in p.history if r.remaining_m2 is not None]
            raise ProgrammeError(
                [
                    Problem(
                        p.path,
                        "history",
                        f"no remaining area at the end of {at} to start a backtest from "
                        f"(years with remaining_m2: {', '.join(known) or 'none'})",
                    )
                ]
            )
        if row.has_class_split:
            return date(at + 1, 1, 1), float(row.remaining_sha_m2), float(row.remaining_cha_m2)  # type: ignore[arg-type]
        sha, cha = self._split(float(row.remaining_m2), at)
        return date(at + 1, 1, 1), sha, cha

    def _split(self, total: float, year: int) -> tuple[float, float]:
        """``total`` split by class as in the latest year up to ``year`` with a split (or the start's)."""
        p = self.p
        ref = next((r for r in reversed(p.history) if r.year <= year and r.has_class_split), None)
        if ref is not None and ref.remaining_m2:
            cha_share = float(ref.remaining_cha_m2) / ref.remaining_m2  # type: ignore[arg-type]
            self.notes.append(f"class split taken from {ref.year} (CHA {cha_share:.0%})")
        elif p.class_known:
            cha_share = p.cha_m2 / (p.sha_m2 + p.cha_m2)
            self.notes.append(f"class split taken from the start date (CHA {cha_share:.0%})")
        else:
            cha_share = 0.0
            self.notes.append("class split unknown: all remaining area counted as SHA")
        return total * (1 - cha_share), total * cha_share

    def _inputs(self, start: date, sha: float, cha: float, naive: float | None) -> ForecastInputs:
        n = self.p.hazards
        total = sha + cha
        n_cha = 0 if cha <= 0 else max(1, round(n * cha / total))
        n_sha = 0 if sha <= 0 else max(1, n - n_cha)
        area = np.concatenate([np.full(n_sha, sha / max(n_sha, 1)), np.full(n_cha, cha / max(n_cha, 1))])
        cls = np.concatenate([np.zeros(n_sha, np.int64), np.ones(n_cha, np.int64)])
        # Interleave the classes: the k-th of n pieces is served at (k + ½)/n of the way.
        key = np.concatenate(
            [(np.arange(n_sha) + 0.5) / max(n_sha, 1), (np.arange(n_cha) + 0.5) / max(n_cha, 1)]
        )
        return ForecastInputs(
            area_m2=area,
            hazard_class=cls,
            region=np.zeros(area.size, np.int64),
            start=start,
            order=np.argsort(key, kind="stable"),
            region_names=(self.p.name,),
            recent_cleared_m2_per_year=naive,
        )

    def _stock_note(self, start: date, sha: float, cha: float) -> str:
        split = f"SHA {sha / 1e6:,.2f} km², CHA {cha / 1e6:,.2f} km²"
        return (
            f"stock: {(sha + cha) / 1e6:,.2f} km² on {start} ({split}), split into "
            f"{self.p.hazards:,} equal pieces"
        )

    # -- release history -----------------------------------------------------------------------

    def _years(self, rows: list[ProgrammeYear]) -> dict[int, _Year]:
        """Released area per year: given, or inferred from the decrease of the stock.

        Over a span between two known stocks, the decrease not accounted for by the years with
        a published total is shared evenly among the years without one — but never less than a
        year's published cleared area. When the stock did not fall by at least the published
        figures, something was discovered and the span says nothing about releases: its years
        stay unknown.
        """
        by_year = {r.year: r for r in rows}
        years = {r.year: _Year(r.year, r.released_m2) for r in rows}
        with_stock = [r for r in rows if r.remaining_m2 is not None]
        inferred, skipped = [], []
        for r0, r1 in pairwise(with_stock):
            span = range(r0.year + 1, r1.year + 1)
            known = sum(years[y].released for y in span if y in years and years[y].released is not None)
            unknown = [y for y in span if y not in years or years[y].released is None]
            if not unknown:
                continue
            floor = {y: (by_year[y].cleared_m2 or 0.0) if y in by_year else 0.0 for y in unknown}
            drop = r0.remaining_m2 - r1.remaining_m2 - known  # type: ignore[operator]
            if drop <= 0 or drop < sum(floor.values()):
                skipped.append(f"{r0.year}–{r1.year}")
                continue
            for y, share in _fill(drop, floor).items():
                years.setdefault(y, _Year(y))
                years[y].released, years[y].inferred = share, True
                inferred.append(y)
        if inferred:
            self.notes.append(
                "released area inferred from the decrease of the stock (no discoveries assumed) in "
                + _years_text(inferred)
            )
        if skipped:
            self.notes.append(
                "stock fell by less than the published releases (or grew) over "
                + ", ".join(skipped)
                + ": nothing inferred there"
            )
        return dict(sorted(years.items()))

    def _class_flows(self, rows: list[ProgrammeYear]) -> dict[int, np.ndarray]:
        """Funnel observations per class from spans with the class split and the method split.

        SHA is land not yet surveyed, CHA land confirmed (IMAS): over a span, the SHA surveyed
        is what NTS cancelled plus what flowed into CHA (CHA's change plus what TS reduced and
        clearance cleared), and that inflow ends reduced or cleared in the proportion seen.
        Annual release shares alone would mislead when stages run at different paces (NTS
        racing through a backlog releases mostly cancelled land for a few years): this reads
        the shares off the stock itself. Each year of a span counts ``WEIGHT_PER_YEAR``
        pseudo-hazards, as annual totals do in :func:`calibrate`.
        """
        by_year = {r.year: r for r in rows}
        split_rows = [r for r in rows if r.has_class_split]
        prior_cha = self.priors.funnel[1]
        out: dict[int, list[tuple[float, float, float]]] = {0: [], 1: []}
        spans = []
        for r0, r1 in pairwise(split_rows):
            span = range(r0.year + 1, r1.year + 1)
            if not all(y in by_year and by_year[y].has_split for y in span):
                continue
            c = sum(float(by_year[y].cancelled_m2) for y in span)  # type: ignore[arg-type]
            r = sum(float(by_year[y].reduced_m2) for y in span)  # type: ignore[arg-type]
            k = sum(float(by_year[y].cleared_m2) for y in span)  # type: ignore[arg-type]
            inflow = max(0.0, float(r1.remaining_cha_m2) - float(r0.remaining_cha_m2) + r + k)  # type: ignore[arg-type]
            if c + inflow <= 0:
                continue
            g = k / (r + k) if r + k > 0 else prior_cha.cleared / (prior_cha.reduced + prior_cha.cleared)
            n = round(WEIGHT_PER_YEAR * len(span))
            out[0] += [(c / n, inflow * (1 - g) / n, inflow * g / n)] * n
            if r + k > 0:
                # CHA cancellations are not told apart from SHA ones: keep the prior's share.
                c_cha = prior_cha.cancelled / (1 - prior_cha.cancelled) * (r + k)
                out[1] += [(c_cha / n, r / n, k / n)] * n
            spans.append(f"{r0.year}–{r1.year}")
        if spans:
            self.notes.append(
                f"funnel: SHA surveyed and CHA flows read from the class split over {', '.join(spans)}"
            )
        return {cls: np.asarray(v) for cls, v in out.items() if v}

    def _mean_shares(self, parameters: Parameters, sha: float, cha: float) -> np.ndarray:
        """The funnel's mean shares, weighted by the stock's class mix."""
        weights = np.array([sha, cha]) / (sha + cha)
        return sum(w * np.asarray(f.mean) for w, f in zip(weights, parameters.funnel[:2], strict=True))

    def _stage_outputs(self, rows: list[ProgrammeYear], years: dict[int, _Year], shares: np.ndarray) -> None:
        """Each year's output per stage: the land each stage worked through (model units).

        NTS surveys all of a hazard and cancels the share ``c``; TS works the rest and reduces
        the share ``1 − g`` of it; clearance clears the remainder. So the land a stage worked is
        what it released divided by its share — cancelled ÷ c̄ for NTS, reduced ÷ (1 − ḡ) for
        TS — and never less than what a later stage released the same year. This holds when
        stages run at different paces (NTS can race through a backlog while clearance plods);
        a total without a split can only be spread by the funnel (steady state).
        """
        c_bar = float(shares[0])
        g_bar = float(shares[2] / (shares[1] + shares[2])) if shares[1] + shares[2] > 0 else 1.0
        by_year = {r.year: r for r in rows}
        for y, yr in years.items():
            r = by_year.get(y)
            t = yr.released
            if r is not None and r.has_split:
                c, red, k = (float(v) for v in (r.cancelled_m2, r.reduced_m2, r.cleared_m2))  # type: ignore[arg-type]
                cl = k
                ts = max(red / (1 - g_bar), k) if 1 - g_bar > MIN_SHARE else red + k
                nts = max(c / c_bar, t or 0.0) if c_bar > MIN_SHARE else t
            else:
                nts = t
                ts = None if t is None else t * (1 - c_bar)
                cl = r.cleared_m2 if r is not None and r.cleared_m2 is not None else None
                if cl is None and t is not None:
                    cl = t * float(shares[2])
            # Land cleared went through TS, and land through TS went through NTS.
            if cl is not None and ts is not None:
                ts = max(ts, cl)
            if ts is not None and nts is not None:
                nts = max(nts, ts)
            yr.output = {"nts": nts, "ts": ts, "clearance": cl}

    # -- capacity ------------------------------------------------------------------------------

    def _capacity(
        self, rows: list[ProgrammeYear], years: dict[int, _Year], teams_now: dict[str, float] | None
    ) -> tuple[dict[str, float], dict[str, list[float]], dict[str, str]]:
        """Teams per type on the start date and productivity samples (m²/team-day) per type."""
        p, priors = self.p, self.priors
        wd = p.working_days_per_year
        row_teams = {r.year: r.teams for r in rows if r.teams is not None}
        teams: dict[str, float] = {}
        samples: dict[str, list[float]] = {}
        sources: dict[str, str] = {}
        problems = []
        for stage in STAGES:
            types = [k for k in TEAM_TYPES if STAGE_OF[k] == stage]
            observed = [(y, yr.output[stage]) for y, yr in years.items() if yr.output.get(stage) is not None]
            now = {k: (teams_now or {}).get(k, 0.0) for k in types}
            if sum(now.values()) > 0:
                teams.update(now)
                # Team counts per year: the year's own, else (forecast mode, no year has any)
                # the start's counts for the recent years.
                known = {y: row_teams[y] for y, _ in observed if y in row_teams}
                if not row_teams and self.at is None:
                    known = {y: now for y, _ in observed[-RECENT_YEARS:]}
                used = []
                for y, x in observed:
                    if y not in known:
                        continue
                    expected = sum(priors.productivity[k].median * known[y].get(k, 0.0) * wd for k in types)
                    if expected > 0 and x is not None and x > 0:
                        for k in types:
                            if now[k] > 0:
                                samples.setdefault(k, []).append(priors.productivity[k].median * x / expected)
                        used.append(y)
                if used:
                    for k in types:
                        if now[k] > 0:
                            sources[f"productivity.{k}"] = (
                                f"scaled to the national {stage} output of {_years_text(used)} "
                                f"per team (prior: {priors.sources.get(f'productivity.{k}', 'default')})"
                            )
                    self.notes.append(
                        f"{stage}: {_teams_text(now)} on the start date; productivity scaled to the "
                        f"output of {_years_text(used)}"
                    )
                else:
                    self.notes.append(f"{stage}: {_teams_text(now)}; no output figures: prior productivity")
                continue
            recent = [(y, x) for y, x in observed if x is not None and x > 0][-RECENT_YEARS:]
            if not recent:
                problems.append(
                    Problem(
                        p.path,
                        f"teams.{REFERENCE_TYPE[stage]}",
                        f"no {stage} teams given and no released area in the history to infer "
                        f"{stage} capacity from",
                    )
                )
                continue
            ref = REFERENCE_TYPE[stage]
            median = priors.productivity[ref].median
            mean = float(np.mean([x for _, x in recent]))
            teams[ref] = mean / (median * wd)
            samples[ref] = [median * x / mean for _, x in recent]
            used_years = [y for y, _ in recent]
            sources[f"productivity.{ref}"] = (
                f"national {stage} output of {_years_text(used_years)} as {teams[ref]:,.1f} team "
                f"equivalents at {median:,.0f} m²/team-day; spread from the years"
            )
            self.notes.append(
                f"{stage}: no team counts; output of {_years_text(used_years)} "
                f"({mean / 1e6:,.2f} km²/yr) ≈ {teams[ref]:,.1f} {ref} team equivalents"
            )
        if problems:
            raise ProgrammeError(problems)
        return teams, samples, sources

    def _discoveries(self, rows: list[ProgrammeYear]) -> tuple[list[float], list[float]]:
        """Per span of known stock and releases: area found per year, and the stock at its start."""
        by_year = {r.year: r for r in rows}
        with_stock = [r for r in rows if r.remaining_m2 is not None]
        found, stock = [], []
        for r0, r1 in pairwise(with_stock):
            span = range(r0.year + 1, r1.year + 1)
            released = [by_year[y].released_m2 if y in by_year else None for y in span]
            if None in released or not r0.remaining_m2:
                continue
            grew = r1.remaining_m2 - r0.remaining_m2 + sum(released)  # type: ignore[operator, arg-type]
            per_year = grew / len(span)
            found.append(max(per_year, MIN_DISCOVERY_SHARE * r0.remaining_m2))
            stock.append(float(r0.remaining_m2))
        return found, stock

    def _naive_rate(self, rows: list[ProgrammeYear], years: dict[int, _Year]) -> float | None:
        cleared = [(r.year, r.cleared_m2) for r in rows if r.cleared_m2 is not None][-RECENT_YEARS:]
        if cleared:
            return float(np.mean([x for _, x in cleared]))
        released = [(y, yr.released) for y, yr in years.items() if yr.released is not None][-RECENT_YEARS:]
        if released:
            used = _years_text([y for y, _ in released])
            self.notes.append(f"naive rate: no cleared figures, so the total released of {used}")
            return float(np.mean([x for _, x in released]))
        return None

    def _funnel_notes(self, funnel_history: History, parameters: Parameters) -> None:
        n = len(funnel_history.years)
        if funnel_history.release_by_class:
            shares = ", ".join(
                f"{name} {f.cancelled:.0%}/{f.reduced:.0%}/{f.cleared:.0%}"
                for name, f in zip(parameters.class_names, parameters.funnel, strict=True)
            )
            self.notes.append(f"funnel (cancelled/reduced/cleared) → {shares}")
            return
        if not n:
            self.notes.append("funnel: no year with released area by method; prior shares kept")
            return
        shares = ", ".join(
            f"{name} {f.cancelled:.0%}/{f.reduced:.0%}/{f.cleared:.0%}"
            for name, f in zip(parameters.class_names, parameters.funnel, strict=True)
        )
        self.notes.append(
            f"funnel (cancelled/reduced/cleared): {n} year(s) by method ({_years_text(funnel_history.years)})"
            f" → {shares}"
        )


def _fill(total: float, floor: dict[int, float]) -> dict[int, float]:
    """Share ``total`` evenly among the years, none below its floor (Σ floors ≤ total)."""
    out: dict[int, float] = {}
    free = dict(floor)
    left = total
    while free:
        even = left / len(free)
        high = {y: f for y, f in free.items() if f > even}
        if not high:
            out.update({y: even for y in free})
            break
        for y, f in high.items():
            out[y] = f
            left -= f
            del free[y]
    return out


def _years_text(years: list[int]) -> str:
    """``2012, 2014–2016`` for a list of years."""
    ys = sorted(set(int(y) for y in years))
    if not ys:
        return "no year"
    runs, first, last = [], ys[0], ys[0]
    for y in ys[1:]:
        if y == last + 1:
            last = y
            continue
        runs.append((first, last))
        first = last = y
    runs.append((first, last))
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def _teams_text(teams: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in teams.items() if v) or "no teams"
