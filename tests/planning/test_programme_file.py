"""Programme summary TOML: the documented format parses, every mistake names its key, and the
published figures become stock, funnel, capacity and discoveries as documented."""

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from demine.planning import History, calibrate, default_parameters, load_scenario, programme_file
from demine.planning.programme_file import (
    Programme,
    ProgrammeError,
    load_programme,
    parse_programme,
)

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOC = programme_file.__doc__.split("Format")[1].split("::", 1)[1].split("\n\n**Start.**")[0]
DOC = "\n".join(line[4:] for line in DOC.splitlines())
REAL = ("croatia", "cambodia", "bih", "angola")


def test_documented_example_parses():
    # The example shows every key at once, including both reduced/cleared forms: check them
    # all parse, then drop the combined total the parts make redundant.
    p = parse_programme(DOC)
    assert p.name == "Croatia" and p.start == date(2016, 1, 1) and p.scope
    assert (p.sha_m2, p.cha_m2) == (189_000_000, 294_000_000)
    assert p.teams == {"manual": 120, "mdd": 10} and p.discovery_years == 10
    assert p.references["LM2016"].startswith("Landmine Monitor") and p.completed_source == "LM2026"
    (row,) = p.history
    assert row.year == 2015 and row.remaining_m2 == 483_000_000 and row.has_split
    assert row.released_m2 == 67_750_000 and row.teams == {"manual": 120}
    assert row.remaining_on == date(2016, 4, 30) and row.stock_date == date(2016, 4, 30)
    assert row.reduced_cleared_m2 == 40_600_000 and row.added_m2 == 0 and row.revised_m2 == 0
    assert row.source == "LM2016" and row.evidence and not row.series_break


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
        ("sha_m2 = 1e6", "start", "required with the remaining area"),
        ("name = 'x'", "start", "no history year has a remaining area"),
        ("start = 'soon'\nsha_m2 = 1e6", "start", "date like"),
        ("start = 2020-01-01\nsha_m2 = -5", "sha_m2", "≥ 0"),
        ("start = 2020-01-01\ncha_m2 = 'lots'", "cha_m2", "number"),
        ("start = 2020-01-01", "sha_m2", "required with start"),
        (BASE + "sha_km2 = 1", "sha_km2", "not both"),
        (BASE + "[[history]]\nyear = 2015\nremaining_km2 = -1", "history[0].remaining_km2", "≥ 0 km²"),
        (
            BASE + "[[history]]\nyear = 2015\nremaining_m2 = 5\nremaining_on = 2017-01-01",
            "history[0].remaining_on",
            "within six months",
        ),
        (BASE + "[[history]]\nyear = 2015\nremaining_on = 2015-12-01", "history[0].remaining_on", "has none"),
        (
            BASE + "[[history]]\nyear = 2015\nreduced_m2 = 1\ncleared_m2 = 1\nreduced_cleared_m2 = 9",
            "history[0].reduced_cleared_m2",
            "not reduced + cleared",
        ),
        (
            BASE + "[[history]]\nyear = 2015\ncleared_m2 = 9\nreleased_m2 = 2",
            "history[0].released_m2",
            "less than the parts",
        ),
        (BASE + "[[history]]\nyear = 2015\nrevised_km2 = 'a lot'", "history[0].revised_km2", "a number"),
        (BASE + "[[history]]\nyear = 2015\nseries_break = 1", "history[0].series_break", "true or false"),
        (
            BASE + "[references]\nLM = 'Landmine Monitor'\n[[history]]\nyear = 2015\nsource = 'MAR'",
            "history[0].source",
            "unknown reference 'MAR'",
        ),
        (BASE + "references = ['x']", "references", "table of citations"),
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


def test_km2_and_m2_are_the_same_figure():
    a = parse_programme(
        "start = 2020-01-01\nremaining_km2 = 12.5\n[[history]]\nyear = 2019\ncleared_km2 = 0.25\n"
    )
    b = parse_programme(
        "start = 2020-01-01\nremaining_m2 = 12.5e6\n[[history]]\nyear = 2019\ncleared_m2 = 250000\n"
    )
    assert a.sha_m2 == b.sha_m2 == 12.5e6 and a.history == b.history


