"""Impact scores on a tiny register whose every contribution is worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
import shapely
from pyproj import Geod
from sqlalchemy import insert

from demine.prioritisation import default_weights, score_hazards, scoring_inputs, weights_from_dict
from demine.prioritisation.scoring import Accidents, ScoringInputs
from demine.register.hazards import NewHazard, add_hazards
from demine.storage import schema

GEOD = Geod(ellps="WGS84")
AS_OF = date(2026, 6, 30)
LON, LAT = 32.0, 47.5


def at(east_m: float, north_m: float, lon: float = LON, lat: float = LAT) -> tuple[float, float]:
    """The point ``east_m`` east and ``north_m`` north of (lon, lat), on the ellipsoid."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, 90.0, east_m)
    lon3, lat3, _ = GEOD.fwd(lon2, lat2, 0.0, north_m)
    return lon3, lat3


def square(half_m: float, east_m: float = 0.0) -> shapely.Polygon:
    return shapely.Polygon(
        [
            at(east_m + dx, dy)
            for dx, dy in ((-half_m, -half_m), (half_m, -half_m), (half_m, half_m), (-half_m, half_m))
        ]
    )


@pytest.fixture
def tiny(empty_db):
    """Hazard A (CHA, AP mines and UXO, 2 blockages, 100 direct beneficiaries) with a village,
    a school, a road, farmland over its western half and a recent accident nearby; hazard B
    (SHA, AT mines) 10 km east with nothing around it."""
    with empty_db.begin() as conn:
        add_hazards(
            conn,
            [
                NewHazard(
                    code="A",
                    hazard_type="CHA",
                    geometry=square(50),
                    reported_on=date(2025, 1, 1),
                    eo_categories=["apm", "uxo"],
                    blockages=["agriculture", "water"],
                    beneficiaries={("direct", "female", "18_59"): 60, ("direct", "male", "18_59"): 40},
                ),
                NewHazard(
                    code="B",
                    hazard_type="SHA",
                    geometry=square(50, east_m=10_000),
                    reported_on=date(2025, 1, 1),
                    eo_categories=["atm"],
                ),
            ],
            today=AS_OF,
        )
        conn.execute(
            insert(schema.settlement),
            [
                {"name": "Village", "population": 999, "geom": shapely.Point(at(0, 1050))},  # 1 km north
                {"name": "Town", "population": 50_000, "geom": shapely.Point(at(0, 5050))},  # 5 km: too far
            ],
        )
        conn.execute(insert(schema.context_point).values(layer="school", geom=shapely.Point(at(550, 0))))
        conn.execute(
            insert(schema.road).values(
                name="Track", geom=shapely.LineString([at(-3000, -300), at(3000, -300)])
            )
        )
        west_half = shapely.Polygon([at(-200, -200), at(0, -200), at(0, 200), at(-200, 200)])
        conn.execute(
            insert(schema.context_area).values(layer="farmland", geom=shapely.MultiPolygon([west_half]))
        )
        accidents = [
            (1, date(2026, 1, 15), at(0, -3050), 2),  # 3 km south, 5½ months ago: counts
            (2, date(2023, 1, 15), at(0, -3050), 5),  # too long ago
        ]
        for acc_id, day, point, victims in accidents:
            conn.execute(
                insert(schema.accident).values(
                    id=acc_id,
                    code=f"ACC-{acc_id}",
                    occurred_on=day,
                    accident_kind="non_demining",
                    geom=shapely.Point(point),
                )
            )
            conn.execute(
                insert(schema.victim),
                [{"accident_id": acc_id, "sex": "male", "age_band": "18_59", "status": "injured"}] * victims,
            )
    return empty_db


