"""Activities, progress reports, finds, accidents, EORE and QA: validation and all-or-nothing writes."""

from __future__ import annotations

from datetime import date

import pytest
import shapely
from sqlalchemy import func, select

import backend_support
from demine.domain.errors import ValidationError
from demine.register.activities import (
    NewActivity,
    NewFind,
    NewProgressReport,
    add_activities,
    add_finds,
    add_progress_reports,
)
from demine.register.hazards import NewHazard, add_hazards
from demine.register.incidents import (
    NewAccident,
    NewEoreSession,
    NewQaVisit,
    NewVictim,
    add_accidents,
    add_eore_sessions,
    add_qa_visits,
)
from demine.register.organisations import NewOrganisation, NewTeam, add_organisations, add_teams
from demine.storage import schema
from demine.storage.database import open_database

TODAY = date(2026, 6, 30)


@pytest.fixture
def db(tmp_path, store):  # store: on the suite's backend, whatever ran first
    engine = open_database(backend_support.new(tmp_path / "ops.gpkg"), create=True)
    with engine.begin() as conn:
        add_organisations(
            conn,
            [
                NewOrganisation("OP", "Operator", "ngo"),
                NewOrganisation("NA", "Authority", "national_authority"),
            ],
        )
        add_teams(
            conn,
            [
                NewTeam("T1", "Team 1", "OP", "manual", 8, (30.0, 48.0)),
                NewTeam("T2", "Team 2", "OP", "nts", 4),
            ],
        )
        add_hazards(conn, [NewHazard("H1", "CHA", shapely.box(30, 48, 30.01, 48.01), date(2025, 1, 1))])
        add_activities(
            conn,
            [
                NewActivity(
                    "A1",
                    "clearance",
                    "OP",
                    "T1",
                    "H1",
                    "manual",
                    "ongoing",
                    date(2026, 3, 1),
                    date(2026, 4, 30),
                )
            ],
            today=TODAY,
        )
    yield engine
    engine.dispose()


def count(engine, table):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def problems_of(exc_info):
    return {(p.record, p.field) for p in exc_info.value.problems}


def test_activity_end_before_start_names_record_and_field(db):
    bad = [
        NewActivity(
            "A2", "clearance", "OP", "T1", "H1", start_date=date(2026, 5, 2), end_date=date(2026, 5, 1)
        ),
        NewActivity("A3", "survey", "NOPE", "T9", "H9", status="completed"),
        NewActivity("A1", "nts", "OP"),
    ]
    with pytest.raises(ValidationError) as err, db.begin() as conn:
        add_activities(conn, bad, today=TODAY)
    found = problems_of(err)
    assert ("activity A2", "end_date") in found
    assert {
        ("activity A3", f) for f in ("activity_type", "organisation", "team", "hazard", "end_date")
    } <= found
    assert ("activity A1", "code") in found
    assert "2026-05-01 is before start_date 2026-05-02" in str(err.value)
    assert count(db, schema.activity) == 1


def test_progress_reports_checked_against_activity(db):
    good = NewProgressReport("T1", "A1", date(2026, 3, 2), 180.0, 6)
    bad = [
        good,
        NewProgressReport("T1", "A1", date(2026, 2, 1), 100.0, 6),
        NewProgressReport("T2", "A1", date(2026, 3, 3), -5.0, 25),
        NewProgressReport("T1", "A1", date(2026, 3, 2), 10.0),
    ]
    with pytest.raises(ValidationError) as err, db.begin() as conn:
        add_progress_reports(conn, bad, today=TODAY)
    found = problems_of(err)
    assert ("progress report of team T1 on 2026-02-01", "report_date") in found
    assert {("progress report of team T2 on 2026-03-03", f) for f in ("team", "area_m2", "hours")} <= found
    assert ("progress report of team T1 on 2026-03-02", "report_date") in found  # duplicate day
    assert count(db, schema.progress_report) == 0  # the good row waits for a clean batch
    with db.begin() as conn:
        add_progress_reports(conn, [good], today=TODAY)
    assert count(db, schema.progress_report) == 1


def test_finds_validate_codes_point_and_quantity(db):
    with pytest.raises(ValidationError) as err, db.begin() as conn:
        add_finds(
            conn,
            [
                NewFind(
                    "apm",
                    date(2026, 3, 5),
                    shapely.Point(30.005, 48.005),
                    hazard="H1",
                    activity="A1",
                    condition="armed",
                    disposal_method="in_situ",
                ),
                NewFind(
                    "grenade",
                    date(2026, 3, 5),
                    shapely.Point(200, 48),
                    quantity=0,
                    depth_cm=-1,
                    condition="shiny",
                    disposal_method="thrown",
                ),
            ],
            today=TODAY,
        )
    assert {
        ("find 2", f)
        for f in ("category", "location", "quantity", "depth_cm", "condition", "disposal_method")
    } <= problems_of(err)
    assert count(db, schema.eo_find) == 0


