"""Land release accounting: the area identity, refusals, closure and history, on a real file."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import backend_support
from demine.domain.errors import ReleaseRejected, ValidationError
from demine.geometry.area import geodesic_area
from demine.geometry.reading import EnteredGeometry
from demine.landrelease.accounting import NewRelease, apply_release, record_release
from demine.landrelease.history import remaining_area_history
from demine.register.hazards import NewHazard, add_hazards
from demine.reports.summary import programme_summary
from demine.storage import schema
from demine.storage.database import open_database

HAZARD = shapely.Polygon([(30.0, 48.0), (30.01, 48.0), (30.012, 48.006), (30.004, 48.009), (29.999, 48.005)])
REPORTED = date(2025, 1, 10)


def _entered(geom):
    return EnteredGeometry(geometry=geom, entered_text=geom.wkt, entered_crs="EPSG:4326")


@pytest.fixture(scope="module")
def template(tmp_path_factory, store):  # store: on the suite's backend, whatever ran first
    path = tmp_path_factory.mktemp("lr") / "template.gpkg"
    path = backend_support.new(path)
    engine = open_database(path, create=True)
    with engine.begin() as conn:
        add_hazards(conn, [NewHazard("H1", "CHA", HAZARD, REPORTED)])
    engine.dispose()
    return path


@pytest.fixture
def db(template, tmp_path):
    path = tmp_path / "db.gpkg"
    path = backend_support.clone(template, path)
    engine = open_database(path)
    yield engine
    engine.dispose()


def _state(conn):
    h = conn.execute(select(schema.hazard).where(schema.hazard.c.code == "H1")).one()
    rem = conn.execute(select(schema.hazard_remaining)).one()
    released = conn.execute(
        select(func.coalesce(func.sum(schema.release_product.c.released_area_m2), 0.0))
    ).scalar()
    return h, rem, released


def _west(fraction):
    minx, miny, maxx, maxy = HAZARD.bounds
    return shapely.intersection(HAZARD, shapely.box(minx, miny, minx + fraction * (maxx - minx), maxy))


def test_product_subtracts_and_identity_holds(db):
    with db.begin() as conn:
        result = record_release(
            conn, NewRelease("H1", "cleared", REPORTED + timedelta(days=5), _entered(_west(0.3)))
        )
    with db.connect() as conn:
        h, rem, released = _state(conn)
    # Splitting an edge moves it off the geodesic: a few m² in 10⁵ between the two measures.
    assert result["released_area_m2"] == pytest.approx(geodesic_area(_west(0.3)), rel=1e-4)
    assert h.remaining_area_m2 == pytest.approx(geodesic_area(rem.geom), rel=1e-9)
    assert released + h.remaining_area_m2 == pytest.approx(h.area_m2, rel=1e-9)
    assert rem.geom.intersection(_west(0.3)).area < 1e-12
    assert h.status == "open" and h.version == 2


def test_outside_product_refused_and_nothing_written(db):
    outside = shapely.box(30.02, 48.0, 30.03, 48.01)
    partly = shapely.box(29.99, 48.0, 30.002, 48.01)
    for geom in (outside, partly):
        with pytest.raises(ReleaseRejected, match="outside the hazard"), db.begin() as conn:
            record_release(conn, NewRelease("H1", "cleared", REPORTED, _entered(geom)))
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.release_product)).scalar() == 0
        h, _, _ = _state(conn)
        assert h.remaining_area_m2 == h.area_m2


def test_overlap_refused_unless_forced(db):
    with db.begin() as conn:
        record_release(conn, NewRelease("H1", "cancelled", REPORTED, _entered(_west(0.5))))
    with pytest.raises(ReleaseRejected, match="overlaps land already released"), db.begin() as conn:
        record_release(conn, NewRelease("H1", "cleared", REPORTED, _entered(_west(0.7))))
    with db.begin() as conn:
        forced = record_release(conn, NewRelease("H1", "cleared", REPORTED, _entered(_west(0.7)), force=True))
    # Only the part not released before counts.
    expected = geodesic_area(_west(0.7)) - geodesic_area(_west(0.5))
    assert forced["released_area_m2"] == pytest.approx(expected, rel=1e-3)
    assert forced["overlap_m2"] == pytest.approx(geodesic_area(_west(0.5)), rel=1e-3)
    with db.connect() as conn:
        h, _, released = _state(conn)
        assert released + h.remaining_area_m2 == pytest.approx(h.area_m2, rel=1e-9)
        assert conn.execute(
            select(schema.release_product.c.forced).order_by(schema.release_product.c.id)
        ).scalars().all() == [False, True]


def test_full_release_closes_hazard_on_latest_date(db):
    with db.begin() as conn:
        record_release(
            conn, NewRelease("H1", "cancelled", REPORTED + timedelta(days=40), _entered(_west(0.6)))
        )
        remaining = conn.execute(select(schema.hazard_remaining.c.geom)).scalar_one()
        result = record_release(
            conn, NewRelease("H1", "cleared", REPORTED + timedelta(days=20), _entered(remaining))
        )
    assert result["hazard_closed"] and result["remaining_area_m2"] == 0
    with db.connect() as conn:
        h, rem, released = _state(conn)
        assert h.status == "closed"
        assert h.release_date == REPORTED + timedelta(days=40)
        assert rem.geom is None and rem.area_m2 == 0
        assert released == pytest.approx(h.area_m2, rel=1e-9)
        # Nothing more can be released from a closed hazard.
        with pytest.raises(ValidationError, match="is closed"):
            record_release(conn, NewRelease("H1", "cleared", REPORTED, _entered(_west(0.1))))


def test_history_is_in_date_order_whatever_the_entry_order(db):
    with db.begin() as conn:
        record_release(conn, NewRelease("H1", "cleared", date(2025, 6, 1), _entered(_west(0.2))))
        record_release(
            conn, NewRelease("H1", "cancelled", date(2025, 3, 1), _entered(_west(0.6).difference(_west(0.2))))
        )
        series = remaining_area_history(conn, "H1")
        h, _, _ = _state(conn)
    assert [r["date"] for r in series] == [REPORTED, date(2025, 3, 1), date(2025, 6, 1)]
    assert series[0]["remaining_m2"] == pytest.approx(h.area_m2)
    assert series[1]["remaining_m2"] == pytest.approx(
        h.area_m2 - geodesic_area(_west(0.6).difference(_west(0.2))), rel=1e-4
    )
    assert series[-1]["remaining_m2"] == pytest.approx(h.remaining_area_m2, rel=1e-9)
    assert all(a["remaining_m2"] >= b["remaining_m2"] for a, b in itertools.pairwise(series))


def test_bad_input_names_field_and_writes_nothing(db):
    bowtie = shapely.Polygon([(30.0, 48.0), (30.01, 48.01), (30.01, 48.0), (30.0, 48.01)])
    with pytest.raises(ValidationError) as err, db.begin() as conn:
        record_release(
            conn,
            NewRelease("H1", "swept", date(2099, 1, 1), _entered(bowtie), clearance_depth_cm=-3),
        )
    text = str(err.value)
    for fragment in (
        "method",
        "'swept'",
        "geometry",
        "Self-intersection",
        "released_on",
        "future",
        "clearance_depth_cm",
    ):
        assert fragment in text
    with pytest.raises(ValidationError, match="before the hazard was reported"), db.begin() as conn:
        record_release(conn, NewRelease("H1", "cleared", REPORTED - timedelta(days=1), _entered(_west(0.2))))
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.release_product)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(schema.hazard_area_event)).scalar() == 1


def test_activity_type_must_match_method(db):
    with db.begin() as conn:
        org = conn.execute(
            schema.organisation.insert().values(code="O", name="O", organisation_type="ngo")
        ).inserted_primary_key[0]
        conn.execute(
            schema.activity.insert().values(
                code="NTS-1", activity_type="nts", organisation_id=org, hazard_id=1
            )
        )
    with pytest.raises(ValidationError, match="cannot produce a 'cleared' release"), db.begin() as conn:
        record_release(conn, NewRelease("H1", "cleared", REPORTED, _entered(_west(0.2)), activity="NTS-1"))
    with db.begin() as conn:
        result = record_release(
            conn, NewRelease("H1", "cancelled", REPORTED, _entered(_west(0.2)), activity="NTS-1")
        )
        assert conn.execute(select(schema.release_product.c.activity_id)).scalar() == 1
    assert result["method"] == "cancelled"


# --- property: random sequences of products keep the identity --------------------------------

box_spec = st.tuples(
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0.02, 1),
    st.floats(0.02, 1),
    st.sampled_from(["cancelled", "reduced", "cleared"]),
    st.booleans(),
)


def _box(spec):
    fx, fy, fw, fh, _, _ = spec
    minx, miny, maxx, maxy = HAZARD.bounds
    w, h = maxx - minx, maxy - miny
    x0, y0 = minx - 0.2 * w + fx * 1.2 * w, miny - 0.2 * h + fy * 1.2 * h
    return shapely.box(x0, y0, x0 + fw * w, y0 + fh * h)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(box_spec, min_size=1, max_size=8))
def test_random_product_sequences_keep_area_identity(template, tmp_path_factory, specs):
    path = tmp_path_factory.mktemp("prop") / "db.gpkg"
    path = backend_support.clone(template, path)
    engine = open_database(path)
    try:
        for i, spec in enumerate(specs):
            product = _box(spec)
            method, force = spec[4], spec[5]
            with engine.connect() as conn:
                before = _state(conn)
            try:
                with engine.begin() as conn:
                    record_release(
                        conn,
                        NewRelease(
                            "H1", method, REPORTED + timedelta(days=i), _entered(product), force=force
                        ),
                    )
            except (ReleaseRejected, ValidationError):
                with engine.connect() as conn:
                    after = _state(conn)
                assert after[0].remaining_area_m2 == before[0].remaining_area_m2  # nothing written
                assert after[2] == before[2]
            with engine.connect() as conn:
                h, rem, released = _state(conn)
                summary = programme_summary(conn)
            assert released + h.remaining_area_m2 == pytest.approx(h.area_m2, rel=1e-3)
            assert summary["area"]["balanced"]
            if rem.geom is not None:
                assert geodesic_area(rem.geom) == pytest.approx(h.remaining_area_m2, rel=1e-9, abs=1e-6)
                assert geodesic_area(rem.geom.difference(HAZARD)) < 1.0
            else:
                assert h.status == "closed"
    finally:
        engine.dispose()


@settings(max_examples=200, deadline=None)
@given(st.lists(box_spec, min_size=1, max_size=12))
def test_apply_release_pure_identity(specs):
    original = shapely.MultiPolygon([HAZARD])
    remaining, remaining_m2 = original, geodesic_area(original)
    total = remaining_m2
    released = 0.0
    for spec in specs:
        if remaining is None:
            break
        try:
            outcome = apply_release(original, remaining, remaining_m2, _box(spec), force=True)
        except ReleaseRejected:
            continue
        assert outcome.released_area_m2 >= -1e-6
        released += outcome.released_area_m2
        remaining, remaining_m2 = outcome.remaining, outcome.remaining_area_m2
        assert released + remaining_m2 == pytest.approx(total, rel=1e-9)
