"""The register on a real file: hazards, organisations, teams, accreditations, the summary."""

from __future__ import annotations

import struct
from datetime import date, timedelta

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import func, select, text

from backend_support import index_box
from demine.domain.errors import NotFoundError, ValidationError
from demine.geometry.area import geodesic_area
from demine.geometry.reading import read_geometry
from demine.register.hazards import NewHazard, add_hazards, get_hazard, list_hazards
from demine.register.organisations import (
    NewAccreditation,
    NewOrganisation,
    NewTeam,
    add_accreditations,
    add_organisations,
    add_teams,
    team_accreditation_status,
)
from demine.reports.summary import programme_summary
from demine.storage import gpkg_blob, schema

TODAY = date(2026, 6, 30)
REPORTED = date(2025, 3, 14)
GEOD = Geod(ellps="WGS84")
# An irregular pentagon near Kharkiv, ~52 ha.
PENTAGON = shapely.Polygon(
    [(36.20, 49.90), (36.208, 49.901), (36.21, 49.905), (36.204, 49.909), (36.199, 49.905)]
)


def _hazard(code, geom=PENTAGON, **kwargs):
    kwargs.setdefault("reported_on", REPORTED)
    return NewHazard(code=code, hazard_type=kwargs.pop("hazard_type", "CHA"), geometry=geom, **kwargs)


def _shifted(geom, dx):
    return shapely.affinity.translate(geom, xoff=dx)


@pytest.fixture
def db(empty_db):
    """An empty register with one organisation and one hazard already in it."""
    with empty_db.begin() as conn:
        add_organisations(conn, [NewOrganisation("HDT", "Humanitarian Demining Trust", "ngo")])
        add_hazards(conn, [_hazard("H-0", _shifted(PENTAGON, -0.1))], today=TODAY)
    return empty_db


def _refused(engine, table_counts, hazards, today=TODAY):
    """Add hazards in a transaction that *commits* if the call returns; nothing may change."""
    before = table_counts(engine)
    with engine.begin() as conn, pytest.raises(ValidationError) as err:
        add_hazards(conn, hazards, today=today)
    assert table_counts(engine) == before
    return err.value.problems


def _fields(problems):
    return {(p.record, p.field) for p in problems}


# --- bad hazards: a clear error, nothing written --------------------------------------------

BOW_TIE = shapely.Polygon([(36.2, 49.9), (36.21, 49.91), (36.21, 49.9), (36.2, 49.91)])
TWO_VERTICES = shapely.from_wkt("POLYGON((36.2 49.9, 36.21 49.9, 36.2 49.9, 36.2 49.9))")
FAR_OUT = shapely.box(200, 49.9, 200.01, 49.91)


