"""Starting a programme from nothing on the command line: organisations, teams, personnel,
training, accreditations and code lists, added one by one or loaded from CSV and XLSX files.

The whole path from an empty database to an imported hazard runs as real processes, as a user
types it. The other cases go through ``demine.cli.app.main`` in this process (what
``python -m demine`` runs, a process each would take a second or more) on a real database file,
and read the database afterwards to check what was, or was not, written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

import backend_support
from demine.cli.app import main
from demine.cli.common import ExitCode
from demine.storage import schema
from demine.storage.database import open_database

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _process(*args: str, db) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "demine", *args, "--db", str(db)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)
    return proc


def test_from_an_empty_database_to_an_imported_hazard_of_a_new_operator(tmp_path, store):
    """Before these commands, the hazard import refused every row: no organisation existed."""
    db = backend_support.new(tmp_path / "programme.gpkg")
    _process("init", db=db)
    _process("orgs", "add", "HALO", "The HALO Trust", "--type", "ngo", "--country", "UKR", db=db)
    _process(
        "teams",
        "add",
        "HALO-M01",
        "Manual team 1",
        "--org",
        "HALO",
        "--type",
        "Manual clearance",
        "--size",
        "10",
        "--base",
        "36.2304,49.9935",
        db=db,
    )
    _process(
        "accreditations",
        "add",
        "HALO-M01",
        "clearance",
        "--issued",
        "2025-03-01",
        "--expires",
        "2027-02-28",
        db=db,
    )
    proc = _process("import", str(EXAMPLES / "halo-hazards.csv"), "--kind", "hazard", "--json", db=db)
    result = json.loads(proc.stdout)
    assert (result["read"], result["imported"], result["rejected"]) == (2, 2, 0), result
    engine = open_database(db)
    with engine.connect() as conn:
        o, t, h, a = schema.organisation, schema.team, schema.hazard, schema.accreditation
        org_id = conn.execute(select(o.c.id).where(o.c.code == "HALO")).scalar_one()
        hazards = conn.execute(select(h.c.code, h.c.organisation_id).order_by(h.c.code)).all()
        assert hazards == [("HALO-KH-001", org_id), ("HALO-KH-002", org_id)]
        team = conn.execute(select(t.c.team_type, t.c.members, t.c.geom, t.c.organisation_id)).one()
        assert (team.team_type, team.members, team.organisation_id) == ("manual", 10, org_id)
        assert (team.geom.x, team.geom.y) == pytest.approx((36.2304, 49.9935))
        acc = conn.execute(select(a.c.activity_type, a.c.issued_on, a.c.expires_on)).one()
        assert tuple(acc) == ("clearance", date(2025, 3, 1), date(2027, 2, 28))
        # Every record the commands created has its audit row, by whom it was made.
        log = schema.audit_log
        audited = conn.execute(
            select(log.c.table_name, log.c.changed_by).where(log.c.action == "insert").order_by(log.c.id)
        ).all()
    engine.dispose()
    tables = [name for name, _ in audited]
    assert tables[:3] == ["organisation", "team", "accreditation"]
    assert all(by.startswith("cli:") for _, by in audited[:3])


# ---------------------------------------------------------------------------------------------
# in this process


@pytest.fixture
def db(tmp_path, store):
    ref = backend_support.new(tmp_path / "setup.gpkg")
    engine = open_database(ref, create=True)
    engine.dispose()
    return ref


def cli(capsys, *args: str, db=None) -> tuple[int, str, str]:
    """Run ``demine ARGS`` here; (exit status, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([*args, *(["--db", str(db)] if db is not None else [])])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    code = exited.value.code
    return (0 if code is None else int(code)), out, err


def ok(capsys, *args: str, db) -> str:
    code, out, err = cli(capsys, *args, db=db)
    assert code == 0, (args, out, err)
    return out


def counts(db) -> dict[str, int]:
    engine = open_database(db)
    tables = (schema.organisation, schema.team, schema.person, schema.training_record, schema.accreditation)
    with engine.connect() as conn:
        found = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}
    engine.dispose()
    return found


