"""Settings of the workplan optimiser, with their sources.

Productivities are not here: they come from the forecast's parameters
(:mod:`demine.planning.parameters`, planning-figures §1 and §7), calibrated on the programme's
own daily progress reports when there are any (:func:`demine.planning.calibrate.calibrate`).
Everything below is either sourced in ``shared/reference/planning-figures.md`` (cited by
section) or marked as an assumption to be replaced by the programme's own figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from demine.planning.parameters import WORKING_DAYS_PER_YEAR

# The land release stages in the order a hazard goes through them (IMAS 08.10/08.20/09.10).
STAGES: tuple[str, ...] = ("nts", "ts", "clearance")
# The accreditation activity type (code list ``activity_type``) that allows each stage.
ACTIVITY_OF_STAGE: dict[str, str] = {"nts": "nts", "ts": "ts", "clearance": "clearance"}

# Which stages each team type can work. NTS and TS teams do their own stage; manual teams clear.
# Dogs and machines clear, and also do technical survey: planning-figures §1.2 ("one dog = technical
# survey") and §1.3 (machines are "mostly used for ground preparation, area reduction and TS").
# A team also needs a valid accreditation for the stage's activity, so a dog team accredited for
# clearance only is never given TS. EOD/BAC teams do spot tasks, not area release: not planned.
DEFAULT_STAGES_OF_TYPE: dict[str, tuple[str, ...]] = {
    "nts": ("nts",),
    "ts": ("ts",),
    "manual": ("clearance",),
    "mdd": ("ts", "clearance"),
    "mechanical": ("ts", "clearance"),
}


@dataclass(frozen=True)
class PlanConfig:
    """How the workplan is built and solved.

    ``closed_months`` maps a team type to calendar months (1–12) in which it does not work:
    by default dogs rest in July and August (planning-figures §1.2: no dog work above 30 °C,
    BiH 2001; *which* months pass 30 °C is an assumption for a temperate-continental programme:
    set it per country). ``max_machine_slope_deg`` keeps mechanical teams off hazards steeper
    than that (assumption: armoured flails and tillers are commonly rated for slopes of roughly
    15–30°; no figure in the reference notes) — a hazard with no recorded slope is not
    restricted. ``working_days_per_year`` comes from planning-figures §7 (~200–230, itself an
    assumption); a team works that share of each calendar day of an open month.

    Travel: each month a team is deployed to a hazard costs ``setup_days`` plus the round trip
    from its base at ``travel_km_per_day`` (straight-line km covered per travel day, including
    the detour of real roads) — assumptions, no source in the reference notes.

    The solver: ``time_limit_s`` and ``mip_gap`` stop HiGHS; ``max_milp_columns`` is the size
    above which the MILP is not attempted and the greedy plan is returned; a model with at most
    ``full_milp_columns`` columns is also solved whole (see :mod:`demine.workplan.milp`).
    ``candidate_coverage`` sizes each team's candidate hazards: its nearest hazards whose work
    adds up to that multiple of what the team can do in the horizon (at least
    ``min_candidates``, at most ``max_candidates``), plus the ``teams_per_task`` nearest able
    teams of every task.
    """

    months: int = 12
    closed_months: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: {"mdd": (7, 8)})
    max_machine_slope_deg: float = 20.0
    working_days_per_year: float = WORKING_DAYS_PER_YEAR
    setup_days: float = 0.5
    travel_km_per_day: float = 250.0
    stages_of_type: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_STAGES_OF_TYPE)
    )
    time_limit_s: float = 60.0
    mip_gap: float = 0.01
    max_milp_columns: int = 500_000
    full_milp_columns: int = 20_000
    candidate_coverage: float = 3.0
    min_candidates: int = 6
    max_candidates: int = 60
    teams_per_task: int = 2
    threads: int = 0  # 0: HiGHS decides

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.months <= 60:
            problems.append(f"months must be 1–60, got {self.months}")
        for team_type, months in self.closed_months.items():
            bad = [m for m in months if not 1 <= int(m) <= 12]
            if bad:
                problems.append(f"closed months of {team_type} must be 1–12, got {bad}")
        for stages in self.stages_of_type.values():
            unknown = [s for s in stages if s not in STAGES]
            if unknown:
                problems.append(f"unknown stages {unknown}; expected some of {list(STAGES)}")
        for name in ("setup_days", "time_limit_s", "mip_gap", "max_machine_slope_deg"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} must be ≥ 0")
        if not self.travel_km_per_day > 0:
            problems.append("travel_km_per_day must be > 0")
        if not 0 < self.working_days_per_year <= 366:
            problems.append("working_days_per_year must be in (0, 366]")
        if problems:
            raise ValueError("; ".join(problems))

    def replace(self, **changes: Any) -> PlanConfig:
        """A copy with some settings changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings, for the plan's explanation."""
        return {
            "months": self.months,
            "closed_months": {k: sorted(int(m) for m in v) for k, v in self.closed_months.items()},
            "max_machine_slope_deg": self.max_machine_slope_deg,
            "working_days_per_year": self.working_days_per_year,
            "setup_days": self.setup_days,
            "travel_km_per_day": self.travel_km_per_day,
            "stages_of_type": {k: list(v) for k, v in self.stages_of_type.items()},
            "time_limit_s": self.time_limit_s,
            "mip_gap": self.mip_gap,
            "max_milp_columns": self.max_milp_columns,
            "full_milp_columns": self.full_milp_columns,
            "candidate_coverage": self.candidate_coverage,
            "teams_per_task": self.teams_per_task,
        }
