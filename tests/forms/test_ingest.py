"""Field submissions from Kobo and ODK exports: staged for review, rejected row by row, idempotent,
and written to the register only when approved through the workflow."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date

import pytest
import shapely
from openpyxl import load_workbook
from sqlalchemy import func, select

from demine.accounts.users import add_user
from demine.domain.errors import DemineError
from demine.forms.ingest import ingest_file
from demine.forms.synthetic import WRITERS, synthetic_submissions
from demine.storage import schema
from demine.workflow import submissions as wf

TODAY = date(2026, 11, 20)
SUFFIX = {"kobo_xlsx": ".xlsx", "kobo_csv": ".csv", "kobo_geojson": ".geojson", "odk_zip": ".zip"}
REGISTER = ("hazard", "activity", "release_product", "progress_report", "eo_find", "accident", "victim",
            "eore_session", "eore_participant", "qa_visit", "qa_nonconformity")  # fmt: skip


def _counts(engine, names=(*REGISTER, "submission")):
    with engine.connect() as conn:
        return {
            n: conn.execute(select(func.count()).select_from(schema.metadata.tables[n])).scalar_one()
            for n in names
        }


def _export(engine, form, fmt, path, count=6, seed=11):
    with engine.connect() as conn:
        subs = synthetic_submissions(conn, form, count, seed=seed, today=TODAY)
    WRITERS[fmt](form, subs, path)
    return subs


def _approve_all(engine, ids):
    with engine.begin() as conn:
        verifier = add_user(conn, "verifier.one", "im_officer")
        approver = add_user(conn, "approver.one", "im_officer")
        for sid in ids:
            current = wf.get_submission(conn, verifier, sid)
            current = wf.verify(conn, verifier, sid, current["version"], today=TODAY)
            wf.approve(conn, approver, sid, current["version"], today=TODAY)


CASES = [
    ("hazardous_area", "kobo_xlsx"),
    ("non_technical_survey", "kobo_csv"),
    ("daily_progress", "odk_zip"),
    ("eo_find", "kobo_geojson"),
    ("accident", "kobo_xlsx"),
    ("accident", "odk_zip"),
    ("eore_session", "kobo_geojson"),
    ("qa_visit", "odk_zip"),
]


@pytest.mark.parametrize(("form", "fmt"), CASES)
def test_round_trip_into_the_register_only_on_approval(demo_copy, tmp_path, form, fmt):
    path = tmp_path / f"{form}{SUFFIX[fmt]}"
    subs = _export(demo_copy, form, fmt, path)
    before = _counts(demo_copy)
    result = ingest_file(demo_copy, path, rejects=tmp_path / "rejects.csv", today=TODAY)
    assert (result.read, result.staged, result.rejected, result.already_present) == (6, 6, 0, 0), (
        result.reasons
    )
    assert result.form == form and result.balanced
    after = _counts(demo_copy)
    # Staged, not written: the register is untouched until approval.
    assert {k: v for k, v in after.items() if k != "submission"} == {
        k: v for k, v in before.items() if k != "submission"
    }
    assert after["submission"] - before["submission"] == len(result.submissions)
    with demo_copy.connect() as conn:
        statuses = set(
            conn.execute(
                select(schema.submission.c.status).where(schema.submission.c.id.in_(result.submissions))
            ).scalars()
        )
    assert statuses == {"submitted"}

    # Idempotent on the instance id: nothing new, all reported as already present.
    again = ingest_file(demo_copy, path, rejects=tmp_path / "rejects2.csv", today=TODAY)
    assert (again.staged, again.already_present, again.rejected) == (0, 6, 0)
    assert _counts(demo_copy) == after

    _approve_all(demo_copy, result.submissions)
    _check_register(demo_copy, form, subs)


def _latlon(text):
    lat, lon = (float(x) for x in text.split()[:2])
    return lon, lat


def _check_register(engine, form, subs):
    with engine.connect() as conn:
        if form == "hazardous_area":
            h = schema.hazard
            for s in subs:
                row = conn.execute(select(h).where(h.c.code == s.values["code"])).one()
                assert row.hazard_type == s.values["hazard_type"]
                assert row.reported_on.isoformat() == s.values["reported_on"]
                assert set(row.evidence.split(",")) == set(s.values["evidence"].split())
                assert row.admin_pcode == s.values["admin_pcode"] and row.area_m2 > 1000
                shape = shapely.Polygon([_latlon(p) for p in s.values["geometry"].split(";")])
                assert row.geom.symmetric_difference(shape).area < 1e-9
        elif form == "non_technical_survey":
            a, p = schema.activity, schema.release_product
            for s in subs:
                row = conn.execute(select(a).where(a.c.code == s.values["code"])).one()
                assert row.activity_type == "nts" and row.start_date.isoformat() == s.values["start_date"]
                notes = (
                    conn.execute(select(p.c.method).where(p.c.note.contains(s.values["code"])))
                    .scalars()
                    .all()
                )
                assert notes == (["cancelled"] if s.values["cancelled_any"] == "yes" else [])
        elif form == "daily_progress":
            pr, t = schema.progress_report, schema.team
            for s in subs:
                area = conn.execute(
                    select(pr.c.area_m2)
                    .join(t, t.c.id == pr.c.team_id)
                    .where(
                        t.c.code == s.values["team"],
                        pr.c.report_date == date.fromisoformat(s.values["report_date"]),
                    )
                ).scalar_one()
                assert area == pytest.approx(float(s.values["area_m2"]))
        elif form == "eo_find":
            f = schema.eo_find
            rows = conn.execute(select(f).where(f.c.found_on >= date(2026, 7, 1))).all()
            got = sorted((r.category, r.quantity, round(r.geom.x, 6), round(r.geom.y, 6)) for r in rows)
            want = sorted(
                (
                    s.values["category"],
                    int(s.values["quantity"]),
                    *(round(c, 6) for c in _latlon(s.values["location"])),
                )
                for s in subs
            )
            assert got == want
        elif form == "accident":
            acc, v = schema.accident, schema.victim
            for s in subs:
                row = conn.execute(select(acc).where(acc.c.code == s.values["code"])).one()
                victims = conn.execute(
                    select(v.c.status, v.c.sex, v.c.age_band, v.c.tampered)
                    .where(v.c.accident_id == row.id)
                    .order_by(v.c.id)
                ).all()
                assert [tuple(x) for x in victims] == [
                    (r["status"], r["sex"], r["age_band"], r["tampered"] == "yes")
                    for r in s.repeats["victims"]
                ]
        elif form == "eore_session":
            es, ep = schema.eore_session, schema.eore_participant
            total = conn.execute(
                select(func.sum(ep.c.count))
                .join(es, es.c.id == ep.c.session_id)
                .where(es.c.held_on >= date(2026, 7, 1))
            ).scalar()
            want = sum(int(v) for s in subs for k, v in s.values.items() if k.startswith("n_"))
            assert total == want
        elif form == "qa_visit":
            q, nc = schema.qa_visit, schema.qa_nonconformity
            visits = conn.execute(
                select(func.count()).select_from(q).where(q.c.visited_on >= date(2026, 7, 1))
            ).scalar()
            assert visits == len(subs)
            ncs = conn.execute(
                select(func.count())
                .select_from(nc.join(q, q.c.id == nc.c.visit_id))
                .where(q.c.visited_on >= date(2026, 7, 1))
            ).scalar()
            assert ncs == sum(len(s.repeats.get("nonconformities", [])) for s in subs)


def test_bad_rows_are_rejected_with_row_field_and_reason_and_good_rows_kept(demo_copy, tmp_path):
    path = tmp_path / "finds.xlsx"
    _export(demo_copy, "eo_find", "kobo_xlsx", path, count=10)
    workbook = load_workbook(path)
    sheet = workbook.worksheets[0]
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) + 1 for name in header}
    sheet.cell(2, col["found_on"], "2099-01-01")  # row 1: future date
    sheet.cell(3, col["category"], "banana")  # row 2: not in the code list
    sheet.cell(4, col["location"], "91.5 32.0 0 0")  # row 3: latitude out of range
    sheet.cell(5, col["quantity"], "-2")  # row 4: below the form's minimum
    sheet.cell(6, col["hazard"], "NO-SUCH-HAZARD")  # row 5: unknown reference
    sheet.cell(7, col["_uuid"]).value = None  # row 6: no instance id
    sheet.cell(7, col["meta/instanceID"]).value = None
    sheet.cell(9, col["_uuid"], sheet.cell(8, col["_uuid"]).value)  # row 8: same instance as row 7
    sheet.cell(9, col["meta/instanceID"], sheet.cell(8, col["meta/instanceID"]).value)
    sheet.cell(10, col["depth_cm"], "deep")  # row 9: not a number
    workbook.save(path)
    rejects = tmp_path / "rejects.csv"
    before = _counts(demo_copy)
    result = ingest_file(demo_copy, path, rejects=rejects, today=TODAY)
    assert (result.read, result.staged, result.rejected) == (10, 2, 8)
    with rejects.open(encoding="utf-8") as f:
        rows = {int(r["_row"]): r for r in csv.DictReader(f)}
    expected = {
        1: ("bad_date", "found_on"),
        2: ("bad_code_list_value", "category"),
        3: ("out_of_range_coordinates", "location"),
        4: ("invalid_value", "quantity"),
        5: ("unknown_reference", "hazard"),
        6: ("missing_required_field", "instanceID"),
        8: ("duplicate", "instanceID"),
        9: ("bad_number", "depth_cm"),
    }
    assert {k: r["_reason"] for k, r in rows.items()} == {k: v[0] for k, v in expected.items()}
    for number, (_, field) in expected.items():
        assert field in rows[number]["_message"], rows[number]
    assert result.reasons == {r: sum(1 for v in expected.values() if v[0] == r) for r, _ in expected.values()}
    assert _counts(demo_copy)["submission"] == before["submission"] + 2


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "demine", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_cli_ingest_json_and_bad_input_changes_nothing(demo, clone_db, tmp_path):
    from demine.storage.database import open_database

    db = clone_db(demo.template)
    engine = open_database(db)
    path = tmp_path / "accidents.zip"
    _export(engine, "accident", "odk_zip", path, count=4)
    before = _counts(engine)
    for args, message in (
        (("--form", "nonsense"), "nonsense"),
        (("--form", "eo_find"), "not an export of the eo_find form"),
    ):
        proc = _run("forms", "ingest", path, "--db", db, *args)
        assert proc.returncode == 3 and message in proc.stderr and "Traceback" not in proc.stderr
    junk = tmp_path / "notes.csv"
    junk.write_text("a,b\n1,2\n")
    proc = _run("forms", "ingest", junk, "--db", db)
    assert proc.returncode == 3 and "not a KoboToolbox or ODK Central export" in proc.stderr
    text = tmp_path / "photo.jpg"
    text.write_bytes(b"\xff\xd8\xff")
    assert _run("forms", "ingest", text, "--db", db).returncode == 3
    assert _counts(engine) == before
    rejects = tmp_path / "r.csv"
    proc = _run("forms", "ingest", path, "--db", db, "--json", "--rejects", rejects, "--today", TODAY)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["read"], out["staged"], out["rejected"], out["format"], out["form"]) == (
        4,
        4,
        0,
        "odk_zip",
        "accident",
    )
    assert not rejects.exists()
    engine.dispose()


def test_unknown_user_is_an_error(demo_copy, tmp_path):
    path = tmp_path / "f.csv"
    _export(demo_copy, "eo_find", "kobo_csv", path, count=2)
    with pytest.raises(DemineError, match="no user"):
        ingest_file(demo_copy, path, username="nobody", today=TODAY)


def test_a_survey_is_staged_whole_or_not_at_all(demo_copy, tmp_path):
    """An NTS whose cancelled land lies outside its hazard stages neither the activity nor the land."""
    with demo_copy.connect() as conn:
        subs = synthetic_submissions(conn, "non_technical_survey", 4, seed=5, today=TODAY)
    far = "10.0 10.0 0 0;10.001 10.0 0 0;10.001 10.001 0 0;10.0 10.001 0 0;10.0 10.0 0 0"
    subs[0].values["cancelled_area"] = far
    path = WRITERS["kobo_xlsx"]("non_technical_survey", subs, tmp_path / "nts.xlsx")
    rejects = tmp_path / "r.csv"
    result = ingest_file(demo_copy, path, rejects=rejects, today=TODAY)
    assert (result.staged, result.rejected) == (3, 1)
    assert result.reasons == {"release_outside_hazard": 1}
    with rejects.open(encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert row["_row"] == "1" and "geometry" in row["_message"]
    # Three surveys: two of them (even numbers) cancelled land, so 3 activities + 1 release.
    with demo_copy.connect() as conn:
        kinds = (
            conn.execute(
                select(schema.submission.c.kind).where(schema.submission.c.id.in_(result.submissions))
            )
            .scalars()
            .all()
        )
    assert sorted(kinds) == ["activity", "activity", "activity", "release"]
