"""Results are JSON-ready and honest about trials that do not finish."""

import json
from datetime import date

import numpy as np
import pytest

from demine.planning import (
    CapacityPlan,
    ForecastInputs,
    Lognormal,
    default_parameters,
    forecast,
)

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

START = date(2025, 1, 1)


def programme(n=300, seed=0, regions=("North", "South", "East")):
    rng = np.random.default_rng(seed)
    return ForecastInputs(
        rng.lognormal(np.log(30_000), 1, n),
        rng.integers(0, 2, n),
        rng.integers(0, len(regions), n),
        START,
        order=rng.permutation(n),
        region_names=regions,
        recent_cleared_m2_per_year=250_000.0,
    )


CAPACITY = CapacityPlan({"manual": 12, "mdd": 3, "mechanical": 1, "nts": 3, "ts": 3})


def test_to_dict_shape_and_json():
    result = forecast(programme(), default_parameters(), CAPACITY, trials=200, seed=5)
    d = json.loads(json.dumps(result.to_dict()))
    c = d["completion"]
    p10, p50, p90 = (date.fromisoformat(c[k]) for k in ("p10", "p50", "p90"))
    assert START <= p10 <= p50 <= p90
    assert c["not_within_horizon_share"] < 0.05  # heavy-tailed new finds: a rare trial never ends
    assert d["trials"] == 200 and d["seed"] == 5
    assert d["naive_years"] == result.stock_m2 / 250_000.0
    years = [row["year"] for row in d["trajectory"]]
    assert years == list(range(2025, p90.year + 1))
    for row in d["trajectory"]:
        assert row["p10"] <= row["p50"] <= row["p90"]
    p50s = [row["p50"] for row in d["trajectory"]]
    assert p50s[0] < result.stock_m2 and p50s[-1] < p50s[0]
    assert [r["name"] for r in d["regions"]] == ["North", "South", "East"]
    for r in d["regions"]:
        assert date.fromisoformat(r["p50"]) <= date.fromisoformat(r["p90"]) <= p90
    assert abs(sum(r["stock_m2"] for r in d["regions"]) - result.stock_m2) < 1e-6
    assert set(d["parameters"]["productivity_m2_per_team_day"]) == {
        "manual",
        "mdd",
        "mechanical",
        "nts",
        "ts",
    }
    assert d["released"][0]["total_p50"] > 0


def test_not_within_horizon_is_null_not_a_date():
    # New contamination grows faster than anyone can clear it.
    params = default_parameters().replace(new_contamination_m2_per_year=Lognormal(50e6, 0.1))
    result = forecast(programme(), params, CAPACITY, trials=50, seed=1, horizon_years=20)
    d = result.to_dict()
    assert d["completion"] == {
        "p10": None,
        "p50": None,
        "p90": None,
        "not_within_horizon_share": 1.0,
        "horizon_end": d["completion"]["horizon_end"],
    }
    assert all(r["p50"] is None for r in d["regions"])
    # The trajectory covers the whole horizon and shows the stock growing.
    assert len(d["trajectory"]) == 20
    assert d["trajectory"][-1]["p50"] > result.stock_m2


def test_partial_completion_reports_share_and_null_p90():
    # Low capacity and a short horizon: some trials finish, others do not.
    capacity = CapacityPlan({"manual": 2.5, "mdd": 0.5, "nts": 1, "ts": 1})
    result = forecast(programme(60), default_parameters(), capacity, trials=300, seed=2, horizon_years=12)
    share = result.completion.not_within_horizon_share
    assert 0.1 < share < 0.9
    assert result.completion.p90 is None
    assert result.to_dict()["completion"]["p90"] is None


def test_warning_when_a_stage_has_no_capacity():
    result = forecast(
        programme(20), default_parameters(), CapacityPlan({"manual": 5}), trials=5, seed=0, horizon_years=5
    )
    assert result.completion.not_within_horizon_share == 1.0
    assert any("nts" in w for w in result.warnings)
    assert result.to_dict()["warnings"] == list(result.warnings)
