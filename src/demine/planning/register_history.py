"""Fill a forecast from the register: open hazards, accredited teams and the programme's own history.

Only records dated before the start date are used, so a forecast "as of" an earlier date sees
what the programme knew then (this is how the register can be backtested):

* **Stock** — every hazard with remaining area on the start date: ``remaining_area_m2`` of the
  open and suspended hazards when nothing after the start is recorded, otherwise the sum of
  each hazard's ``hazard_area_event`` changes before the start. Class SHA = 0, CHA = 1 (any
  other type counts as SHA: a suspicion without evidence); region = the level-1 admin area
  above the hazard's ``admin_pcode``; served by priority (high, medium, low, none), then the
  date reported.
* **Capacity** — active teams of a planning type (manual, mdd, mechanical, nts, ts) whose
  accreditation for that type's activity (clearance, nts, ts) is valid or expiring on the start
  date (:func:`demine.domain.accreditation.accreditation_status`). EOD/BAC teams do spot tasks,
  not land release, and are not counted. Working days per year are measured, per team type, as
  team-days reported in the last year per accredited team-year (when at least
  ``MIN_TEAM_DAYS`` were reported): idle time counts, as it does in the future.
* **History** — area released per year and method; m² per team-day of every daily progress
  report of the last ``PRODUCTIVITY_YEARS`` years, per team type; the cancelled/reduced/cleared
  m² of every hazard released in full, per class; the area newly registered per year and the
  stock on 1 January. Years before the first full year of recorded release are the register
  being filled (a baseline survey, a data migration), not discoveries, so discovery counts from
  then on. The model's rate is m² per year as a share of the starting stock, so calibration
  divides each year's registrations by the stock on the start date (``calibrate(...,
  stock_m2=...)``), not by that year's.
* **Naive rate** — cleared m² per year over the last (up to) three years of recorded release.
* **How long discoveries go on** — a rate measured over a year or two says nothing about how
  long the survey phase lasts, and carried over the whole horizon it decides the answer on its
  own. The forecast assumes new hazards keep being registered at the calibrated rate for as
  long again as the register has been recording them (from its first registration: the median
  of Gott's "Copernican" estimate of a remaining duration); the caller can set another value.

:func:`prepare_from_register` blends the history into ``default_parameters()`` with
:func:`demine.planning.calibrate.calibrate` and says, in notes, what it used.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, case, func, select

from demine.domain.accreditation import Accreditation, accreditation_status
from demine.planning.calibrate import History, calibrate, discovery_spread
from demine.planning.capacity import CapacityPlan, Season
from demine.planning.distributions import Normal
from demine.planning.inputs import ForecastInputs
from demine.planning.parameters import (
    TEAM_TYPES,
    Parameters,
    Volatility,
    default_parameters,
)
from demine.planning.pooled import PooledPriors, load_pooled
from demine.planning.prepared import PreparedForecast
from demine.planning.series import depletion_from_trend, log_trend, shrunk_trend
from demine.planning.timeline import DAYS_PER_YEAR
from demine.storage import schema
from demine.storage.types import year_of

# The register's activity type a team of each planning type must be accredited for.
ACTIVITY_OF_TEAM_TYPE: dict[str, str] = {
    "manual": "clearance",
    "mdd": "clearance",
    "mechanical": "clearance",
    "nts": "nts",
    "ts": "ts",
}
PRIORITY_RANK: dict[str | None, int] = {"high": 0, "medium": 1, "low": 2}
UNRANKED_PRIORITY = 3  # a code outside the list, after "low"
NO_PRIORITY = 4
CLASS_OF_TYPE: dict[str, int] = {"SHA": 0, "CHA": 1}
OPEN_STATUSES = ("open", "suspended")
NO_REGION = "(no admin area)"
PRODUCTIVITY_YEARS = 3  # productivity drifts (terrain, equipment): recent reports describe the future
NAIVE_YEARS = 3
MIN_TEAM_DAYS = 20  # fewer reported team-days than this say little about a type's working year
STALE_DAYS = 180  # a register silent for this long before the start may not describe the start


@dataclass(frozen=True)
class AccreditedTeams:
    """Teams counted on a day, by planning type, and those left out (with the reason)."""

    day: date
    counted: dict[str, int]
    not_accredited: dict[str, int]
    not_planning: dict[str, int]
    inactive: int

    def note(self) -> str:
        counted = ", ".join(f"{t} {n}" for t, n in self.counted.items() if n) or "none"
        left = []
        if any(self.not_accredited.values()):
            left.append(
                "not accredited for their activity: "
                + ", ".join(f"{t} {n}" for t, n in self.not_accredited.items() if n)
            )
        if any(self.not_planning.values()):
            left.append(
                "no land release role: " + ", ".join(f"{t} {n}" for t, n in self.not_planning.items() if n)
            )
        if self.inactive:
            left.append(f"inactive: {self.inactive}")
        tail = f"; not counted — {'; '.join(left)}" if left else ""
        return f"capacity: teams accredited on {self.day}: {counted}{tail}"


def load_inputs(conn: Connection, start: date) -> ForecastInputs:
    """The hazards with remaining area on ``start``, in priority order, by level-1 region."""
    rows = _stock_rows(conn, start)
    regions = _region_of(conn)
    names: dict[str, int] = {}
    region_index = []
    for r in rows:
        # A P-code missing from admin_area still groups its hazards, under its own code.
        label = regions.get(r["admin_pcode"], r["admin_pcode"]) if r["admin_pcode"] else NO_REGION
        region_index.append(names.setdefault(label, len(names)))
    area = np.array([r["remaining_m2"] for r in rows], dtype=float)
    cls = np.array([CLASS_OF_TYPE.get(r["hazard_type"], 0) for r in rows], dtype=np.int64)
    rank = np.array(
        [
            NO_PRIORITY if r["priority"] is None else PRIORITY_RANK.get(r["priority"], UNRANKED_PRIORITY)
            for r in rows
        ],
        dtype=np.int64,
    )
    reported = np.array([r["reported_on"].toordinal() for r in rows], dtype=np.int64)
    ids = np.array([r["id"] for r in rows], dtype=np.int64)
    order = np.lexsort((ids, reported, rank)) if rows else np.zeros(0, dtype=np.int64)
    return ForecastInputs(
        area_m2=area,
        hazard_class=cls,
        region=np.array(region_index, dtype=np.int64),
        start=start,
        order=order,
        region_names=tuple(names),
        recent_cleared_m2_per_year=recent_cleared_rate(conn, start),
    )


def accredited_teams(conn: Connection, day: date) -> AccreditedTeams:
    """Count active teams by planning type whose accreditation for its activity covers ``day``."""
    held = _accreditations(conn)
    counted = {t: 0 for t in TEAM_TYPES}
    not_accredited = {t: 0 for t in TEAM_TYPES}
    not_planning: dict[str, int] = defaultdict(int)
    inactive = 0
    t = schema.team
    for team_id, team_type, active in conn.execute(select(t.c.id, t.c.team_type, t.c.active)):
        if not active:
            inactive += 1
            continue
        activity = ACTIVITY_OF_TEAM_TYPE.get(team_type)
        if activity is None:
            not_planning[team_type] += 1
            continue
        accs = [a for a in held.get(team_id, []) if a.activity_type == activity]
        if accreditation_status(accs, day) in ("valid", "expiring"):
            counted[team_type] += 1
        else:
            not_accredited[team_type] += 1
    return AccreditedTeams(day, counted, not_accredited, dict(not_planning), inactive)


def working_days_from_reports(conn: Connection, start: date) -> dict[str, tuple[float, int]]:
    """Per team type: (team-days reported per accredited team-year, team-days) over the last year.

    Only types with at least ``MIN_TEAM_DAYS`` reported team-days are returned.
    """
    window_start = start - timedelta(days=round(DAYS_PER_YEAR))
    held = _accreditations(conn)
    t, p = schema.team, schema.progress_report
    team_type = dict(conn.execute(select(t.c.id, t.c.team_type).where(t.c.active)).all())
    reported: dict[str, int] = defaultdict(int)
    for team_id, n in conn.execute(
        select(p.c.team_id, func.count(func.distinct(p.c.report_date)))
        .where(p.c.report_date >= window_start, p.c.report_date < start)
        .group_by(p.c.team_id)
    ):
        if team_type.get(team_id) in ACTIVITY_OF_TEAM_TYPE:
            reported[team_type[team_id]] += n
    accredited_days: dict[str, int] = defaultdict(int)
    for team_id, ttype in team_type.items():
        activity = ACTIVITY_OF_TEAM_TYPE.get(ttype)
        if activity is None:
            continue
        accs = [a for a in held.get(team_id, []) if a.activity_type == activity]
        accredited_days[ttype] += _covered_days(accs, window_start, start)
    out = {}
    for ttype, days in reported.items():
        team_years = accredited_days[ttype] / DAYS_PER_YEAR
        if days >= MIN_TEAM_DAYS and team_years > 0:
            out[ttype] = (min(days / team_years, DAYS_PER_YEAR), days)
    return out


def load_history(conn: Connection, start: date) -> History:
    """The programme's recorded history before ``start``, for :func:`calibrate`."""
    first_release = _first_release_day(conn, start)
    years: list[int] = []
    released: dict[str, list[float]] = {m: [] for m in ("cancelled", "reduced", "cleared")}
    discovered: list[float] = []
    stock: list[float] = []
    if first_release is not None:
        # Whole years of operations, counted back from the start (the last twelve months, the
        # twelve before...): what was registered before operations began is the register being
        # filled (a baseline survey, a data migration), not discovery. Each is labelled by the
        # calendar year it mostly falls in.
        windows = []
        end = start
        while (begin := _year_before(end)) > first_release:
            windows.append((begin, end))
            end = begin
        for begin, end in reversed(windows):
            years.append((begin + (end - begin) / 2).year)
            by_method = _released_between(conn, begin, end)
            for m in released:
                released[m].append(by_method.get(m, 0.0))
            discovered.append(_registered_between(conn, begin, end))
            stock.append(_remaining_before(conn, begin))
    return History(
        years=years,
        cancelled_m2=released["cancelled"],
        reduced_m2=released["reduced"],
        cleared_m2=released["cleared"],
        discovered_m2=discovered,
        stock_m2=stock,
        productivity=_productivity_samples(conn, start),
        release_by_class=_released_hazards(conn, start),
    )


