"""A small register with every geometry defect planted exactly once, next to clean records.

The clean part goes in through the store API (``add_hazards``, ``record_release``), as a user
would put it; each defect is then planted by writing rows directly, the way a bulk import
or a hand edit in a desktop GIS would leave it. ``EXPECTED`` lists the findings the checker
must report, no more and no fewer: an untouched hazard's remaining polygon is the same
geometry as the hazard, so a defect planted in such a hazard shows in both layers.
"""

from __future__ import annotations

import struct
from datetime import date
from types import SimpleNamespace

import pytest
import shapely
from sqlalchemy import delete, insert, select, update

import backend_support
from demine.geometry.area import geodesic_area
from demine.geometry.reading import EnteredGeometry
from demine.landrelease.accounting import NewRelease, record_release
from demine.register.hazards import NewHazard, add_hazards
from demine.storage import gpkg_blob, schema
from demine.storage.database import open_database

LON0, LAT0 = 31.0, 48.0
M_LON = 1 / 74_490.0  # degrees of longitude per metre at 48.05°N (near enough for layout)
M_LAT = 1 / 111_200.0
REPORTED = date(2025, 1, 10)
RELEASED = date(2025, 6, 1)
FOUND = date(2025, 6, 2)


def cell(i: int, j: int) -> tuple[float, float]:
    """South-west corner of grid cell (i, j): cells are 0.01° apart, all inside AA01."""
    return LON0 + 0.005 + 0.01 * i, LAT0 + 0.005 + 0.01 * j


def square(x: float, y: float, size_m: float = 100.0, dx_m: float = 0.0) -> shapely.Polygon:
    x += dx_m * M_LON
    return shapely.box(x, y, x + size_m * M_LON, y + size_m * M_LAT)


def half(poly: shapely.Polygon, side: str) -> shapely.Polygon:
    minx, miny, maxx, maxy = poly.bounds
    midx, midy = (minx + maxx) / 2, (miny + maxy) / 2
    return {
        "west": shapely.box(minx, miny, midx, maxy),
        "east": shapely.box(midx, miny, maxx, maxy),
        "south": shapely.box(minx, miny, maxx, midy),
    }[side]


def entered(geom: shapely.Geometry) -> EnteredGeometry:
    return EnteredGeometry(geometry=geom, entered_text=geom.wkt, entered_crs="EPSG:4326")


def malformed_blob(x: float, y: float) -> bytes:
    """A GeoPackage header with a valid envelope (so the R*Tree trigger works) and truncated WKB."""
    header = struct.pack("<2sBBi4d", b"GP", 0, 0b011, 4326, x, x, y, y)
    return header + b"\x01\x01\x00\x00\x00\x00\x00"


