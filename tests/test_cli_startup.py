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
    loaded, out = _loaded_after("--help", heavy=(*HEAVY, "sqlalchemy", "shapely", "numpy", "pyproj"))
    assert loaded == []
    for name in COMMANDS:
        assert name in out


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
    ],
)
def test_light_commands_load_no_plotting_solver_form_or_pdf_library(args):
    loaded, out = _loaded_after(*args)
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
