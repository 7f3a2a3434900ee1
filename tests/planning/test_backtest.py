"""Backtests: a synthetic programme with a known truth is recovered; real national series run.

The truth is a run of the model itself (the day-by-day reference engine) with the priors'
median values and no uncertainty, written out as a national summary the way a mine action
authority reports it: SHA = land not yet surveyed, CHA = the rest still open, and what was
cancelled, reduced and cleared each year. The backtest sees only the years up to ``at``.
"""

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from demine.planning import (
    CapacityPlan,
    Funnel,
    default_parameters,
    deterministic_parameters,
    draw_trials,
    simulate_reference,
)
from demine.planning.backtest import backtest
from demine.planning.parameters import TEAM_TYPES
from demine.planning.programme_file import Programme, ProgrammeError, load_programme, programme_from_dict
from demine.planning.timeline import DAYS_PER_YEAR, Timeline

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
START = date(2015, 1, 1)
SHA, CHA = 300e6, 100e6
# A programme whose stages keep roughly in step (as one that plans its capacity would): NTS a
# little ahead, TS and clearance finishing in about twenty years.
TEAMS = {"manual": 100, "mdd": 20, "mechanical": 10, "nts": 4, "ts": 28}
HORIZON = 40


@pytest.fixture(scope="module")
def truth():
    """The known run: per-year stock by state and releases by method; and its completion."""
    priors = default_parameters()
    params = deterministic_parameters(
        {t: priors.productivity[t].median for t in TEAM_TYPES},
        depletion=priors.depletion.median,
        new_m2_per_year=priors.new_contamination_share_per_year.median * (SHA + CHA),
    ).replace(funnel=tuple(Funnel(*f.mean) for f in priors.funnel))
    inputs = Programme(start=START, sha_m2=SHA, cha_m2=CHA, hazards=300, teams=TEAMS).prepare().inputs
    run = simulate_reference(
        inputs, params, CapacityPlan(TEAMS), draw_trials(params, 1, 0, SHA + CHA), horizon_years=HORIZON
    )
    out = run.outcomes
    nts_day = run.hazard_stage_day[0, 0]  # per hazard, in service order
    area, cls = inputs.area_m2[inputs.order], inputs.hazard_class[inputs.order]
    released = np.diff(out.released[0], axis=0, prepend=0.0)
    _, year_end = Timeline.for_years(START, HORIZON).year_ends
    rows, remaining = [], {}
    for i, year in enumerate(out.years):
        total = float(out.remaining[0, i])
        unsurveyed = float(area[(cls == 0) & (nts_day > year_end[i])].sum())
        remaining[int(year)] = total
        rows.append(
            {
                "year": int(year),
                "remaining_sha_m2": unsurveyed,
                "remaining_cha_m2": total - unsurveyed,
                "cancelled_m2": float(released[i, 0]),
                "reduced_m2": float(released[i, 1]),
                "cleared_m2": float(released[i, 2]),
                "teams": TEAMS,
            }
        )
        if total <= 0:
            break
    last = rows[-1]["year"]
    programme = programme_from_dict(
        # The truth's discoveries go on for the whole run: the file says so.
        {
            "name": "synthetic",
            "start": date(last + 1, 1, 1),
            "sha_m2": 1.0,
            "discovery_years": HORIZON,
            "history": rows,
        },
        "synthetic",
    )
    completion_years = float(out.completion_day[0]) / DAYS_PER_YEAR
    return programme, remaining, completion_years


@pytest.mark.parametrize("at", [2017, 2019])
def test_backtest_recovers_a_known_truth(truth, at):
    # The truth's depletion (the prior median, 0.5) shows in three years of exact figures only
    # as a fall of output of about 1.5 % a year, so beyond a few years the P50 runs ahead of
    # it; what must hold through the default settings is that it lies inside the band
    # throughout, and that the near years are close.
    programme, remaining, _completion_years = truth
    result = backtest(programme, at, trials=400, seed=5)
    start_stock = remaining[at]
    checked = 0
    for p in result.points:
        if p.kind != "remaining" or p.observed < 0.2 * start_stock:
            continue  # near the end, relative errors of a few km² mean nothing
        if p.year - at <= 5:
            assert p.p10 <= p.observed <= p.p90, p
        if p.year - at <= 3:
            assert p.p50 == pytest.approx(p.observed, rel=0.10), p
        checked += 1
    assert checked >= 8
    # Further out the truth's depletion (which its first years barely show) makes it slower
    # than the forecast: its completion, ~17 years on, lies past the P90 (see the issue 14 note).
    # The naive straight line (stock ÷ cleared per year) is further off than the P50.
    assert result.naive_mean_abs_error > result.p50_mean_abs_error


@pytest.mark.parametrize(
    ("name", "at", "kinds"),
    [
        ("croatia", 2015, {"cleared": 2, "remaining": 1}),
        ("cambodia", 2015, {"remaining": 2, "cleared": 1}),
        ("bih", 2011, {"remaining": 2, "released": 1, "cleared": 1}),
        ("angola", 2021, {"remaining": 1}),
    ],
)
def test_real_series_backtest_runs_and_reports_sane_numbers(name, at, kinds):
    programme = load_programme(EXAMPLES / f"{name}.toml")
    result = backtest(programme, at, trials=300, seed=1)
    d = result.to_dict()
    assert d["start"] == f"{at + 1}-01-01"
    assert {k: v["figures"] for k, v in d["by_kind"].items()} == kinds
    assert 0.0 <= d["coverage"] <= 1.0
    for p in d["points"]:
        assert p["year"] > at
        assert 0 <= p["p10_m2"] <= p["p50_m2"] <= p["p90_m2"]
        assert np.isfinite(p["p50_error"]) and p["naive_m2"] is not None
    assert d["p50_mean_abs_error"] is not None and d["naive_mean_abs_error"] is not None
    assert d["notes"] and d["naive_years"] > 0


def test_backtest_needs_a_starting_stock_and_later_figures():
    programme = load_programme(EXAMPLES / "croatia.toml")
    with pytest.raises(ProgrammeError, match="no remaining area at the end of 2019"):
        backtest(programme, 2019, trials=50)
    with pytest.raises(ProgrammeError, match="no figures after 2021"):
        backtest(programme, 2021, trials=50)


def test_completion_is_checked_when_the_file_has_it():
    text = {
        "start": date(2016, 1, 1),
        "sha_m2": 1.0,
        "completed_on": date(2015, 9, 17),
        "history": [
            {"year": 2012, "remaining_m2": 12e6, "released_m2": 6e6},
            {"year": 2013, "remaining_m2": 7e6, "released_m2": 6e6},
            {"year": 2014, "remaining_m2": 2e6, "released_m2": 5.5e6},
        ],
    }
    result = backtest(programme_from_dict(text), 2013, trials=200, seed=2)
    check = result.to_dict()["completion_check"]
    assert check["observed_years"] == pytest.approx(
        (date(2015, 9, 17) - date(2014, 1, 1)).days / DAYS_PER_YEAR
    )
    assert check["p10_years"] <= check["p50_years"] <= check["p90_years"]