def recent_cleared_rate(conn: Connection, start: date) -> float | None:
    """Cleared m² per year over the last (up to) ``NAIVE_YEARS`` years of recorded release."""
    first = _first_release_day(conn, start)
    if first is None:
        return None
    window_start = max(first, start - timedelta(days=round(NAIVE_YEARS * DAYS_PER_YEAR)))
    span = (start - window_start).days
    if span < 30:
        return None  # a few days of clearance say nothing about a year
    p = schema.release_product
    cleared = conn.execute(
        select(func.sum(p.c.released_area_m2)).where(
            p.c.method == "cleared", p.c.released_on >= window_start, p.c.released_on < start
        )
    ).scalar()
    return float(cleared or 0.0) * DAYS_PER_YEAR / span


def prepare_from_register(
    conn: Connection,
    start: date | None = None,
    *,
    priors: Parameters | None = None,
    working_days: bool = True,
) -> PreparedForecast:
    """A :class:`PreparedForecast` from the register as it stood on ``start`` (default: today).

    ``working_days``: measure each team type's working days per year from progress reports
    (otherwise the default season, docs/forecast-sources.md).
    """
    start = start or date.today()
    priors = priors or default_parameters()
    inputs = load_inputs(conn, start)
    history = load_history(conn, start)
    teams = accredited_teams(conn, start)
    seasons: dict[str, Season] = {}
    notes = [_stock_note(inputs), teams.note()]
    if working_days:
        measured = working_days_from_reports(conn, start)
        for ttype, (days, _) in measured.items():
            seasons[ttype] = Season(working_days_per_year=round(days, 1))
        if measured:
            notes.append(
                "working days per year from the last year's progress reports: "
                + ", ".join(f"{t} {d:.0f} ({n} team-days)" for t, (d, n) in measured.items())
            )
    capacity_teams = {t: float(n) for t, n in teams.counted.items()}
    spare = _stages_without_teams(capacity_teams, history, seasons)
    capacity_teams.update(spare["teams"])
    notes += spare["notes"]
    capacity = CapacityPlan(teams=capacity_teams, seasons=seasons)
    pooled = load_pooled()
    priors = priors.replace(volatility=_register_volatility(pooled, inputs.stock_m2, history))
    parameters = calibrate(history, priors, stock_m2=inputs.stock_m2)
    parameters, trend_note = _register_depletion(conn, start, inputs, history, parameters, pooled)
    if _new_contamination_calibrated(parameters, priors):
        first = conn.execute(
            select(func.min(schema.hazard_area_event.c.occurred_on)).where(
                schema.hazard_area_event.c.event == "registered"
            )
        ).scalar()
        if first is not None:  # a register written outside demine may lack registration events
            years = round((start - first).days / DAYS_PER_YEAR, 1)
            parameters = parameters.replace(new_contamination_years=years)
    notes += _calibration_notes(history, parameters, priors)
    notes.append(trend_note)
    notes += _volatility_notes(parameters, pooled, history)
    return PreparedForecast(
        source="register",
        inputs=inputs,
        parameters=parameters,
        capacity=capacity,
        history=history,
        notes=tuple(notes),
        warnings=tuple(_register_warnings(conn, start, inputs, teams)),
    )


