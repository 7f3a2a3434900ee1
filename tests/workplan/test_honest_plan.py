"""The plan's bound, gap and priorities are honest about the whole problem (issue 19, items 1, 2, 4).

Each instance is small enough to work out by hand, and built so that the candidate pairs the
planner starts from leave out the best plan, or so that the land released alone would never
start the highest-priority hazard.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from demine.domain.accreditation import Accreditation
from demine.workplan import HazardInput, StageWork, TeamInput, build_instance, make_plan, violations
from demine.workplan.instance import unlock_gain

from .test_solvers import APRIL, LAT, LON, PAPER, always, hazard, team

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

# Each team sees only its single nearest task and each task its single nearest team: the
# candidate model is far smaller than the whole problem.
NARROW = PAPER.replace(
    months=1,
    min_candidates=1,
    max_candidates=1,
    candidate_coverage=0.0,
    teams_per_task=1,
    value_coverage=0.0,
    time_limit_s=10,
)


def two_teams_two_hazards():
    """A sits on H1 (score 1), B on H2 (score 0.1), 0.2° apart; both clear 100 m²/day, and
    travel is free (PAPER). H1 holds work for both teams all April, so the best plan sends
    both to H1: 2 × 30 days × 100 m² × 1 = 6,000. Restricted to each team's nearest hazard the
    best is 3,000 + 300 = 3,300 — which the old planner reported as proven optimal."""
    hazards = [
        hazard("H1", 1.0, StageWork("clearance", 100_000, 100_000)),
        hazard("H2", 0.1, StageWork("clearance", 100_000, 100_000), lon=LON + 0.2),
    ]
    teams = [
        team("A", "manual", always("clearance"), clearance=100.0),
        TeamInput("B", "manual", LON + 0.2, LAT, always("clearance"), {"clearance": 100.0}),
    ]
    return hazards, teams


def test_small_problem_is_solved_over_every_pair_and_finds_the_better_plan():
    hazards, teams = two_teams_two_hazards()
    inst = build_instance(hazards, teams, APRIL, NARROW)
    assert inst.complete  # small: every pair of the whole problem is a candidate
    plan = make_plan(inst, NARROW)
    sol = plan.solution
    assert sol.objective == pytest.approx(6000.0, rel=1e-6)
    assert sol.status == "optimal" and sol.bound == pytest.approx(6000.0, rel=1e-6)
    assert violations(inst, sol.y) == []


def test_decomposed_path_bound_holds_for_the_whole_problem():
    """Forced down the large-instance path (not every pair a candidate at first): the bound is
    at least the true optimum, the plan at most the bound, and the gap measured against it."""
    hazards, teams = two_teams_two_hazards()
    config = NARROW.replace(full_milp_columns=0)
    inst = build_instance(hazards, teams, APRIL, config)
    assert not inst.complete
    first = {(int(k), int(j)) for k, j in zip(inst.pair_team, inst.pair_task, strict=True)}
    assert first == {(0, 0), (1, 1)}  # each team only its own hazard: the restricted optimum is 3,300
    plan = make_plan(inst, config)
    sol = plan.solution
    assert sol.bound is not None and sol.bound >= 6000.0 * (1 - 1e-6)
    assert sol.objective <= sol.bound * (1 + 1e-9)
    assert sol.gap == pytest.approx((sol.bound - sol.objective) / sol.objective)
    if sol.status == "optimal":
        assert sol.objective == pytest.approx(6000.0, rel=1e-6)
    # candidates grew: B now has a pair with H1, and the plan uses it
    assert (1, 0) in {(int(k), int(j)) for k, j in zip(inst.pair_team, inst.pair_task, strict=True)}
    assert sol.objective == pytest.approx(6000.0, rel=1e-3)
    assert "merged_teams_lp" in sol.details and violations(inst, sol.y) == []


def test_every_task_keeps_a_team_that_can_really_work_it():
    """The TS team nearest the hazard is accredited for April only, but TS can start only in May
    (after NTS); the far TS team accredited all year has a nearer task of its own (OTHER). The
    far team must still be a candidate for the hazard's TS, and TS planned."""
    config = PAPER.replace(
        months=3,
        min_candidates=1,
        max_candidates=1,
        candidate_coverage=0.0,
        teams_per_task=1,
        value_coverage=0.0,
        full_milp_columns=0,
        time_limit_s=10,
    )
    sha = hazard(
        "SHA",
        1.0,
        StageWork("nts", 20_000, 10_000),
        StageWork("ts", 10_000, 5_000),
        StageWork("clearance", 5_000, 5_000),
    )
    april_only = (Accreditation("ts", date(2027, 1, 1), date(2027, 4, 30)),)
    teams = [
        team("N", "nts", always("nts"), nts=5_000.0),
        team("NEAR-TS", "ts", april_only, ts=1_000.0),
        TeamInput("FAR-TS", "ts", LON + 0.5, LAT, always("ts"), {"ts": 1_000.0}),
    ]
    other = hazard("OTHER", 0.1, StageWork("ts", 1_000, 500), lon=LON + 0.5)
    inst = build_instance([sha, other], teams, APRIL, config)
    ts_task = int(np.flatnonzero((inst.task_stage == 1) & (inst.task_hazard == 0))[0])
    usable = inst.usable()
    assert any(
        inst.teams[int(inst.pair_team[p])].code == "FAR-TS" for p in np.flatnonzero(inst.pair_task == ts_task)
    )
    assert usable[inst.pair_task == ts_task].any()
    plan = make_plan(inst, config)
    timeline = {h["hazard"]: h for h in plan.hazard_timeline()}
    stages = {s["stage"]: s for s in timeline["SHA"]["stages"]}
    assert stages["ts"]["share_done"] > 0


