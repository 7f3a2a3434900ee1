"""Settings of the workplan optimiser, with their sources.

Productivities are not here: they come from the forecast's parameters
(:mod:`demine.planning.parameters`, ``docs/sources.md#manual-clearance-rate`` and after),
calibrated on the programme's own daily progress reports when there are any
(:func:`demine.planning.calibrate.calibrate`). Everything below is either sourced in
``docs/sources.md`` (cited by anchor) or marked as an assumption to be replaced by the
programme's own figure.
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
# Dogs and machines clear, and also do technical survey: NPA/CMAC ("one dog = technical survey")
# and Smith (machines are "mostly used for ground preparation, area reduction and TS");
# docs/sources.md#stages-of-team-types.
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
    by default dogs rest in July and August (SFOR Informer 113: no dog work above 30 °C,
    BiH 2001, docs/sources.md#dog-season; *which* months pass 30 °C is an assumption for a
    temperate-continental programme: set it per country). ``max_machine_slope_deg`` keeps
    mechanical teams off hazards steeper than that (assumption: armoured flails and tillers are
    commonly rated for slopes of roughly 15–30°; no public figure found,
    docs/sources.md#workplan-assumptions) — a hazard with no recorded slope is not restricted.
    ``working_days_per_year`` comes from the forecast (~200–230, itself an assumption:
    docs/sources.md#working-days); a team works that share of each calendar day of an open month.

    Travel: each month a team is deployed to a hazard costs ``setup_days`` plus the round trip
    from its base at ``travel_km_per_day`` (straight-line km covered per travel day, including
    the detour of real roads) — assumptions, no public source found.

    The solver: ``time_limit_s`` and ``mip_gap`` stop HiGHS; ``max_milp_columns`` is the size
    above which the MILP is not attempted and the greedy plan is returned; a model with at most
    ``full_milp_columns`` columns is also solved whole (see :mod:`demine.workplan.milp`).
    ``candidate_coverage`` sizes each team's candidate hazards: its nearest hazards whose work
    adds up to that multiple of what the team can do in the horizon (at least
    ``min_candidates``, at most ``max_candidates``), plus the ``teams_per_task`` nearest able
    teams of every task (and at least one team that can work it), and the
    ``teams_per_valuable_task`` nearest able teams of the most valuable tasks — those whose work
    adds up to ``value_coverage`` times what the able teams can do. For every task the
    merged-teams LP works, the group's ``lp_teams_per_task`` nearest members become candidates
    (:mod:`demine.workplan.milp`; 15 plans ~1 % better than 3 on the benchmark, more gain
    nothing). ``pricing_gap`` stops column
    generation: pairs are added while the LP bound of the whole problem exceeds the restricted
    LP's by more than that share (see :mod:`demine.workplan.milp`).

    ``unlock_credit``: what an m² of ground made ready for the next stage is worth, as a share of
    an m² one stage nearer release (:mod:`demine.workplan.instance`, *Value*). Assumption: ½ — a
    survey that opens ground for clearance earns half its value before the clearance is done;
    0 counts released land only (a survey of a confirmed area then earns only the share it
    reduces, and survey teams shun the highest-priority confirmed areas). ``top_n``: how many of
    the highest-scoring hazards the plan reports on (started, or why not).
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
    pricing_gap: float = 0.002
    value_coverage: float = 1.5
    teams_per_valuable_task: int = 5
    lp_teams_per_task: int = 15
    unlock_credit: float = 0.5
    top_n: int = 50
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
        if not 0 <= self.unlock_credit < 1:
            problems.append(f"unlock_credit must be in [0, 1), got {self.unlock_credit}")
        if self.top_n < 0:
            problems.append(f"top_n must be ≥ 0, got {self.top_n}")
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
            "pricing_gap": self.pricing_gap,
            "value_coverage": self.value_coverage,
            "teams_per_valuable_task": self.teams_per_valuable_task,
            "lp_teams_per_task": self.lp_teams_per_task,
            "unlock_credit": self.unlock_credit,
            "top_n": self.top_n,
        }
