"""Scenario TOML: the documented example parses; every mistake names its key."""

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demine.planning import (
    CapacityPlan,
    ForecastInputs,
    Scenario,
    ScenarioError,
    compare,
    default_parameters,
    load_scenario,
    parse_scenario,
    scenario,
    scenario_from_dict,
)

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

EXAMPLE = scenario.__doc__.split("Format")[1].split("::", 1)[1]
EXAMPLE = "\n".join(line[4:] for line in EXAMPLE.splitlines())


def test_documented_example_parses():
    s = parse_scenario(EXAMPLE)
    assert s.name == "Four more dog teams and a deminer course"
    assert s.add_teams[0].team_type == "mdd" and s.add_teams[0].teams == 4
    assert s.add_teams[0].start == date(2026, 4, 1) and s.add_teams[0].end == date(2030, 12, 31)
    assert s.remove_teams[0].teams == 10
    t = s.training[0]
    assert (t.trainees_per_month, t.pass_rate, t.staff_per_team) == (24, 0.8, 8)
    assert s.budget[0].money_per_year == 5_000_000 and s.budget[0].cost_per_m2 == 2.0
    assert s.seasons["mdd"].closed_months == frozenset({6, 7, 8})


def test_load_from_file(tmp_path):
    path = tmp_path / "more.toml"
    path.write_text('name = "x"\n[[add_teams]]\nteam_type = "manual"\nteams = 2\nstart = "2026-01-01"\n')
    assert load_scenario(path).add_teams[0].start == date(2026, 1, 1)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "key", "why"),
    [
        ("nmae = 'x'", "nmae", "unknown key"),
        ("[[add_teams]]\nteam_type='manual'\nteams=-2\nstart=2026-01-01", "add_teams[0].teams", "≥ 0"),
        ("[[add_teams]]\nteam_type='dogs'\nteams=2\nstart=2026-01-01", "add_teams[0].team_type", "one of"),
        ("[[add_teams]]\nteam_type='mdd'\nteams=2", "add_teams[0].start", "required"),
        (
            "[[add_teams]]\nteam_type='mdd'\nteams=2\nstart=2026-05-01\nend=2026-01-01",
            "add_teams[0].end",
            "before start",
        ),
        ("[[add_teams]]\nteam_type='mdd'\nteams='two'\nstart=2026-01-01", "add_teams[0].teams", "number"),
        (
            "[[add_teams]]\nteam_type='mdd'\nteams=2\nstart=2026-01-01\ncolour='red'",
            "add_teams[0].colour",
            "unknown key",
        ),
        (
            "[[remove_teams]]\nteam_type='mdd'\nteams=2\nstart=2026-01-01\nramp_up_months=2",
            "remove_teams[0].ramp_up_months",
            "unknown key",
        ),
        (
            "[[training]]\nteam_type='manual'\ntrainees_per_month=5\nstart=2026-01-01\ncourse_months=2\npass_rate=1.5\nstaff_per_team=8",
            "training[0].pass_rate",
            "between 0 and 1",
        ),
        (
            "[[training]]\nteam_type='manual'\ntrainees_per_month=5\nstart=2026-01-01\npass_rate=0.5\nstaff_per_team=8",
            "training[0].course_months",
            "required",
        ),
        ("[[budget]]\nmoney_per_year=1e6\ncost_per_m2=0", "budget[0].cost_per_m2", "> 0"),
        ("[[budget]]\nmoney_per_year=1e6\nstart=2026-01-01T10:00:00", "budget[0].start", "without a time"),
        ("[seasons.mdd]\nclosed_months=[13]", "seasons.mdd.closed_months", "1–12"),
        ("[seasons.rats]\nworking_days_per_year=100", "seasons.rats", "unknown team type"),
        ("add_teams = 3", "add_teams", "array of tables"),
        ("name = ", "(syntax)", "not valid TOML"),
    ],
)
def test_errors_name_the_key(text, key, why):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, source="plan.toml")
    messages = [str(p) for p in err.value.problems]
    assert any(m.startswith(f"plan.toml: {key}: ") and why in m for m in messages), messages


