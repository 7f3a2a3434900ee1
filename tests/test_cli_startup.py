"""The command line starts quickly because it loads only what the command being run needs.

Time is not asserted (a busy machine must not fail the suite; ``benchmarks/bench_cli.py``
measures it). What is asserted is the cause of a slow start: which heavy libraries a fresh
process has imported after ``--help`` or a light command.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import pytest
import typer.main

from demine.cli.app import COMMANDS, app, load_command, package_version

# No database of the selected backend (one test makes a GeoPackage file of its own for `forms
# build`, the same on both passes): it runs once, on the SQLite pass.
pytestmark = pytest.mark.store_free

HEAVY = ("matplotlib", "highspy", "pyxform", "weasyprint", "scipy", "openpyxl", "pyogrio", "alembic")
# What a command reading the register needs no more of: Typer's pydantic validation, the
# migration tooling (Alembic, Mako, Pygments), geometry (shapely, numpy, pyproj) and the
# PostgreSQL dialect on a SQLite file.
READ_HEAVY = (
    *HEAVY,
    "pydantic",
    "mako",
    "pygments",
    "shapely",
    "numpy",
    "pyproj",
    "sqlalchemy.dialects.postgresql",
)

PROBE = """
import json, sys
from demine.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = {heavy!r}
print("MODULES=" + json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
"""


def _loaded_after(*args: str, heavy: tuple[str, ...] = HEAVY) -> tuple[list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy), *args], capture_output=True, text=True, timeout=120
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES="))
    return json.loads(line.removeprefix("MODULES=")), proc.stdout


def test_help_lists_every_command_without_loading_any_heavy_library():
    loaded, out = _loaded_after("--help", heavy=(*READ_HEAVY, "sqlalchemy", "rich.console"))
    assert loaded == []
    for name in COMMANDS:
        assert name in out


def test_version_loads_neither_pydantic_nor_rich_console():
    loaded, out = _loaded_after("--version", heavy=(*READ_HEAVY, "sqlalchemy", "rich.console"))
    assert loaded == [] and out.startswith("demine ")


@pytest.fixture(scope="module")
def small_register(tmp_path_factory):
    """A GeoPackage with a few demo hazards, releases and teams (SQLite on both passes)."""
    db = tmp_path_factory.mktemp("startup") / "small.gpkg"
    subprocess.run(
        [sys.executable, "-m", "demine", "demo", "--hazards", "12", "--seed", "2", "--db", str(db)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return str(db)


@pytest.mark.parametrize(
    "args",
    [
        ["summary"],
        ["summary", "--json"],
        ["hazards", "list"],
        ["hazards", "list", "--limit", "5", "--offset", "2", "--status", "open"],
        ["history", "--last", "3"],
        ["orgs", "list"],
        ["check", "--rules", "--json"],
    ],
)
def test_commands_reading_the_register_load_no_validation_migration_or_geometry_library(small_register, args):
    loaded, out = _loaded_after(*args, "--db", small_register, heavy=READ_HEAVY)
    assert loaded == [], f"demine {' '.join(args)} loaded {loaded}"
    assert out.strip()


def test_a_bad_value_is_still_worded_by_typer(small_register):
    """Plain values skip pydantic; one they cannot read goes through Typer's own validation."""
    for value, words in (("0", "greater than or equal to 1"), ("ten", "valid integer")):
        proc = subprocess.run(
            [sys.executable, "-m", "demine", "hazards", "list", "--limit", value, "--db", small_register],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("annotation", "limits", "values"),
    [
        (str, {}, ["", "open", "ünïcode", " padded "]),
        (bool, {}, [True, False]),
        (int, {"min": 1}, [1, 50, "5", "007", "-0", "-3", "0", "123456789012345678"]),
        (int, {"min": 0, "max": 10}, [0, 10, "10", "11", "-1"]),
        (float, {"min": 1.0}, [60.0, 5, "1.5", "2", "0.5", "-0"]),
        (list[str], {}, [(), ("hazard", "release"), ["one"]]),
    ],
)
def test_plain_values_are_what_typer_s_own_coercion_gives(annotation, limits, values):
    """Whatever :func:`plain_value` reads itself equals Typer's pydantic result; the rest is
    left to Typer (so its range errors and wording are unchanged)."""
    from typer import _coercion
    from typer.models import OptionInfo

    from demine.cli.app import _PlainParam

    descriptor = _coercion.resolve_type_descriptor(annotation, OptionInfo(**limits))
    typer_own = _coercion.build_runtime_param(descriptor)
    multiple = annotation == list[str]
    param = type("Param", (), {"multiple": multiple, "nargs": 1})()
    for value in values:
        try:
            expected = typer_own.coerce(value, param=param, ctx=None)
        except Exception as exc:  # the same refusal is expected of ours
            expected = type(exc)
        try:
            ours = _PlainParam(descriptor, _coercion.build_runtime_param).coerce(value, param=param, ctx=None)
        except Exception as exc:
            ours = type(exc)
        assert ours == expected and type(ours) is type(expected), (annotation, value, ours, expected)
    assert _PlainParam(descriptor, _coercion.build_runtime_param).coerce(None, param=param, ctx=None) == (
        typer_own.coerce(None, param=param, ctx=None)
    )


def test_a_database_behind_or_outside_the_schema_is_still_refused(small_register, tmp_path):
    """The quick revision check only ever lets a database at head through: an older revision,
    or a SQLite file demine never migrated, gets Alembic's answer and the same refusal."""
    import shutil
    import sqlite3

    from demine.storage.database import head_revision

    behind = tmp_path / "behind.gpkg"
    shutil.copy(small_register, behind)
    with sqlite3.connect(behind) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    bare = tmp_path / "bare.sqlite"
    sqlite3.connect(bare).execute("CREATE TABLE t (x)").connection.close()
    for db, stored in ((behind, "'0001'"), (bare, "None")):
        proc = subprocess.run(
            [sys.executable, "-m", "demine", "summary", "--db", str(db)], capture_output=True, text=True
        )
        assert proc.returncode == 3 and "Traceback" not in proc.stderr
        assert f"at schema revision {stored}, this demine expects {head_revision()!r}" in proc.stderr


def test_the_schema_head_read_from_the_scripts_is_alembic_s():
    """Opening a database compares its revision with the scripts' text, not Alembic's loader."""
    from demine.geometry.reading import WGS84_CRS
    from demine.register import hazards
    from demine.storage.database import head_revision, script_heads

    assert script_heads() == {head_revision()}
    assert hazards.WGS84_CRS == WGS84_CRS  # written out there to keep pyproj out of `hazards list`


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["-h"],
        ["import-reasons"],
        ["check", "--rules"],
        ["forecast", "--help"],
        ["report", "--help"],
        ["hazards", "--help"],
        ["forms", "--help"],
        ["summary", "--help"],
        ["serve", "--help"],
        ["db", "--help"],
        ["plan", "--help"],
        ["prioritise", "--help"],
    ],
)
def test_light_commands_load_no_plotting_solver_form_or_pdf_library(args):
    loaded, out = _loaded_after(*args, heavy=READ_HEAVY)
    assert loaded == [], f"demine {' '.join(args)} loaded {loaded}"
    assert out.strip()


