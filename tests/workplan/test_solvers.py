"""The workplan solvers on small instances whose answers can be worked out by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from demine.domain.accreditation import Accreditation
from demine.workplan import (
    HazardInput,
    PlanConfig,
    StageWork,
    TeamInput,
    build_instance,
    make_plan,
    solve_greedy,
    stage_work,
    violations,
)
from demine.workplan.solution import finish_month, progress

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

LON, LAT = 32.0, 47.5
APRIL = date(2027, 4, 1)  # April has 30 days, May 31
# One team-day per calendar day, and no travel: the arithmetic stays on paper.
PAPER = PlanConfig(
    months=2,
    working_days_per_year=365.25,
    setup_days=0.0,
    travel_km_per_day=1e9,
    closed_months={},
    time_limit_s=20,
    unlock_credit=0.0,  # released land only: the hand arithmetic below
)


def always(*activities: str) -> tuple[Accreditation, ...]:
    return tuple(Accreditation(a, date(2020, 1, 1), None) for a in activities)


def hazard(
    code: str, score: float, *stages: StageWork, slope: float | None = None, lon: float = LON
) -> HazardInput:
    return HazardInput(code, lon, LAT, score, stages, slope_deg=slope, remaining_m2=stages[0].work_m2)


def team(code: str, team_type: str, accreditations: tuple[Accreditation, ...], **rates: float) -> TeamInput:
    return TeamInput(code, team_type, LON, LAT, accreditations, rates)


def known_optimum_instance():
    """Team A (dogs: TS and clearance, 100 m²/day), team B (manual: clearance, 100 m²/day).

    H1 clearance 3,000 m² (score 1), H2 TS 6,100 m² releasing half (score 1), H3 clearance
    6,100 m² (score 0.2). Per team-day: H1 is worth 100, H2 50, H3 20; April counts 1, May 0.5.

    Optimum: B clears H1 in April (3,000), A surveys H2 in April (30 × 50 = 1,500) and May
    (31 × 50 × 0.5 = 775), B clears H3 in May (31 × 20 × 0.5 = 310): 5,585.
    Greedy: A takes H1 first (the tie goes to the first team) and finishes it in April (3,000),
    so B can only clear H3 (30 × 20 = 600); in May A surveys H2 (775) and B clears H3 (310):
    4,685.
    """
    hazards = [
        hazard("H1", 1.0, StageWork("clearance", 3000, 3000)),
        hazard("H2", 1.0, StageWork("ts", 6100, 3050)),
        hazard("H3", 0.2, StageWork("clearance", 6100, 6100)),
    ]
    teams = [
        team("A", "mdd", always("ts", "clearance"), ts=100.0, clearance=100.0),
        team("B", "manual", always("clearance"), clearance=100.0),
    ]
    return build_instance(hazards, teams, APRIL, PAPER)


def test_milp_finds_the_hand_computed_optimum_the_greedy_misses():
    inst = known_optimum_instance()
    assert list(inst.team_days[0]) == [30.0, 31.0]
    greedy = solve_greedy(inst)
    assert greedy.objective == pytest.approx(4685.0)
    plan = make_plan(inst, PAPER)
    assert plan.solution.solver == "highs-milp"
    assert plan.solution.status == "optimal"
    assert plan.solution.objective == pytest.approx(5585.0, rel=1e-6)
    assert plan.solution.gap == pytest.approx(0.0, abs=1e-4)
    assert violations(inst, plan.solution.y) == []
    rows = {(r["team"], r["month"], r["hazard"]): r["team_days"] for r in plan.assignments()}
    assert rows[("B", "2027-04", "H1")] == pytest.approx(30.0)
    assert rows[("A", "2027-04", "H2")] == pytest.approx(30.0)
    out = plan.to_dict()
    assert out["solver"]["greedy_objective"] == pytest.approx(4685.0)
    assert out["solver"]["improvement_over_greedy"] == pytest.approx(5585 / 4685 - 1, rel=1e-4)


def test_greedy_only_reports_no_gap():
    plan = make_plan(known_optimum_instance(), PAPER, greedy_only=True)
    assert plan.solution.solver == "greedy" and plan.solution.gap is None
    assert plan.solution.objective == pytest.approx(4685.0)
    assert any("greedy" in n for n in plan.notes)


def test_travel_days_come_off_the_month():
    # The same team 100 km from the hazard: 0.5 set-up + 200 km / 250 km per day = 1.3 days lost.
    config = PAPER.replace(setup_days=0.5, travel_km_per_day=250.0, months=1)
    far = HazardInput("H", LON + 100 / 75.2, LAT, 1.0, (StageWork("clearance", 10_000, 10_000),))
    inst = build_instance([far], [team("B", "manual", always("clearance"), clearance=100.0)], APRIL, config)
    assert inst.pair_km[0] == pytest.approx(100.0, rel=0.01)
    assert inst.pair_travel_days[0] == pytest.approx(0.5 + 2 * inst.pair_km[0] / 250.0)
    plan = make_plan(inst, config)
    assert plan.solution.y.sum() == pytest.approx(30.0 - inst.pair_travel_days[0])


def test_stage_work_splits_a_hazard_with_the_funnel():
    stages = stage_work(("nts", "ts", "clearance"), 10_000.0, (0.4, 0.22, 0.38))
    assert [s.stage for s in stages] == ["nts", "ts", "clearance"]
    assert [s.work_m2 for s in stages] == pytest.approx([10_000, 6_000, 3_800])
    assert [s.release_m2 for s in stages] == pytest.approx([4_000, 2_200, 3_800])
    past_nts = stage_work(("ts", "clearance"), 6_000.0, (0.4, 0.22, 0.38))
    assert sum(s.release_m2 for s in past_nts) == pytest.approx(6_000)
    assert past_nts[0].release_m2 == pytest.approx(6_000 * 0.22 / 0.60)


def test_precedence_nts_before_ts_before_clearance():
    config = PAPER.replace(months=5)
    sha = hazard("SHA", 1.0, *stage_work(("nts", "ts", "clearance"), 30_000.0, (0.4, 0.2, 0.4)))
    teams = [
        team("N", "nts", always("nts"), nts=500.0),  # 60 days of NTS: two months
        team("T", "ts", always("ts"), ts=1000.0),
        team("C", "manual", always("clearance"), clearance=1000.0),
    ]
    inst = build_instance([sha], teams, APRIL, config)
    plan = make_plan(inst, config)
    y = plan.solution.y
    assert violations(inst, y) == []
    worked = progress(inst, y)
    first = [int(np.flatnonzero(worked[j] > 1e-6)[0]) for j in range(3)]
    assert first[0] == 0 and first[1] >= first[0] + 1 and first[2] >= first[1] + 1
    finish = finish_month(inst, y)
    assert finish[0] < finish[1] < finish[2] < config.months
    share = np.cumsum(worked, axis=1) / inst.work[:, None]
    for j in (1, 2):  # each stage only on ground the previous one finished a month earlier
        assert np.all(share[j, 1:] <= share[j - 1, :-1] + 1e-6)
        assert share[j, 0] == 0
    greedy = solve_greedy(inst)
    assert violations(inst, greedy.y) == []


def test_violations_catch_a_broken_plan():
    inst = known_optimum_instance()
    y = np.zeros((inst.pair_team.size, inst.months))
    y[:, 0] = 40.0  # more days than April has, and more work than H1 holds
    found = violations(inst, y)
    assert any("days" in v for v in found) and any("worked" in v for v in found)


def test_large_instance_path_lp_bound_restricted_milp_and_neighbourhoods():
    """Forced down the path large instances take: the plan is feasible, never worse than greedy,
    and its gap is measured against the LP bound of the whole model."""
    rng = np.random.default_rng(5)
    hazards = [
        hazard(
            f"H{i:03d}",
            float(rng.uniform(0.1, 1.0)),
            *stage_work(
                ("nts", "ts", "clearance") if i % 3 else ("clearance",),
                float(rng.uniform(2e3, 5e4)),
                (0.4, 0.2, 0.4),
            ),
            lon=LON + float(rng.uniform(-0.3, 0.3)),
        )
        for i in range(120)
    ]
    kinds = [
        ("nts", ("nts",), 20_000.0),
        ("ts", ("ts",), 2_000.0),
        ("manual", ("clearance",), 200.0),
        ("mdd", ("ts", "clearance"), 600.0),
    ]
    teams = []
    for i in range(12):
        team_type, activities, rate = kinds[i % len(kinds)]
        lon = LON + float(rng.uniform(-0.3, 0.3))
        rates = {a: rate for a in activities}
        teams.append(TeamInput(f"T{i:02d}", team_type, lon, LAT, always(*activities), rates))
    # No gap is good enough, so the neighbourhood search runs too.
    config = PlanConfig(months=6, time_limit_s=6, full_milp_columns=0, mip_gap=1e-4)
    inst = build_instance(hazards, teams, APRIL, config)
    plan = make_plan(inst, config)
    sol = plan.solution
    assert "neighbourhood search" in sol.details["method"]
    assert sol.details["column_generation"]["lp_status"] == "Optimal"
    assert sol.details["restricted_columns"] < sol.details["columns"] and sol.details["sub_milps"] >= 1
    assert violations(inst, sol.y) == []
    assert sol.objective >= plan.greedy.objective * (1 - 1e-9)
    assert sol.bound is not None and sol.bound >= sol.objective
    assert sol.gap == pytest.approx((sol.bound - sol.objective) / sol.objective)
    assert sol.gap < 0.05, sol.details