def test_all_problems_reported_at_once():
    text = "bogus = 1\n[[add_teams]]\nteam_type='x'\nteams=-1\n"
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text)
    fields = {p.field for p in err.value.problems}
    assert {"bogus", "add_teams[0].team_type", "add_teams[0].teams", "add_teams[0].start"} <= fields


team_types = st.sampled_from(["manual", "mdd", "mechanical", "nts", "ts"])
dates = st.dates(date(2020, 1, 1), date(2040, 12, 31))
add_tables = st.fixed_dictionaries(
    {"team_type": team_types, "teams": st.floats(0, 500), "start": dates},
    optional={"ramp_up_months": st.floats(0, 24)},
)
budget_tables = st.fixed_dictionaries(
    {"money_per_year": st.floats(0, 1e9)}, optional={"cost_per_m2": st.floats(0.01, 50)}
)


@settings(max_examples=60, deadline=None)
@given(st.lists(add_tables, max_size=4), st.lists(budget_tables, max_size=3))
def test_valid_dicts_round_trip(adds, budgets):
    s = scenario_from_dict({"name": "h", "add_teams": adds, "budget": budgets})
    assert [(a.team_type, a.teams, a.start) for a in s.add_teams] == [
        (a["team_type"], a["teams"], a["start"]) for a in adds
    ]
    assert [b.money_per_year for b in s.budget] == [b["money_per_year"] for b in budgets]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(add_tables, min_size=1, max_size=3),
    st.data(),
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
)
def test_any_unknown_key_is_named(adds, data, bad_key):
    allowed = {"team_type", "teams", "start", "end", "ramp_up_months"}
    if bad_key in allowed:
        return
    i = data.draw(st.integers(0, len(adds) - 1))
    adds = [dict(a) for a in adds]
    adds[i][bad_key] = 1
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict({"add_teams": adds})
    assert f"add_teams[{i}].{bad_key}" in {p.field for p in err.value.problems}


@settings(max_examples=60, deadline=None)
@given(st.lists(add_tables, min_size=1, max_size=3), st.data(), st.floats(-1e6, -1e-9))
def test_any_negative_count_is_named(adds, data, negative):
    i = data.draw(st.integers(0, len(adds) - 1))
    adds = [dict(a) for a in adds]
    adds[i]["teams"] = negative
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict({"add_teams": adds})
    assert [p.field for p in err.value.problems] == [f"add_teams[{i}].teams"]


def test_compare_more_teams_finishes_earlier_on_same_draws():
    rng = np.random.default_rng(4)
    n = 400
    inputs = ForecastInputs(
        rng.lognormal(np.log(20_000), 1, n),
        rng.integers(0, 2, n),
        rng.integers(0, 3, n),
        date(2025, 1, 1),
        order=rng.permutation(n),
    )
    baseline = CapacityPlan({"manual": 15, "mdd": 2, "nts": 3, "ts": 3})
    more = parse_scenario(
        "name='more'\n[[add_teams]]\nteam_type='manual'\nteams=15\nstart=2025-06-01\n"
        "[[budget]]\nmoney_per_year=2e6\ncost_per_m2=2.5\n"
    )
    result = compare(inputs, default_parameters(), baseline, more, trials=200, seed=3)
    assert result.with_scenario.completion.p50 < result.baseline.completion.p50
    assert result.years_saved_p50 > 0
    assert result.earlier_or_same_share == 1.0
    assert result.years_saved_by_trial[0] >= 0
    d = result.to_dict()
    assert d["scenario"]["name"] == "more"
    assert d["released_by_year"][1]["extra_p50"] > 0
    # The baseline in a comparison is exactly the forecast on its own (common random numbers).
    from demine.planning import forecast

    alone = forecast(inputs, default_parameters(), baseline, 200, 3)
    assert alone.to_dict() == result.baseline.to_dict()
    assert isinstance(more, Scenario)
