"""Third-party files as they come: their own wording recoded, codes made for rows without one.

A national file of suspected minefields typically says "Suspected Minefield" where the register
says ``SHA`` and has no unique id column; ``--value``/``--values`` and ``--code-pattern`` take
it as it is.
"""

from __future__ import annotations

import pytest
from ingest_support import lonlat_square, read_rejects, run_cli, run_import
from sqlalchemy import select

from demine.domain.errors import DemineError
from demine.ingest import ImportOptions, plan_import
from demine.storage import schema


def _national_file(path):
    rows = [
        ("Kyiv", "Suspected Minefield", "2025-03-01"),
        ("Kyiv", "  suspected   MINEFIELD ", "2025-03-02"),
        ("Odesa", "Confirmed Minefield", "2025-03-03"),
        ("Odesa", "Battle Area", "2025-03-04"),
        ("", "Suspected Minefield", "2025-03-05"),
    ]
    lines = ["District,Type,Date,wkt"] + [
        f'{district},{kind},{day},"{lonlat_square(30 + 0.01 * i, 48).wkt}"'
        for i, (district, kind, day) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_recoded_values_and_generated_codes_are_stored(register, tmp_path):
    source = _national_file(tmp_path / "smf.csv")
    values = tmp_path / "values.csv"
    values.write_text("field,from,to\nhazard_type,Confirmed Minefield,CHA\n")
    result = run_import(
        register,
        source,
        maps=["hazard_type=Type", "reported_on=Date"],
        values=["hazard_type:Suspected Minefield=SHA"],
        values_file=values,
        code_pattern="SMF-{District}-{row:03d}",
    )
    assert (result.imported, result.rejected) == (4, 1)
    with register.connect() as conn:
        stored = dict(conn.execute(select(schema.hazard.c.code, schema.hazard.c.hazard_type)).all())
    assert stored == {
        "SMF-Kyiv-001": "SHA",
        "SMF-Kyiv-002": "SHA",  # matched ignoring case and blanks
        "SMF-Odesa-003": "CHA",  # from the values file
        "SMF--005": "SHA",  # a blank column reads as empty
    }
    (rejected,) = read_rejects(result.rejects_file)
    assert rejected["_reason"] == "bad_code_list_value" and "Battle Area" in rejected["_message"]


def test_a_code_in_the_file_wins_over_the_pattern(register, tmp_path):
    source = tmp_path / "some.csv"
    source.write_text(
        "code,hazard_type,reported_on,wkt\n"
        f'HA-OWN,SHA,2025-01-01,"{lonlat_square(31, 48).wkt}"\n'
        f',SHA,2025-01-01,"{lonlat_square(31.01, 48).wkt}"\n'
    )
    result = run_import(register, source, code_pattern="GEN-{row}")
    assert result.imported == 2
    with register.connect() as conn:
        assert set(conn.execute(select(schema.hazard.c.code)).scalars()) == {"HA-OWN", "GEN-2"}


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"code_pattern": "SMF-{Dist}-{row}"}, "no column 'Dist'"),
        ({"code_pattern": "SMF-{District}"}, "include {row}"),
        ({"code_pattern": "SMF-{row:%%}"}, "--code-pattern"),
        ({"values": ["hazard_type=SHA"]}, "field:SOURCE VALUE=REGISTER VALUE"),
        ({"values": ["colour:red=SHA"]}, "no field 'colour'"),
    ],
)
def test_bad_options_are_refused_before_anything_is_read(tmp_path, options, fragment):
    source = _national_file(tmp_path / "smf.csv")
    with pytest.raises(DemineError, match=None) as error:
        plan_import(source, ImportOptions(kind="hazard", maps=["hazard_type=Type"], **options))
    assert fragment in str(error.value)


def test_a_bad_values_file_names_its_row(tmp_path):
    source = _national_file(tmp_path / "smf.csv")
    values = tmp_path / "values.csv"
    values.write_text("field,from,to\nhazard_type,,SHA\n")
    with pytest.raises(DemineError) as error:
        plan_import(source, ImportOptions(kind="hazard", maps=["hazard_type=Type"], values_file=values))
    assert "row 2" in str(error.value)
    values.write_text("a,b\n")
    with pytest.raises(DemineError) as error:
        plan_import(source, ImportOptions(kind="hazard", maps=["hazard_type=Type"], values_file=values))
    assert "header field,from,to" in str(error.value)


def test_the_command_line_takes_value_values_and_code_pattern(tmp_path, register_template):
    import backend_support

    db = backend_support.clone(register_template, tmp_path / "cli.gpkg")
    source = _national_file(tmp_path / "smf.csv")
    proc = run_cli(
        "import",
        str(source),
        "--kind",
        "hazard",
        "--map",
        "hazard_type=Type",
        "--map",
        "reported_on=Date",
        "--value",
        "hazard_type:Suspected Minefield=SHA",
        "--value",
        "hazard_type:Confirmed Minefield=CHA",
        "--code-pattern",
        "SMF-{row:04d}",
        "--rejects",
        str(tmp_path / "rejects.geojson"),
        "--json",
        db=db,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr  # a rejected row is a finding; the other four are in
    assert '"imported": 4' in proc.stdout and '"bad_code_list_value": 1' in proc.stdout