def test_start_is_the_day_after_the_latest_stock_when_not_given():
    text = (
        "[[history]]\nyear = 2012\nremaining_km2 = 100\n"
        "[[history]]\nyear = 2013\nremaining_km2 = 90\nremaining_on = 2014-04-30\nreleased_km2 = 8\n"
        "[[history]]\nyear = 2014\ncleared_km2 = 3\n"  # published after the last stock
    )
    p = parse_programme(text)
    assert p.start == date(2014, 5, 1) and p.sha_m2 == 90e6 and p.start_derived and p.start_year == 2013
    prepared = p.prepare()
    assert prepared.inputs.start == date(2014, 5, 1) and prepared.inputs.stock_m2 == pytest.approx(90e6)
    # The 2014 figure came after the stock: the forecast does not use it (a backtest scores it).
    assert not any("2014" in n for n in prepared.notes if n.startswith(("release level", "funnel")))


def test_unknown_class_split_takes_the_latest_known_one_of_the_same_series():
    text = (
        "start = 2022-01-01\nremaining_m2 = 100e6\n"
        "[[history]]\nyear = 2015\nremaining_sha_m2 = 40e6\nremaining_cha_m2 = 60e6\n"
        "[[history]]\nyear = 2021\nremaining_m2 = 100e6\nreleased_m2 = 5e6\n"
    )
    prepared = parse_programme(text).prepare()
    by_class = prepared.describe()["stock_by_class_m2"]
    assert by_class["CHA"] == pytest.approx(60e6) and by_class["SHA"] == pytest.approx(40e6)
    assert any("class split taken from 2015" in n for n in prepared.notes)
    # Across a series break the old split says nothing.
    broken = parse_programme(text.replace("year = 2021\n", "year = 2021\nseries_break = true\n")).prepare()
    assert broken.describe()["stock_by_class_m2"]["CHA"] == 0
    assert any("series break" in n for n in broken.notes)


def test_a_backtest_never_takes_the_class_split_from_later_figures():
    # The file's start has a split; a backtest from 2015 must not use it (look-ahead).
    text = (
        "start = 2020-01-01\nsha_m2 = 10e6\ncha_m2 = 90e6\n"
        "[[history]]\nyear = 2015\nremaining_m2 = 200e6\nreleased_m2 = 20e6\n"
        "[[history]]\nyear = 2016\nremaining_m2 = 180e6\nreleased_m2 = 20e6\n"
    )
    prepared = parse_programme(text).prepare(2015)
    assert prepared.describe()["stock_by_class_m2"]["CHA"] == 0
    assert any("class split unknown" in n for n in prepared.notes)


def test_funnel_moves_to_the_observed_shares():
    # Five years of clearance only: nothing cancelled or reduced is what the data say.
    rows = "".join(
        f"[[history]]\nyear = {y}\nremaining_m2 = {75e6 - 5e6 * (y - 2015)}\ncancelled_m2 = 0\n"
        "reduced_m2 = 0\ncleared_m2 = 5e6\n"
        for y in range(2015, 2020)
    )
    prepared = parse_programme(rows).prepare()
    sha = prepared.parameters.funnel[0]
    assert sha.cancelled < 0.08 and sha.reduced < 0.05 and sha.cleared > 0.87
    assert any(n.startswith("funnel") and "pooled prior" in n for n in prepared.notes)


def test_a_one_off_sweep_year_is_not_yearly_capacity():
    # Four steady years of 5 km² and one re-survey year cancelling 150 km²: the level is the
    # median, not the mean (which would be 34 km² a year).
    rows = [(2015, 5e6), (2016, 5e6), (2017, 155e6), (2018, 5e6), (2019, 5e6)]
    text = "".join(f"[[history]]\nyear = {y}\nreleased_m2 = {r}\n" for y, r in rows)
    text += "[[history]]\nyear = 2020\nremaining_m2 = 60e6\n"
    prepared = parse_programme(text).prepare()
    level = next(n for n in prepared.notes if n.startswith("release level"))
    assert "5.00 km²/yr" in level
    result = prepared.forecast(300, 1)
    # Nowhere near "complete next year".
    assert (result.completion.p10 - result.start).days > 3 * 365


def test_capacity_from_output_when_team_counts_are_unknown():
    text = (
        "start = 2016-01-01\nsha_m2 = 100e6\n"
        "[[history]]\nyear = 2014\ncancelled_m2 = 20e6\nreduced_m2 = 10e6\ncleared_m2 = 8e6\n"
        "[[history]]\nyear = 2015\ncancelled_m2 = 24e6\nreduced_m2 = 12e6\ncleared_m2 = 12e6\n"
    )
    prepared = parse_programme(text).prepare()
    teams = prepared.capacity.teams
    manual = prepared.parameters.productivity["manual"]
    level = next(n for n in prepared.notes if n.startswith("release level"))
    # Team equivalents deliver the (pooled-blended) level of clearance at a fixed productivity.
    assert manual.to_dict()["kind"] == "fixed"
    assert set(teams) == {"manual", "nts", "ts"}
    assert 6e6 < teams["manual"] * manual.median * 220 < 14e6
    assert any("team equivalents" in n for n in prepared.notes) and "pooled prior" in level


