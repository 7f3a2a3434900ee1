"""The README's backtest table is written by a script from docs/forecast-validation.json.

``python -m demine.planning.validation_report`` rewrites the table between the README's markers
from the published figures without running the backtests again; ``--check`` only compares.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from demine.planning.validation_report import README_BEGIN, README_END

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "forecast-validation.json"
README = ROOT / "README.md"


def _script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "demine.planning.validation_report", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _stale_copy(tmp_path: Path) -> Path:
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    stale = tmp_path / "README.md"
    stale.write_text(
        f"{head}{README_BEGIN}\n| figure | value |\n| old | 99% |\n{README_END}{tail}", encoding="utf-8"
    )
    return stale


def test_the_committed_readme_shows_what_the_committed_figures_give():
    proc = _script("--check", "--readme", str(README), "--figures", str(FIGURES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "matches" in proc.stdout


def test_check_reports_a_stale_table_and_leaves_it(tmp_path):
    stale = _stale_copy(tmp_path)
    before = stale.read_bytes()
    proc = _script("--check", "--readme", str(stale), "--figures", str(FIGURES))
    assert proc.returncode == 1
    assert "differs" in proc.stderr
    assert stale.read_bytes() == before


def test_the_script_rewrites_a_stale_table_and_nothing_else(tmp_path):
    stale = _stale_copy(tmp_path)
    proc = _script("--readme", str(stale), "--figures", str(FIGURES))
    assert proc.returncode == 0, proc.stderr
    assert stale.read_text(encoding="utf-8") == README.read_text(encoding="utf-8")


def test_the_table_follows_the_figures(tmp_path):
    figures = json.loads(FIGURES.read_text(encoding="utf-8"))
    figures["summary"]["completions_inside_band"] = 3
    figures["summary"]["completions"] = 7
    figures["summary"]["coverage"]["80"] = 0.123
    changed = tmp_path / "figures.json"
    changed.write_text(json.dumps(figures), encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    assert _script("--readme", str(readme), "--figures", str(changed)).returncode == 0
    block = readme.read_text(encoding="utf-8").split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    assert "| completion dates inside P10–P90 | 3 of 7 | |" in block
    assert " / 12% / " in block
    # Outside the markers, nothing moved.
    assert (
        readme.read_text(encoding="utf-8").split(README_BEGIN)[0]
        == README.read_text(encoding="utf-8").split(README_BEGIN)[0]
    )


def test_a_readme_without_markers_or_a_wrong_figures_file_is_refused(tmp_path):
    bare = tmp_path / "README.md"
    bare.write_text("# demine\n\nno table here\n", encoding="utf-8")
    proc = _script("--readme", str(bare), "--figures", str(FIGURES))
    assert proc.returncode == 2
    assert "markers" in proc.stderr and "Traceback" not in proc.stderr
    assert bare.read_text(encoding="utf-8") == "# demine\n\nno table here\n"
    wrong = tmp_path / "figures.json"
    wrong.write_text('{"trials": 10}', encoding="utf-8")
    copy = tmp_path / "README-copy.md"
    copy.write_text(README.read_text(encoding="utf-8"), encoding="utf-8")
    proc = _script("--readme", str(copy), "--figures", str(wrong))
    assert proc.returncode == 2
    assert "not a validation figures file" in proc.stderr and "Traceback" not in proc.stderr