def write_xlsx(path: Path, rows: list[list]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_csv_and_xlsx_files_load_whole_with_codes_or_labels(capsys, db, tmp_path):
    ok(capsys, "orgs", "import", str(EXAMPLES / "organisations.csv"), db=db)
    # XLSX: column names in another case, an organisation by its name, a type by its label,
    # dates as date cells, a size as a number cell.
    teams = write_xlsx(
        tmp_path / "teams.xlsx",
        [
            # The last header cell is empty, and so is the column under it: nothing is lost.
            ["Code", "Name", "Organisation", "Team Type", "Size", "Longitude", "Latitude", None],
            [
                "FSD-M1",
                "Manual 1",
                "Swiss Foundation for Mine Action",
                "Manual clearance",
                8.0,
                37.25,
                49.21,
                None,
            ],
            ["HALO-T1", "Survey 1", "HALO", "ts", 4, None, None, " "],
        ],
    )
    assert "loaded 2 team record(s)" in ok(capsys, "teams", "import", str(teams), db=db)
    accreditations = write_xlsx(
        tmp_path / "acc.xlsx",
        [
            ["team", "activity", "issued", "expires"],
            ["FSD-M1", "Clearance", date(2025, 1, 1), date(2026, 1, 1)],
        ],
    )
    ok(capsys, "accreditations", "import", str(accreditations), db=db)
    ok(capsys, "teams", "import", str(EXAMPLES / "teams.csv"), db=db)
    ok(capsys, "people", "import", str(EXAMPLES / "personnel.csv"), "--dry-run", db=db)
    assert counts(db)["person"] == 0  # a dry run writes nothing
    ok(capsys, "people", "import", str(EXAMPLES / "personnel.csv"), db=db)
    loaded = json.loads(
        ok(capsys, "people", "import-training", str(EXAMPLES / "training.csv"), "--json", db=db)
    )
    assert (loaded["rows"], loaded["written"], loaded["dry_run"]) == (3, 3, False)

    assert counts(db) == {
        "organisation": 3,
        "team": 5,
        "person": 3,
        "training_record": 3,
        "accreditation": 1,
    }
    teams_out = {
        t["code"]: t
        for t in json.loads(ok(capsys, "teams", "list", "--json", "--as-of", "2025-06-01", db=db))
    }
    assert teams_out["FSD-M1"] | {"base": None} == {
        "code": "FSD-M1",
        "name": "Manual 1",
        "organisation": "FSD",
        "team_type": "manual",
        "members": 8,
        "base": None,
        "active": True,
        "accredited_for": ["clearance"],
    }
    assert teams_out["FSD-M1"]["base"] == pytest.approx([37.25, 49.21])
    assert teams_out["HALO-T1"]["base"] is None and teams_out["HALO-T1"]["accredited_for"] == []
    people = json.loads(ok(capsys, "people", "list", "--org", "HALO", "--json", db=db))
    assert [(p["full_name"], p["team"], p["sex"], p["training_records"]) for p in people] == [
        ("Olena Kovalenko", "HALO-M01", "female", 1),
        ("Taras Melnyk", "HALO-M01", "male", 1),
    ]
    orgs = json.loads(ok(capsys, "orgs", "list", "--json", db=db))
    assert [(o["code"], o["organisation_type"], o["teams"], o["people"]) for o in orgs] == [
        ("FSD", "ngo", 2, 1),
        ("HALO", "ngo", 3, 2),
        ("NMAC", "national_authority", 0, 0),
    ]


def test_every_bad_row_is_reported_and_nothing_is_written(capsys, db, tmp_path):
    ok(capsys, "orgs", "add", "HALO", "The HALO Trust", "--type", "ngo", db=db)
    ok(capsys, "teams", "add", "HALO-M01", "Manual 1", "--org", "HALO", "--type", "manual", db=db)
    before = counts(db)
    bad = tmp_path / "teams.csv"
    bad.write_text(
        "code,name,organisation,team_type,members,lon,lat\n"
        "T-1,Good,HALO,manual,3,36.1,49.9\n"
        "HALO-M01,Taken,HALO,manual,3,,\n"
        "T-2,Nowhere,NOPE,manual,3,,\n"
        "T-3,Odd,HALO,tank,many,,\n"
        "T-1,Twice,HALO,manual,2,,\n"
        "T-4,Half a base,HALO,manual,2,36.1,\n"
        "T-5,One too many,HALO,manual,2,,,surplus\n",
        encoding="utf-8",
    )
    code, out, err = cli(capsys, "teams", "import", str(bad), "--json", db=db)
    assert code == ExitCode.INVALID
    report = json.loads(out)
    assert report["error"] == "7 problem(s); nothing was written"
    found = [(p["record"], p["field"], p["message"]) for p in report["problems"]]
    assert found == [
        ("row 2, team HALO-M01", "code", "'HALO-M01' is already used"),
        ("row 3, team T-2", "organisation", "no organisation 'NOPE'"),
        (
            "row 4, team T-3",
            "team_type",
            "'tank' is neither a code nor a label of code list 'team_type' "
            "(codes: manual, mdd, mechanical, nts, ts, eod_bac)",
        ),
        ("row 4, team T-3", "members", "'many' is not a number"),
        ("row 5, team T-1", "code", "'T-1' is already used"),  # a clash within the file
        ("row 6, team T-4", "lat", "a base needs both lon and lat (or neither)"),
        ("row 7", "row", "has a value under no column name in the header"),
    ]
    assert counts(db) == before  # row 1 was good, and is not kept either

    acc = tmp_path / "acc.csv"
    acc.write_text(
        "team,activity_type,issued_on,expires_on\n"
        "HALO-M01,clearance,2025-03-01,2024-02-28\n"
        "HALO-M01,clearance,31/01/2025,\n"
        "HALO-M99,nts,2025-01-01,\n",
        encoding="utf-8",
    )
    code, _, err = cli(capsys, "accreditations", "import", str(acc), db=db)
    assert code == ExitCode.INVALID
    assert "3 problem(s); nothing was written" in err
    assert (
        "row 1, accreditation of team HALO-M01: expires_on: 2024-02-28 is before issued_on 2025-03-01" in err
    )
    assert "row 2, accreditation of team HALO-M01: issued_on: '31/01/2025' is not a date (YYYY-MM-DD)" in err
    assert "row 3, accreditation of team HALO-M99: team: no team 'HALO-M99'" in err
    # The same file with its date format named: only the real mistakes are left.
    code, _, err = cli(capsys, "accreditations", "import", str(acc), "--date-format", "%d/%m/%Y", db=db)
    assert code == ExitCode.INVALID and "2 problem(s)" in err
    assert counts(db) == before


def test_a_file_missing_a_column_or_with_an_unknown_one_is_refused_before_any_row(capsys, db, tmp_path):
    ok(capsys, "orgs", "add", "HALO", "The HALO Trust", "--type", "ngo", db=db)
    missing = tmp_path / "teams.csv"
    missing.write_text("code,name,team_type\nT-1,One,manual\n", encoding="utf-8")
    code, _, err = cli(capsys, "teams", "import", str(missing), db=db)
    assert code == ExitCode.INVALID
    assert "teams.csv: no column 'organisation' (required); its columns: code, name, team_type" in err
    typo = tmp_path / "acc.csv"
    typo.write_text(
        "team,activity_type,issued_on,expiry_date_\nT,nts,2025-01-01,2026-01-01\n", encoding="utf-8"
    )
    code, _, err = cli(capsys, "accreditations", "import", str(typo), db=db)
    assert code == ExitCode.INVALID
    assert "acc.csv: unknown column(s) 'expiry_date_'; the accreditation columns are: team (required)" in err
    empty = tmp_path / "orgs.csv"
    empty.write_text("code,name,organisation_type\n", encoding="utf-8")
    code, _, err = cli(capsys, "orgs", "import", str(empty), db=db)
    assert code == ExitCode.INVALID and "orgs.csv has no rows under its header" in err
    assert counts(db)["team"] == 0 and counts(db)["accreditation"] == 0 and counts(db)["organisation"] == 1


def test_adding_one_record_refuses_what_is_wrong_and_writes_nothing(capsys, db):
    ok(capsys, "orgs", "add", "HALO", "The HALO Trust", "--type", "ngo", db=db)
    # Named as people name them: the organisation by its name, the type by its label.
    args = (
        "teams",
        "add",
        "T-0",
        "Dogs",
        "--org",
        "the halo trust",
        "--type",
        "Mine detection dogs",
        "--json",
    )
    added = json.loads(ok(capsys, *args, db=db))
    assert added == {
        "kind": "team",
        "id": 1,
        "code": "T-0",
        "name": "Dogs",
        "organisation": "HALO",
        "team_type": "mdd",
        "members": 1,
        "lon": None,
        "lat": None,
    }
    before = counts(db)
    code, _, err = cli(capsys, "orgs", "add", "HALO", "Again", "--type", "ngo", db=db)
    assert code == ExitCode.INVALID and "organisation HALO: code: 'HALO' is already used" in err
    code, _, err = cli(capsys, "teams", "add", "T-1", "One", "--org", "NOPE", "--type", "manual", db=db)
    assert code == ExitCode.INVALID and "team T-1: organisation: no organisation 'NOPE'" in err
    code, _, err = cli(
        capsys, "teams", "add", "T-1", "One", "--org", "HALO", "--type", "manual", "--base", "200,10", db=db
    )
    assert code == ExitCode.INVALID and "team T-1: base: (200.0, 10.0) is outside [-180,180]×[-90,90]" in err
    code, _, err = cli(capsys, "accreditations", "add", "T-1", "nts", "--issued", "2025-02-30", db=db)
    assert code == ExitCode.INVALID and "issued_on: '2025-02-30' is not a date (YYYY-MM-DD)" in err
    code, _, err = cli(capsys, "people", "add", "Ana Petrenko", "--org", "HALO", "--sex", "F", db=db)
    assert code == ExitCode.INVALID and "person Ana Petrenko: sex: 'F' is neither a code nor a label" in err
    assert counts(db) == before

    ok(capsys, "people", "add", "Ana Petrenko", "--org", "HALO", "--sex", "Female", db=db)
    code, _, err = cli(capsys, "people", "add", "ana petrenko", "--org", "HALO", db=db)
    assert code == ExitCode.INVALID and "HALO already has a person of this name (id 1)" in err
    ok(capsys, "people", "add", "Ana Petrenko", "--org", "HALO", "--namesake", db=db)
    ok(capsys, "people", "add", "Ірина Шевченко", "--org", "HALO", db=db)
    code, _, err = cli(capsys, "people", "add", "ІРИНА ШЕВЧЕНКО", "--org", "HALO", db=db)
    assert code == ExitCode.INVALID and "HALO already has a person of this name (id 3)" in err
    code, _, err = cli(capsys, "people", "train", "Ana Petrenko", "IMAS manual demining", db=db)
    assert code == ExitCode.INVALID and "2 people are named 'Ana Petrenko' (ids 1, 2): give the id" in err
    code, _, err = cli(
        capsys, "people", "train", "1", "IMAS", "--started", "2025-02-01", "--completed", "2025-01-01", db=db
    )
    assert code == ExitCode.INVALID and "completed_on: 2025-01-01 is before started_on 2025-02-01" in err
    ok(
        capsys,
        "people",
        "train",
        "1",
        "IMAS",
        "--started",
        "2025-01-01",
        "--completed",
        "2025-02-01",
        "--passed",
        db=db,
    )
    training = json.loads(ok(capsys, "people", "training", "1", "--json", db=db))
    assert [(t["course"], t["completed_on"], t["passed"]) for t in training] == [("IMAS", "2025-02-01", True)]
    assert counts(db)["training_record"] == 1 and counts(db)["person"] == 3


def test_accreditations_are_flagged_expired_or_expiring_within_90_days(capsys, db):
    ok(capsys, "orgs", "add", "HALO", "The HALO Trust", "--type", "ngo", db=db)
    for team in ("A", "B", "C", "D"):
        ok(capsys, "teams", "add", team, f"Team {team}", "--org", "HALO", "--type", "manual", db=db)
    for team, activity, issued, expires in (
        ("A", "clearance", "2024-01-01", "2025-12-31"),  # lapsed before the day
        ("B", "clearance", "2025-01-01", "2026-08-31"),  # lapses in 61 days
        ("C", "clearance", "2025-01-01", "2026-12-31"),  # 183 days left
        ("D", "clearance", "2025-01-01", "2026-07-31"),  # 30 days left, but renewed ahead:
        ("D", "clearance", "2026-07-15", "2028-07-14"),
        ("D", "nts", "2026-09-01", None),  # not yet valid
    ):
        ok(
            capsys,
            "accreditations",
            "add",
            team,
            activity,
            "--issued",
            issued,
            *(["--expires", expires] if expires else []),
            db=db,
        )
    rows = json.loads(ok(capsys, "accreditations", "list", "--as-of", "2026-07-01", "--json", db=db))
    flags = [(r["team"], r["activity_type"], r["issued_on"], r["status"], r["days_left"]) for r in rows]
    assert flags == [
        ("A", "clearance", "2024-01-01", "expired", -182),
        ("B", "clearance", "2025-01-01", "expiring", 61),
        ("C", "clearance", "2025-01-01", "valid", 183),
        ("D", "clearance", "2025-01-01", "valid", 30),
        ("D", "clearance", "2026-07-15", "not_yet_valid", 744),
        ("D", "nts", "2026-09-01", "not_yet_valid", None),
    ]
    expiring = json.loads(
        ok(capsys, "accreditations", "list", "--as-of", "2026-07-01", "--status", "expiring", "--json", db=db)
    )
    assert [r["team"] for r in expiring] == ["B"]
    human = ok(capsys, "accreditations", "list", "--as-of", "2026-07-01", db=db)
    assert "expired: 1; expiring within 90 days: 1" in human


def test_codes_are_added_and_relabelled_but_never_changed(capsys, db, tmp_path):
    ok(capsys, "codes", "add", "hazard_type", "RHA", "Residual hazard area", db=db)
    code, _, err = cli(capsys, "codes", "add", "hazard_type", "rha", "Again", db=db)
    assert code == ExitCode.INVALID
    assert "hazard_type already has the code 'RHA', labelled 'Residual hazard area'" in err
    assert "`demine codes rename hazard_type RHA LABEL` changes its label" in err
    code, _, err = cli(capsys, "codes", "add", "hazard_type", "XHA", "confirmed hazardous area", db=db)
    assert code == ExitCode.INVALID and "'CHA' already has the label 'Confirmed hazardous area'" in err
    code, _, err = cli(capsys, "codes", "add", "hazard_typo", "X", "X", db=db)
    assert code == ExitCode.NOT_FOUND and "no code list 'hazard_typo'; the lists: accident_kind" in err

    # A hazard recorded with the new code, by its label, keeps its code when the label changes.
    hazards = tmp_path / "h.csv"
    hazards.write_text(
        "code,hazard_type,reported_on,wkt\n"
        'R-1,residual hazard area,2025-01-01,"POLYGON ((36 49, 36.01 49, 36.01 49.01, 36 49.01, 36 49))"\n',
        encoding="utf-8",
    )
    imported = json.loads(ok(capsys, "import", str(hazards), "--kind", "hazard", "--json", db=db))
    assert imported["imported"] == 1
    out = json.loads(
        ok(capsys, "codes", "rename", "hazard_type", "RHA", "Residual risk area", "--json", db=db)
    )
    assert out == {
        "list_name": "hazard_type",
        "code": "RHA",
        "old_label": "Residual hazard area",
        "label": "Residual risk area",
    }
    listed = json.loads(ok(capsys, "codes", "list", "hazard_type", "--json", db=db))
    assert [(c["code"], c["label"]) for c in listed] == [
        ("SHA", "Suspected hazardous area"),
        ("CHA", "Confirmed hazardous area"),
        ("RHA", "Residual risk area"),
    ]
    assert [h["hazard_type"] for h in json.loads(ok(capsys, "hazards", "list", "--json", db=db))] == ["RHA"]
    code, _, err = cli(capsys, "codes", "rename", "hazard_type", "rha", "x", db=db)
    assert code == ExitCode.NOT_FOUND and "hazard_type has no code 'rha' (codes are exact" in err
    engine = open_database(db)
    with engine.connect() as conn:
        log = schema.audit_log
        changes = (
            conn.execute(select(log.c.action).where(log.c.table_name == "code_list").order_by(log.c.id))
            .scalars()
            .all()
        )
    engine.dispose()
    assert changes == ["insert", "update"]


def test_a_hazard_import_naming_an_unknown_operator_says_how_to_add_it(capsys, db, tmp_path):
    rejects = tmp_path / "rejects.csv"
    args = ("import", str(EXAMPLES / "halo-hazards.csv"), "--kind", "hazard", "--rejects", str(rejects))
    code, out, _ = cli(capsys, *args, "--json", db=db)
    assert code == ExitCode.FINDINGS
    result = json.loads(out)
    assert (result["imported"], result["rejected"], result["reasons"]) == (0, 2, {"unknown_reference": 2})
    assert "no organisation 'HALO' in the register (`demine orgs add` or `demine orgs import` adds one)" in (
        rejects.read_text(encoding="utf-8")
    )
    ok(capsys, "orgs", "import", str(EXAMPLES / "organisations.csv"), db=db)
    again = json.loads(ok(capsys, *args[:-2], "--json", db=db))
    assert (again["imported"], again["rejected"]) == (2, 0)
