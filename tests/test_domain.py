"""The data model's rules: code lists, accreditation status, field rules, errors."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import shapely
from sqlalchemy import update

from demine.domain.accreditation import EXPIRY_WARNING_DAYS, Accreditation, accreditation_status
from demine.domain.codelists import DEFAULT_CODE_LISTS, CodeLists
from demine.domain.errors import Problem, ValidationError, raise_if
from demine.domain.rules import (
    check_date_range,
    check_lon_lat,
    check_non_negative,
    check_not_future,
    check_required,
)
from demine.register.hazards import NewHazard, add_hazards, get_hazard
from demine.storage import schema
from demine.storage.codelists import add_code, load_code_lists

DAY = date(2026, 6, 30)

# --- code lists -----------------------------------------------------------------------------

# The lists and values the foundation issue names.
REQUIRED = {
    "hazard_type": {"SHA", "CHA"},
    "hazard_status": {"open", "suspended", "closed", "handed_over"},
    "team_type": {"manual", "mdd", "mechanical", "nts", "ts", "eod_bac"},
    "activity_type": {"nts", "ts", "clearance", "bac", "eod"},
    "release_method": {"cancelled", "reduced", "cleared"},
    "blockage": {"roads", "agriculture", "housing", "infrastructure", "water"},
    "beneficiary_kind": {"direct", "indirect"},
    "victim_status": {"killed", "injured"},
}
# Lists the issue names without fixing their values.
NAMED = {
    "eo_category",
    "eo_condition",
    "disposal_method",
    "evidence",
    "priority",
    "sex",
    "age_band",
    "organisation_type",
    "accident_kind",
    "eore_method",
    "qa_visit_type",
    "qa_result",
    "nc_severity",
    "nc_type",
    "activity_status",
}


def test_defaults_hold_the_lists_the_issue_names():
    lists = CodeLists.defaults()
    for name, codes in REQUIRED.items():
        assert set(lists.codes(name)) == codes, name
    for name in NAMED:
        assert len(lists.codes(name)) >= 2, name
    for name, rows in DEFAULT_CODE_LISTS.items():
        codes = [c for c, _ in rows]
        assert len(codes) == len(set(codes)), f"duplicate code in {name}"
        assert all(label.strip() for _, label in rows)
        assert lists.codes(name) == codes  # display order kept


def test_labels():
    lists = CodeLists.defaults()
    assert lists.label("hazard_type", "CHA") == "Confirmed hazardous area"
    assert lists.label("hazard_type", "XYZ") == "XYZ"
    assert lists.label("no_such_list", "x") == "x"
    assert lists.codes("no_such_list") == []


def test_check_names_list_record_field_and_allowed_values():
    lists = CodeLists.defaults()
    assert lists.check("hazard_type", "SHA", "hazard H1", "hazard_type") == []
    assert lists.check("hazard_type", None, "hazard H1", "hazard_type") == []
    (problem,) = lists.check("hazard_type", "sha", "hazard H1", "hazard_type")
    assert (problem.record, problem.field) == ("hazard H1", "hazard_type")
    assert problem.message == "'sha' is not in code list 'hazard_type' (SHA, CHA)"
    (problem,) = lists.check("no_such_list", "x", "r", "f")
    assert "'no_such_list'" in problem.message and "(the list is empty)" in problem.message


def test_check_many_reports_each_bad_value():
    lists = CodeLists.defaults()
    assert lists.check_many("blockage", ["roads", "water"], "hazard H1", "blockages") == []
    problems = lists.check_many("blockage", ["roads", "rail", "school"], "hazard H1", "blockages")
    assert [p.field for p in problems] == ["blockages", "blockages"]
    assert "'rail'" in problems[0].message and "'school'" in problems[1].message
    assert "roads, agriculture, housing, infrastructure, water" in problems[0].message


def test_database_is_seeded_with_the_defaults(empty_db):
    with empty_db.connect() as conn:
        assert load_code_lists(conn).labels == CodeLists.defaults().labels


def test_added_code_is_accepted_after_reload(empty_db):
    square = shapely.box(30, 48, 30.01, 48.01)
    with empty_db.begin() as conn:
        assert "rail" not in load_code_lists(conn).codes("blockage")
        add_code(conn, "blockage", "rail", "Railways")
        add_code(conn, "hazard_type", "RHA", "Residual hazardous area (national list)")
        lists = load_code_lists(conn)
        assert lists.codes("blockage")[-1] == "rail"  # after the defaults
        assert lists.codes("hazard_type") == ["SHA", "CHA", "RHA"]
        assert lists.label("blockage", "rail") == "Railways"
        add_hazards(conn, [NewHazard("H1", "RHA", square, date(2025, 1, 1), blockages=["rail", "roads"])])
    with empty_db.connect() as conn:
        h = get_hazard(conn, "H1")
    assert h["hazard_type"] == "RHA" and h["blockages"] == ["rail", "roads"]


def test_add_code_to_a_new_list(empty_db):
    with empty_db.begin() as conn:
        add_code(conn, "soil_type", "sand", "Sand")
        add_code(conn, "soil_type", "clay", "Clay")
        assert load_code_lists(conn).codes("soil_type") == ["sand", "clay"]


def test_retired_code_is_refused(empty_db):
    c = schema.code_list
    with empty_db.begin() as conn:
        conn.execute(update(c).where(c.c.list_name == "priority", c.c.code == "low").values(active=False))
    with empty_db.begin() as conn:
        assert load_code_lists(conn).codes("priority") == ["high", "medium"]
        with pytest.raises(ValidationError) as err:
            add_hazards(
                conn, [NewHazard("H1", "SHA", shapely.box(0, 0, 0.01, 0.01), DAY, priority="low")], today=DAY
            )
    (problem,) = err.value.problems
    assert (problem.record, problem.field) == ("hazard H1", "priority")
    assert "'low' is not in code list 'priority' (high, medium)" in problem.message


# --- accreditation --------------------------------------------------------------------------


def _acc(issued, expires, activity="clearance"):
    return Accreditation(
        activity, DAY + timedelta(days=issued), None if expires is None else DAY + timedelta(days=expires)
    )


@pytest.mark.parametrize(
    ("accreditations", "expected"),
    [
        ([], "none"),
        ([_acc(-400, 300)], "valid"),
        ([_acc(-400, None)], "valid"),
        ([_acc(-400, EXPIRY_WARNING_DAYS + 1)], "valid"),
        ([_acc(-400, EXPIRY_WARNING_DAYS)], "expiring"),
        ([_acc(-400, 10)], "expiring"),
        ([_acc(-400, 0)], "expiring"),  # last valid day is today
        ([_acc(0, 5)], "expiring"),  # issued today
        ([_acc(-800, -1)], "expired"),
        ([_acc(-800, -400), _acc(-399, -1)], "expired"),
        # Renewed early: the old one lapses in 10 days, the new one already runs.
        ([_acc(-700, 10), _acc(-5, 725)], "valid"),
        # Two activities: one lapsing, one long valid: the team can still work.
        ([_acc(-700, 10, "ts"), _acc(-100, 600, "clearance")], "valid"),
        ([_acc(-800, -1, "ts"), _acc(-100, 30, "clearance")], "expiring"),
    ],
)
def test_accreditation_status(accreditations, expected):
    assert accreditation_status(accreditations, DAY) == expected
    assert accreditation_status(list(reversed(accreditations)), DAY) == expected


def test_valid_on_is_inclusive():
    a = Accreditation("ts", date(2025, 1, 1), date(2025, 12, 31))
    assert a.valid_on(date(2025, 1, 1)) and a.valid_on(date(2025, 12, 31))
    assert not a.valid_on(date(2024, 12, 31)) and not a.valid_on(date(2026, 1, 1))
    assert Accreditation("ts", date(2025, 1, 1), None).valid_on(date(2100, 1, 1))


def test_status_over_time():
    accs = [_acc(-300, 65)]
    assert accreditation_status(accs, DAY) == "valid"
    assert accreditation_status(accs, DAY + timedelta(days=5)) == "expiring"
    assert accreditation_status(accs, DAY + timedelta(days=65)) == "expiring"
    assert accreditation_status(accs, DAY + timedelta(days=66)) == "expired"


def test_renewal_recorded_ahead_is_not_flagged():
    current, renewal = _acc(-700, 10), _acc(11, 741)
    assert accreditation_status([current, renewal], DAY) == "valid"


# --- field rules ----------------------------------------------------------------------------


def test_date_range():
    assert check_date_range("activity A1", date(2025, 1, 1), date(2025, 1, 1), "start_date", "end_date") == []
    assert check_date_range("activity A1", date(2025, 1, 1), None, "start_date", "end_date") == []
    assert check_date_range("activity A1", None, date(2025, 1, 1), "start_date", "end_date") == []
    (p,) = check_date_range("activity A1", date(2025, 1, 2), date(2025, 1, 1), "start_date", "end_date")
    assert (p.record, p.field) == ("activity A1", "end_date")
    assert p.message == "2025-01-01 is before start_date 2025-01-02"


def test_not_future():
    assert check_not_future("report R1", DAY, "report_date", DAY) == []
    assert check_not_future("report R1", None, "report_date", DAY) == []
    (p,) = check_not_future("report R1", DAY + timedelta(days=1), "report_date", DAY)
    assert (p.record, p.field, p.message) == ("report R1", "report_date", "2026-07-01 is in the future")


@pytest.mark.parametrize("value", [0, 0.0, 12.5, None])
def test_non_negative_accepts(value):
    assert check_non_negative("report R1", value, "area_m2") == []


@pytest.mark.parametrize("value", [-1, -0.001, -1e9])
def test_non_negative_refuses(value):
    (p,) = check_non_negative("report R1", value, "area_m2")
    assert (p.record, p.field) == ("report R1", "area_m2")
    assert f"got {value}" in p.message


@pytest.mark.parametrize("value", [None, "", "   ", "\t"])
def test_required_refuses_blank(value):
    (p,) = check_required("team T1", value, "name")
    assert (p.record, p.field, p.message) == ("team T1", "name", "is required")


@pytest.mark.parametrize("value", ["x", 0, False, "  y "])
def test_required_accepts(value):
    assert check_required("team T1", value, "name") == []


@pytest.mark.parametrize(("lon", "lat"), [(0, 0), (180, 90), (-180, -90), (30.5, 48.2), (None, None)])
def test_lon_lat_in_range(lon, lat):
    assert check_lon_lat("find F1", lon, lat, "location") == []


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (48.2, 130.5, "outside [-180,180]×[-90,90]"),  # swapped
        (180.0001, 0, "outside"),
        (0, -90.5, "outside"),
        (500000, 5300000, "outside"),  # UTM metres
        (30.5, None, "needs both longitude and latitude"),
        (None, 48.2, "needs both longitude and latitude"),
    ],
)
def test_lon_lat_out_of_range(lon, lat, expected):
    (p,) = check_lon_lat("find F1", lon, lat, "location")
    assert (p.record, p.field) == ("find F1", "location")
    assert expected in p.message


# --- errors ---------------------------------------------------------------------------------


def test_validation_error_lists_every_problem():
    problems = [Problem("hazard H1", "geometry", "bad"), Problem("hazard H2", "code", "already exists")]
    with pytest.raises(ValidationError) as err:
        raise_if(problems)
    assert err.value.problems == problems
    assert str(err.value) == "hazard H1: geometry: bad; hazard H2: code: already exists"
    assert str(problems[0]) == "hazard H1: geometry: bad"
    raise_if([])  # nothing to raise