def build_planted(path) -> SimpleNamespace:
    """Write the planted register to ``path``; returns the expected findings and record ids."""
    path = backend_support.new(path)
    engine = open_database(path, create=True)
    ids: dict[str, int] = {}
    expected: set[tuple[str, str, str]] = set()
    with engine.begin() as conn:
        admin = [
            ("AA01", shapely.box(31.0, 48.0, 31.1, 48.1)),
            ("AA02", shapely.box(31.1, 48.0, 31.2, 48.1)),
        ]
        conn.execute(
            insert(schema.admin_area),
            [
                {
                    "pcode": p,
                    "name": p,
                    "level": 1,
                    "area_m2": geodesic_area(g),
                    "geom": shapely.MultiPolygon([g]),
                }
                for p, g in admin
            ],
        )

        def hazard(code, geom, pcode="AA01"):
            return NewHazard(code, "CHA", geom, REPORTED, admin_pcode=pcode)

        polys = {f"HA-{n:04d}": square(*cell(n - 1, 0)) for n in range(1, 9)}
        polys |= {
            "HA-0009": square(*cell(0, 1)),
            "HA-0010": square(*cell(1, 1)),
            "HA-LOOP": square(*cell(2, 1)),
        }
        polys["ha-0002"] = square(*cell(3, 1))
        # HA-0002's polygon again, starting at another vertex and running the other way.
        a = shapely.get_coordinates(polys["HA-0002"])[:-1]
        polys["HA-DUP2"] = shapely.Polygon(a[::-1][[2, 3, 0, 1]])
        polys["HA-OVL"] = square(*cell(2, 0), dx_m=50.0)  # half over HA-0003
        polys["HA-UNK"] = square(*cell(4, 1))
        polys["HA-OUT"] = square(31.15, 48.05)  # in AA02, but says AA01
        polys["HA-PART"] = square(31.1 - 70 * M_LON, 48.05)  # 30 m of 100 m across into AA02
        polys["HA-LONG"] = shapely.Polygon([(31.095, 48.015), (31.096, 48.015), (31.095, 48.075)])
        x, y = cell(6, 1)
        dupv = square(x, y)
        c = shapely.get_coordinates(dupv)
        polys["HA-DUPV"] = shapely.Polygon([c[0], c[1], c[1], c[2], c[3]])
        polys["HA-SPIKE"] = square(*cell(7, 1))
        polys["HA-BOW"] = square(*cell(8, 1))
        pcodes = {"HA-UNK": "ZZ99"}
        new = [hazard(code, g, pcodes.get(code, "AA01")) for code, g in polys.items()]
        for code, hid in zip(polys, add_hazards(conn, new, today=date(2026, 1, 1)), strict=True):
            ids[code] = hid
        expected |= {
            ("duplicate_id", "hazard", "ha-0002"),
            ("duplicate_polygon", "hazard", "HA-DUP2"),
            ("hazard_overlap", "hazard", "HA-OVL"),
            ("unknown_admin_area", "hazard", "HA-UNK"),
            ("outside_admin_area", "hazard", "HA-OUT"),
            ("partly_outside_admin_area", "hazard", "HA-PART"),
            ("long_segment", "hazard", "HA-LONG"),
            ("duplicate_vertices", "hazard", "HA-DUPV"),
            ("duplicate_vertices", "remaining", "HA-DUPV"),
        }

        def release(code, geom, method="cleared", force=False):
            result = record_release(conn, NewRelease(code, method, RELEASED, entered(geom), force=force))
            return result["release_product_id"]

        h1 = polys["HA-0001"]
        ids["P1"] = release("HA-0001", half(h1, "west"))
        ids["P2"] = release("HA-0004", half(polys["HA-0004"], "south"), "reduced")
        # Forced over P2's northern half: accepted knowingly, still an overlap to look at.
        minx, miny, maxx, maxy = polys["HA-0004"].bounds
        ids["P3"] = release("HA-0004", shapely.box(minx, miny + (maxy - miny) * 0.25, maxx, maxy), force=True)
        ids["P4"] = release("HA-0005", square(*cell(4, 0), dx_m=50.0), force=True)  # half outside
        ids["P6"] = release("HA-0007", half(polys["HA-0007"], "west"))
        ids["P7"] = release("HA-0009", half(polys["HA-0009"], "south"))
        ids["P8"] = release("HA-0010", half(polys["HA-0010"], "west"))
        ids["P9"] = release("HA-LOOP", half(polys["HA-LOOP"], "east"))
        expected |= {
            ("release_overlap", "release", str(ids["P3"])),
            ("forced_release_outside_hazard", "release", str(ids["P4"])),
        }

        # Products written past the accounting: half outside its hazard, and degenerate.
        p5 = square(*cell(5, 0), dx_m=50.0)
        p_few = shapely.Polygon(
            [(31.0155, 48.0051), (31.0156, 48.0052), (31.0156, 48.0052), (31.0155, 48.0051)]
        )
        for key, hazard_code, geom in (("P5", "HA-0006", p5), ("PFEW", "HA-0002", p_few)):
            ids[key] = conn.execute(
                insert(schema.release_product).values(
                    hazard_id=ids[hazard_code],
                    method="cleared",
                    released_on=RELEASED,
                    area_m2=max(geodesic_area(geom), 1.0),
                    released_area_m2=0.0,
                    geom=shapely.MultiPolygon([geom]),
                )
            ).inserted_primary_key[0]
        expected |= {
            ("release_outside_hazard", "release", str(ids["P5"])),
            ("too_few_vertices", "release", str(ids["PFEW"])),
        }

        rp = schema.release_product
        # P6 claims 300 m² more than it released: the hazard no longer balances.
        conn.execute(
            update(rp).where(rp.c.id == ids["P6"]).values(released_area_m2=rp.c.released_area_m2 + 300)
        )
        expected.add(("release_balance", "hazard", "HA-0007"))
        # P7 gets a repeated vertex; P8 a wrong stored area.
        p7 = conn.execute(select(rp.c.geom).where(rp.c.id == ids["P7"])).scalar_one()
        c = shapely.get_coordinates(p7)
        conn.execute(
            update(rp)
            .where(rp.c.id == ids["P7"])
            .values(geom=shapely.MultiPolygon([shapely.Polygon([c[0], c[0], *c[1:]])]))
        )
        expected.add(("duplicate_vertices", "release", str(ids["P7"])))
        conn.execute(update(rp).where(rp.c.id == ids["P8"]).values(area_m2=rp.c.area_m2 * 1.1))
        expected.add(("area_mismatch", "release", str(ids["P8"])))

        # HA-0008 loses its remaining-area record.
        conn.execute(delete(schema.hazard_remaining).where(schema.hazard_remaining.c.id == ids["HA-0008"]))
        expected.add(("remaining_mismatch", "hazard", "HA-0008"))

        # Invalid polygons, in the hazard and (untouched hazards) its remainder alike.
        x0, y0, x1, y1 = polys["HA-SPIKE"].bounds
        ym = (y0 + y1) / 2
        spike = shapely.Polygon(
            [(x0, y0), (x1, y0), (x1, ym), (x1 + 30 * M_LON, ym), (x1, ym), (x1, y1), (x0, y1)]
        )
        x0, y0, x1, y1 = polys["HA-BOW"].bounds
        bow = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
        for code, geom in (("HA-SPIKE", spike), ("HA-BOW", bow)):
            blob = gpkg_blob.encode(shapely.MultiPolygon([geom]))
            for table in (schema.hazard, schema.hazard_remaining):
                conn.execute(update(table).where(table.c.id == ids[code]).values(geom=blob))
            expected |= {("invalid_polygon", "hazard", code), ("invalid_polygon", "remaining", code)}
        # HA-LOOP has a product: a twisted loop of about 2 m² on its west edge. make_valid turns
        # its negative area positive: within the area tolerance, but not within the identity's
        # epsilon, so the repair is refused.
        x0, y0, x1, y1 = polys["HA-LOOP"].bounds
        ym, d, e = (y0 + y1) / 2, 1.5 * M_LON, 1.5 * M_LAT
        loop = shapely.Polygon(
            [
                (x0, y0),
                (x1, y0),
                (x1, y1),
                (x0, y1),
                (x0, ym),
                (x0 - d, ym - e),
                (x0 - d, ym + e),
                (x0, ym - e / 100),
            ]
        )
        h = schema.hazard
        conn.execute(update(h).where(h.c.id == ids["HA-LOOP"]).values(geom=shapely.MultiPolygon([loop])))
        expected.add(("invalid_polygon", "hazard", "HA-LOOP"))

        # Admin area with a line for a boundary. PostGIS refuses a line in a MultiPolygon column
        # (and malformed WKB, below): those two defects cannot arise in a PostgreSQL register.
        postgis = conn.dialect.name == "postgresql"
        if not postgis:
            ids["AA09"] = conn.execute(
                insert(schema.admin_area).values(
                    pcode="AA09",
                    name="AA09",
                    level=1,
                    area_m2=1.0,
                    geom=shapely.LineString([(31, 48), (31.2, 48.1)]),
                )
            ).inserted_primary_key[0]
            expected.add(("wrong_geometry_type", "admin", "AA09"))

        # Finds.
        x0, y0, x1, y1 = h1.bounds
        in_p1 = shapely.Point(x0 + (x1 - x0) * 0.25, (y0 + y1) / 2)
        in_east = shapely.Point(x0 + (x1 - x0) * 0.8, (y0 + y1) / 2)  # 30 m outside P1
        _, hy0, hx1, hy1 = polys["HA-0002"].bounds
        outside_h2 = shapely.Point(hx1 + 50 * M_LON, (hy0 + hy1) / 2)
        finds = [
            ("F1", ids["HA-0001"], ids["P1"], in_p1),
            ("FDUP", ids["HA-0001"], ids["P1"], in_p1),
            ("FOUTH", ids["HA-0002"], None, outside_h2),
            ("FOUTR", ids["HA-0001"], ids["P1"], in_east),
            ("FNONE", None, None, None),
            ("FRANGE", None, None, shapely.Point(200.0, 48.0)),
        ]
        for key, hazard_id, product_id, point in finds:
            ids[key] = conn.execute(
                insert(schema.eo_find).values(
                    hazard_id=hazard_id,
                    release_product_id=product_id,
                    found_on=FOUND,
                    category="apm",
                    geom=point,
                )
            ).inserted_primary_key[0]
        expected |= {
            ("duplicate_point", "find", str(ids["FDUP"])),
            ("find_outside_hazard", "find", str(ids["FOUTH"])),
            ("find_outside_release", "find", str(ids["FOUTR"])),
            ("missing_geometry", "find", str(ids["FNONE"])),
            ("coordinates_out_of_range", "find", str(ids["FRANGE"])),
        }

        # Accidents.
        accidents = [
            ("ACC-0001", ids["HA-0002"], polys["HA-0002"].centroid),
            ("ACC-MAL", None, malformed_blob(31.05, 48.05)),
            ("ACC-SWP", None, shapely.Point(48.05, 31.05)),
            ("ACC-FAR", None, shapely.Point(35.0, 50.0)),
        ]
        if postgis:
            accidents = [a for a in accidents if a[0] != "ACC-MAL"]
        for code, hazard_id, geom in accidents:
            ids[code] = conn.execute(
                insert(schema.accident).values(
                    code=code, occurred_on=FOUND, accident_kind="non_demining", hazard_id=hazard_id, geom=geom
                )
            ).inserted_primary_key[0]
        expected |= {
            ("lat_lon_swapped", "accident", "ACC-SWP"),
            ("outside_area_of_interest", "accident", "ACC-FAR"),
        }
        if not postgis:
            expected.add(("malformed_geometry", "accident", "ACC-MAL"))
    engine.dispose()
    # The rules whose defects this store cannot hold (none on SQLite).
    unstorable = {"wrong_geometry_type", "malformed_geometry"} if postgis else set()
    return SimpleNamespace(path=path, expected=expected, ids=ids, polys=polys, unstorable=unstorable)


@pytest.fixture(scope="session")
def planted_template(tmp_path_factory, store):
    """The planted register, built once per session (per xdist worker); copy it to write.

    ``store`` puts it on the suite's backend whichever test this worker happened to run first."""
    return build_planted(tmp_path_factory.mktemp("planted") / "planted.gpkg")


@pytest.fixture
def planted(planted_template, tmp_path):
    """A private, writable copy of the planted register."""
    path = tmp_path / "planted.gpkg"
    path = backend_support.clone(planted_template.path, path)
    return SimpleNamespace(**{**vars(planted_template), "path": path})