# --- volatility and depletion ------------------------------------------------------------------

# A survey stage without teams of its own whose work the register shows done by others gets this
# many times the programme's release pace: it is not what holds the programme back.
SPARE = 10.0
SURVEY_STAGES = {"nts": "cancelled", "ts": "reduced"}


def _stages_without_teams(
    teams: dict[str, float], history: History, seasons: dict[str, Season]
) -> dict[str, Any]:
    """Team equivalents for a survey stage with no accredited team of its own.

    Land is released every year, so somebody surveys it: clearance teams that do their own
    survey, or survey the register does not record as a team. Such a stage is given capacity to
    spare (``SPARE`` × the release pace, as team equivalents at the prior productivity), and says
    so; without any recorded release it keeps no capacity and the forecast warns.
    """
    released = [
        sum(x) for x in zip(history.cancelled_m2, history.reduced_m2, history.cleared_m2, strict=True)
    ]
    pace = float(np.mean(released[-3:])) if released else 0.0
    out: dict[str, Any] = {"teams": {}, "notes": []}
    if pace <= 0:
        return out
    priors = default_parameters().productivity
    for stage, method in SURVEY_STAGES.items():
        if teams.get(stage, 0.0) > 0:
            continue
        days = seasons.get(stage, Season()).working_days_per_year
        equivalents = SPARE * pace / (priors[stage].median * days)
        out["teams"][stage] = equivalents
        own = sum(getattr(history, f"{method}_m2")[-3:]) if len(history.years) else 0.0
        out["notes"].append(
            f"{stage}: no accredited {stage.upper()} team; land is released every year "
            f"({own / 1e6:,.2f} km² {method} in the last years), so the stage is given capacity to spare: "
            f"{equivalents:,.1f} team equivalents at the prior productivity ({SPARE:g}× the release pace)"
        )
    return out


