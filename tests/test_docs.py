"""Documentation that is generated from code stays in step with it."""

from pathlib import Path

from demine.storage.datamodel_doc import render_data_model

ROOT = Path(__file__).resolve().parents[1]


def test_data_model_doc_is_current():
    committed = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert committed == render_data_model(), (
        "run: python -m demine.storage.datamodel_doc > docs/data-model.md"
    )


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[: readme.index("## ")]
    assert "make run" in head and "make test" in head
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_readme_lists_every_command():
    import typer.main

    from demine.cli.app import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = typer.main.get_command(app).commands
    missing = [name for name in commands if f"`demine {name}" not in readme]
    assert not missing, f"commands missing from the README's table: {missing}"


def _sh_lines(readme: str) -> list[tuple[str, str]]:
    """(section, line) of every `demine ...` line in the README's ```sh blocks."""
    found = []
    section = ""
    inside = False
    for line in readme.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.startswith("```sh"):
            inside = True
        elif line.startswith("```"):
            inside = False
        elif inside and line.startswith("demine "):
            found.append((section, line.split("#", 1)[0].strip()))
    return found


# Run elsewhere: the Forecasting lines by tests/test_cli_forecast.py; the PostgreSQL lines need a
# server of the reader's own; `demine serve` does not return.
NOT_HERE = {"Forecasting", "PostgreSQL/PostGIS"}


def test_readme_examples_run_as_written(demo, tmp_path):
    """Every other `demine` example of the README, as written, in a folder holding demo.gpkg
    (what `make run` leaves), with the command on the path as the README says."""
    import shlex
    import shutil
    import subprocess
    import sys

    lines = [(s, line) for s, line in _sh_lines((ROOT / "README.md").read_text(encoding="utf-8"))]
    assert {s for s, _ in lines} >= NOT_HERE, "the README's sections moved: update this test"
    todo = [line for s, line in lines if s not in NOT_HERE and not line.startswith("demine serve")]
    assert todo, "no README example left to run"
    if demo.backend != "sqlite":
        # Only demo.gpkg stands for the suite's store: the other examples use no database or
        # make a GeoPackage file of their own, which the SQLite pass has run.
        todo = [line for line in todo if "demo.gpkg" in shlex.split(line)]
        assert todo, "no README example on the register left to run"
    if demo.backend == "sqlite":
        shutil.copy(demo.path, tmp_path / "demo.gpkg")
    for name in ("examples", "data"):
        (tmp_path / name).symlink_to(ROOT / name)
    for line in todo:
        words = shlex.split(line)
        if demo.backend != "sqlite":
            words = [str(demo.path) if w == "demo.gpkg" else w for w in words]
        proc = subprocess.run(
            [sys.executable, "-m", "demine", *words[1:]],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, (line, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
        for written in (w for w in words if w.endswith((".pdf", ".xlsx", ".html", ".png"))):
            assert (tmp_path / written).stat().st_size > 0, f"{line}: wrote no {written}"


def test_readme_tells_how_to_put_demine_on_the_path():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[: readme.index("## ")]
    assert ". .venv/bin/activate" in head
