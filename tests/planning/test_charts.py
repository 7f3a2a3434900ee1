"""The burn-down fan chart renders a real, non-blank PNG, with and without a scenario."""

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from matplotlib import image

from demine.planning import CapacityPlan, Scenario, TeamChange, compare, default_parameters, single_region
from demine.planning.charts import burn_down_chart

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def comparison():
    rng = np.random.default_rng(3)
    inputs = single_region(rng.lognormal(np.log(20_000), 1.0, 400), date(2026, 1, 1), rng.integers(0, 2, 400))
    capacity = CapacityPlan({"manual": 20, "mdd": 4, "mechanical": 2, "nts": 2, "ts": 4})
    more = Scenario(name="10 more manual teams", add_teams=(TeamChange("manual", 10, date(2026, 6, 1)),))
    return compare(inputs, default_parameters(), capacity, more, trials=200, seed=4)


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 20_000  # axes, a band, lines and a legend, not an empty canvas
    pixels = image.imread(path)[..., :3]
    assert pixels.shape[0] >= 400 and pixels.shape[1] >= 800
    non_white = np.mean(pixels.min(axis=2) < 0.95)
    assert non_white > 0.05  # the band alone covers a good part of the plot
    assert pixels.std() > 0.05
    return pixels


def test_fan_chart_is_a_real_png(tmp_path, comparison):
    out = burn_down_chart(comparison.baseline, tmp_path / "fan.png")
    pixels = _check_png(out)
    # The baseline colour (a blue) is drawn: the P50 line and the band.
    blue = (pixels[..., 2] > 0.5) & (pixels[..., 0] < 0.3)
    assert blue.mean() > 0.002


def test_scenario_line_is_drawn(tmp_path, comparison):
    base = _check_png(burn_down_chart(comparison.baseline, tmp_path / "base.png"))
    both = _check_png(
        burn_down_chart(
            comparison.baseline,
            tmp_path / "both.png",
            scenario=comparison.with_scenario,
            scenario_name=comparison.scenario.name,
        )
    )
    orange = lambda p: np.mean((p[..., 0] > 0.6) & (p[..., 1] < 0.5) & (p[..., 2] < 0.3))  # noqa: E731
    assert orange(both) > orange(base) + 0.001


def test_naive_line_is_cut_at_the_edge_when_it_runs_past_the_chart(tmp_path, comparison):
    # A naive estimate of 3,500 years (BiH's cleared rate) must not squash the chart.
    result = comparison.baseline
    long = replace(result, naive_years=3500.0)
    _check_png(burn_down_chart(long, tmp_path / "long.png"))
