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
