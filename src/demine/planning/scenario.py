"""Capacity scenarios from TOML files: what changes if we add teams, train people or fund more.

A scenario only changes capacity; the land and its uncertainty stay the same, so a baseline and
its scenario run on the same random draws (see :func:`demine.planning.compare.compare`).

Format (every table optional; dates are TOML dates or ``"YYYY-MM-DD"`` strings; ``end`` dates are
inclusive; unknown keys are errors)::

    name = "Four more dog teams and a deminer course"
    description = "Donor proposal, March 2026"

    [[add_teams]]            # N accredited teams of a type join from a date
    team_type = "mdd"        # manual | mdd | mechanical | nts | ts
    teams = 4
    start = 2026-04-01
    end = 2030-12-31         # optional: funded until
    ramp_up_months = 3       # optional: default 3

    [[remove_teams]]         # teams that stop (funding ends); same keys, no ramp_up_months
    team_type = "manual"
    teams = 10
    start = 2027-01-01

    [[training]]             # a course: trainees → accredited teams
    team_type = "manual"
    trainees_per_month = 24
    start = 2026-01-01
    end = 2027-12-31         # optional: last intake
    course_months = 2
    pass_rate = 0.8
    annual_attrition = 0.1   # share of graduates leaving per year
    staff_per_team = 8
    ramp_up_months = 3       # optional

    [[budget]]               # money that buys clearance by the m²
    money_per_year = 5_000_000
    cost_per_m2 = 2.0        # optional: default 2.0 (US$1–3/m² typical)
    currency = "USD"         # optional
    start = 2026-01-01       # optional: default the forecast start
    end = 2030-12-31         # optional

    [seasons.mdd]            # replace a team type's working pattern
    working_days_per_year = 180
    closed_months = [6, 7, 8]
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demine.domain.errors import DemineError, Problem
from demine.planning.capacity import Budget, CapacityPlan, Season, TeamChange, TrainingPipeline
from demine.planning.parameters import COST_PER_M2_USD, TEAM_TYPES


class ScenarioError(DemineError):
    """A scenario file is wrong; every problem names the key and says why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Scenario:
    """Changes to a baseline capacity plan."""

    name: str = "scenario"
    description: str = ""
    add_teams: tuple[TeamChange, ...] = ()
    remove_teams: tuple[TeamChange, ...] = ()
    training: tuple[TrainingPipeline, ...] = ()
    budget: tuple[Budget, ...] = ()
    seasons: Mapping[str, Season] = field(default_factory=dict)

    def apply(self, capacity: CapacityPlan) -> CapacityPlan:
        """The baseline plus this scenario's changes."""
        return capacity.replace(
            additions=capacity.additions + self.add_teams,
            removals=capacity.removals + self.remove_teams,
            pipelines=capacity.pipelines + self.training,
            budgets=capacity.budgets + self.budget,
            seasons={**capacity.seasons, **self.seasons},
        )

    def to_dict(self) -> dict[str, Any]:
        empty = CapacityPlan({})
        plan = self.apply(empty).to_dict()
        return {
            "name": self.name,
            "description": self.description,
            "add_teams": plan["additions"],
            "remove_teams": plan["removals"],
            "training": plan["pipelines"],
            "budget": plan["budgets"],
            "seasons": {k: s.to_dict() for k, s in self.seasons.items()},
        }


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario TOML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([Problem(str(p), "(file)", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem(str(p), "(file)", f"not UTF-8 text: {exc.reason}")]) from exc
    return parse_scenario(text, source=str(p))


def parse_scenario(text: str, source: str = "scenario") -> Scenario:
    """Parse scenario TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem(source, "(syntax)", f"not valid TOML: {exc}")]) from exc
    return scenario_from_dict(data, source)


def scenario_from_dict(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML, collecting every problem before raising."""
    c = _Checker(source)
    if not isinstance(data, Mapping):
        raise ScenarioError([Problem(source, "(top)", "must be a table")])
    c.unknown(
        data,
        "",
        {"name", "description", "add_teams", "remove_teams", "training", "budget", "seasons"},
    )
    name = c.text(data, "", "name", default="scenario")
    description = c.text(data, "", "description", default="")

    add_teams = tuple(
        x
        for i, t in c.tables(data, "add_teams")
        if (x := c.team_change(t, f"add_teams[{i}]", ramp=True)) is not None
    )
    remove_teams = tuple(
        x
        for i, t in c.tables(data, "remove_teams")
        if (x := c.team_change(t, f"remove_teams[{i}]", ramp=False)) is not None
    )
    training = tuple(
        x for i, t in c.tables(data, "training") if (x := c.training(t, f"training[{i}]")) is not None
    )
    budget = tuple(x for i, t in c.tables(data, "budget") if (x := c.budget(t, f"budget[{i}]")) is not None)
    seasons: dict[str, Season] = {}
    raw_seasons = data.get("seasons", {})
    if not isinstance(raw_seasons, Mapping):
        c.problem("seasons", "must be a table of team types, like [seasons.mdd]")
    else:
        for team_type, table in raw_seasons.items():
            where = f"seasons.{team_type}"
            if team_type not in TEAM_TYPES:
                c.problem(where, f"unknown team type; expected one of {', '.join(TEAM_TYPES)}")
                continue
            season = c.season(table, where)
            if season is not None:
                seasons[team_type] = season
    if c.problems:
        raise ScenarioError(c.problems)
    return Scenario(
        name=name or "scenario",
        description=description or "",
        add_teams=add_teams,
        remove_teams=remove_teams,
        training=training,
        budget=budget,
        seasons=seasons,
    )


_MISSING = object()


class _Checker:
    """Reads values out of parsed TOML, recording a :class:`Problem` for each bad one."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.source, key, message))

    @staticmethod
    def _key(where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def unknown(self, table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.problem(
                    self._key(where, key),
                    f"unknown key; allowed here: {', '.join(sorted(allowed))}",
                )

    def tables(self, data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.problem(key, f"must be an array of tables, written [[{key}]]")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                out.append((i, item))
            else:
                self.problem(f"{key}[{i}]", "must be a table")
        return out

    def text(self, table: Mapping[str, Any], where: str, key: str, default: str) -> str | None:
        value = table.get(key, default)
        if not isinstance(value, str):
            self.problem(self._key(where, key), f"must be a string, got {_show(value)}")
            return None
        return value

    def number(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        *,
        default: Any = _MISSING,
        check: Callable[[float], bool] = lambda x: True,
        rule: str = "",
    ) -> float | None:
        name = self._key(where, key)
        if key not in table:
            if default is _MISSING:
                self.problem(name, "is required")
            return None if default is _MISSING else default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, f"must be a number, got {_show(value)}")
            return None
        x = float(value)
        if not math.isfinite(x) or not check(x):
            self.problem(name, f"must be {rule}, got {value!r}")
            return None
        return x

    def date(self, table: Mapping[str, Any], where: str, key: str, *, required: bool) -> dt.date | None:
        name = self._key(where, key)
        if key not in table:
            if required:
                self.problem(name, "is required (a date like 2026-01-01)")
            return None
        value = table[key]
        if isinstance(value, dt.datetime):
            self.problem(name, f"must be a date without a time, like 2026-01-01, got {value}")
            return None
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.problem(name, f"must be a date like 2026-01-01, got {_show(value)}")
        return None

    def team_type(self, table: Mapping[str, Any], where: str) -> str | None:
        name = self._key(where, "team_type")
        if "team_type" not in table:
            self.problem(name, f"is required (one of {', '.join(TEAM_TYPES)})")
            return None
        value = table["team_type"]
        if value not in TEAM_TYPES:
            self.problem(name, f"must be one of {', '.join(TEAM_TYPES)}, got {_show(value)}")
            return None
        return str(value)

    def window(
        self, table: Mapping[str, Any], where: str, *, start_required: bool
    ) -> tuple[dt.date | None, dt.date | None, bool]:
        start = self.date(table, where, "start", required=start_required)
        end = self.date(table, where, "end", required=False)
        ok = True
        if start is not None and end is not None and end < start:
            self.problem(self._key(where, "end"), f"{end} is before start {start}")
            ok = False
        return start, end, ok

    def team_change(self, t: Mapping[str, Any], where: str, *, ramp: bool) -> TeamChange | None:
        allowed = {"team_type", "teams", "start", "end"} | ({"ramp_up_months"} if ramp else set())
        n0 = len(self.problems)
        self.unknown(t, where, allowed)
        team_type = self.team_type(t, where)
        teams = self.number(t, where, "teams", check=lambda x: x >= 0, rule="≥ 0")
        start, end, _ = self.window(t, where, start_required=True)
        ramp_months = (
            self.number(t, where, "ramp_up_months", default=None, check=lambda x: x >= 0, rule="≥ 0")
            if ramp
            else None
        )
        if len(self.problems) > n0:
            return None
        assert team_type is not None and teams is not None and start is not None
        return TeamChange(team_type, teams, start, end, ramp_months)

    def training(self, t: Mapping[str, Any], where: str) -> TrainingPipeline | None:
        allowed = {
            "team_type",
            "trainees_per_month",
            "start",
            "end",
            "course_months",
            "pass_rate",
            "annual_attrition",
            "staff_per_team",
            "ramp_up_months",
        }
        n0 = len(self.problems)
        self.unknown(t, where, allowed)
        team_type = self.team_type(t, where)
        positive = {"check": lambda x: x >= 0, "rule": "≥ 0"}
        trainees = self.number(t, where, "trainees_per_month", **positive)
        start, end, _ = self.window(t, where, start_required=True)
        course = self.number(t, where, "course_months", **positive)
        pass_rate = self.number(t, where, "pass_rate", check=lambda x: 0 <= x <= 1, rule="between 0 and 1")
        attrition = self.number(
            t,
            where,
            "annual_attrition",
            default=0.0,
            check=lambda x: 0 <= x < 1,
            rule="≥ 0 and < 1 (a share per year)",
        )
        staff = self.number(t, where, "staff_per_team", check=lambda x: x > 0, rule="> 0")
        ramp_months = self.number(t, where, "ramp_up_months", default=None, **positive)
        if len(self.problems) > n0:
            return None
        assert team_type is not None and start is not None
        return TrainingPipeline(
            team_type=team_type,
            trainees_per_month=trainees,
            start=start,
            end=end,
            course_months=course,
            pass_rate=pass_rate,
            annual_attrition=attrition,
            staff_per_team=staff,
            ramp_up_months=ramp_months,
        )

    def budget(self, t: Mapping[str, Any], where: str) -> Budget | None:
        allowed = {"money_per_year", "cost_per_m2", "currency", "start", "end"}
        n0 = len(self.problems)
        self.unknown(t, where, allowed)
        money = self.number(t, where, "money_per_year", check=lambda x: x >= 0, rule="≥ 0")
        cost = self.number(
            t, where, "cost_per_m2", default=COST_PER_M2_USD, check=lambda x: x > 0, rule="> 0"
        )
        currency = self.text(t, where, "currency", default="USD")
        start, end, _ = self.window(t, where, start_required=False)
        if len(self.problems) > n0:
            return None
        return Budget(money, cost, start, end, currency or "USD")

    def season(self, table: Any, where: str) -> Season | None:
        if not isinstance(table, Mapping):
            self.problem(where, "must be a table")
            return None
        n0 = len(self.problems)
        self.unknown(table, where, {"working_days_per_year", "closed_months"})
        days = self.number(
            table,
            where,
            "working_days_per_year",
            default=None,
            check=lambda x: 0 <= x <= 365.25,
            rule="between 0 and 365.25",
        )
        months = table.get("closed_months", [])
        if not isinstance(months, list) or any(
            isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12 for m in months
        ):
            self.problem(
                self._key(where, "closed_months"),
                f"must be a list of month numbers 1–12, got {_show(months)}",
            )
        if len(self.problems) > n0:
            return None
        default = Season()
        return Season(default.working_days_per_year if days is None else days, frozenset(months))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
