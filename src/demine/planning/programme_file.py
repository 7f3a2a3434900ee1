"""A national programme summary as a TOML file: published annual figures, read and checked.

An analyst preparing or reviewing an Ottawa Convention Article 5 extension request has
national totals, not a register: the area still suspected or confirmed, what was cancelled,
reduced and cleared each year, perhaps the number of teams. This module reads such a summary
(and the files of the corpus in ``data/national-series``, which use the same format) into a
:class:`Programme`; :mod:`.national` turns it into a forecast.

Format (dates are TOML dates or ``"YYYY-MM-DD"``; every area is ``≥ 0`` and may be given in m²
(``*_m2``) or km² (``*_km2``), not both; unknown keys are errors)::

    name = "Croatia"
    country = "HRV"
    scope = "mine-suspected area (SHA + CHA)"   # optional: what the stock counts
    description = "Mine-suspected area, national totals"
    sources = ["Landmine Monitor, Croatia 2016"]  # optional: free-text sources

    start = 2016-01-01             # forecast from this date (optional, see below)

    # Remaining area on the start date: by class (SHA: not yet surveyed, CHA: confirmed), or
    # remaining_m2 when the split is unknown.
    sha_m2 = 189_000_000
    cha_m2 = 294_000_000

    hazards = 1000                 # optional: pieces the stock is split into (default 1000)
    working_days_per_year = 220    # optional (default 220)
    completed_on = 2026-03-01      # optional: when the programme was declared complete
    completed_source = "LM2026"    # optional: the reference that says so
    discovery_years = 10           # optional: new contamination stops after this many years

    [teams]                        # optional: accredited teams on the start date
    manual = 120                   # manual | mdd | mechanical | nts | ts
    mdd = 10

    [references]                   # optional: sources by key, for the rows' `source`
    LM2016 = "Landmine Monitor 2016, Croatia: Mine Action, http://www.the-monitor.org/..."
    LM2026 = "Landmine Monitor 2026, Croatia: Mine Action, http://www.the-monitor.org/..."

    [[history]]                    # optional: one table per calendar year, oldest first
    year = 2015
    remaining_m2 = 483_000_000     # at the end of the year; or remaining_sha_m2 + remaining_cha_m2
    remaining_on = 2016-04-30      # optional: the stock's date when it is not 31 December
    cancelled_m2 = 27_150_000      # released that year by method ...
    reduced_m2 = 0
    cleared_m2 = 40_600_000
    reduced_cleared_m2 = 40_600_000  # ... or reduced + cleared together
    released_m2 = 67_750_000       # ... or only the total, when the split is unknown
    added_m2 = 0                   # new hazardous area recorded that year
    revised_m2 = 0                 # change of the estimate that is not release (− = cut)
    series_break = false           # the stock is not comparable with the previous one
    teams = { manual = 120 }       # optional: teams working that year
    source = "LM2016"              # reference key(s), or { remaining_m2 = "LM2016", ... }
    evidence = "483 km² ... at the end of 2015"   # the phrase the figures were read from
    note = "..."

**Start.** With ``start`` and the stock, the forecast starts there and every history year
must end before it. Without both, it starts the day after the latest stock figure (31
December of its year, or its ``remaining_on``), from that figure; later rows (release figures
published after the last stock) are kept, and used only by backtests, as later figures.

A dated stock (``remaining_on``) belongs to the row of the year whose 31 December is nearest:
it must lie between 1 July of ``year`` and 30 June of the next year. A row's parts and totals
must agree (``released = cancelled + reduced + cleared``, ``reduced_cleared = reduced +
cleared``, ``remaining = sha + cha``), up to 1 % rounding.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demine.domain.errors import DemineError, Problem
from demine.planning.parameters import TEAM_TYPES, WORKING_DAYS_PER_YEAR, Parameters
from demine.planning.scenario import _Checker, _show

if TYPE_CHECKING:
    from demine.planning.prepared import PreparedForecast

DEFAULT_HAZARDS = 1000
MAX_HAZARDS = 100_000
AGREE = 0.01  # a total and its parts may differ by rounding, not more
KM2 = 1e6

TOP_KEYS = {
    "name",
    "country",
    "scope",
    "description",
    "sources",
    "references",
    "start",
    "hazards",
    "working_days_per_year",
    "completed_on",
    "completed_source",
    "discovery_years",
    "teams",
    "history",
}
TOP_AREAS = ("sha", "cha", "remaining")
YEAR_AREAS = (
    "remaining",
    "remaining_sha",
    "remaining_cha",
    "cancelled",
    "reduced",
    "cleared",
    "reduced_cleared",
    "released",
    "added",
)
YEAR_KEYS = {"year", "remaining_on", "revised", "series_break", "teams", "source", "evidence", "note"}
METHODS = ("cancelled", "reduced", "cleared")


def _area_keys(names: tuple[str, ...]) -> set[str]:
    return {f"{n}_{unit}" for n in names for unit in ("m2", "km2")}


class ProgrammeError(DemineError):
    """A programme file is wrong; every problem names the key and says why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class ProgrammeYear:
    """One calendar year of published figures (``None``: not published)."""

    year: int
    remaining_m2: float | None = None  # at the end of the year, or on ``remaining_on``
    remaining_sha_m2: float | None = None
    remaining_cha_m2: float | None = None
    cancelled_m2: float | None = None
    reduced_m2: float | None = None
    cleared_m2: float | None = None
    released_m2: float | None = None  # the total, given or the sum of the three methods
    teams: Mapping[str, float] | None = None
    remaining_on: date | None = None
    reduced_cleared_m2: float | None = None  # given, or reduced + cleared
    added_m2: float | None = None
    revised_m2: float | None = None
    series_break: bool = False
    source: str | Mapping[str, str] | None = None
    evidence: str | None = None
    note: str | None = None

    @property
    def has_split(self) -> bool:
        """Released area is known by method."""
        return None not in (self.cancelled_m2, self.reduced_m2, self.cleared_m2)

    @property
    def has_class_split(self) -> bool:
        return self.remaining_sha_m2 is not None and self.remaining_cha_m2 is not None

    @property
    def stock_date(self) -> date:
        """The date the stock figure refers to (31 December unless ``remaining_on``)."""
        return self.remaining_on or date(self.year, 12, 31)