def test_version_is_the_installed_package_version():
    proc = subprocess.run([sys.executable, "-m", "demine", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"demine {package_version()}"
    assert package_version() != "unknown"


def test_each_listed_help_line_is_the_command_s_own_help():
    for name, (_module, summary) in COMMANDS.items():
        command = load_command(name)
        own = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
        assert summary == own, f"{name}: COMMANDS says {summary!r}, the command says {own!r}"


def test_every_registered_command_is_listed():
    import importlib

    registered: set[str] = set()
    for module_name in {module for module, _ in COMMANDS.values()}:
        sub = typer.Typer()
        sub.callback()(lambda: None)
        importlib.import_module(f"demine.cli.{module_name}").register(sub)
        registered |= set(typer.main.get_command(sub).commands)
    assert registered == set(COMMANDS)
    assert set(typer.main.get_command(app).commands) == set(COMMANDS)


def test_a_mistyped_command_is_a_usage_error_with_a_suggestion():
    proc = subprocess.run([sys.executable, "-m", "demine", "improt"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Did you mean 'import'" in proc.stderr
    assert "Traceback" not in proc.stderr


def _narrow(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "demine", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"COLUMNS": "80", "TERM": "dumb"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["import", "--help"],
        ["export", "--help"],
        ["forecast", "--help"],
        ["plan", "--help"],
        ["check", "--rules"],
    ],
)
def test_readable_in_80_columns_without_cut_words(args):
    out = _narrow(*args)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out and "..." not in out.replace("[ARGS]...", "")
    assert not [line for line in out.splitlines() if line != line.rstrip()], "trailing blanks"


def test_forms_build_table_fits_80_columns(tmp_path):
    db = tmp_path / "r.gpkg"
    _narrow("init", "--db", str(db))
    out = _narrow("forms", "build", str(tmp_path / "forms"), "--db", str(db))
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out and "demine_non_technical_survey" in out


def test_plan_help_shows_the_planner_s_own_default_slope():
    from demine.cli.planner import MAX_MACHINE_SLOPE_DEG
    from demine.workplan import PlanConfig

    assert PlanConfig().max_machine_slope_deg == MAX_MACHINE_SLOPE_DEG