def test_accident_victims_and_personal_dates(db):
    acc = NewAccident(
        "AC1",
        date(2026, 2, 1),
        "non_demining",
        shapely.Point(30.001, 48.001),
        "apm",
        "H1",
        victims=[
            NewVictim("killed", "male", "18_59", "A. B.", date(1990, 1, 1)),
            NewVictim("hurt", birth_date=date(2026, 5, 1)),
        ],
    )
    with pytest.raises(ValidationError) as err, db.begin() as conn:
        add_accidents(conn, [acc], today=TODAY)
    assert {("accident AC1", "victims[2].status"), ("accident AC1", "victims[2].birth_date")} <= problems_of(
        err
    )
    assert count(db, schema.accident) == 0 and count(db, schema.victim) == 0
    ok = NewAccident(
        "AC1",
        date(2026, 2, 1),
        "non_demining",
        shapely.Point(30.001, 48.001),
        "apm",
        "H1",
        victims=[NewVictim("killed", "male", "18_59"), NewVictim("injured", "female", "5_12")],
    )
    with db.begin() as conn:
        add_accidents(conn, [ok], today=TODAY)
    assert count(db, schema.victim) == 2


def test_accident_codes_and_hazard_links_are_checked_against_the_register(db):
    def accident(code, hazard):
        return NewAccident(
            code, date(2026, 2, 1), "non_demining", shapely.Point(30.001, 48.001), "apm", hazard
        )

    with db.begin() as conn:
        add_accidents(conn, [accident("AC7", "H1"), accident("AC8", None)], today=TODAY)
        hazard_id = conn.execute(select(schema.hazard.c.id).where(schema.hazard.c.code == "H1")).scalar_one()
        linked = conn.execute(select(schema.accident.c.hazard_id).where(schema.accident.c.code == "AC7"))
        assert linked.scalar_one() == hazard_id
    batch = [
        accident("AC7", None),
        accident("AC9", "NO-SUCH"),
        accident("AC10", None),
        accident("AC10", None),
    ]
    with pytest.raises(ValidationError) as err, db.begin() as conn:
        add_accidents(conn, batch, today=TODAY)
    found = problems_of(err)
    assert ("accident AC7", "code") in found  # already in the register
    assert any(record == "accident AC9" and f == "hazard" for record, f in found)
    assert ("accident AC10", "code") in found  # twice in the batch
    assert count(db, schema.accident) == 2


def test_eore_and_qa(db):
    with pytest.raises(ValidationError) as err, db.begin() as conn:
        add_eore_sessions(
            conn,
            [
                NewEoreSession(
                    "OP", date(2027, 1, 1), "radio", participants={("female", "5_12"): -2, ("x", "old"): 3}
                )
            ],
            today=TODAY,
        )
    rec = "EORE session 1 (2027-01-01)"
    assert {
        (rec, "held_on"),
        (rec, "method"),
        (rec, "participants[female,5_12]"),
        (rec, "participants[x,old]"),
    } <= problems_of(err)
    with db.begin() as conn:
        add_eore_sessions(
            conn,
            [NewEoreSession("OP", date(2026, 1, 1), "interpersonal", participants={("female", "5_12"): 12})],
            today=TODAY,
        )
        add_qa_visits(
            conn,
            [
                NewQaVisit(
                    "OP",
                    "NA",
                    date(2026, 3, 10),
                    "monitoring",
                    "A1",
                    "minor_nc",
                    nonconformities=[("marking", "minor", "Re-marked")],
                )
            ],
            today=TODAY,
        )
    with pytest.raises(ValidationError) as err, db.begin() as conn:
        add_qa_visits(
            conn,
            [NewQaVisit("OP", "ZZ", date(2026, 2, 1), "audit", "A1", nonconformities=[("x", "fatal", None)])],
            today=TODAY,
        )
    rec = "QA visit 1 (2026-02-01)"
    assert {
        (rec, "inspecting_organisation"),
        (rec, "visit_type"),
        (rec, "visited_on"),
        (rec, "nonconformities[1].type"),
        (rec, "nonconformities[1].severity"),
    } <= problems_of(err)
    assert count(db, schema.qa_visit) == 1 and count(db, schema.qa_nonconformity) == 1
    assert count(db, schema.eore_participant) == 1


def test_progress_report_already_stored_is_a_clear_error(db):
    report = NewProgressReport("T1", "A1", date(2026, 3, 4), 150.0, 6)
    with db.begin() as conn:
        add_progress_reports(conn, [report], today=TODAY)
    with pytest.raises(ValidationError, match="exists") as err, db.begin() as conn:
        add_progress_reports(conn, [report], today=TODAY)
    assert ("progress report of team T1 on 2026-03-04", "report_date") in problems_of(err)
    # Reports without an activity are duplicates too, though SQL's UNIQUE lets NULLs repeat.
    loose = NewProgressReport("T2", None, date(2026, 3, 4), 10.0)
    with db.begin() as conn:
        add_progress_reports(conn, [loose], today=TODAY)
    with pytest.raises(ValidationError), db.begin() as conn:
        add_progress_reports(conn, [loose], today=TODAY)
    assert count(db, schema.progress_report) == 2


def test_deleted_hazard_id_is_never_reused(db):
    with db.begin() as conn:
        (new_id,) = add_hazards(
            conn, [NewHazard("H2", "SHA", shapely.box(30.02, 48, 30.03, 48.01), date(2025, 1, 1))]
        )
        conn.execute(schema.hazard_area_event.delete().where(schema.hazard_area_event.c.hazard_id == new_id))
        conn.execute(schema.hazard_remaining.delete().where(schema.hazard_remaining.c.id == new_id))
        conn.execute(schema.hazard.delete().where(schema.hazard.c.id == new_id))
    with db.begin() as conn:
        (again,) = add_hazards(
            conn, [NewHazard("H3", "SHA", shapely.box(30.02, 48, 30.03, 48.01), date(2025, 1, 1))]
        )
    assert again == new_id + 1