@dataclass(frozen=True)
class Programme:
    """A national programme summary (see the module docstring for the file format).

    ``start_year``: the last history year the forecast uses (the year of the starting stock
    when the start was derived from it; otherwise the last year before ``start``).
    """

    start: date
    sha_m2: float
    cha_m2: float
    class_known: bool = True
    name: str = "programme"
    country: str = ""
    scope: str = ""
    description: str = ""
    sources: tuple[str, ...] = ()
    references: Mapping[str, str] = field(default_factory=dict)
    hazards: int = DEFAULT_HAZARDS
    working_days_per_year: float = WORKING_DAYS_PER_YEAR
    teams: Mapping[str, float] | None = None
    history: tuple[ProgrammeYear, ...] = ()
    completed_on: date | None = None
    completed_source: str | None = None
    discovery_years: float | None = None
    start_derived: bool = False
    path: str = "programme"

    @property
    def start_year(self) -> int:
        if self.start_derived:
            years = [r.year for r in self.history if r.remaining_m2 is not None and r.stock_date < self.start]
            if years:
                return max(years)
        return self.start.year - 1

    def year(self, y: int) -> ProgrammeYear | None:
        """The history row of calendar year ``y``, if any."""
        return next((r for r in self.history if r.year == y), None)

    def prepare(self, at: int | None = None, *, priors: Parameters | None = None) -> PreparedForecast:
        """The forecast from the file's start (``at=None``) or from the stock of year ``at``.

        ``priors``: the parameters the figures are blended into (default: the pooled priors).
        """
        from demine.planning.national import prepare_programme

        return prepare_programme(self, at, priors)