def hand_score_of_a() -> dict[str, float]:
    return {
        "ap_mines": 2.0,
        "at_mines": 0.0,
        "uxo": 1.0,
        "recent_victims": 10.0 * 2 / 5,
        "confirmed": 1.0,
        "population": 3.0 * math.log(1000) / math.log(10_001),
        "beneficiaries": 2.0 * math.log(101) / math.log(1001),
        "school_proximity": 2.0 * (1 - 500 / 2000),
        "health_proximity": 0.0,
        "water_proximity": 0.0,
        "blockages": 5.0 * 2 / 5,
        "farmland_share": 2.0 * 0.5,
        "road_proximity": 1.0 * (1 - 250 / 1000),
        "railway_proximity": 0.0,
        "power_line_proximity": 0.0,
        "protected_area_share": 0.0,
        "register_priority": 5.0 * 0.5,  # no priority recorded: neutral
    }


def test_contributions_match_the_hand_computation(tiny):
    with tiny.connect() as conn:
        inputs = scoring_inputs(conn, AS_OF)
    ranking = score_hazards(inputs)
    data = ranking.to_dict()
    assert [r["code"] for r in data["ranking"]] == ["A", "B"]
    a = data["ranking"][0]
    got = {f["factor"]: f["contribution"] for f in a["factors"]}
    expected = hand_score_of_a()
    assert got == pytest.approx(expected, abs=2e-3)
    assert a["score"] == pytest.approx(sum(expected.values()), abs=1e-2)
    raw = {f["factor"]: f["raw"] for f in a["factors"]}
    assert raw["population"] == 999 and raw["recent_victims"] == 2 and raw["beneficiaries"] == 100
    assert raw["school_proximity"] == pytest.approx(500, abs=1) and raw["road_proximity"] == pytest.approx(
        250, abs=1
    )
    assert raw["farmland_share"] == pytest.approx(0.5, abs=1e-3) and raw["health_proximity"] is None
    for f in a["factors"]:
        assert f["contribution"] == pytest.approx(f["weight"] * f["normalised"], abs=1e-6)
    assert sum(a["groups"].values()) == pytest.approx(a["score"], abs=1e-5)
    b = data["ranking"][1]
    assert {f["factor"]: f["contribution"] for f in b["factors"] if f["contribution"]} == {
        "at_mines": 2.0,
        "register_priority": 2.5,
    }
    assert a["normalised_score"] == pytest.approx(a["score"] / default_weights().total_weight, abs=1e-6)
    assert any("railway" in w for w in data["warnings"])  # missing layers are said, not hidden


def test_weights_file_changes_the_ranking_and_is_explained(tiny):
    weights = weights_from_dict(
        {
            "factors": {"at_mines": {"weight": 100}, "ap_mines": {"weight": 0}},
            "settings": {"accident_months": 120},
        }
    )
    with tiny.connect() as conn:
        ranking = score_hazards(scoring_inputs(conn, AS_OF), weights)
    data = ranking.to_dict()
    assert [r["code"] for r in data["ranking"]] == ["B", "A"]
    a = next(r for r in data["ranking"] if r["code"] == "A")
    victims = next(f for f in a["factors"] if f["factor"] == "recent_victims")
    assert victims["raw"] == 7  # ten years back: both accidents count
    assert data["weights"]["factors"]["at_mines"]["weight"] == 100.0


def test_scoring_without_geometry_or_context_still_ranks():
    inputs = ScoringInputs(
        codes=["X", "Y"],
        geometry=np.array([None, square(10)], dtype=object),
        hazard_type=np.array(["SHA", "CHA"], dtype=object),
        eo_categories=["apm", ""],
        blockages=["", "roads"],
        beneficiaries=np.array([0.0, 0.0]),
        as_of=AS_OF,
        accidents=Accidents.empty(),
    )
    ranking = score_hazards(inputs)
    assert ranking.score.tolist() == pytest.approx([2.0 + 2.5, 1.0 + 1.0 + 2.5])  # 2.5: no priority
    assert any("no remaining geometry" in w for w in ranking.warnings)
    assert ranking.rank_of().tolist() == [1, 2]  # tie broken by code
