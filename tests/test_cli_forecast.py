"""``demine forecast`` and ``demine backtest`` end to end: real processes, a real demo database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from demine.cli import forecast as forecast_cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
START = "2026-07-01"  # the day after the session demo's history ends
TRIALS = "200"


def _demine() -> list[str]:
    return [sys.executable, "-m", "demine"]


def run(*args, check=True, env=None):
    proc = subprocess.run([*_demine(), *args], capture_output=True, text=True, timeout=300, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _ordered(completion):
    """P10 ≤ P50 ≤ P90, a missing date meaning "beyond the horizon" (after every date)."""
    keys = [date.fromisoformat(completion[q]) if completion[q] else date.max for q in ("p10", "p50", "p90")]
    return keys == sorted(keys)


@pytest.fixture(scope="module")
def more_teams(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenario") / "more.toml"
    path.write_text(
        'name = "double clearance"\n'
        + "".join(
            f'[[add_teams]]\nteam_type = "{t}"\nteams = {n}\nstart = {START}\n'
            for t, n in (("manual", 6), ("mdd", 3), ("ts", 2))
        )
    )
    return path


def test_forecast_json_from_the_register(demo, more_teams, tmp_path):
    chart = tmp_path / "fan.png"
    base = ["forecast", "--db", str(demo.path), "--start", START, "--trials", TRIALS, "--seed", "3", "--json"]
    result = json.loads(run(*base).stdout)
    assert _ordered(result["completion"])
    assert result["completion"]["p10"] is not None
    assert result["naive_years"] > 0 and result["stock_m2"] > 0
    years = [b["year"] for b in result["trajectory"]]
    assert years == sorted(years) and years[0] == 2026
    assert all(b["p10"] <= b["p50"] <= b["p90"] for b in result["trajectory"])
    assert set(result["binding_stage"]["shares"]) == {"nts", "ts", "clearance"}
    assert result["inputs"]["source"] == "register" and result["inputs"]["notes"]

    both = json.loads(run(*base, "--scenario", str(more_teams), "--chart", str(chart)).stdout)
    assert set(both) == {"baseline", "scenario", "comparison"}
    assert both["baseline"]["completion"] == result["completion"]  # same seed, same baseline
    b, s = (
        date.fromisoformat(both[k]["completion"]["p50"] or "9999-12-31") for k in ("baseline", "scenario")
    )
    assert s <= b
    assert both["comparison"]["earlier_or_same_share"] == 1.0
    assert both["comparison"]["years_saved_p50"] >= 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 20_000


def test_bad_scenario_exits_3_naming_every_key(demo, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        "speed = 'fast'\n"
        "[[add_teams]]\nteam_type = 'manual'\nteams = -4\nstart = 2026-08-01\n"
        "[[add_teams]]\nteam_type = 'manual'\nteams = 4\nstart = 2026-08-01\nend = 2026-01-01\n"
    )
    proc = run("forecast", "--db", str(demo.path), "--scenario", str(path), "--json", check=False)
    assert proc.returncode == 3
    error = json.loads(proc.stdout)  # under --json the error is an object on stdout too
    assert error["kind"] == "invalid" and error["exit_code"] == 3
    for key in ("speed", "add_teams[0].teams", "add_teams[1].end"):
        assert f"{path}: {key}:" in proc.stderr, key
        assert any(p["field"] == key for p in error["problems"]), key
    assert "Traceback" not in proc.stderr


@pytest.mark.store_free
def test_bad_programme_exits_3_naming_every_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        "start = 2020-01-01\nsha_m2 = -1e6\nsurplus = 3\n[[history]]\nyear = 2019\n[[history]]\nyear = 2018\n"
    )
    proc = run("forecast", "--programme", str(path), check=False)
    assert proc.returncode == 3
    for key in ("sha_m2", "surplus", "history[1].year"):
        assert f"{path}: {key}:" in proc.stderr, key
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.store_free
def test_programme_forecast_needs_no_database(tmp_path):
    env = {**__import__("os").environ, "DEMINE_DB": str(tmp_path / "nowhere.gpkg")}
    out = json.loads(
        run(
            "forecast", "--programme", str(EXAMPLES / "croatia.toml"), "--trials", TRIALS, "--json", env=env
        ).stdout
    )
    assert out["inputs"]["source"].startswith("programme file")
    assert _ordered(out["completion"]) and out["stock_m2"] == pytest.approx(204.4e6)
    assert not (tmp_path / "nowhere.gpkg").exists()


@pytest.mark.store_free
def test_backtest_command():
    args = ("backtest", "--programme", str(EXAMPLES / "cambodia.toml"), "--trials", TRIALS)
    out = json.loads(run(*args, "--at", "2015", "--json").stdout)
    assert out["at"] == 2015 and out["figures"] == 3 and 0 <= out["coverage"] <= 1
    assert out["naive_mean_abs_error"] is not None
    bad = run(*args, "--at", "2011", check=False)
    assert (
        bad.returncode == 3 and "history: no remaining area" in bad.stderr and "Traceback" not in bad.stderr
    )


# Printing is checked in process (no interpreter start-up per case): the commands on a fresh app.


@pytest.fixture(scope="module")
def invoke():
    app = typer.Typer()
    forecast_cli.register(app)
    runner = CliRunner()

    def call(*args):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return call


def test_forecast_human_output(demo, more_teams, invoke):
    out = invoke(
        "forecast", "--db", str(demo.path), "--start", START, "--trials", "100", "--scenario", str(more_teams)
    )
    for phrase in (
        "Completion",
        "double clearance",
        "years saved",
        "naive estimate",
        "binding stage",
        "Remaining area",
        "Area released by year",
        "Where the numbers come from",
    ):
        assert phrase in out, phrase
    alone = invoke(
        "forecast", "--programme", str(EXAMPLES / "demoland.toml"), "--trials", "100", "--regions", "3"
    )
    assert "Completion" in alone and "demoland.toml" in alone
    assert "the prior productivity" in alone and "What the data overruled" in alone


@pytest.mark.store_free
def test_backtest_human_output(invoke):
    out = invoke("backtest", "--programme", str(EXAMPLES / "croatia.toml"), "--at", "2015", "--trials", "100")
    assert "Backtest of Croatia" in out and "band covers" in out and "naive" in out


@pytest.mark.store_free
def test_cli_constants_match_the_planner():
    # The CLI keeps copies so that importing it does not import scipy (see cli/forecast.py).
    from demine.planning.model import DEFAULT_HORIZON_YEARS
    from demine.planning.timeline import DAYS_PER_YEAR

    assert forecast_cli.DEFAULT_HORIZON_YEARS == DEFAULT_HORIZON_YEARS
    assert forecast_cli.DAYS_PER_YEAR == DAYS_PER_YEAR


def test_readme_forecasting_examples_run_as_written(demo, tmp_path):
    # Every `demine forecast|backtest` line of the README's Forecasting examples, run from the
    # repository root as written: the register examples on a copy of the session's demo, which
    # stands in for the demo.gpkg `make run` builds; a chart goes to a scratch folder.
    import shutil

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Forecasting", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].split() for line in block.splitlines() if line.startswith("demine ")]
    assert len(lines) >= 5
    if demo.backend == "sqlite":
        db = tmp_path / "demo.gpkg"
        shutil.copy(demo.path, db)
    else:
        db = demo.path
    for words in lines:
        if demo.backend != "sqlite" and "demo.gpkg" not in words:
            continue  # a programme-file example uses no database: the SQLite pass has run it
        args = [str(db) if w == "demo.gpkg" else w for w in words[1:]]
        args = [str(tmp_path / w) if w.endswith(".png") else w for w in args]
        proc = subprocess.run([*_demine(), *args], capture_output=True, text=True, timeout=600, cwd=root)
        assert proc.returncode == 0, (words, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
