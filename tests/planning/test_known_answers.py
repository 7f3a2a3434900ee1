"""Known answers through the default settings: steady programmes whose arithmetic is not in doubt.

Every forecast here goes through the path a user takes — a programme file (``demine forecast
--programme``) or a register built to the same figures — with the default, pooled priors and no
deterministic parameter anywhere. A programme that released exactly the same each year for
years, with nothing revised, has an arithmetic answer; the forecast's P50 must be within 10 % of
it, the answer inside P10–P90, and no trial may run past the horizon.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from register_support import add_steady_teams
from sqlalchemy import insert

from demine.planning import Scenario, TeamChange
from demine.planning.programme_file import parse_programme
from demine.planning.register_history import prepare_from_register
from demine.planning.timeline import DAYS_PER_YEAR
from demine.storage import schema

TRIALS = 1000


def completion_years(result) -> tuple[float, float, float]:
    days = result.outcomes.completion_day
    assert np.all(np.isfinite(days)), "a trial ran past the horizon"
    assert result.completion.not_within_horizon_share == 0.0
    return tuple(float(np.quantile(days, q, method="inverted_cdf")) / DAYS_PER_YEAR for q in (0.1, 0.5, 0.9))


def assert_known(result, answer: float) -> None:
    p10, p50, p90 = completion_years(result)
    assert p10 <= answer <= p90, (p10, p50, p90, answer)
    assert p50 == pytest.approx(answer, rel=0.10), (p10, p50, p90, answer)


def steady_rows(years: int, stock_km2: float, cancelled: float, reduced: float, cleared: float, added=0.0):
    """History rows of a programme that released the same every year and ends with ``stock_km2``."""
    net = cancelled + reduced + cleared - added
    rows = []
    for i in range(years):
        left = stock_km2 + net * (years - 1 - i)
        rows.append(
            f"[[history]]\nyear = {2020 + i}\nremaining_km2 = {left}\ncancelled_km2 = {cancelled}\n"
            f"reduced_km2 = {reduced}\ncleared_km2 = {cleared}\n"
            + (f"added_km2 = {added}\n" if added else "")
        )
    return "".join(rows)


@pytest.mark.store_free
def test_clearance_only_programme_file():
    # 50 km² left, exactly 5 km² cleared in each of the last five years, nothing cancelled or
    # reduced: ten years.
    text = "discovery_years = 0\n[teams]\nmanual = 50\n" + steady_rows(5, 50, 0, 0, 5)
    prepared = parse_programme(text).prepare()
    result = prepared.forecast(TRIALS, 0)
    assert_known(result, 10.0)
    # Survey releases nothing here: the stages that do not limit anything are not binding.
    from demine.planning.prepared import binding_stages

    assert binding_stages(result.outcomes)["binding"] == "clearance"
    assert prepared.parameters.funnel[0].cancelled < 0.05


@pytest.mark.store_free
def test_survey_led_programme_with_fixed_shares():
    # 60 km² of SHA; each year 3 cancelled, 1.2 reduced, 1.8 cleared, for six years: ten years.
    prepared = parse_programme(steady_rows(6, 60, 3, 1.2, 1.8)).prepare()
    shares = prepared.parameters.funnel[0]
    assert shares.cancelled == pytest.approx(0.5, abs=0.03)
    assert_known(prepared.forecast(TRIALS, 0), 10.0)


@pytest.mark.store_free
def test_constant_discovery_rate_with_the_default_discovery_horizon():
    # 50 km² left; 6 km² cleared and 1 km² found every year for five years. Discoveries go on,
    # by default, as long again as the figures go back (five years): 5 years at a net 5 km², then
    # the remaining 25 km² at 6 km² a year.
    prepared = parse_programme(steady_rows(5, 50, 0, 0, 6, added=1)).prepare()
    assert prepared.parameters.new_contamination_years == pytest.approx(5.0)
    assert any("added area" in n for n in prepared.notes)
    assert_known(prepared.forecast(TRIALS, 0), 5 + 25 / 6)


@pytest.mark.store_free
def test_scenario_more_clearance_teams_saves_the_arithmetic_years():
    # Twice the clearance teams from the start halve the ten years, on the same random draws.
    text = "discovery_years = 0\n[teams]\nmanual = 50\n" + steady_rows(5, 50, 0, 0, 5)
    prepared = parse_programme(text).prepare()
    start = prepared.inputs.start
    more = Scenario(name="twice the teams", add_teams=(TeamChange("manual", 50, start, ramp_up_months=0),))
    comparison = prepared.compare(more, TRIALS, 0)
    base = completion_years(comparison.baseline)[1]
    doubled = completion_years(comparison.with_scenario)[1]
    assert doubled == pytest.approx(base / 2, rel=0.1)
    assert comparison.years_saved_p50 == pytest.approx(base - doubled, abs=0.25)
    assert comparison.earlier_or_same_share == 1.0
    fewer = Scenario(name="half withdrawn", remove_teams=(TeamChange("manual", 25, start),))
    slower = prepared.compare(fewer, TRIALS, 0)
    halved = float(np.quantile(slower.with_scenario.outcomes.completion_day, 0.5)) / DAYS_PER_YEAR
    assert halved == pytest.approx(2 * base, rel=0.1)


# --- the same figures, as a register -------------------------------------------------------------

START = date(2026, 1, 1)


def _build_steady_register(engine) -> None:
    """A register whose ten manual teams cleared 5 km² a year for three years; 50 km² left.

    Each team, accredited throughout, reports 2,500 m² on each of 200 days a year; forty equal
    confirmed hazards remain, each with its registration and yearly clearance recorded.
    """
    s = schema
    with engine.begin() as conn:
        org = add_steady_teams(conn, "Steady demining", 2500.0)
        n_hazards = 40
        left, yearly = 50e6 / n_hazards, 5e6 / n_hazards
        first = left + 3 * yearly
        for h in range(n_hazards):
            hid = conn.execute(
                insert(s.hazard).values(
                    code=f"HA-{h:03d}",
                    hazard_type="CHA",
                    status="open",
                    reported_on=date(2022, 6, 1),
                    area_m2=first,
                    remaining_area_m2=left,
                    organisation_id=org,
                )
            ).inserted_primary_key[0]
            conn.execute(
                insert(s.hazard_area_event).values(
                    hazard_id=hid,
                    occurred_on=date(2022, 6, 1),
                    event="registered",
                    change_m2=first,
                    remaining_m2=first,
                )
            )
            for k, year in enumerate((2023, 2024, 2025)):
                pid = conn.execute(
                    insert(s.release_product).values(
                        hazard_id=hid,
                        method="cleared",
                        released_on=date(year, 7, 1),
                        area_m2=yearly,
                        released_area_m2=yearly,
                    )
                ).inserted_primary_key[0]
                conn.execute(
                    insert(s.hazard_area_event).values(
                        hazard_id=hid,
                        occurred_on=date(year, 7, 1),
                        event="cleared",
                        change_m2=-yearly,
                        remaining_m2=first - (k + 1) * yearly,
                        release_product_id=pid,
                    )
                )


def test_register_built_to_the_same_figures(empty_db):
    _build_steady_register(empty_db)
    with empty_db.connect() as conn:
        prepared = prepare_from_register(conn, START)
    assert prepared.inputs.stock_m2 == pytest.approx(50e6)
    assert prepared.capacity.teams["manual"] == 10
    result = prepared.forecast(TRIALS, 0)
    # 10 teams × 2,500 m² × 200 days = 5 km² a year: ten years.
    assert_known(result, 10.0)
    assert any(line.startswith("depletion") and "prior" in line for line in prepared.calibration)
