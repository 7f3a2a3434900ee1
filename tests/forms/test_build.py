"""XLSForms built from the data model and the database's code lists compile with pyxform, cleanly."""

from __future__ import annotations

import subprocess
import sys

import pytest
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from demine.domain.errors import DemineError
from demine.forms.build import build_forms, parse_languages
from demine.forms.spec import FORMS
from demine.storage.codelists import add_code


def _compile(path):
    warnings: list[str] = []
    result = convert(xlsform=str(path), warnings=warnings)
    return result.xform, warnings + list(result.warnings)


def _sheet(path, name):
    sheet = load_workbook(path)[name]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=False)) for r in rows[1:]]


def test_every_form_compiles_without_warnings(demo_db, tmp_path):
    with demo_db.connect() as conn:
        built = build_forms(conn, tmp_path, ["en", "fr"])
    assert [b.form for b in built] == list(FORMS)
    for b in built:
        xform, warnings = _compile(b.path)
        assert warnings == [], (b.form, warnings)
        # Instance id metadata, both languages, the form id.
        assert "<instanceID/>" in xform and "meta/instanceID" in xform
        assert 'lang="English (en)"' in xform and 'lang="French (fr)"' in xform
        assert f'id="{b.form_id}"' in xform
        survey = _sheet(b.path, "survey")
        types = {r["type"] for r in survey}
        assert {"start", "end", "deviceid"} <= types
        # Every labelled row has both languages.
        for row in survey:
            if row.get("label::English (en)"):
                assert row.get("label::French (fr)"), row


def test_constraints_required_and_relevance_are_in_the_forms(demo_db, tmp_path):
    with demo_db.connect() as conn:
        built = {b.form: b for b in build_forms(conn, tmp_path)}
    find = {r["name"]: r for r in _sheet(built["eo_find"].path, "survey")}
    assert find["quantity"]["constraint"] == ". >= 1" and find["quantity"]["required"] == "yes"
    assert "today()" in find["found_on"]["constraint"]
    assert find["depth_cm"]["constraint"] == ". >= 0"
    assert find["category"]["type"] == "select_one eo_category"
    nts = {r["name"]: r for r in _sheet(built["non_technical_survey"].path, "survey")}
    assert nts["cancelled_area"]["type"] == "geoshape"
    assert nts["cancelled_area"]["relevant"] == "${cancelled_any} = 'yes'"
    assert "${start_date}" in nts["end_date"]["constraint"]
    assert nts["team"]["choice_filter"] == "organisation=${organisation}"
    hazard = {r["name"]: r for r in _sheet(built["hazardous_area"].path, "survey")}
    assert hazard["geometry"]["type"] == "geoshape" and hazard["geometry"]["required"] == "yes"
    assert hazard["evidence"]["type"] == "select_multiple evidence"
    accident = _sheet(built["accident"].path, "survey")
    assert [r["type"] for r in accident].count("begin_repeat") == 1
    eore = {r["name"]: r for r in _sheet(built["eore_session"].path, "survey")}
    counts = [n for n in eore if n and n.startswith("n_")]
    assert len(counts) == 3 * 6  # sex × age band, from the code lists
    assert all(eore[n]["constraint"] == ". >= 0" and eore[n]["type"] == "integer" for n in counts)
    # Register lists are choices too: the demo's teams carry their organisation for the filter.
    choices = _sheet(built["daily_progress"].path, "choices")
    teams = [c for c in choices if c["list_name"] == "team"]
    assert teams and all(c["organisation"] for c in teams)


def test_a_country_code_appears_as_a_choice(demo_copy, tmp_path):
    with demo_copy.begin() as conn:
        add_code(conn, "eo_category", "vbied", "Vehicle-borne IED")
        add_code(conn, "sex", "other", "Other")
    with demo_copy.connect() as conn:
        built = {b.form: b for b in build_forms(conn, tmp_path)}
    choices = _sheet(built["eo_find"].path, "choices")
    added = [c for c in choices if c["list_name"] == "eo_category" and c["name"] == "vbied"]
    assert added and added[0]["label::English (en)"] == "Vehicle-borne IED"
    # No translation: the database's label stands in for French rather than a blank.
    assert added[0]["label::French (fr)"] == "Vehicle-borne IED"
    xform, warnings = _compile(built["eo_find"].path)
    assert warnings == [] and "vbied" in xform
    eore = [r["name"] for r in _sheet(built["eore_session"].path, "survey")]
    assert "n_other_18_59" in eore
    assert _compile(built["eore_session"].path)[1] == []


def test_an_empty_register_gives_text_questions_and_still_compiles(empty_db, tmp_path):
    with empty_db.connect() as conn:
        built = build_forms(conn, tmp_path, ["en"])
    for b in built:
        _, warnings = _compile(b.path)
        assert warnings == [], (b.form, warnings)
    survey = {r["name"]: r for r in _sheet(built[0].path, "survey")}
    assert survey["organisation"]["type"] == "text"
    assert "label::French (fr)" not in survey["organisation"]


def test_same_lists_same_version_and_a_new_code_a_new_one(demo_copy, tmp_path):
    with demo_copy.connect() as conn:
        first = {b.form: b.version for b in build_forms(conn, tmp_path / "a")}
        again = {b.form: b.version for b in build_forms(conn, tmp_path / "b")}
    assert first == again
    with demo_copy.begin() as conn:
        add_code(conn, "eo_category", "vbied", "Vehicle-borne IED")
    with demo_copy.connect() as conn:
        third = {b.form: b.version for b in build_forms(conn, tmp_path / "c")}
    assert third["eo_find"] != first["eo_find"] and third["qa_visit"] == first["qa_visit"]


def test_languages_are_checked():
    assert parse_languages("fr, en") == ["fr", "en"]
    with pytest.raises(DemineError, match="xx"):
        parse_languages("en,xx")


def test_cli_build_and_bad_input(demo, clone_db, tmp_path):
    db = clone_db(demo.template)
    out = tmp_path / "forms"
    proc = subprocess.run(
        [sys.executable, "-m", "demine", "forms", "build", str(out), "--db", str(db), "--languages", "en,fr"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"demine_{n}.xlsx" for n in FORMS)
    bad = tmp_path / "bad"
    proc = subprocess.run(
        [sys.executable, "-m", "demine", "forms", "build", str(bad), "--db", str(db), "--form", "nope"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 3 and "nope" in proc.stderr and "Traceback" not in proc.stderr
    assert not bad.exists()
