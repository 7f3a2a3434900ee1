"""The export reader on real KoboToolbox, Ona, ODK Central and ODK Briefcase exports.

Every other "export" in the tests is written by :mod:`demine.forms.synthetic`, so the reader
and the writer could share a wrong idea of the format. The files in ``real_exports/`` were
written by the servers themselves (their sources are in ``real_exports/README.md``); the
values asserted here were read off those files by eye, not computed by demine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import shapely
from sqlalchemy import func, select

from demine.domain.codelists import CodeLists
from demine.domain.errors import DemineError
from demine.forms.convert import Reader, polygon
from demine.forms.exports import field_name, read_export
from demine.forms.geo import parse_geopoint, parse_geoshape
from demine.forms.ingest import ingest_file
from demine.forms.spec import Question
from demine.forms.synthetic import WRITERS, synthetic_submissions
from demine.ingest.values import CodeResolver, ValueProblem, as_date, as_float, as_int
from demine.storage import schema

HERE = Path(__file__).parent / "real_exports"
TODAY = date(2026, 11, 20)


def _reader(**lists: list[str]) -> Reader:
    rows = [(name, code, code.replace("_", " ").title()) for name, codes in lists.items() for code in codes]
    return Reader(CodeResolver(CodeLists.from_rows(rows)), TODAY)


def _vertices(polygon: shapely.Polygon) -> list[tuple[float, float]]:
    return list(polygon.exterior.coords)


# ---- Ona (formhub lineage, like KoboToolbox): CSV with Enketo-drawn geoshapes --------------


def test_ona_csv_geoshapes_drawn_in_enketo():
    export = read_export(HERE / "ona_geoshapes.csv")
    assert export.format == "kobo_csv"
    first, second = export.submissions
    # meta/instanceID wins over _uuid; the "uuid:" prefix is dropped.
    assert first.uuid == "cb2f1dae-47f2-4919-9fea-5ede2fda841c"
    assert second.uuid == "6ac3e33c-d064-45e0-8597-880227e36435"
    assert first.submitted_at == "2023-09-15T09:55:11"
    # "segment[1]/blueline": the repeat index and the group are dropped from the name.
    shape = parse_geoshape(first.values["blueline"], "blueline")
    coords = _vertices(shape)
    assert coords[0] == (36.788843, -1.297323)  # latitude first in the file, longitude first here
    assert coords[3] == (36.789099, -1.297537)  # the one vertex with altitude 2, accuracy 3
    assert len(coords) == 7 and coords[0] == coords[-1]
    # As drawn, the boundary crosses itself; repairing it would change its area by 42%, so
    # the ingest refuses it with a reason instead of storing a guess.
    assert not shape.is_valid
    with pytest.raises(ValueProblem) as info:
        polygon(shape, "blueline")
    assert info.value.reason == "invalid_geometry" and "42%" in info.value.message
    # The second repeat instance of the second submission: a closed triangle.
    triangle = parse_geoshape(second.raw["segment[2]/blueline"], "segment[2]/blueline")
    assert _vertices(triangle)[:3] == [(36.789659, -1.297391), (36.78296, -1.298163), (36.7882, -1.299751)]
    # Ona writes "n/a" for a repeat instance a submission does not have: a reason, no crash.
    assert first.raw["segment[2]/blueline"] == "n/a"
    with pytest.raises(ValueProblem) as info:
        parse_geoshape(first.raw["segment[2]/blueline"], "blueline")
    assert info.value.reason == "invalid_geometry"
    # Enketo's start/end carry the device's offset (+03:00, Nairobi); the day is the local day.
    assert as_date(first.values["start"], "start") == date(2023, 9, 15)
    assert as_date(first.values["today"], "today") == date(2023, 9, 15)


def test_ona_csv_geopoint_with_its_split_columns_and_a_shape():
    export = read_export(HERE / "ona_geolocation.csv")
    subs = export.submissions
    assert len(subs) == 4 and {s.uuid for s in subs} == {"7c0d8b2d-7ad0-4100-923d-f2767d532258"}
    values = subs[0].values
    assert parse_geopoint(values["location"], "location") == (36.787219, -1.294197)
    # Kobo/Ona also split the point into _<name>_latitude/_longitude/_altitude/_precision.
    assert (float(values["_location_longitude"]), float(values["_location_latitude"])) == (
        36.787219,
        -1.294197,
    )
    shape = parse_geoshape(values["shape"], "shape")
    assert _vertices(shape)[0] == (36.78723, -1.2942)
    assert len(set(_vertices(shape))) == 5
    assert {"location", "shape", "path", "instanceID", "_uuid"} <= set(export.columns)


# ---- KoboToolbox ----------------------------------------------------------------------------


def test_kobo_api_json_page():
    export = read_export(HERE / "kobo_api_v2_data.json")
    assert export.format == "kobo_json"
    assert [s.uuid for s in export.submissions] == [
        "e58da38d-3eee-4bd7-8512-4a97ea8fbb01",
        "5c408d9d-6a76-4fbb-bf4e-9ed8f8e3e382",
        "6a0e819b-9d89-4b59-bd1e-38355dd2e05f",
    ]
    first, _, edited = export.submissions
    # _submission_time is UTC without an offset; the device's own clock was at -08:00.
    stamp = datetime.fromisoformat(first.submitted_at).replace(tzinfo=UTC)
    assert stamp == datetime(2021, 11, 16, 23, 46, 27, tzinfo=UTC)
    assert datetime.fromisoformat(first.values["start"]).astimezone(UTC) < stamp
    # A negative altitude from Collect (-14.43 m, below the ellipsoid) is still a point.
    point = parse_geopoint(first.values["Record_your_current_location"], "location")
    assert point == (-122.0109429, 36.97012)
    # Kobo's own [lat, lon] pair (a list, so not an answer) agrees once swapped.
    record = json.loads((HERE / "kobo_api_v2_data.json").read_text())["results"][0]
    assert tuple(reversed(record["_geolocation"])) == point and "_geolocation" not in first.values
    reasons = Question("why", "select_multiple", ("", ""), choices="tree_reasons")
    reader = _reader(tree_reasons=["shade", "food", "wildlife_habitat", "beauty"])
    assert reader.answer(reasons, {"why": first.values["I_like_this_tree_because"]}) == [
        "shade",
        "food",
        "wildlife_habitat",
        "beauty",
    ]
    height = Question("height", "integer", ("", ""))
    assert reader.answer(height, {"height": first.values["Estimate_height_of_your_tree_in_meters"]}) == 18
    assert as_date(edited.values["today"], "today") == date(2021, 11, 17)
    # An edited submission: Kobo gives it a new instance id and keeps the old one apart.
    assert edited.raw["meta/deprecatedID"] == "uuid:bf66ca42-160c-4207-8d01-af7df2852945"
    assert edited.raw["_uuid"] == edited.uuid
    # "formhub/uuid" is the form's id, not the submission's.
    assert edited.values["uuid"] == "f7bef041e8624f09946bff05ee5cbd4b"


def test_kobo_api_json_bare_list_and_non_records(tmp_path):
    page = json.loads((HERE / "kobo_api_v2_data.json").read_text())
    bare = tmp_path / "v1.json"
    bare.write_text(json.dumps(page["results"]))
    assert [s.uuid for s in read_export(bare).submissions] == [
        s.uuid for s in read_export(HERE / "kobo_api_v2_data.json").submissions
    ]
    for junk in ([1, 2], {"results": "x"}, {"count": 0}):
        path = tmp_path / "junk.json"
        path.write_text(json.dumps(junk))
        with pytest.raises(DemineError, match=r"junk\.json: not a GeoJSON FeatureCollection"):
            read_export(path)


def test_kobo_csv_labels_export_semicolons_and_a_bad_longitude():
    export = read_export(HERE / "kobo_labels_export.csv")
    assert export.format == "kobo_csv"
    first, second, third = export.submissions
    assert second.uuid == "d18d0d37-fdd1-4c5f-8d37-cbc86e935322"
    assert second.submitted_at == "2023-07-19 18:35:52"
    location = "Please record the location of your local ecosystem."
    assert parse_geopoint(second.values[location], "location") == (-77.1899636, 38.7790289)
    assert second.raw["_geolocation"] == "[38.7790289, -77.1899636]"
    # A real point with longitude -199: rejected with a reason, not wrapped round the globe.
    with pytest.raises(ValueProblem) as info:
        parse_geopoint(third.values[location], "location")
    assert info.value.reason == "out_of_range_coordinates" and "-199.059" in info.value.message
    # The 0/1 columns of a select_multiple ("question/choice") do not replace its answer.
    tek = "How is traditional ecological knowledge (TEK) passed on within your community?"
    assert third.values[tek] == "Oral storytelling Apprenticeships Rituals and ceremonies"
    assert third.raw[f"{tek}/Apprenticeships"] == "1"
    assert field_name(f"{tek}/Apprenticeships") == "Apprenticeships"
    # Python-style date-times ("2023-07-19 14:30:12.239000-04:00") still give the local day.
    assert as_date(first.values["start"], "start") == date(2023, 7, 19)
    assert as_date(first.values["today"], "today") == date(2023, 7, 18)


# ---- ODK Central and ODK Briefcase ---------------------------------------------------------


def test_central_csv_all_data_types_from_collect():
    export = read_export(HERE / "central_all-data-types.csv")
    assert export.format == "odk_csv"
    (sub,) = export.submissions
    assert sub.uuid == "39f3dd36-161e-45cb-a1a4-395831d253a7"
    assert datetime.fromisoformat(sub.submitted_at) == datetime(2018, 4, 26, 8, 58, 20, 525000, tzinfo=UTC)
    # Central splits a geopoint into -Latitude/-Longitude/-Altitude/-Accuracy: joined back.
    assert sub.values["some_geopoint"] == "43.3149254 -1.9869671 71.80000305175781 15.478"
    assert parse_geopoint(sub.values["some_geopoint"], "p") == (-1.9869671, 43.3149254)
    assert "some_geopoint" in export.columns and "Latitude" not in export.columns
    # Collect ends shapes and traces with ";".
    shape = parse_geoshape(sub.values["some_geoshape"], "some_geoshape")
    assert _vertices(shape)[0] == (-1.9863833114504814, 43.31513313655808)
    assert len(set(_vertices(shape))) == 4 and shape.is_valid
    # A three-point trace with a repeated point is not a shape: a reason, no crash.
    with pytest.raises(ValueProblem) as info:
        parse_geoshape(sub.values["some_geotrace"], "some_geotrace")
    assert info.value.reason == "invalid_geometry"
    assert as_date(sub.values["some_date"], "d") == date(2018, 4, 26)
    assert as_date(sub.values["some_date_time"], "dt") == date(2018, 4, 26)
    assert as_int(sub.values["some_int"], "i") == 123 and as_float(sub.values["some_decimal"], "x") == 123.456
    assert sub.values["some_barcode"] == "000049499094"  # text: the leading zeros stay
    assert (sub.values["Edits"], sub.values["ReviewState"]) == ("0", None)


def test_central_csv_group_paths_and_select_multiple_columns():
    export = read_export(HERE / "central_selectMultiple.csv")
    one, two = export.submissions
    assert (one.uuid, two.uuid) == ("one", "two")
    # "g1-q2" is q2 in group g1; "g1-q2/m" its 0/1 column for choice m.
    assert (two.values["q1"], two.values["q2"], two.raw["g1-q2/m"]) == ("b", "m x", "1")
    question = Question("q2", "select_multiple", ("", ""), choices="letters")
    assert _reader(letters=["m", "n", "x", "y", "z"]).answer(question, one.values) == ["x", "y", "z"]


def test_central_zip_repeats_join_on_parent_key():
    export = read_export(HERE / "central_nested-repeats.csv.zip")
    assert export.format == "odk_zip"
    (sub,) = export.submissions
    assert sub.uuid == "0a1b861f-a5fd-4f49-846a-78dcf06cfc1b"
    assert [r["t1"] for r in sub.repeats["g1"]] == ["some text 1", "some text 2", "some text 3"]
    # g2 and g3 hang from g1 rows (PARENT_KEY .../g1[1]), not from the submission: demine's
    # forms have no nested repeats, so they are not attached to it.
    assert set(sub.repeats) == {"g1"}


def test_briefcase_csv_locale_dates_are_a_clear_rejection():
    (sub,) = read_export(HERE / "briefcase_choice-lists.csv").submissions
    assert sub.uuid == "39f3dd36-161e-45cb-a1a4-395831d253a7"
    assert (sub.values["some_string"], sub.raw["some_string/CHOICE_1"]) == ("CHOICE_1", "1")
    # Briefcase writes dates in the exporting machine's locale ("Apr 26, 2018 8:58:20 AM"):
    # not guessed, but refused with the bad_date reason (use ODK Central's ISO dates).
    assert sub.submitted_at == "Apr 26, 2018 8:58:20 AM"
    with pytest.raises(ValueProblem) as info:
        as_date(sub.submitted_at, "SubmissionDate")
    assert info.value.reason == "bad_date"


# ---- End to end ----------------------------------------------------------------------------


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "demine", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_cli_refuses_real_exports_of_other_forms_and_writes_nothing(demo, clone_db, tmp_path):
    from demine.storage.database import open_database

    db = clone_db(demo.template)
    engine = open_database(db)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(schema.submission)).scalar_one()
    proc = _run("forms", "ingest", HERE / "kobo_api_v2_data.json", "--db", db)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "cannot tell which form" in proc.stderr
    proc = _run("forms", "ingest", HERE / "ona_geoshapes.csv", "--db", db, "--form", "hazardous_area")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "not an export of the hazardous_area form" in proc.stderr and "eo_categories" in proc.stderr
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.submission)).scalar_one() == before
    engine.dispose()


REAL_SHAPES = {
    # (file, column, row): a shape as its server exported it, byte for byte.
    "ona_enketo": ("ona_geoshapes.csv", "segment[1]/blueline", 1),
    "ona_enketo_triangle": ("ona_geoshapes.csv", "segment[2]/blueline", 1),
    "ona_collect": ("ona_geolocation.csv", "shape", 0),
    "central_collect": ("central_all-data-types.csv", "some_geoshape", 0),
}


def test_real_shapes_reach_the_register_through_a_hazard_report(demo_copy, tmp_path):
    """The real geoshape strings, put in a hazardous-area export, become the hazards' polygons."""
    with demo_copy.connect() as conn:
        subs = synthetic_submissions(conn, "hazardous_area", len(REAL_SHAPES), seed=19, today=TODAY)
    expected = {}
    for sub, (file, column, row) in zip(subs, REAL_SHAPES.values(), strict=True):
        text = read_export(HERE / file).submissions[row].raw[column]
        sub.values["geometry"] = text
        sub.values.pop("admin_pcode")
        sub.values.pop("benchmark")
        points = [p.split() for p in text.split(";") if p.strip()]
        expected[sub.values["code"]] = {(round(float(p[1]), 9), round(float(p[0]), 9)) for p in points}
    path = WRITERS["kobo_csv"]("hazardous_area", subs, tmp_path / "hazards.csv")
    result = ingest_file(demo_copy, path, rejects=tmp_path / "r.csv", today=TODAY)
    assert (result.read, result.staged, result.rejected) == (4, 4, 0), result.reasons
    with demo_copy.connect() as conn:
        payloads = conn.execute(
            select(schema.submission.c.payload).where(schema.submission.c.id.in_(result.submissions))
        ).scalars()
        staged = {p["code"]: p for p in (json.loads(x) if isinstance(x, str) else x for x in payloads)}
    assert set(staged) == set(expected)
    for code, vertices in expected.items():
        polygon = shapely.geometry.shape(staged[code]["geometry"])
        assert polygon.is_valid and polygon.area > 0
        # The same vertices, longitude first, whatever ring orientation the register keeps.
        assert {(round(x, 9), round(y, 9)) for x, y in polygon.exterior.coords} == vertices


