"""Property tests of the export parsers: odd values become reasons, never crashes."""

from __future__ import annotations

from datetime import date

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demine.domain.codelists import CodeLists
from demine.domain.errors import DemineError
from demine.forms.convert import Reader, to_parts
from demine.forms.exports import ExportedSubmission, read_export
from demine.forms.geo import parse_geopoint, parse_geoshape
from demine.forms.spec import FORMS, SaddGrid
from demine.ingest.report import REASONS
from demine.ingest.values import CodeResolver, ValueProblem

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

lats = st.floats(min_value=-89, max_value=89, allow_nan=False)
lons = st.floats(min_value=-179, max_value=179, allow_nan=False)
LISTS = CodeLists.defaults()
READER = Reader(CodeResolver(LISTS), date(2026, 6, 30))
SADD = SaddGrid.of(LISTS.codes("sex"), LISTS.codes("age_band"))


@given(st.lists(st.tuples(lats, lons), min_size=3, max_size=12, unique=True), st.booleans(), st.booleans())
def test_a_geoshape_string_reads_as_the_polygon_it_describes(points, closed, with_alt):
    ring = [*points, points[0]] if closed else points
    text = ";".join(f"{lat!r} {lon!r}" + (" 12.5 3.0" if with_alt else "") for lat, lon in ring)
    polygon = parse_geoshape(text, "shape")
    coords = list(polygon.exterior.coords)
    assert coords[0] == coords[-1]
    # Longitude first once read: ODK's "lat lon" order is swapped.
    assert coords[:-1] == [(lon, lat) for lat, lon in points]


@given(lats, lons)
def test_a_geopoint_string_is_lon_lat(lat, lon):
    assert parse_geopoint(f"{lat} {lon} 100 5", "p") == (lon, lat)


ODD = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.text(alphabet="0123456789.-; eE,naif", max_size=80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.dates(),
    st.lists(st.integers(), max_size=3),
)


@given(ODD)
def test_odd_geo_answers_are_reasons_never_crashes(value):
    for parse in (parse_geoshape, parse_geopoint):
        try:
            parse(value, "geo")
        except ValueProblem as exc:
            assert exc.reason in REASONS


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(FORMS)), st.data())
def test_odd_answers_to_any_form_are_reasons_never_crashes(form_name, data):
    form = FORMS[form_name]
    names = [q.name for q in form.top_questions()] + [c.name for c in SADD.cells]
    values = {n: data.draw(ODD, label=n) for n in names if data.draw(st.booleans())}
    repeats = {g.name: [{q.name: data.draw(ODD) for q in g.questions}] for g in form.repeats()}
    geometry = data.draw(
        st.one_of(st.none(), st.just({"type": "Point", "coordinates": [1, 2]}), st.just({"x": 1}))
    )
    sub = ExportedSubmission(1, "u", None, values, repeats, values, geometry)
    try:
        parts = to_parts(form, sub, READER, SADD)
    except ValueProblem as exc:
        assert exc.reason in REASONS and exc.message
    else:
        assert parts and all(p.kind in form.kinds for p in parts)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400), st.sampled_from([".csv", ".geojson", ".zip", ".xlsx"]))
def test_any_file_is_an_export_or_a_clear_error(tmp_path, content, suffix):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(content)
    try:
        export = read_export(path)
    except DemineError as exc:
        assert str(exc)
    else:
        assert all(s.row >= 1 for s in export.submissions)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("47.1 32.1 0 0;47.2 32.1 0 0", "invalid_geometry"),
        ("47.1 32.1;x y;47.2 32.2", "invalid_geometry"),
        ("95 32;96 33;97 32", "out_of_range_coordinates"),
        ("47.1 32.1 0 0 9 9", "invalid_geometry"),
        ("nan 32;47 33;46 32", "out_of_range_coordinates"),
    ],
)
def test_bad_geoshapes_have_reasons(text, reason):
    with pytest.raises(ValueProblem) as info:
        parse_geoshape(text, "shape")
    assert info.value.reason == reason


def test_a_self_intersecting_shape_is_rejected_or_repaired_not_crashed():
    bowtie = "47.0 32.0;47.1 32.1;47.0 32.1;47.1 32.0;47.0 32.0"
    form = FORMS["hazardous_area"]
    values = {
        "code": "H-1",
        "hazard_type": "SHA",
        "organisation": "HDT",
        "reported_on": "2026-01-02",
        "evidence": "marking",
        "eo_categories": "apm",
        "geometry": bowtie,
    }
    try:
        parts = to_parts(form, ExportedSubmission(1, "u", None, values), READER, SADD)
    except ValueProblem as exc:
        assert exc.reason == "invalid_geometry"
    else:
        assert shapely.geometry.shape(parts[0].payload["geometry"]).is_valid