@pytest.mark.parametrize(
    ("hazard", "field", "message"),
    [
        (_hazard("H-1", BOW_TIE), "geometry", "Self-intersection"),
        (_hazard("H-1", TWO_VERTICES), "geometry", "needs ≥ 3"),
        (_hazard("H-1", FAR_OUT), "geometry", "outside [-180,180]×[-90,90]"),
        (_hazard("H-1", shapely.box(49.9, 136.2, 49.91, 136.21)), "geometry", "longitude must come first"),
        (_hazard("H-1", shapely.Point(36.2, 49.9)), "geometry", "must be a Polygon or MultiPolygon"),
        (_hazard("H-1", None), "geometry", "missing or empty"),
        (_hazard("H-1", hazard_type="XHA"), "hazard_type", "not in code list 'hazard_type' (SHA, CHA)"),
        (_hazard("H-1", status="done"), "status", "code list 'hazard_status'"),
        (_hazard("H-1", priority="urgent"), "priority", "code list 'priority'"),
        (_hazard("H-1", eo_categories=["apm", "nuke"]), "eo_categories", "'nuke'"),
        (_hazard("H-1", evidence=["rumour"]), "evidence", "'rumour'"),
        (_hazard("H-1", blockages=["rail"]), "blockages", "'rail'"),
        (_hazard("H-1", reported_on=TODAY + timedelta(days=1)), "reported_on", "2026-07-01 is in the future"),
        (_hazard("H-1", benchmark=(49.9, 136.2)), "benchmark", "outside [-180,180]×[-90,90]"),
        (
            _hazard("H-1", beneficiaries={("direct", "female", "18_59"): -3}),
            "beneficiaries[direct,female,18_59]",
            "must not be negative (got -3)",
        ),
        (
            _hazard("H-1", beneficiaries={("direct", "woman", "18_59"): 3}),
            "beneficiaries[direct,woman,18_59]",
            "code list 'sex'",
        ),
        (_hazard("H-1", organisation="NOPE"), "organisation", "no organisation 'NOPE'"),
        (_hazard("H-0"), "code", "already exists"),
        (_hazard(""), "code", "is required"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_hazard_is_refused_and_nothing_written(db, table_counts, hazard, field, message):
    problems = _refused(db, table_counts, [hazard])
    record = f"hazard {hazard.code}" if hazard.code else "hazard (no code)"
    matching = [p for p in problems if (p.record, p.field) == (record, field)]
    assert matching, problems
    assert any(message in p.message for p in matching), matching


def test_swapped_coordinates_are_refused(db, table_counts):
    # Where |longitude| > 90 (here Battambang, Cambodia), swapping lat/lon leaves the globe.
    battambang = shapely.box(103.2, 13.1, 103.21, 13.11)
    swapped = shapely.Polygon([(y, x) for x, y in battambang.exterior.coords])
    problems = _refused(db, table_counts, [_hazard("H-9", swapped)])
    assert _fields(problems) == {("hazard H-9", "geometry")}
    assert "longitude must come first" in problems[0].message


def test_duplicate_code_in_batch(db, table_counts):
    problems = _refused(
        db, table_counts, [_hazard("H-1"), _hazard("H-2"), _hazard("H-1", _shifted(PENTAGON, 0.1))]
    )
    assert [(p.record, p.field, p.message) for p in problems] == [
        ("hazard H-1", "code", "appears twice in this batch")
    ]


def test_one_bad_hazard_spoils_the_batch(db, table_counts):
    good = [_hazard(f"H-{i}", _shifted(PENTAGON, 0.02 * i)) for i in range(1, 6)]
    bad = _hazard("H-BAD", BOW_TIE, reported_on=TODAY + timedelta(days=3))
    problems = _refused(db, table_counts, [*good[:2], bad, *good[2:]])
    # Every problem of the bad hazard, and none about the good ones.
    assert _fields(problems) == {("hazard H-BAD", "geometry"), ("hazard H-BAD", "reported_on")}
    with db.begin() as conn:  # without the bad one, the batch goes in
        ids = add_hazards(conn, good, today=TODAY)
    assert len(ids) == 5


def test_every_problem_of_a_hazard_is_reported_at_once(db, table_counts):
    h = _hazard(
        "H-1",
        FAR_OUT,
        hazard_type="XHA",
        priority="urgent",
        reported_on=TODAY + timedelta(days=1),
        benchmark=(200, 0),
        beneficiaries={("direct", "female", "18_59"): -1},
    )
    problems = _refused(db, table_counts, [h])
    assert {f for _, f in _fields(problems)} == {
        "geometry",
        "hazard_type",
        "priority",
        "reported_on",
        "benchmark",
        "beneficiaries[direct,female,18_59]",
    }


def test_errors_are_raised_before_the_transaction_is_touched(db, table_counts):
    """The refusal happens before any write, so the caller's other work is unaffected."""
    before = table_counts(db)
    with db.begin() as conn:
        add_organisations(conn, [NewOrganisation("SAFE", "Safe Field", "ngo")])
        with pytest.raises(ValidationError):
            add_hazards(conn, [_hazard("H-1", BOW_TIE)], today=TODAY)
        add_hazards(conn, [_hazard("H-2")], today=TODAY)
    after = table_counts(db)
    assert after["organisation"] == before["organisation"] + 1
    assert after["hazard"] == before["hazard"] + 1


def test_today_defaults_to_the_real_date(empty_db):
    tomorrow = date.today() + timedelta(days=1)
    with empty_db.begin() as conn, pytest.raises(ValidationError, match="in the future"):
        add_hazards(conn, [_hazard("H-1", reported_on=tomorrow)])
    with empty_db.begin() as conn:
        assert add_hazards(conn, [_hazard("H-1", reported_on=date.today())]) == [1]


# --- a good hazard --------------------------------------------------------------------------


def test_good_hazard_is_stored_measured_and_indexed(db):
    beneficiaries = {
        ("direct", "female", "18_59"): 40,
        ("direct", "male", "0_4"): 12,
        ("indirect", "unknown", "unknown"): 300,
    }
    h = _hazard(
        "H-1",
        name="North field",
        organisation="HDT",
        priority="high",
        eo_categories=["apm", "uxo"],
        evidence=["accident", "marking"],
        blockages=["agriculture"],
        benchmark=(36.199, 49.899),
        beneficiaries=beneficiaries,
    )
    with db.begin() as conn:
        (hazard_id,) = add_hazards(conn, [h], today=TODAY)
    expected_area = abs(GEOD.geometry_area_perimeter(PENTAGON)[0])
    assert 5e5 < expected_area < 5.5e5
    with db.connect() as conn:
        row = conn.execute(select(schema.hazard).where(schema.hazard.c.id == hazard_id)).one()
        remaining = conn.execute(
            select(schema.hazard_remaining).where(schema.hazard_remaining.c.id == hazard_id)
        ).one()
        events = conn.execute(
            select(schema.hazard_area_event).where(schema.hazard_area_event.c.hazard_id == hazard_id)
        ).all()
        raw_blob = conn.execute(text("SELECT geom FROM hazard WHERE id = :i"), {"i": hazard_id}).scalar_one()
        box = index_box(conn, "hazard", hazard_id)
        detail = get_hazard(conn, "H-1")
        org_id = conn.execute(
            select(schema.organisation.c.id).where(schema.organisation.c.code == "HDT")
        ).scalar_one()
    # Area on the ellipsoid, remaining = area, one registration event.
    assert row.area_m2 == pytest.approx(expected_area, rel=1e-9)
    assert row.remaining_area_m2 == row.area_m2 == remaining.area_m2
    assert row.status == "open" and row.release_date is None and row.version == 1
    assert [(e.event, e.occurred_on, e.change_m2, e.remaining_m2, e.release_product_id) for e in events] == [
        ("registered", REPORTED, row.area_m2, row.area_m2, None)
    ]
    # Stored as a MultiPolygon, read back equal.
    assert row.geom.geom_type == "MultiPolygon"
    assert row.geom.equals_exact(shapely.MultiPolygon([PENTAGON]), tolerance=0)
    assert remaining.geom.equals_exact(row.geom, tolerance=0)
    if db.dialect.name == "sqlite":
        assert raw_blob[:2] == b"GP"
        wkb = raw_blob[40:]
        assert wkb[0] == 1 and struct.unpack("<I", wkb[1:5])[0] == 6  # little-endian MultiPolygon
        assert gpkg_blob.decode(raw_blob).equals(row.geom)
    else:  # PostGIS hands the column out as hex EWKB: a MultiPolygon (6) with SRID 4326
        ewkb = bytes.fromhex(raw_blob)
        assert ewkb[0] == 1 and struct.unpack("<I", ewkb[1:5])[0] == 0x20000006
        assert struct.unpack("<I", ewkb[5:9])[0] == 4326
        assert shapely.from_wkb(ewkb).equals(row.geom)
    minx, miny, maxx, maxy = PENTAGON.bounds
    assert box == pytest.approx((minx, maxx, miny, maxy), abs=1e-5)
    # Everything else as given.
    assert detail["name"] == "North field" and detail["priority"] == "high"
    assert detail["eo_categories"] == ["apm", "uxo"]
    assert detail["evidence"] == ["accident", "marking"]
    assert detail["blockages"] == ["agriculture"]
    assert (detail["benchmark_lon"], detail["benchmark_lat"]) == (36.199, 49.899)
    assert detail["organisation_id"] == org_id
    assert detail["geometry"]["type"] == "MultiPolygon"
    assert shapely.geometry.shape(detail["geometry"]).equals(row.geom)
    assert detail["beneficiaries"] == [
        {"kind": k, "sex": s, "age_band": b, "count": n} for (k, s, b), n in sorted(beneficiaries.items())
    ]
    assert detail["releases"] == []


def test_multipolygon_hazard_area_is_the_sum(db):
    parts = [PENTAGON, _shifted(PENTAGON, 0.05)]
    with db.begin() as conn:
        add_hazards(conn, [_hazard("H-M", shapely.MultiPolygon(parts))], today=TODAY)
    with db.connect() as conn:
        row = conn.execute(select(schema.hazard).where(schema.hazard.c.code == "H-M")).one()
    assert row.area_m2 == pytest.approx(sum(geodesic_area(p) for p in parts), rel=1e-12)
    assert len(row.geom.geoms) == 2


def test_hazard_entered_in_utm_keeps_the_original(db):
    text_in = "POLYGON((680000 5300000, 680100 5300000, 680100 5300100, 680000 5300100, 680000 5300000))"
    entered = read_geometry(text_in, "hazard H-U", "geometry", crs="EPSG:32636")
    h = _hazard(
        "H-U", entered.geometry, entered_crs=entered.entered_crs, entered_geometry=entered.entered_text
    )
    with db.begin() as conn:
        add_hazards(conn, [h], today=TODAY)
    with db.connect() as conn:
        detail = get_hazard(conn, "H-U")
    assert detail["entered_crs"] == "EPSG:32636"
    assert detail["entered_geometry"] == text_in
    assert detail["area_m2"] == pytest.approx(10_000, rel=5e-4)
    assert shapely.geometry.shape(detail["geometry"]).bounds[0] == pytest.approx(35.4, abs=0.1)


def test_ids_continue_after_existing_hazards(db):
    with db.begin() as conn:
        ids = add_hazards(
            conn, [_hazard(f"H-{i}", _shifted(PENTAGON, 0.02 * i)) for i in range(1, 4)], today=TODAY
        )
        assert add_hazards(conn, [], today=TODAY) == []
    with db.connect() as conn:
        stored = dict(conn.execute(select(schema.hazard.c.code, schema.hazard.c.id)).all())
    assert ids == [2, 3, 4]
    assert [stored[f"H-{i}"] for i in range(1, 4)] == ids


def test_large_batch_checks_codes_in_chunks(db, table_counts):
    many = [
        _hazard(f"B-{i:04d}", shapely.box(36 + i * 1e-3, 49.0, 36 + i * 1e-3 + 5e-4, 49.0005))
        for i in range(1200)
    ]
    many[1100] = _hazard("H-0", many[1100].geometry)  # clashes with the database, past the first chunk
    problems = _refused(db, table_counts, many)
    assert [(p.record, p.field, p.message) for p in problems] == [("hazard H-0", "code", "already exists")]


# --- reading hazards ----------------------------------------------------------------------


def test_list_hazards_filters(empty_db):
    specs = [
        ("A-1", "SHA", "open"),
        ("A-2", "CHA", "open"),
        ("A-3", "CHA", "suspended"),
        ("A-4", "SHA", "closed"),
        ("A-5", "CHA", "open"),
    ]
    with empty_db.begin() as conn:
        add_hazards(
            conn,
            [
                _hazard(code, _shifted(PENTAGON, 0.05 * i), hazard_type=t, status=s)
                for i, (code, t, s) in enumerate(reversed(specs))
            ],
            today=TODAY,
        )
    with empty_db.connect() as conn:
        everything = list_hazards(conn)
        assert [h["code"] for h in everything] == ["A-1", "A-2", "A-3", "A-4", "A-5"]  # by code
        assert [h["code"] for h in list_hazards(conn, status="open")] == ["A-1", "A-2", "A-5"]
        assert [h["code"] for h in list_hazards(conn, hazard_type="CHA")] == ["A-2", "A-3", "A-5"]
        assert [h["code"] for h in list_hazards(conn, hazard_type="CHA", status="open")] == ["A-2", "A-5"]
        assert list_hazards(conn, status="handed_over") == []
        assert [h["code"] for h in list_hazards(conn, limit=2)] == ["A-1", "A-2"]
        assert [h["code"] for h in list_hazards(conn, limit=2, offset=2)] == ["A-3", "A-4"]
        assert [h["code"] for h in list_hazards(conn, limit=10, offset=4)] == ["A-5"]
        # The pentagons were placed west to east in reverse code order (A-5 westmost).
        west = PENTAGON.bounds
        assert [h["code"] for h in list_hazards(conn, bbox=west)] == ["A-5"]
        assert list_hazards(conn, bbox=(0, 0, 1, 1)) == []
    row = everything[0]
    assert set(row) >= {"code", "hazard_type", "status", "area_m2", "remaining_area_m2", "reported_on"}
    assert row["reported_on"] == REPORTED and row["area_m2"] > 0


def test_list_hazards_offset_without_limit(db):
    with db.begin() as conn:
        add_hazards(conn, [_hazard(f"H-{i}", _shifted(PENTAGON, 0.02 * i)) for i in range(1, 4)], today=TODAY)
    with db.connect() as conn:
        assert [h["code"] for h in list_hazards(conn, offset=2)] == ["H-2", "H-3"]


def test_get_hazard_unknown(empty_db):
    with empty_db.connect() as conn, pytest.raises(NotFoundError, match="no hazard with code 'X'"):
        get_hazard(conn, "X")


def test_get_hazard_with_releases_on_the_demo(demo_db):
    p, h = schema.release_product, schema.hazard
    with demo_db.connect() as conn:
        code, hazard_id, n = conn.execute(
            select(h.c.code, h.c.id, func.count(p.c.id))
            .join(p, p.c.hazard_id == h.c.id)
            .group_by(h.c.id)
            .having(func.count(p.c.id) >= 2)
            .order_by(h.c.code)
        ).first()
        detail = get_hazard(conn, code)
        products = conn.execute(
            select(p).where(p.c.hazard_id == hazard_id).order_by(p.c.released_on, p.c.id)
        ).all()
    assert detail["code"] == code and len(detail["releases"]) == n
    assert [r["id"] for r in detail["releases"]] == [r.id for r in products]
    assert [r["released_on"] for r in detail["releases"]] == sorted(r.released_on for r in products)
    assert {r["method"] for r in detail["releases"]} <= {"cancelled", "reduced", "cleared"}
    released = sum(r["released_area_m2"] for r in detail["releases"])
    assert released + detail["remaining_area_m2"] == pytest.approx(detail["area_m2"], rel=1e-3)


# --- organisations, teams, accreditations -------------------------------------------------


@pytest.fixture
def org_db(empty_db):
    with empty_db.begin() as conn:
        add_organisations(conn, [NewOrganisation("HDT", "Humanitarian Demining Trust", "ngo", "Demoland")])
        add_teams(conn, [NewTeam("T1", "Manual 1", "HDT", "manual", members=8, base=(36.2, 49.9))])
    return empty_db


def _refused_write(engine, table_counts, write):
    before = table_counts(engine)
    with engine.begin() as conn, pytest.raises(ValidationError) as err:
        write(conn)
    assert table_counts(engine) == before
    return err.value.problems


@pytest.mark.parametrize(
    ("org", "field", "message"),
    [
        (NewOrganisation("X", "X Demining", "charity"), "organisation_type", "code list 'organisation_type'"),
        (NewOrganisation("X", "  ", "ngo"), "name", "is required"),
        (NewOrganisation("", "X Demining", "ngo"), "code", "is required"),
    ],
)
def test_bad_organisation(org_db, table_counts, org, field, message):
    good = NewOrganisation("OK", "Fine Org", "commercial")
    problems = _refused_write(org_db, table_counts, lambda c: add_organisations(c, [good, org]))
    (p,) = problems
    assert (p.record, p.field) == (f"organisation {org.code}", field)
    assert message in p.message


@pytest.mark.parametrize("batch", [["HDT"], ["NEW", "NEW"]], ids=["existing", "in-batch"])
def test_duplicate_organisation_code(org_db, table_counts, batch):
    orgs = [NewOrganisation(code, f"Org {i}", "ngo") for i, code in enumerate(batch)]
    problems = _refused_write(org_db, table_counts, lambda c: add_organisations(c, orgs))
    assert ("organisation " + batch[0], "code") in _fields(problems)


@pytest.mark.parametrize(
    ("team", "field", "message"),
    [
        (NewTeam("T9", "Dogs", "HDT", "dogs"), "team_type", "code list 'team_type'"),
        (NewTeam("T9", "Dogs", "NOPE", "mdd"), "organisation", "no organisation 'NOPE'"),
        (NewTeam("T9", "Dogs", "HDT", "mdd", members=0), "members", "at least 1"),
        (NewTeam("T9", "Dogs", "HDT", "mdd", base=(49.9, 136.2)), "base", "outside [-180,180]×[-90,90]"),
        (NewTeam("", "Dogs", "HDT", "mdd"), "code", "is required"),
    ],
)
def test_bad_team(org_db, table_counts, team, field, message):
    good = NewTeam("T8", "Survey", "HDT", "nts")
    problems = _refused_write(org_db, table_counts, lambda c: add_teams(c, [good, team]))
    (p,) = problems
    assert (p.record, p.field) == (f"team {team.code}", field)
    assert message in p.message


@pytest.mark.parametrize("batch", [["T1"], ["T5", "T5"]], ids=["existing", "in-batch"])
def test_duplicate_team_code(org_db, table_counts, batch):
    teams = [NewTeam(code, f"Team {i}", "HDT", "nts") for i, code in enumerate(batch)]
    problems = _refused_write(org_db, table_counts, lambda c: add_teams(c, teams))
    assert ("team " + batch[0], "code") in _fields(problems)


def test_good_team_is_stored_with_its_base(org_db):
    with org_db.connect() as conn:
        row = conn.execute(select(schema.team)).one()
        box = index_box(conn, "team")
    assert (row.code, row.team_type, row.members, row.active) == ("T1", "manual", 8, True)
    assert row.geom.equals(shapely.Point(36.2, 49.9))
    assert box == pytest.approx((36.2, 36.2, 49.9, 49.9), abs=1e-5)


@pytest.mark.parametrize(
    ("acc", "field", "message"),
    [
        (
            NewAccreditation("T1", "clearance", date(2025, 5, 1), date(2025, 4, 30)),
            "expires_on",
            "is before issued_on",
        ),
        (
            NewAccreditation("T1", "demining", date(2025, 5, 1), None),
            "activity_type",
            "code list 'activity_type'",
        ),
        (NewAccreditation("T7", "clearance", date(2025, 5, 1), None), "team", "no team 'T7'"),
    ],
)
def test_bad_accreditation(org_db, table_counts, acc, field, message):
    good = NewAccreditation("T1", "ts", date(2025, 5, 1), date(2027, 5, 1))
    problems = _refused_write(org_db, table_counts, lambda c: add_accreditations(c, [good, acc]))
    (p,) = problems
    assert (p.record, p.field) == (f"accreditation of team {acc.team}", field)
    assert message in p.message


def test_team_accreditation_status_from_the_database(org_db):
    with org_db.begin() as conn:
        add_organisations(conn, [NewOrganisation("CDS", "Civil Defence", "military")])
        add_teams(
            conn,
            [
                NewTeam("T2", "EOD 2", "CDS", "eod_bac"),
                NewTeam("T3", "Survey 3", "CDS", "nts"),
                NewTeam("T4", "TS 4", "CDS", "ts"),
            ],
        )
        add_accreditations(
            conn,
            [
                NewAccreditation("T1", "clearance", TODAY - timedelta(days=700), TODAY + timedelta(days=20)),
                NewAccreditation("T1", "clearance", TODAY - timedelta(days=10), TODAY + timedelta(days=720)),
                NewAccreditation("T2", "eod", TODAY - timedelta(days=300), TODAY + timedelta(days=30)),
                NewAccreditation("T3", "nts", TODAY - timedelta(days=800), TODAY - timedelta(days=70)),
            ],
        )
        ids = dict(conn.execute(select(schema.team.c.code, schema.team.c.id)).all())
        status = team_accreditation_status(conn, TODAY)
        later = team_accreditation_status(conn, TODAY + timedelta(days=31))
    assert {code: status[i] for code, i in ids.items()} == {
        "T1": "valid",
        "T2": "expiring",
        "T3": "expired",
        "T4": "none",
    }
    assert later[ids["T2"]] == "expired" and later[ids["T1"]] == "valid"


# --- the summary of the demo programme ----------------------------------------------------


@pytest.fixture(scope="module")
def summary(demo, demo_db):
    with demo_db.connect() as conn:
        return programme_summary(conn, demo.as_of)


def test_summary_hazard_counts_add_up(demo, demo_db, summary):
    hazards = summary["hazards"]
    assert hazards["count"] == demo.counts["hazards"]
    assert sum(r["count"] for r in hazards["by_type_status"]) == hazards["count"]
    with demo_db.connect() as conn:
        h = schema.hazard
        expected = {
            (t, s): n
            for t, s, n in conn.execute(
                select(h.c.hazard_type, h.c.status, func.count()).group_by(h.c.hazard_type, h.c.status)
            )
        }
    assert {(r["hazard_type"], r["status"]): r["count"] for r in hazards["by_type_status"]} == expected
    assert {r["hazard_type"] for r in hazards["by_type_status"]} == {"SHA", "CHA"}
    assert {r["status"] for r in hazards["by_type_status"]} >= {"open", "closed"}
    for r in hazards["by_type_status"]:
        if r["status"] == "closed":
            assert r["remaining_m2"] == pytest.approx(0, abs=1e-6)


def test_summary_area_balances(demo_db, summary):
    area = summary["area"]
    assert area["balanced"] is True
    assert area["original_m2"] > 0 and area["released_m2"] > 0 and area["remaining_m2"] > 0
    parts = area["cancelled_m2"] + area["reduced_m2"] + area["cleared_m2"]
    assert area["released_m2"] == pytest.approx(parts, rel=1e-12)
    assert parts + area["remaining_m2"] == pytest.approx(area["original_m2"], rel=1e-3)
    assert area["balance_m2"] == pytest.approx(area["original_m2"] - parts - area["remaining_m2"], abs=1e-6)
    assert min(area["cancelled_m2"], area["reduced_m2"], area["cleared_m2"]) > 0
    # Recomputed independently from the tables.
    with demo_db.connect() as conn:
        original = conn.execute(select(func.sum(schema.hazard.c.area_m2))).scalar_one()
        remaining = conn.execute(select(func.sum(schema.hazard_remaining.c.area_m2))).scalar_one()
        released = conn.execute(select(func.sum(schema.release_product.c.released_area_m2))).scalar_one()
    assert area["original_m2"] == pytest.approx(original, rel=1e-12)
    assert area["remaining_m2"] == pytest.approx(remaining, rel=1e-9)
    assert released + remaining == pytest.approx(original, rel=1e-3)


def test_demo_identity_holds_per_hazard(demo_db):
    h, r, p = schema.hazard, schema.hazard_remaining, schema.release_product
    with demo_db.connect() as conn:
        released = dict(
            conn.execute(select(p.c.hazard_id, func.sum(p.c.released_area_m2)).group_by(p.c.hazard_id)).all()
        )
        rows = conn.execute(
            select(
                h.c.id,
                h.c.status,
                h.c.area_m2,
                h.c.remaining_area_m2,
                h.c.release_date,
                r.c.area_m2.label("rem"),
                r.c.geom,
            ).join(r, r.c.id == h.c.id)
        ).all()
    assert rows
    for row in rows:
        assert row.remaining_area_m2 == pytest.approx(row.rem, rel=1e-9, abs=1e-6)
        assert released.get(row.id, 0.0) + row.remaining_area_m2 == pytest.approx(row.area_m2, rel=1e-3)
        if row.status == "closed":
            assert row.release_date is not None and row.remaining_area_m2 < 1.0
        else:
            assert row.geom is not None
            assert geodesic_area(row.geom) == pytest.approx(row.remaining_area_m2, rel=1e-6)


def test_summary_team_counts_add_up(demo, demo_db, summary):
    teams = summary["teams"]
    for row in teams:
        assert row["total"] == row["valid"] + row["expiring"] + row["expired"] + row["none"]
    assert sum(row["total"] for row in teams) == demo.counts["teams"]
    assert {row["team_type"] for row in teams} == {"manual", "mdd", "mechanical", "nts", "ts", "eod_bac"}
    with demo_db.connect() as conn:
        t = schema.team
        by_type = dict(
            conn.execute(select(t.c.team_type, func.count()).where(t.c.active).group_by(t.c.team_type)).all()
        )
        status = team_accreditation_status(conn, demo.as_of)
    assert {row["team_type"]: row["total"] for row in teams} == by_type
    for state in ("valid", "expiring", "expired", "none"):
        assert sum(row[state] for row in teams) == sum(1 for s in status.values() if s == state)


def test_summary_other_counts(demo, summary):
    assert summary["as_of"] == demo.as_of
    assert summary["accidents"] == demo.counts["accidents"]
    assert summary["victims"]["killed"] + summary["victims"]["injured"] == demo.counts["victims"]
    assert sum(r["count"] for r in summary["activities"]) == demo.counts["activities"]
    assert sum(summary["eo_found"].values()) >= demo.counts["eo_finds"]


def test_summary_of_an_empty_register(empty_db):
    with empty_db.connect() as conn:
        s = programme_summary(conn, TODAY)
    assert s["hazards"] == {"count": 0, "by_type_status": []}
    assert s["area"]["balanced"] is True and s["area"]["original_m2"] == 0
    assert s["teams"] == [] and s["activities"] == [] and s["accidents"] == 0