CLEARANCE_TYPES = ("manual", "mdd", "mechanical")
MIN_QUARTERS = 4  # fewer quarters of reports than this say nothing about a trend


def _register_volatility(pooled: PooledPriors, stock_m2: float, history: History) -> Volatility:
    """The pooled volatility for a stock this size; revisions as often as the register allows.

    A register records every change as release or registration, so its own record shows no
    revision; each full year of it moves the pooled rate towards none (the same update as
    for a national series with no revision in its spans).
    """
    v = pooled.volatility_at(stock_m2)
    years = len(history.years)
    rate = v.revision_rate * pooled.revision_strength / (pooled.revision_strength + years)
    v = v.replace(discovery_year_sigma=discovery_spread(history.discovered_m2))
    # Revised for as long again as the register has been recording (at least a year).
    return v.replace(revision_rate=rate, revision_years=float(max(years + 1, 1)))


def quarterly_output(conn: Connection, start: date) -> list[tuple[float, float]]:
    """Clearance m² per team-day by quarter over the last ``PRODUCTIVITY_YEARS`` (mid-quarter year, m²).

    Each team type's reports are divided by that type's median over the window, so a change of
    mix between manual, dog and machine teams is not read as a trend.
    """
    t, p = schema.team, schema.progress_report
    since = start - timedelta(days=round(PRODUCTIVITY_YEARS * DAYS_PER_YEAR))
    rows = conn.execute(
        select(t.c.team_type, p.c.report_date, p.c.area_m2)
        .join(t, t.c.id == p.c.team_id)
        .where(
            p.c.report_date >= since,
            p.c.report_date < start,
            p.c.area_m2 > 0,
            t.c.team_type.in_(CLEARANCE_TYPES),
        )
    ).all()
    if not rows:
        return []
    medians = {
        k: float(np.median([float(a) for tt, _, a in rows if tt == k])) for k in {tt for tt, _, _ in rows}
    }
    by_quarter: dict[tuple[int, int], list[float]] = defaultdict(list)
    for team_type, day, area in rows:
        by_quarter[(day.year, (day.month - 1) // 3)].append(float(area) / medians[team_type])
    return [
        (y + (q * 3 + 1.5) / 12, float(np.mean(v))) for (y, q), v in sorted(by_quarter.items()) if len(v) >= 5
    ]


def _register_depletion(
    conn: Connection,
    start: date,
    inputs: ForecastInputs,
    history: History,
    parameters: Parameters,
    pooled: PooledPriors,
) -> tuple[Parameters, str]:
    """Depletion from the trend of clearance output per team-day, over the pooled trend.

    A trend ``β`` (log per year) over a stock that takes ``T`` years at the recent pace is
    depletion ``−β·T`` (see :mod:`demine.planning.national`); without a quarter-by-quarter
    record, the pooled trend alone.
    """
    quarters = quarterly_output(conn, start)
    mean0, sd0 = pooled.trend_mean, pooled.trend_sd
    fit = (
        log_trend([x for x, _ in quarters], [v for _, v in quarters])
        if len(quarters) >= MIN_QUARTERS
        else None
    )
    if fit is None:
        mean, sd, source = (
            mean0,
            sd0,
            f"fewer than {MIN_QUARTERS} quarters of clearance reports: pooled trend",
        )
    else:
        slope, se = fit
        mean, sd = shrunk_trend(fit, mean0, sd0)
        source = (
            f"{len(quarters)} quarters of clearance output per team-day ({slope:+.1%}/yr ± {se:.1%}) over "
            "the "
            f"pooled trend {mean0:+.1%} ± {sd0:.1%}"
        )
    # The trend is clearance's, so the years are clearance's: the land it has still to clear
    # over what it cleared a year recently.
    cleared = [float(x) for x in history.cleared_m2][-3:]
    pace = float(np.mean(cleared)) if cleared else 0.0
    prior = parameters.depletion
    by_class = np.bincount(inputs.hazard_class, weights=inputs.area_m2, minlength=len(parameters.funnel))
    to_clear = float(sum(w * f.cleared for w, f in zip(by_class, parameters.funnel, strict=False)))
    if pace <= 0 or to_clear <= 0:
        return parameters, (
            f"depletion: no full year of clearance to measure the pace by; prior median {prior.median:.2f} "
            "kept"
        )
    years = to_clear / pace
    depletion = Normal(*depletion_from_trend(mean, sd, years))
    sources = {**parameters.sources, "depletion": source}
    return parameters.replace(depletion=depletion, sources=sources), (
        f"depletion: {depletion.mean:+.2f} (the last land costs {1 + depletion.mean:.2f}× the first) from "
        "a trend "
        f"of {mean:+.1%}/yr ({source}) over {years:,.1f} years of clearance at the recent pace; prior median "
        f"{prior.median:.2f}"
    )


def _volatility_notes(parameters: Parameters, pooled: PooledPriors, history: History) -> list[str]:
    v = parameters.volatility
    return [
        f"output volatility: level {v.level_sigma:.2f}, walk {v.walk_sigma:.2f}/yr, year {v.year_sigma:.2f} "
        f"(log sd; pooled over {len(pooled.countries)} national series)",
        f"stock revisions: {v.revision_rate:.0%} a year (pooled {pooled.volatility.revision_rate:.0%}, "
        "moved by "
        f"{len(history.years)} full year(s) of register without one), ×{math.exp(v.revision_log_mean):.2f} "
        "median, "
        f"log sd {v.revision_log_sigma:.2f} for a stock this size",
    ]


# --- queries -------------------------------------------------------------------------------


def _stock_rows(conn: Connection, start: date) -> list[dict[str, Any]]:
    h, e = schema.hazard, schema.hazard_area_event
    last_event = conn.execute(select(func.max(e.c.occurred_on))).scalar()
    columns = (h.c.id, h.c.hazard_type, h.c.priority, h.c.reported_on, h.c.admin_pcode)
    if last_event is None or last_event < start:
        # Nothing after the start is recorded: the register's remaining area is the stock.
        query = select(*columns, h.c.remaining_area_m2).where(
            h.c.status.in_(OPEN_STATUSES), h.c.remaining_area_m2 > 0, h.c.reported_on < start
        )
    else:
        # Rebuild each hazard's remaining area on the start date from its history.
        remaining = (
            select(e.c.hazard_id, func.sum(e.c.change_m2).label("remaining"))
            .where(e.c.occurred_on < start)
            .group_by(e.c.hazard_id)
            .subquery()
        )
        query = (
            select(*columns, remaining.c.remaining)
            .join(remaining, remaining.c.hazard_id == h.c.id)
            .where(remaining.c.remaining >= 1.0, h.c.status != "handed_over")
        )
    keys = ("id", "hazard_type", "priority", "reported_on", "admin_pcode", "remaining_m2")
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(query.order_by(h.c.id))]


def _region_of(conn: Connection) -> dict[str, str]:
    """Every admin P-code → the label of its level-1 ancestor (itself if it is level 1)."""
    a = schema.admin_area
    areas = {
        pcode: (name, level, parent)
        for pcode, name, level, parent in conn.execute(
            select(a.c.pcode, a.c.name, a.c.level, a.c.parent_pcode)
        )
    }
    out = {}
    for pcode in areas:
        seen, code = set(), pcode
        # Walk up to level 1 (or the top of a broken chain: a loop or a missing parent).
        while areas[code][1] > 1 and areas[code][2] in areas and code not in seen:
            seen.add(code)
            code = areas[code][2]
        out[pcode] = f"{areas[code][0]} ({code})"
    return out


def _accreditations(conn: Connection) -> dict[int, list[Accreditation]]:
    a = schema.accreditation
    held: dict[int, list[Accreditation]] = defaultdict(list)
    for team_id, activity, issued, expires in conn.execute(
        select(a.c.team_id, a.c.activity_type, a.c.issued_on, a.c.expires_on).where(a.c.team_id.is_not(None))
    ):
        held[team_id].append(Accreditation(activity, issued, expires))
    return held


def _covered_days(accs: list[Accreditation], start: date, end: date) -> int:
    """Days in [start, end) covered by at least one accreditation."""
    spans = sorted((max(a.issued_on, start), min(a.expires_on or end, end - timedelta(days=1))) for a in accs)
    total, reach = 0, start - timedelta(days=1)
    for s, e in spans:
        if e < s or e <= reach:
            continue
        total += (e - max(s, reach + timedelta(days=1))).days + 1
        reach = e
    return total


def _first_release_day(conn: Connection, start: date) -> date | None:
    p = schema.release_product
    return conn.execute(select(func.min(p.c.released_on)).where(p.c.released_on < start)).scalar()


def _released_by_year(conn: Connection, start: date) -> dict[int, dict[str, float]]:
    p = schema.release_product
    year = year_of(p.c.released_on)
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for y, method, area in conn.execute(
        select(year, p.c.method, func.sum(p.c.released_area_m2))
        .where(p.c.released_on < start)
        .group_by(year, p.c.method)
    ):
        out[int(y)][method] = float(area or 0.0)
    return out


def _year_before(day: date) -> date:
    """The same day a year earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _released_between(conn: Connection, begin: date, end: date) -> dict[str, float]:
    p = schema.release_product
    rows = conn.execute(
        select(p.c.method, func.sum(p.c.released_area_m2))
        .where(p.c.released_on >= begin, p.c.released_on < end)
        .group_by(p.c.method)
    )
    return {method: float(area or 0.0) for method, area in rows}


def _registered_between(conn: Connection, begin: date, end: date) -> float:
    e = schema.hazard_area_event
    total = conn.execute(
        select(func.sum(e.c.change_m2)).where(
            e.c.event == "registered", e.c.occurred_on >= begin, e.c.occurred_on < end
        )
    ).scalar()
    return float(total or 0.0)


def _registered_by_year(conn: Connection, start: date) -> dict[int, float]:
    e = schema.hazard_area_event
    year = year_of(e.c.occurred_on)
    query = (
        select(year, func.sum(e.c.change_m2))
        .where(e.c.event == "registered", e.c.occurred_on < start)
        .group_by(year)
    )
    return {int(y): float(area or 0.0) for y, area in conn.execute(query)}


def _remaining_before(conn: Connection, day: date) -> float:
    e = schema.hazard_area_event
    total = conn.execute(select(func.sum(e.c.change_m2)).where(e.c.occurred_on < day)).scalar()
    return max(float(total or 0.0), 0.0)


def _productivity_samples(conn: Connection, start: date) -> dict[str, np.ndarray]:
    t, p = schema.team, schema.progress_report
    since = start - timedelta(days=round(PRODUCTIVITY_YEARS * DAYS_PER_YEAR))
    samples: dict[str, list[float]] = defaultdict(list)
    for team_type, area in conn.execute(
        select(t.c.team_type, p.c.area_m2)
        .join(t, t.c.id == p.c.team_id)
        .where(
            p.c.report_date >= since,
            p.c.report_date < start,
            p.c.area_m2 > 0,
            t.c.team_type.in_(list(TEAM_TYPES)),
        )
    ):
        samples[team_type].append(float(area))
    return {k: np.asarray(v) for k, v in samples.items()}


def _released_hazards(conn: Connection, start: date) -> dict[int, np.ndarray]:
    """Per class, one row (cancelled, reduced, cleared m²) per hazard fully released before start."""
    h, e = schema.hazard, schema.hazard_area_event
    remaining = func.sum(e.c.change_m2)
    by_method = {
        m: func.sum(case((e.c.event == m, -e.c.change_m2), else_=0.0))
        for m in ("cancelled", "reduced", "cleared")
    }
    query = (
        select(h.c.hazard_type, *by_method.values())
        .join(e, e.c.hazard_id == h.c.id)
        .where(e.c.occurred_on < start)
        .group_by(h.c.id)
        .having(remaining < 1.0, func.sum(case((e.c.event == "registered", 0), else_=1)) > 0)
    )
    rows: dict[int, list[tuple[float, float, float]]] = defaultdict(list)
    for hazard_type, c, r, k in conn.execute(query):
        rows[CLASS_OF_TYPE.get(hazard_type, 0)].append((c or 0.0, r or 0.0, k or 0.0))
    return {cls: np.asarray(v, dtype=float) for cls, v in rows.items()}


# --- notes and warnings ----------------------------------------------------------------------


def _stock_note(inputs: ForecastInputs) -> str:
    by_class = np.bincount(inputs.hazard_class, weights=inputs.area_m2, minlength=2)
    return (
        f"stock: {inputs.n_hazards:,} hazards with {inputs.stock_m2 / 1e6:,.2f} km² remaining on "
        f"{inputs.start} (SHA {by_class[0] / 1e6:,.2f} km², CHA {by_class[1] / 1e6:,.2f} km²) "
        f"in {inputs.n_regions} region(s)"
    )


def _calibration_notes(history: History, parameters: Parameters, priors: Parameters) -> list[str]:
    notes = []
    for t in TEAM_TYPES:
        prior, post = priors.productivity[t], parameters.productivity[t]
        n = np.asarray(history.productivity.get(t, [])).size
        if n:
            notes.append(
                f"productivity {t}: {n} daily reports (mean {np.mean(history.productivity[t]):,.0f} m²/day)"
                f" → median {post.median:,.0f} m²/team-day (prior {prior.median:,.0f})"
            )
    for c, name in enumerate(parameters.class_names):
        rows = np.asarray(history.release_by_class.get(c, np.zeros((0, 3))))
        if rows.size:
            f = parameters.funnel[c]
            prior = priors.funnel[c]
            notes.append(
                f"funnel {name}: {rows.shape[0]} hazards released in full → cancelled/reduced/cleared "
                f"{f.cancelled:.0%}/{f.reduced:.0%}/{f.cleared:.0%} (prior "
                f"{prior.cancelled:.0%}/{prior.reduced:.0%}/{prior.cleared:.0%})"
            )
    if _new_contamination_calibrated(parameters, priors):
        share = parameters.new_contamination_share_per_year
        years = ", ".join(str(y) for y in history.years)
        notes.append(
            f"new contamination: registrations in {years} → median {share.median:.1%} of the stock per year "
            f"(prior {priors.new_contamination_share_per_year.median:.1%}), for "
            f"{parameters.new_contamination_years:g} more years (as long as the register has been "
            "recording hazards; --discovery-years to change)"
        )
    elif not len(history.years):
        notes.append("new contamination: no full year of operations recorded; prior kept (1%/yr)")
    return notes


def _register_warnings(
    conn: Connection, start: date, inputs: ForecastInputs, teams: AccreditedTeams
) -> list[str]:
    out = []
    p, e = schema.progress_report, schema.hazard_area_event
    last = max(
        (
            d
            for d in (
                conn.execute(select(func.max(e.c.occurred_on)).where(e.c.occurred_on < start)).scalar(),
                conn.execute(select(func.max(p.c.report_date)).where(p.c.report_date < start)).scalar(),
            )
            if d is not None
        ),
        default=None,
    )
    if last is not None and (start - last).days > STALE_DAYS:
        out.append(
            f"the register's latest record is from {last}, {(start - last).days} days before the start: "
            "the stock and capacity may be out of date"
        )
    if inputs.n_hazards == 0:
        out.append("no hazard has remaining area on the start date: nothing to forecast")
    if not any(teams.counted.values()):
        out.append("no team holds a valid accreditation on the start date: no capacity at all")
    return out


def _new_contamination_calibrated(parameters: Parameters, priors: Parameters) -> bool:
    """Whether the rate of new contamination was measured on this register's registrations.

    Only then does it hold for as long as the register has recorded; a prior rate keeps the
    prior's horizon. (Comparing every source would count a calibrated productivity too.)
    """
    return parameters.sources.get("new_contamination") != priors.sources.get("new_contamination")
