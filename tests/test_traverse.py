"""Traverse polygons: known surveyed shapes → bearings and distances → the same shapes back.

The sheets are written from known vertices with ``Geod.inv`` (the inverse problem), then
rebuilt by the traverse (the direct problem); vertices must agree to 1 cm and areas to 0.01 %.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from demine.domain.errors import ValidationError
from demine.geometry.traverse import (
    MILS_PER_CIRCLE,
    compute_traverse,
    parse_declination,
    parse_sheet,
    sheet_from_records,
    traverse_from_csv,
)

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

GEOD = Geod(ellps="WGS84")
DEMINE = [sys.executable, "-m", "demine"]
HEADER = "point,type,bearing,unit,north,distance_m,x,y"


def square_100m_at_48n() -> list[tuple[float, float]]:
    """A 100 m square surveyed clockwise from its south-west corner at 48°N."""
    points = [(31.2, 48.0)]
    for azimuth in (0.0, 90.0, 180.0):
        lon, lat, _ = GEOD.fwd(*points[-1], azimuth, 100.0)
        points.append((float(lon), float(lat)))
    return points


PENTAGON = [
    (31.20000, 48.00000),
    (31.20210, 48.00035),
    (31.20260, 48.00190),
    (31.20105, 48.00270),
    (31.19955, 48.00140),
]


def sheet_from(
    vertices,
    benchmark=None,
    reference=None,
    unit="deg",
    north="true",
    declination=0.0,
    close=True,
    header_lines=(),
) -> str:
    """The survey sheet of a known polygon: legs measured with Geod.inv."""
    benchmark = benchmark or (vertices[0][0] - 0.0004, vertices[0][1] - 0.0003)
    stations = [benchmark, *([reference] if reference else []), *vertices, *([vertices[0]] if close else [])]
    names = ["BM", *(["RP"] if reference else []), *[f"TP{i + 1}" for i in range(len(vertices))]]
    names += ["TP1"] if close else []
    kinds = [
        "benchmark",
        *(["reference"] if reference else []),
        *["turning"] * (len(stations) - 1 - bool(reference)),
    ]
    lines = [*header_lines, HEADER, f"BM,benchmark,,,,,{benchmark[0]!r},{benchmark[1]!r}"]
    for k in range(1, len(stations)):
        (x1, y1), (x2, y2) = stations[k - 1], stations[k]
        azimuth, _, distance = GEOD.inv(x1, y1, x2, y2)
        bearing = azimuth - declination if north == "magnetic" else azimuth
        bearing %= 360.0
        if unit == "mil":
            bearing *= MILS_PER_CIRCLE / 360.0
        lines.append(f"{names[k]},{kinds[k]},{bearing!r},{unit},{north},{distance!r},,")
    return "\n".join(lines) + "\n"


def assert_same_polygon(result, vertices):
    got = [(p.lon, p.lat) for p in result.turning]
    assert len(got) == len(vertices)
    for (x1, y1), (x2, y2) in zip(got, vertices, strict=True):
        assert GEOD.inv(x1, y1, x2, y2)[2] < 0.01  # 1 cm
    xs, ys = zip(*vertices, strict=True)
    area, perimeter = GEOD.polygon_area_perimeter(xs, ys)
    assert result.area_m2 == pytest.approx(abs(area), rel=1e-4)  # 0.01 %
    assert result.perimeter_m == pytest.approx(perimeter, rel=1e-6)


def test_square_round_trip():
    square = square_100m_at_48n()
    result = compute_traverse(parse_sheet(sheet_from(square)))
    assert_same_polygon(result, square)
    assert result.area_m2 == pytest.approx(10_000, rel=1e-3)
    assert result.closed_explicitly and result.misclosure_m < 0.001
    assert result.polygon.exterior.is_ccw  # GeoJSON's convention, whatever the survey order


def test_pentagon_with_reference_point_in_mils_and_magnetic():
    reference = (31.19990, 47.99985)
    text = sheet_from(
        PENTAGON,
        reference=reference,
        unit="mil",
        north="magnetic",
        declination=4.25,
        header_lines=["# survey of HA-0042, team T0003", "# declination = 4.25E"],
    )
    result = compute_traverse(parse_sheet(text))
    assert_same_polygon(result, PENTAGON)
    assert (result.reference.lon, result.reference.lat) == pytest.approx(reference, abs=1e-9)
    assert result.declination_deg == 4.25


def test_declination_option_overrides_the_sheet_and_west_is_negative():
    text = sheet_from(PENTAGON, north="magnetic", declination=-2.0, header_lines=["# declination = 7"])
    # The sheet's 7° is wrong for these bearings. A constant bearing error turns the whole
    # traverse about the benchmark: it still closes, but lies tens of metres off.
    wrong = compute_traverse(parse_sheet(text))
    assert wrong.misclosure_m < 0.01
    assert GEOD.inv(wrong.turning[2].lon, wrong.turning[2].lat, *PENTAGON[2])[2] > 10
    assert_same_polygon(compute_traverse(parse_sheet(text, declination=parse_declination("2W"))), PENTAGON)


def test_open_sheet_closes_by_assumption():
    result = compute_traverse(parse_sheet(sheet_from(PENTAGON, close=False)))
    assert_same_polygon(result, PENTAGON)
    assert not result.closed_explicitly and result.misclosure_m is None and result.precision is None


def test_misclosure_is_reported_and_refused_above_the_tolerance():
    lines = sheet_from(square_100m_at_48n()).splitlines()
    # Tape misread on the second leg: 106 m instead of 100 m (the default tolerance is 1 %).
    fields = lines[3].split(",")
    fields[5] = str(float(fields[5]) + 6.0)
    lines[3] = ",".join(fields)
    text = "\n".join(lines)
    with pytest.raises(ValidationError) as err:
        compute_traverse(parse_sheet(text, source="sq.csv"))
    message = str(err.value)
    assert "sq.csv line 7 (TP1)" in message and "distance_m" in message and "6.00 m" in message
    loose = compute_traverse(parse_sheet(text), max_misclosure_m=10.0)
    assert loose.misclosure_m == pytest.approx(6.0, abs=0.01)
    assert loose.precision == pytest.approx(406 / 6.0, rel=0.01)
    # Bowditch: TP1 stays, the others move towards closure in proportion to distance.
    adjusted = compute_traverse(parse_sheet(text), max_misclosure_m=10.0, adjust=True)
    assert adjusted.adjusted
    first = adjusted.turning[0]
    assert (first.lon, first.lat) == (loose.turning[0].lon, loose.turning[0].lat)
    shifts = [
        GEOD.inv(a.lon, a.lat, b.lon, b.lat)[2] for a, b in zip(loose.turning, adjusted.turning, strict=True)
    ]
    assert shifts == pytest.approx([0.0, 106 / 406 * 6, 206 / 406 * 6, 306 / 406 * 6], abs=0.01)


def test_benchmark_in_utm():
    to_utm = Transformer.from_crs(4326, 32636, always_xy=True)
    square = square_100m_at_48n()
    bm = (square[0][0] - 0.0004, square[0][1] - 0.0003)
    text = sheet_from(square, benchmark=bm)
    e, n = to_utm.transform(*bm)
    text = text.replace(f"{bm[0]!r},{bm[1]!r}", f"{e!r},{n!r}")
    assert_same_polygon(compute_traverse(parse_sheet("# crs = EPSG:32636\n" + text)), square)
    assert_same_polygon(compute_traverse(parse_sheet(text, crs="EPSG:32636")), square)


def test_semicolons_bom_synonyms_and_extra_columns(tmp_path):
    # What a spreadsheet in a comma-decimal locale saves: semicolons, a byte-order mark,
    # capitalised headers, lon/lat for x/y and a remarks column.
    rows = [line.split(",") for line in sheet_from(PENTAGON).splitlines()]
    rows[0] = ["Point", "Type", "Remarks", "Bearing", "Unit", "North", "Distance_m", "Lon", "Lat"]
    rows[1:] = [[r[0], r[1], "painted stake", *r[2:]] for r in rows[1:]]
    path = tmp_path / "sheet.csv"
    path.write_text("\n".join(";".join(r) for r in rows), encoding="utf-8-sig")
    assert_same_polygon(traverse_from_csv(path), PENTAGON)


def test_rows_from_a_spreadsheet_or_form():
    """Import code hands over rows it has read itself, with numbers as numbers."""
    rows = [line.split(",") for line in sheet_from(PENTAGON, unit="mil").splitlines()]
    header = rows[0]
    records = []
    for number, values in enumerate(rows[1:], start=2):
        record = dict(zip(header, values, strict=True))
        for key in ("bearing", "distance_m", "x", "y"):
            record[key] = float(record[key]) if record[key] else None
        records.append((number, record))
    assert_same_polygon(compute_traverse(sheet_from_records(records, "form")), PENTAGON)
    records[2][1]["bearing"] = None
    with pytest.raises(ValidationError, match=re.escape("form line 4 (TP2): bearing: is required")):
        sheet_from_records(records, "form")


BAD = [
    ("TP2,turning,9x,deg,true,40,,", "line 4 (TP2): bearing: '9x' is not a number"),
    ("TP2,turning,400,deg,true,40,,", "line 4 (TP2): bearing: 400 deg is outside 0–360"),
    ("TP2,turning,7000,mil,true,40,,", "line 4 (TP2): bearing: 7000 mil is outside 0–6400"),
    ("TP2,turning,90,grad,true,40,,", "line 4 (TP2): unit: 'grad' must be deg or mil"),
    ("TP2,turning,90,deg,grid,40,,", "convert grid bearings to true first"),
    ("TP2,turning,90,deg,magnetic,40,,", "line 4 (TP2): north: a magnetic bearing needs the declination"),
    ("TP2,turning,90,deg,true,-4,,", "line 4 (TP2): distance_m: -4 must be greater than 0"),
    ("TP2,turning,90,deg,true,,,", "line 4 (TP2): distance_m: is required"),
    ("TP2,corner,90,deg,true,40,,", "line 4 (TP2): type: 'corner' must be one of"),
    ("TP1,turning,90,deg,true,40,,", "line 4 (TP1): point: the name is already used on line 3"),
]


@pytest.mark.parametrize("row, message", BAD)
def test_errors_name_the_row_and_the_column(row, message):
    good = [
        HEADER,
        "BM,benchmark,,,,,31.2,48.0",
        "TP1,turning,0,deg,true,10,,",
        row,
        "TP3,turning,180,deg,true,40,,",
        "TP4,turning,270,deg,true,40,,",
    ]
    with pytest.raises(ValidationError) as err:
        parse_sheet("\n".join(good), source="s.csv")
    assert message in str(err.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("point,type,bearing\nBM,benchmark,", "missing column(s): distance_m"),
        (f"{HEADER}\nTP1,turning,0,deg,true,10,,", "0 benchmark rows"),
        (f"{HEADER}\nBM,benchmark,,,,,31,48\nTP1,turning,0,deg,true,10,,", "1 turning points"),
        (f"{HEADER}\nBM,benchmark,,,,,48,200\nTP1,turning,0,deg,true,10,,", "longitude (x) comes first"),
        ("# nothing\n", "no header row"),
    ],
)
def test_sheet_level_errors(text, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        parse_sheet(text)


def test_crossing_legs_are_refused_as_an_invalid_polygon():
    bow = [(31.2, 48.0), (31.201, 48.001), (31.201, 48.0), (31.2, 48.001)]
    with pytest.raises(ValidationError, match="invalid polygon"):
        compute_traverse(parse_sheet(sheet_from(bow)))


@st.composite
def polygons(draw):
    lat = draw(st.floats(-70, 70))
    lon = draw(st.floats(-179, 179))
    n = draw(st.integers(3, 12))
    radius = draw(st.floats(20.0, 3000.0))
    gaps = np.array(draw(st.lists(st.floats(0.2, 1.0), min_size=n, max_size=n)))
    angles = np.cumsum(gaps) / gaps.sum() * 360.0
    radii = radius * np.array(draw(st.lists(st.floats(0.5, 1.0), min_size=n, max_size=n)))
    xs, ys, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), angles, radii)
    return list(zip(np.asarray(xs).tolist(), np.asarray(ys).tolist(), strict=True))


@settings(max_examples=60, deadline=None)
@given(
    polygons(),
    st.sampled_from(["deg", "mil"]),
    st.sampled_from(["true", "magnetic"]),
    st.floats(-30, 30),
    st.booleans(),
    st.booleans(),
)
def test_any_polygon_survives_the_round_trip(vertices, unit, north, declination, close, with_reference):
    reference = None
    if with_reference:
        lon, lat, _ = GEOD.fwd(*vertices[0], 200.0, 25.0)
        reference = (float(lon), float(lat))
    text = sheet_from(
        vertices, reference=reference, unit=unit, north=north, declination=declination, close=close
    )
    sheet = parse_sheet(text, declination=declination if north == "magnetic" else None)
    assert_same_polygon(compute_traverse(sheet), vertices)


def run(*args):
    return subprocess.run([*DEMINE, *args], capture_output=True, text=True, timeout=120)


def test_cli_json_and_geojson_out(tmp_path):
    sheet = tmp_path / "square.csv"
    sheet.write_text(sheet_from(square_100m_at_48n(), north="magnetic", declination=3.0))
    out = tmp_path / "square.geojson"
    proc = run("traverse", str(sheet), "--declination", "3E", "--json", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["area_m2"] == pytest.approx(10_000, rel=1e-3)
    assert data["perimeter_m"] == pytest.approx(400, rel=1e-4)
    assert data["misclosure_m"] < 0.001 and data["closed_explicitly"]
    assert [p["point"] for p in data["points"]] == ["BM", "TP1", "TP2", "TP3", "TP4"]
    collection = json.loads(out.read_text())
    polygon = shapely.geometry.shape(collection["features"][0]["geometry"])
    assert polygon.is_valid and len(collection["features"]) == 6
    human = run("traverse", str(sheet), "--declination", "3")
    assert human.returncode == 0 and "misclosure" in human.stdout and '"Polygon"' in human.stdout


def test_cli_errors_exit_without_traceback(tmp_path):
    sheet = tmp_path / "bad.csv"
    sheet.write_text(f"{HEADER}\nBM,benchmark,,,,,31.2,48\nTP1,turning,0,deg,magnetic,10,,\n")
    proc = run("traverse", str(sheet))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "bad.csv line 3 (TP1)" in proc.stderr and "declination" in proc.stderr
    proc = run("traverse", str(tmp_path / "missing.csv"))
    assert proc.returncode == 3 and "cannot read" in proc.stderr
    proc = run("traverse", str(sheet), "--declination", "east")
    assert proc.returncode == 3 and "--declination" in proc.stderr


def test_declination_parsing():
    assert parse_declination("2.5") == 2.5
    assert parse_declination(" 3.25e ") == 3.25
    assert parse_declination("1W") == -1.0
    for bad in ("east", "nan", "100"):
        with pytest.raises(ValueError):
            parse_declination(bad)
    assert math.isclose(MILS_PER_CIRCLE / 360.0, 17.777777, rel_tol=1e-6)