def test_team_counts_scale_productivity_to_the_observed_output():
    def programme(cleared: float) -> Programme:
        return parse_programme(
            "start = 2016-01-01\nsha_m2 = 100e6\n[teams]\nmanual = 50\nnts = 2\nts = 5\n"
            f"[[history]]\nyear = 2015\ncancelled_m2 = 20e6\nreduced_m2 = 5e6\ncleared_m2 = {cleared}\n"
        )

    slow, fast = (programme(x).prepare().parameters.productivity["manual"] for x in (1e6, 4e6))
    # Four times the clearance per team: faster teams, by a little less than four (one year of
    # figures is blended with the pooled pace).
    assert 3 < fast.median / slow.median <= 4


def test_no_figures_at_all_forecasts_from_the_pooled_pace_and_says_so():
    prepared = parse_programme("start = 2020-01-01\nsha_m2 = 5e6\n").prepare()
    assert any("no release figures" in w for w in prepared.warnings)
    result = prepared.forecast(200, 1)
    assert result.completion.p50 is not None


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


def test_later_figures_change_nothing_in_a_backtest():
    base = load_programme(EXAMPLES / "croatia.toml")
    rows = [r if r.year <= 2015 else replace(r, remaining_m2=(r.remaining_m2 or 0) * 3) for r in base.history]
    changed = replace(base, history=tuple(rows))
    a, b = (p.prepare(2015).forecast(100, 2) for p in (base, changed))
    assert np.array_equal(a.outcomes.remaining, b.outcomes.remaining)


def test_discovery_years_stop_new_contamination():
    text = BASE.replace("sha_m2 = 1e6", "sha_m2 = 5e6") + (
        "discovery_years = 3\n[[history]]\nyear = 2018\nremaining_m2 = 6e6\nreleased_m2 = 1e6\nadded_m2 = "
        "2e5\n"
        "[[history]]\nyear = 2019\nremaining_m2 = 5e6\nreleased_m2 = 1.2e6\nadded_m2 = 2e5\n"
    )
    prepared = parse_programme(text).prepare()
    assert prepared.parameters.new_contamination_years == 3
    assert prepared.parameters.new_contamination_share_per_year.median > 0.01
    assert any("added area" in n for n in prepared.notes)


def test_stock_growth_beyond_releases_is_the_estimates_drift():
    # The stock fell 4 km² a year while 5 were released: it grew 1 km² a year beyond them.
    def programme(growth: float) -> Programme:
        rows = "".join(
            f"[[history]]\nyear = {y}\nremaining_m2 = {100e6 - (5e6 - growth) * (y - 2015)}\nreleased_m2 = "
            "5e6\n"
            for y in range(2015, 2020)
        )
        return parse_programme(rows)

    growing, steady = (programme(g).prepare() for g in (1e6, 0.0))
    assert growing.parameters.volatility.revision_drift > steady.parameters.volatility.revision_drift
    assert growing.parameters.new_contamination_share_per_year.median == 0  # nothing published as added
    assert any("quiet span" in n for n in growing.notes)


def test_discoveries_are_a_rate_relative_to_the_starting_stock():
    # 4 km² found every year while the stock fell from 400 to 200 km²: the model's parameter is
    # 4 km² a year as a share of the stock the forecast starts from (100 km²), i.e. 4 %.
    history = History(discovered_m2=[4e6] * 6, stock_m2=[400e6, 360e6, 320e6, 280e6, 240e6, 200e6])
    priors = default_parameters()
    by_year = calibrate(history, priors).new_contamination_share_per_year.median
    by_start = calibrate(history, priors, stock_m2=100e6).new_contamination_share_per_year.median
    assert by_year < 0.02 < by_start
    assert by_start == pytest.approx(0.04, rel=0.35)  # pulled a little towards the 1 % prior


def test_every_input_says_what_the_data_overruled():
    prepared = load_programme(EXAMPLES / "croatia.toml").prepare(2015)
    lines = prepared.calibration
    for key in ("funnel", "release level", "output trend", "depletion", "stock revisions"):
        assert any(line.startswith(key) and "prior" in line for line in lines), (key, lines)
