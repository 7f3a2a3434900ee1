"""Area-share factors count ground covered by overlapping context polygons once (issue 19, item 3).

Two farmland records of one field, or a field drawn over a larger one, used to add up (capped at
1). The expected shares here are worked by hand or, in the property test, counted cell by cell
on an integer grid — without shapely's overlay.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from sqlalchemy import insert

from demine.prioritisation import DEFAULT_FACTORS, score_hazards, scoring_inputs
from demine.prioritisation.scoring import ScoringInputs
from demine.prioritisation.spatial import overlap_share
from demine.register.hazards import NewHazard, add_hazards
from demine.storage import schema

GEOD = Geod(ellps="WGS84")
AS_OF = date(2026, 6, 30)
SHARE_FACTORS = [f for f in DEFAULT_FACTORS if f.kind == "share"]


def at(east_m: float, north_m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(32.0, 47.5, 90.0, east_m)
    lon, lat, _ = GEOD.fwd(lon, lat, 0.0, north_m)
    return lon, lat


def rect_wgs84(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.Polygon([at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1)])


def test_two_identical_polygons_over_half_a_hazard_give_a_half():
    hazard = np.array([shapely.box(0, 0, 2, 1)])
    field = shapely.box(0, 0, 1, 1)
    assert overlap_share(hazard, np.array([field, field])) == pytest.approx([0.5])


def test_partly_overlapping_polygons_count_their_common_ground_once():
    hazards = np.array([shapely.box(0, 0, 2, 1), shapely.box(10, 0, 12, 1), shapely.box(20, 0, 22, 1)])
    areas = np.array(
        [
            shapely.box(0, 0, 1.2, 1),  # hazard 0: 0–1.2 and 0.8–1.5 cover 0–1.5 → 0.75
            shapely.box(0.8, 0, 1.5, 1),
            shapely.box(10, 0, 11, 1),  # hazard 1: one polygon, half
            shapely.box(19, -1, 23, 2),  # hazard 2: covered three times over → 1
            shapely.box(20, 0, 22, 1),
            shapely.box(20.5, 0, 21, 1),
        ]
    )
    assert overlap_share(hazards, areas) == pytest.approx([0.75, 0.5, 1.0])


@pytest.mark.parametrize("factor", SHARE_FACTORS, ids=lambda f: f.name)
def test_every_area_factor_counts_overlaps_once(factor):
    """Each share factor (farmland, protected areas, any added later) through score_hazards."""
    west = rect_wgs84(-50, -50, 0, 50)
    around_west = rect_wgs84(-80, -60, 0, 60)
    inputs = ScoringInputs(
        codes=["H"],
        geometry=np.array([rect_wgs84(-50, -50, 50, 50)], dtype=object),
        hazard_type=np.array(["SHA"], dtype=object),
        eo_categories=[""],
        blockages=[""],
        beneficiaries=np.zeros(1),
        as_of=AS_OF,
        context={factor.layer: np.array([west, west, around_west], dtype=object)},
    )
    ranking = score_hazards(inputs)
    column = [f.name for f in ranking.factors].index(factor.name)
    assert ranking.raw[0, column] == pytest.approx(0.5, abs=1e-3)  # the old sum gave 1.0


def test_duplicated_farmland_in_the_register_counts_once(empty_db):
    """The whole path: context_area rows in the database → scoring_inputs → the JSON explanation."""
    with empty_db.begin() as conn:
        add_hazards(
            conn,
            [
                NewHazard(
                    code="A", hazard_type="CHA", geometry=rect_wgs84(-50, -50, 50, 50), reported_on=AS_OF
                )
            ],
            today=AS_OF,
        )
        west = shapely.MultiPolygon([rect_wgs84(-200, -200, 0, 200)])
        strip = shapely.MultiPolygon([rect_wgs84(-25, -300, 0, 300)])
        conn.execute(
            insert(schema.context_area),
            [{"layer": "farmland", "geom": g} for g in (west, west, strip)],
        )
    with empty_db.connect() as conn:
        data = score_hazards(scoring_inputs(conn, AS_OF)).to_dict()
    farmland = next(f for f in data["ranking"][0]["factors"] if f["factor"] == "farmland_share")
    assert farmland["raw"] == pytest.approx(0.5, abs=1e-3)
    assert farmland["contribution"] == pytest.approx(0.5 * farmland["weight"], abs=1e-3)


# --- property: the share is the area of hazard ∩ union(areas), counted on a grid -----------------

GRID = 12
cells = st.integers(min_value=0, max_value=GRID)


@st.composite
def rectangles(draw: st.DrawFn) -> tuple[int, int, int, int]:
    x0, x1 = sorted(draw(st.lists(cells, min_size=2, max_size=2, unique=True)))
    y0, y1 = sorted(draw(st.lists(cells, min_size=2, max_size=2, unique=True)))
    return x0, y0, x1, y1


def raster(rects: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Unit cells of the grid covered by any of ``rects`` (their union, exactly)."""
    covered = np.zeros((GRID, GRID), dtype=bool)
    for x0, y0, x1, y1 in rects:
        covered[y0:y1, x0:x1] = True
    return covered


@settings(max_examples=150, deadline=None)
@given(
    hazards=st.lists(st.lists(rectangles(), min_size=1, max_size=2), min_size=1, max_size=4),
    areas=st.lists(rectangles(), min_size=0, max_size=8),
    repeat=st.lists(st.integers(min_value=0, max_value=7), max_size=3),
)
def test_share_is_the_covered_area_of_the_union(hazards, areas, repeat):
    # A hazard is one rectangle or the union of two (an L, a cross, two separate parts).
    hazard_geoms = np.array([shapely.union_all([shapely.box(*r) for r in parts]) for parts in hazards])
    areas = areas + [areas[i] for i in repeat if i < len(areas)]  # exact duplicates too
    area_geoms = np.array([shapely.box(*r) for r in areas], dtype=object)
    got = overlap_share(hazard_geoms, area_geoms)
    covered = raster(areas)
    for i, parts in enumerate(hazards):
        inside = raster(parts)
        assert got[i] == pytest.approx((inside & covered).sum() / inside.sum(), abs=1e-9)