def test_a_real_export_with_repeated_rows_stages_one_and_names_the_duplicates(demo_copy, tmp_path):
    """Ona's GeoLocation export holds the same submission four times: one read, three duplicates."""
    with demo_copy.connect() as conn:
        (sub,) = synthetic_submissions(conn, "eo_find", 1, seed=23, today=TODAY)
    real = read_export(HERE / "ona_geolocation.csv").submissions
    subs = []
    for row in real:
        copy = type(sub)(row.uuid, sub.submitted_at, dict(sub.values), {})
        copy.values["location"] = row.raw["location"]
        subs.append(copy)
    path = WRITERS["kobo_csv"]("eo_find", subs, tmp_path / "finds.csv")
    rejects = tmp_path / "r.csv"
    result = ingest_file(demo_copy, path, rejects=rejects, today=TODAY)
    assert (result.read, result.staged, result.rejected) == (4, 1, 3)
    assert result.reasons == {"duplicate": 3}
    assert "7c0d8b2d-7ad0-4100-923d-f2767d532258" in rejects.read_text(encoding="utf-8")
    with demo_copy.connect() as conn:
        (payload,) = conn.execute(
            select(schema.submission.c.payload).where(schema.submission.c.id.in_(result.submissions))
        ).scalars()
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert tuple(payload["location"]) == (36.787219, -1.294197)