def test_unlock_credit_telescopes_to_the_land_released():
    # TS releases 20 % of its ground and hands 80 % to clearance, which releases all of it.
    score, stage = np.array([1.0, 1.0]), np.array([1, 2])
    work, release = np.array([10_000.0, 8_000.0]), np.array([2_000.0, 8_000.0])
    plain = unlock_gain(score, stage, work, release, 0.0)
    assert plain.tolist() == pytest.approx([0.2, 1.0])  # released share only
    credit = unlock_gain(score, stage, work, release, 0.5)
    assert credit.tolist() == pytest.approx([0.2 + 0.8 * 0.5 - 0.25, 1.0 - 0.5])
    # a hazard taken to the end is worth what it releases, whatever the credit (less the
    # potential its ground had to start with, ¼ of 10,000 m²)
    assert float(credit @ work) == pytest.approx(10_000 - 0.25 * 10_000)
    assert (credit >= 0).all()


def priority_instance(credit: float):
    """One TS team (400 m²/day) for two months; clearance teams are accredited only from July.

    TOP: confirmed, score 1, TS reduces 19.7 % of its 10,000 m². S1–S3: score 0.6, TS reduces
    half. Counting released land only, a TS day is worth 79 on TOP and 120 on an S, so TOP
    never starts; crediting the ground TS opens for clearance (½), it is worth 139 against 120.
    """
    hazards = [
        hazard("TOP", 1.0, StageWork("ts", 10_000, 1_970), StageWork("clearance", 8_030, 8_030)),
        *[
            hazard(f"S{i}", 0.6, StageWork("ts", 10_000, 5_000), StageWork("clearance", 5_000, 5_000))
            for i in (1, 2, 3)
        ],
    ]
    from_july = (Accreditation("clearance", date(2027, 7, 1), None),)
    teams = [
        team("TS", "ts", always("ts"), ts=400.0),
        team("C", "manual", from_july, clearance=100.0),
    ]
    config = PAPER.replace(months=2, unlock_credit=credit)
    return build_instance(hazards, teams, APRIL, config), config


def test_top_confirmed_hazard_needing_ts_then_clearance_is_started():
    inst, config = priority_instance(0.5)
    plan = make_plan(inst, config)
    top = plan.to_dict()["priorities"]
    assert top["top_n"] == 4 and top["hazards"][0]["hazard"] == "TOP"
    assert top["hazards"][0]["reason"] is None and top["hazards"][0]["status"] == "started"
    assert top["started"] == sum(1 for h in top["hazards"] if h["reason"] is None)
    assert top["share_started"] == pytest.approx(top["started"] / 4)
    # every top hazard is started or says why not
    for h in top["hazards"]:
        assert (h["status"] != "not started") == (h["reason"] is None), h
    # its clearance cannot be planned in the horizon, and the plan says so
    reasons = {(i["code"], i["stage"]): i["reason"] for i in plan.to_dict()["infeasible"]}
    assert reasons[("TOP", "clearance")].startswith("no accredited clearance team during the horizon")


def test_without_unlock_credit_top_hazard_waits_and_the_reason_names_the_work_that_took_the_team():
    inst, config = priority_instance(0.0)
    plan = make_plan(inst, config)
    top = plan.priorities()
    first = top["hazards"][0]
    assert first["hazard"] == "TOP" and first["status"] == "not started"
    assert first["reason"].startswith("capacity used by")
    assert "S1" in first["reason"] or "S2" in first["reason"] or "S3" in first["reason"]
    assert "TS" in first["reason"]
    summary = plan.summary()
    # hazards the plan never starts are not "in the plan"
    assert summary["hazards_in_plan"] == summary["hazards_started"] < summary["hazards_plannable"] == 4


def test_late_accreditation_is_named_in_the_reason():
    """The only TS team is accredited from June; the two-month plan from April cannot start TS."""
    hazards = [hazard("TOP", 1.0, StageWork("ts", 10_000, 2_000), StageWork("clearance", 8_000, 8_000))]
    june = (Accreditation("ts", date(2027, 6, 1), None),)
    config = PAPER.replace(months=3)
    plan = make_plan(build_instance(hazards, [team("TS", "ts", june, ts=10.0)], APRIL, config), config)
    rows = plan.priorities()["hazards"]
    assert rows[0]["status"] == "started"  # June is inside the horizon
    short = PAPER.replace(months=2)
    plan = make_plan(build_instance(hazards, [team("TS", "ts", june, ts=10.0)], APRIL, short), short)
    row = plan.priorities()["hazards"][0]
    assert row["status"] == "not plannable" and "no accredited TS team during the horizon" in row["reason"]


def test_greedy_fallback_has_no_bound_and_says_so():
    inst, config = priority_instance(0.5)
    plan = make_plan(inst, config, greedy_only=True)
    out = plan.to_dict()
    assert out["solver"]["bound"] is None and out["solver"]["gap"] is None
    assert any("no bound is known" in n for n in out["notes"])


def test_every_hazard_past_the_top_n_is_left_out_of_the_report():
    hazards = [
        HazardInput(f"H{i}", LON + 0.01 * i, LAT, 1.0 - 0.01 * i, (StageWork("clearance", 1_000, 1_000),))
        for i in range(5)
    ]
    config = PAPER.replace(top_n=3)
    plan = make_plan(
        build_instance(hazards, [team("C", "manual", always("clearance"), clearance=100.0)], APRIL, config),
        config,
    )
    top = plan.priorities()
    assert [h["hazard"] for h in top["hazards"]] == ["H0", "H1", "H2"] and top["top_n"] == 3