def load_programme(path: str | Path) -> Programme:
    """Read and check a programme summary TOML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProgrammeError([Problem(str(p), "(file)", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ProgrammeError([Problem(str(p), "(file)", f"not UTF-8 text: {exc.reason}")]) from exc
    return parse_programme(text, source=str(p))


def load_series(path: str | Path) -> Programme:
    """Read a national series (a corpus file): like :func:`load_programme`, but a series that
    ends in completion, or has no stock figure at all, is valid (it is scored, not forecast)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProgrammeError([Problem(str(p), "(file)", f"cannot read: {exc}")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProgrammeError([Problem(str(p), "(syntax)", f"not valid TOML: {exc}")]) from exc
    return programme_from_dict(data, str(p), series=True)


def parse_programme(text: str, source: str = "programme") -> Programme:
    """Parse programme TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProgrammeError([Problem(source, "(syntax)", f"not valid TOML: {exc}")]) from exc
    return programme_from_dict(data, source)


def programme_from_dict(
    data: Mapping[str, Any], source: str = "programme", *, series: bool = False
) -> Programme:
    """Build a :class:`Programme` from parsed TOML, collecting every problem before raising.

    ``series``: a corpus series, which need not have a stock to forecast from (see
    :func:`load_series`).
    """
    c = _Checker(source)
    c.unknown(data, "", TOP_KEYS | _area_keys(TOP_AREAS))
    name = c.text(data, "", "name", default="programme") or "programme"
    country = c.text(data, "", "country", default="") or ""
    scope = c.text(data, "", "scope", default="") or ""
    description = c.text(data, "", "description", default="") or ""
    sources = _sources(c, data.get("sources", []))
    references = _references(c, data.get("references", {}))
    start = c.date(data, "", "start", required=False)
    sha = _area(c, data, "", "sha")
    cha = _area(c, data, "", "cha")
    total = _area(c, data, "", "remaining")
    stock_given = any(k in data for k in _area_keys(TOP_AREAS))
    class_known = sha is not None or cha is not None
    if class_known:
        sha, cha = sha or 0.0, cha or 0.0
        if total is not None and not _agree(total, sha + cha):
            c.problem("remaining_m2", f"{total:,.0f} m² is not sha_m2 + cha_m2 = {sha + cha:,.0f} m²")
    elif total is not None:
        sha, cha = total, 0.0
    if start is None and stock_given:
        c.problem("start", "is required with the remaining area (sha_m2, cha_m2 or remaining_m2)")
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
    completed_source = _source(c, data, "", references, "completed_source")
    discovery_years = c.number(data, "", "discovery_years", default=None, check=lambda x: x >= 0, rule="≥ 0")
    teams = _teams(c, data.get("teams"), "teams") if "teams" in data else None
    history = _history(c, data, start if stock_given else None, references)
    start_derived = False
    if start is not None and not stock_given:
        c.problem(
            "sha_m2",
            "is required with start: the remaining area on the start date (sha_m2, cha_m2 or remaining_m2)",
        )
    elif start is None and not stock_given and not c.problems:
        latest = next((r for r in reversed(history) if r.remaining_m2 is not None), None)
        if series and (latest is None or not latest.remaining_m2):
            last = history[-1].year if history else date.today().year
            start, sha, cha, class_known, start_derived = date(last + 1, 1, 1), 0.0, 0.0, False, True
        elif latest is None:
            c.problem(
                "start",
                "is required: no history year has a remaining area to start from (give start and "
                "sha_m2/cha_m2/remaining_m2, or a remaining_m2 in [[history]])",
            )
        else:
            start = latest.stock_date + timedelta(days=1)
            start_derived = True
            class_known = latest.has_class_split
            if class_known:
                sha, cha = float(latest.remaining_sha_m2), float(latest.remaining_cha_m2)  # type: ignore[arg-type]
            else:
                sha, cha = float(latest.remaining_m2), 0.0  # type: ignore[arg-type]
    if (
        start is not None
        and sha is not None
        and not c.problems
        and (sha or 0.0) + (cha or 0.0) <= 0
        and not series
    ):
        c.problem("sha_m2", "the remaining area on the start date is 0: there is nothing to forecast")
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
        scope=scope,
        description=description,
        sources=sources,
        references=references,
        hazards=int(hazards or DEFAULT_HAZARDS),
        working_days_per_year=days or WORKING_DAYS_PER_YEAR,
        teams=teams,
        history=history,
        completed_on=completed,
        completed_source=completed_source,
        discovery_years=discovery_years,
        start_derived=start_derived,
        path=source,
    )


# --- parsing helpers -------------------------------------------------------------------------


def _area(c: _Checker, table: Mapping[str, Any], where: str, name: str) -> float | None:
    """An area given as ``name_m2`` or ``name_km2`` (in m²; ``None`` if neither)."""
    m2, km2 = f"{name}_m2", f"{name}_km2"
    if m2 in table and km2 in table:
        c.problem(f"{where}.{km2}" if where else km2, f"give {m2} or {km2}, not both")
        return None
    if km2 in table:
        x = c.number(table, where, km2, check=lambda v: v >= 0, rule="≥ 0 km²")
        return None if x is None else x * KM2
    return c.number(table, where, m2, default=None, check=lambda v: v >= 0, rule="≥ 0 m²")


def _sources(c: _Checker, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    c.problem("sources", f"must be a string or a list of strings, got {_show(value)}")
    return ()


def _references(c: _Checker, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) and v.strip() for v in value.values()):
        c.problem(
            "references",
            f"must be a table of citations by key, like {{ LM2016 = '...' }}, got {_show(value)}",
        )
        return {}
    return dict(value)


def _source(
    c: _Checker, table: Mapping[str, Any], where: str, references: Mapping[str, str], key: str = "source"
) -> Any:
    """A row's ``source``: reference key(s) or free text; keys must exist when references are given."""
    if key not in table:
        return None
    value = table[key]
    name = f"{where}.{key}" if where else key
    values = list(value.values()) if isinstance(value, Mapping) else [value]
    if isinstance(value, list):
        values = value
    for v in values:
        if not isinstance(v, str) or not v.strip():
            c.problem(
                name, f"must be a reference key, a citation, or a table of them by figure, got {_show(value)}"
            )
            return None
        # A single word is a key: it must be one of the references (free text has spaces).
        for part in v.replace(";", ",").split(","):
            part = part.strip()
            if references and part and " " not in part and part not in references:
                c.problem(name, f"unknown reference {part!r}; known: {', '.join(sorted(references))}")
                return None
    if isinstance(value, list):
        return ", ".join(value)
    return value


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


def _history(
    c: _Checker, data: Mapping[str, Any], start: date | None, references: Mapping[str, str]
) -> tuple[ProgrammeYear, ...]:
    rows = []
    previous: int | None = None
    for i, t in c.tables(data, "history"):
        where = f"history[{i}]"
        n0 = len(c.problems)
        c.unknown(t, where, YEAR_KEYS | _area_keys(YEAR_AREAS) | {"revised_m2", "revised_km2"})
        year = c.number(
            t, where, "year", check=lambda x: x == int(x) and 1900 <= x <= 2200, rule="a year like 2015"
        )
        values = {k: _area(c, t, where, k) for k in YEAR_AREAS}
        revised = _revised(c, t, where)
        for key in ("note", "evidence"):
            if key in t and not isinstance(t[key], str):
                c.problem(f"{where}.{key}", f"must be a string, got {_show(t[key])}")
        series_break = t.get("series_break", False)
        if not isinstance(series_break, bool):
            c.problem(f"{where}.series_break", f"must be true or false, got {_show(series_break)}")
            series_break = False
        source = _source(c, t, where, references)
        teams = _teams(c, t["teams"], f"{where}.teams") if "teams" in t else None
        remaining_on = c.date(t, where, "remaining_on", required=False)
        if year is not None:
            y = int(year)
            if previous is not None and y <= previous:
                c.problem(f"{where}.year", f"{y} must come after {previous} (years in increasing order)")
            elif start is not None and date(y, 12, 31) >= start:
                c.problem(f"{where}.year", f"{y} does not end before start {start}")
            previous = y
            if remaining_on is not None and not date(y, 7, 1) <= remaining_on <= date(y + 1, 6, 30):
                c.problem(
                    f"{where}.remaining_on",
                    f"{remaining_on} is not within six months of the end of {y} "
                    f"({date(y, 7, 1)} to {date(y + 1, 6, 30)}): put it in the row of the nearest year",
                )
            if (
                remaining_on is not None
                and "remaining_m2" not in t
                and "remaining_km2" not in t
                and not any(k in t for k in _area_keys(("remaining_sha", "remaining_cha")))
            ):
                c.problem(f"{where}.remaining_on", "dates a stock figure, but the row has none")
        split = [values[m] for m in METHODS]
        released, both = values["released"], values["reduced_cleared"]
        if values["reduced"] is not None and values["cleared"] is not None:
            parts = values["reduced"] + values["cleared"]
            if both is not None and not _agree(both, parts):
                c.problem(
                    f"{where}.reduced_cleared_m2",
                    f"{both:,.0f} m² is not reduced + cleared = {parts:,.0f} m²",
                )
            both = parts if both is None else both
        if None not in split:
            parts = sum(split)  # type: ignore[arg-type]
            if released is not None and not _agree(released, parts):
                c.problem(
                    f"{where}.released_m2",
                    f"{released:,.0f} m² is not cancelled + reduced + cleared = {parts:,.0f} m²",
                )
            released = parts if released is None else released
        elif released is None and values["cancelled"] is not None and both is not None:
            released = values["cancelled"] + both
        if released is not None:
            known = [v for v in (values["cancelled"], both if both is not None else None) if v is not None]
            if both is None:
                known += [v for v in (values["reduced"], values["cleared"]) if v is not None]
            if sum(known) > released * (1 + AGREE) + 1.0:
                c.problem(
                    f"{where}.released_m2",
                    f"{released:,.0f} m² is less than the parts given ({sum(known):,.0f} m²)",
                )
        sha, cha, remaining = values["remaining_sha"], values["remaining_cha"], values["remaining"]
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
                remaining_on=remaining_on,
                reduced_cleared_m2=both,
                added_m2=values["added"],
                revised_m2=revised,
                series_break=series_break,
                source=source,
                evidence=t.get("evidence"),
                note=t.get("note"),
            )
        )
    return tuple(rows)


def _revised(c: _Checker, t: Mapping[str, Any], where: str) -> float | None:
    """``revised_m2`` / ``revised_km2``: a signed change of the estimate."""
    if "revised_m2" in t and "revised_km2" in t:
        c.problem(f"{where}.revised_km2", "give revised_m2 or revised_km2, not both")
        return None
    for key, scale in (("revised_km2", KM2), ("revised_m2", 1.0)):
        if key in t:
            x = c.number(t, where, key, rule="a number (negative: the estimate was cut)")
            return None if x is None else x * scale
    return None


def _agree(a: float, b: float) -> bool:
    return abs(a - b) <= AGREE * max(abs(a), abs(b)) + 1.0
