"""The weights file: defaults documented, overrides applied, every mistake named by its key."""

from __future__ import annotations

import pytest

from demine.domain.errors import ValidationError
from demine.prioritisation import DEFAULT_FACTORS, default_weights, load_weights, weights_from_dict

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free


def problems(data) -> list[str]:
    with pytest.raises(ValidationError) as info:
        weights_from_dict(data, source="w.toml")
    return [str(p) for p in info.value.problems]


def test_defaults_have_sources_and_lis_weights():
    w = default_weights()
    assert {f.group for f in w.factors} == {"security", "social", "economic", "ecological", "authority"}
    assert all(f.source and f.description for f in w.factors)
    by = {f.name: f for f in w.factors}
    # LIS-style points, quoted from memory and said to be unverified.
    assert by["ap_mines"].weight == 2 and by["at_mines"].weight == 2
    assert by["blockages"].weight / by["blockages"].saturation == 1  # 1 per blockage
    assert by["recent_victims"].weight / by["recent_victims"].saturation == 2  # 2 per victim
    assert "unverified" in by["ap_mines"].source
    assert w.accident_months == 24


def test_overrides_keep_the_other_defaults(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text(
        "[settings]\naccident_months = 12\n\n"
        '[factors.population]\nweight = 5\nradius_m = 3000\nscale = "linear"\n',
        encoding="utf-8",
    )
    w = load_weights(path)
    pop = w.factor("population")
    assert (pop.weight, pop.radius_m, pop.scale, pop.saturation) == (5.0, 3000.0, "linear", 10_000.0)
    assert w.accident_months == 12 and w.source == str(path)
    assert [f.name for f in w.factors] == [f.name for f in DEFAULT_FACTORS]
    assert w.factor("ap_mines") == default_weights().factor("ap_mines")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"factor": {}}, "w.toml): factor: unknown section"),
        ({"factors": {"landmines": {"weight": 1}}}, "factors.landmines: unknown factor"),
        ({"factors": {"population": {"wieght": 1}}}, "factors.population.wieght: unknown parameter"),
        ({"factors": {"ap_mines": {"radius_m": 10}}}, "factors.ap_mines.radius_m: unknown parameter"),
        ({"factors": {"population": {"weight": "high"}}}, "factors.population.weight: must be a number"),
        ({"factors": {"population": {"weight": -1}}}, "factors.population.weight: must be a number ≥ 0"),
        ({"factors": {"population": {"saturation": 0}}}, "factors.population.saturation: must be > 0"),
        (
            {"factors": {"population": {"scale": "cubic"}}},
            "factors.population.scale: must be 'linear' or 'log'",
        ),
        ({"settings": {"months": 3}}, "settings.months: unknown setting"),
        ({"settings": {"accident_months": 0}}, "settings.accident_months: must be a whole number"),
        ({"factors": {"population": 3}}, "factors.population: must be a table"),
    ],
)
def test_mistakes_name_the_key(data, key):
    found = problems(data)
    assert any(key in p for p in found), found


def test_every_mistake_is_reported_at_once():
    found = problems({"factors": {"nope": {}, "uxo": {"weigth": 1}}, "extra": 1})
    assert len(found) == 3


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ValidationError, match="cannot read"):
        load_weights(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[factors.population\nweight = 1\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="toml"):
        load_weights(bad)
