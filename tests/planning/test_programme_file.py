"""Programme summary TOML: the documented format parses, every mistake names its key, and the
published figures become stock, funnel, capacity and discoveries as documented."""

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from demine.planning import History, calibrate, default_parameters, load_scenario, programme_file
from demine.planning.programme_file import (
    Programme,
    ProgrammeError,
    ProgrammeYear,
    load_programme,
    parse_programme,
    programme_from_dict,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOC = programme_file.__doc__.split("Format")[1].split("::", 1)[1].split("\n\nEvery history year")[0]
DOC = "\n".join(line[4:] for line in DOC.splitlines())
REAL = ("croatia", "cambodia", "bih", "angola")


def test_documented_example_parses():
    p = parse_programme(DOC)
    assert p.name == "Croatia" and p.start == date(2016, 1, 1)
    assert (p.sha_m2, p.cha_m2) == (189_000_000, 294_000_000)
    assert p.teams == {"manual": 120, "mdd": 10} and p.discovery_years == 10
    (row,) = p.history
    assert row.year == 2015 and row.remaining_m2 == 483_000_000 and row.has_split
    assert row.released_m2 == 67_750_000 and row.teams == {"manual": 120}


@pytest.mark.parametrize("name", [*REAL, "demoland"])
def test_example_files_parse_and_prepare(name):
    p = load_programme(EXAMPLES / f"{name}.toml")
    assert p.sources and all(r.year < p.start.year for r in p.history)
    prepared = p.prepare()
    assert prepared.inputs.stock_m2 == pytest.approx(p.sha_m2 + p.cha_m2)
    assert prepared.inputs.start == p.start
    assert any(n.startswith("stock:") for n in prepared.notes)


def test_example_scenario_parses():
    s = load_scenario(EXAMPLES / "more-clearance-teams.toml")
    assert [a.team_type for a in s.add_teams] == ["manual", "mdd"] and s.training and s.budget


BASE = "start = 2020-01-01\nsha_m2 = 1e6\n"


@pytest.mark.parametrize(
    ("text", "key", "why"),
    [
        (BASE + "colour = 'red'", "colour", "unknown key"),
        ("sha_m2 = 1e6", "start", "required"),
        ("start = 'soon'\nsha_m2 = 1e6", "start", "date like"),
        ("start = 2020-01-01\nsha_m2 = -5", "sha_m2", "≥ 0"),
        ("start = 2020-01-01\ncha_m2 = 'lots'", "cha_m2", "number"),
        ("start = 2020-01-01", "sha_m2", "required"),
        ("start = 2020-01-01\nsha_m2 = 0", "sha_m2", "nothing to forecast"),
        (
            "start = 2020-01-01\nsha_m2 = 5\ncha_m2 = 5\nremaining_m2 = 20",
            "remaining_m2",
            "not sha_m2 + cha_m2",
        ),
        (BASE + "hazards = 2.5", "hazards", "whole number"),
        (BASE + "working_days_per_year = 400", "working_days_per_year", "≤ 365.25"),
        (BASE + "discovery_years = -1", "discovery_years", "≥ 0"),
        (BASE + "[teams]\nrats = 3", "teams.rats", "unknown team type"),
        (BASE + "[teams]\nmanual = -3", "teams.manual", "≥ 0"),
        (BASE + "teams = 4", "teams", "table of team counts"),
        (BASE + "[[history]]\nyear = 2015\ncleared_m2 = -1", "history[0].cleared_m2", "≥ 0"),
        (BASE + "[[history]]\nyear = 2015\nmood = 'good'", "history[0].mood", "unknown key"),
        (BASE + "[[history]]\ncleared_m2 = 10", "history[0].year", "required"),
        (BASE + "[[history]]\nyear = 2015.5", "history[0].year", "a year like"),
        (
            BASE + "[[history]]\nyear = 2016\n[[history]]\nyear = 2015",
            "history[1].year",
            "must come after 2016",
        ),
        (BASE + "[[history]]\nyear = 2020", "history[0].year", "does not end before start"),
        (
            BASE
            + "[[history]]\nyear = 2015\ncancelled_m2 = 1\nreduced_m2 = 1\ncleared_m2 = 1\nreleased_m2 = 9",
            "history[0].released_m2",
            "not cancelled + reduced + cleared",
        ),
        (BASE + "[[history]]\nyear = 2015\nremaining_sha_m2 = 5", "history[0].remaining_cha_m2", "give both"),
        (
            BASE + "[[history]]\nyear = 2015\nteams = { dogs = 2 }",
            "history[0].teams.dogs",
            "unknown team type",
        ),
        (BASE + "completed_on = 2001-05-01\n[[history]]\nyear = 2015", "completed_on", "before the first"),
        (BASE + "sources = [1, 2]", "sources", "list of strings"),
        ("start = ", "(syntax)", "not valid TOML"),
    ],
)
def test_errors_name_the_key(text, key, why):
    with pytest.raises(ProgrammeError) as err:
        parse_programme(text, source="kh.toml")
    messages = [str(p) for p in err.value.problems]
    assert any(m.startswith(f"kh.toml: {key}: ") and why in m for m in messages), messages


def test_all_problems_reported_at_once(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("sha_m2 = -1\nbogus = 2\n[[history]]\nyear = 1850\n")
    with pytest.raises(ProgrammeError) as err:
        load_programme(path)
    assert {"start", "sha_m2", "bogus", "history[0].year"} <= {p.field for p in err.value.problems}
    with pytest.raises(ProgrammeError, match="cannot read"):
        load_programme(tmp_path / "missing.toml")


def test_stock_is_split_into_interleaved_equal_pieces():
    p = Programme(
        start=date(2020, 1, 1), sha_m2=3e6, cha_m2=1e6, hazards=100, teams={"manual": 5, "nts": 1, "ts": 1}
    )
    inputs = p.prepare().inputs
    assert inputs.n_hazards == 100 and inputs.stock_m2 == pytest.approx(4e6)
    assert np.bincount(inputs.hazard_class).tolist() == [75, 25]
    served = inputs.hazard_class[inputs.order]
    # Both classes are worked from the start: every quarter of the order holds both.
    for quarter in np.array_split(served, 4):
        assert 0.15 < quarter.mean() < 0.35


def test_unknown_class_split_takes_the_latest_known_one():
    text = (
        "start = 2022-01-01\nremaining_m2 = 100e6\n"
        "[[history]]\nyear = 2015\nremaining_sha_m2 = 40e6\nremaining_cha_m2 = 60e6\n"
        "[[history]]\nyear = 2021\nremaining_m2 = 100e6\nreleased_m2 = 5e6\n"
    )
    prepared = parse_programme(text).prepare()
    by_class = prepared.describe()["stock_by_class_m2"]
    assert by_class["CHA"] == pytest.approx(60e6) and by_class["SHA"] == pytest.approx(40e6)
    assert any("class split taken from 2015" in n for n in prepared.notes)


def test_release_inferred_from_stock_decrease_and_discoveries_from_growth():
    rows = [
        {"year": 2010, "remaining_m2": 100e6},
        {"year": 2012, "remaining_m2": 80e6},  # 2011–2012 unknown: 10 km² a year inferred
        {"year": 2013, "remaining_m2": 85e6, "released_m2": 5e6},  # grew by 5 + released 5: 10 found
    ]
    p = programme_from_dict({"start": date(2014, 1, 1), "remaining_m2": 85e6, "history": rows})
    prep = programme_file._Preparation(p, None, programme_file.default_parameters())
    years = prep._years([ProgrammeYear(**r) for r in rows])
    assert years[2011].released == pytest.approx(10e6) and years[2011].inferred
    assert years[2012].released == pytest.approx(10e6)
    assert years[2013].released == pytest.approx(5e6) and not years[2013].inferred
    found, stock = prep._discoveries(list(p.history))
    # 2010–2012 has no published release: no discovery is read from it.
    assert found == [pytest.approx(10e6)] and stock == [80e6]


def test_inference_never_goes_below_published_clearance():
    rows = [
        {"year": 2015, "remaining_m2": 400e6},
        {"year": 2018, "cleared_m2": 50e6},
        {"year": 2019, "remaining_m2": 280e6},
    ]
    p = programme_from_dict({"start": date(2020, 1, 1), "remaining_m2": 280e6, "history": rows})
    years = programme_file._Preparation(p, None, programme_file.default_parameters())._years(list(p.history))
    assert years[2018].released == pytest.approx(50e6)
    assert sum(years[y].released for y in range(2016, 2020)) == pytest.approx(120e6)


def test_class_flows_read_the_funnel_off_the_stock():
    # 30 km² of SHA surveyed: 12 cancelled, 18 confirmed (CHA grew 18 − 4 − 6 = 8); TS:clearance 4:6.
    text = (
        "start = 2021-01-01\nsha_m2 = 70e6\ncha_m2 = 28e6\n[teams]\nmanual = 10\nnts = 1\nts = 1\n"
        "[[history]]\nyear = 2019\nremaining_sha_m2 = 100e6\nremaining_cha_m2 = 20e6\n"
        "[[history]]\nyear = 2020\nremaining_sha_m2 = 70e6\nremaining_cha_m2 = 28e6\n"
        "cancelled_m2 = 12e6\nreduced_m2 = 4e6\ncleared_m2 = 6e6\n"
    )
    p = parse_programme(text)
    flows = programme_file._Preparation(p, None, programme_file.default_parameters())._class_flows(
        list(p.history)
    )
    sha = flows[0].sum(axis=0) / flows[0].sum()
    assert sha == pytest.approx([12 / 30, 18 / 30 * 0.4, 18 / 30 * 0.6])
    cha = flows[1].sum(axis=0)
    assert cha[1] / (cha[1] + cha[2]) == pytest.approx(0.4)
    assert flows[0].shape[0] == programme_file.WEIGHT_PER_YEAR


def test_capacity_from_output_when_team_counts_are_unknown():
    text = (
        "start = 2016-01-01\nsha_m2 = 100e6\n"
        "[[history]]\nyear = 2014\ncancelled_m2 = 20e6\nreduced_m2 = 10e6\ncleared_m2 = 8e6\n"
        "[[history]]\nyear = 2015\ncancelled_m2 = 24e6\nreduced_m2 = 12e6\ncleared_m2 = 12e6\n"
    )
    prepared = parse_programme(text).prepare()
    teams = prepared.capacity.teams
    manual = prepared.parameters.productivity["manual"]
    # Equivalent manual teams deliver the mean cleared area at the (unchanged) median productivity.
    assert teams["manual"] * manual.median * 220 == pytest.approx(10e6, rel=0.02)
    assert set(teams) == {"manual", "nts", "ts"}
    assert any("team equivalents" in n for n in prepared.notes)


def test_team_counts_scale_productivity_to_the_observed_output():
    def programme(cleared: float) -> Programme:
        return parse_programme(
            "start = 2016-01-01\nsha_m2 = 100e6\n[teams]\nmanual = 50\nnts = 2\nts = 5\n"
            f"[[history]]\nyear = 2015\ncancelled_m2 = 20e6\nreduced_m2 = 5e6\ncleared_m2 = {cleared}\n"
        )

    slow, fast = (programme(x).prepare().parameters.productivity["manual"] for x in (1e6, 4e6))
    assert slow.median < 200 < fast.median  # prior median: 200 m² per team-day


def test_no_capacity_at_all_is_an_error_naming_the_key():
    with pytest.raises(ProgrammeError) as err:
        parse_programme("start = 2020-01-01\nsha_m2 = 5e6\n[teams]\nmanual = 3\n").prepare()
    assert {"teams.nts", "teams.ts"} <= {p.field for p in err.value.problems}


def test_more_teams_never_finish_later():
    text = (
        "start = 2020-01-01\nsha_m2 = 20e6\ncha_m2 = 5e6\nhazards = 300\n"
        "[teams]\nmanual = {m}\nmdd = 2\nnts = 2\nts = 4\n"
    )
    few, many = (parse_programme(text.format(m=m)).prepare().forecast(200, 3) for m in (10, 40))
    assert (many.outcomes.completion_day <= few.outcomes.completion_day).all()


def test_backtest_preparation_uses_only_the_years_up_to_at():
    p = load_programme(EXAMPLES / "croatia.toml")
    early = p.prepare(2015)
    assert early.inputs.start == date(2016, 1, 1)
    assert early.inputs.stock_m2 == pytest.approx(483e6)
    assert early.describe()["stock_by_class_m2"]["CHA"] == pytest.approx(294e6)
    assert not any("2018" in n or "2021" in n for n in early.notes)
    with pytest.raises(ProgrammeError, match="no remaining area at the end of 2018"):
        p.prepare(2018)


def test_discovery_years_stop_new_contamination():
    text = (
        BASE.replace("sha_m2 = 1e6", "sha_m2 = 5e6")
        + "discovery_years = 3\n[teams]\nmanual = 5\nnts = 1\nts = 1\n"
    )
    prepared = parse_programme(text).prepare()
    assert prepared.parameters.new_contamination_years == 3


def test_discoveries_are_a_rate_relative_to_the_starting_stock():
    # 4 km² found every year while the stock fell from 400 to 200 km²: the model's parameter is
    # 4 km² a year as a share of the stock the forecast starts from (100 km²), i.e. 4 %.
    history = History(discovered_m2=[4e6] * 6, stock_m2=[400e6, 360e6, 320e6, 280e6, 240e6, 200e6])
    priors = default_parameters()
    by_year = calibrate(history, priors).new_contamination_share_per_year.median
    by_start = calibrate(history, priors, stock_m2=100e6).new_contamination_share_per_year.median
    assert by_year < 0.02 < by_start
    assert by_start == pytest.approx(0.04, rel=0.35)  # pulled a little towards the 1 % prior
