"""Leave-one-country-out validation: the mechanics, no look-ahead, and the published page.

The corpus validation itself runs in ``demine validate`` (``make bench``), a few minutes; here it
runs on synthetic series whose truth is known, and the committed page is checked against its
own figures.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from demine.planning import pooled as pooled_module
from demine.planning import validation
from demine.planning.programme_file import programme_from_dict
from demine.planning.validation import checkpoints, validate
from demine.planning.validation_report import write_report

# Nothing here opens a database: it runs once, on the SQLite pass.
pytestmark = pytest.mark.store_free

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "forecast-validation.md"


def series(country: str, stock: float, rate: float, years: int = 8, noise: float = 0.0, seed: int = 0):
    """A national series: a stock released at ``rate`` (± ``noise``) a year, every year published."""
    rng = np.random.default_rng(seed)
    rows, left = [], stock
    for i in range(years):
        released = rate * float(np.exp(noise * rng.standard_normal()))
        left = max(left - released, 0.0)
        rows.append(
            {"year": 2010 + i, "remaining_m2": left, "released_m2": released, "source": "X", "evidence": "e"}
        )
    return programme_from_dict(
        {
            "name": country,
            "country": country,
            "scope": "test",
            "references": {"X": "test http://x"},
            "history": rows,
        },
        f"{country.lower()}.toml",
        series=True,
    )


@pytest.fixture(scope="module")
def corpus():
    return [
        series("AAA", 200e6, 10e6, noise=0.2, seed=1),
        series("BBB", 50e6, 4e6, noise=0.3, seed=2),
        series("CCC", 900e6, 30e6, noise=0.1, seed=3),
        series("DDD", 20e6, 1e6, noise=0.4, seed=4),
        series("EEE", 120e6, 12e6, noise=0.2, seed=5),
    ]


@pytest.fixture(scope="module")
def validated(corpus):
    """The corpus validated once (100 trials, seed 1), for every test that reads that run, with
    the countries each fit of the pooled priors was given (in the order of the fits)."""
    fits: list[tuple[str, ...]] = []
    real = pooled_module.fit_pooled

    def spy(programmes, base=None):
        fitted = real(programmes, base)
        fits.append(fitted.countries)
        return fitted

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validation, "fit_pooled", spy)
        result = validate(corpus, trials=100, seed=1)
    return SimpleNamespace(result=result, fits=fits)


def test_checkpoints_need_two_later_figures_and_stop_at_a_break():
    p = series("AAA", 100e6, 5e6, years=6)
    at = [y for y, _ in checkpoints(p)]
    # A later year's stock and its release are two figures: only the last year has none.
    assert at == [2010, 2011, 2012, 2013, 2014]
    broken = programme_from_dict(
        {
            "history": [
                {"year": 2010, "remaining_m2": 10e6, "released_m2": 1e6},
                {"year": 2011, "remaining_m2": 9e6, "released_m2": 1e6},
                {"year": 2012, "remaining_m2": 50e6, "series_break": True},
                {"year": 2013, "remaining_m2": 49e6, "released_m2": 1e6},
            ]
        },
        series=True,
    )
    # From 2010 the only later stock of the same series is 2011 (its release counts too).
    later = dict(checkpoints(broken))
    assert [x.year for x in later[2010]] == [2011]
    assert 2011 not in later  # after 2011 the series breaks


def test_each_country_is_forecast_with_priors_fitted_without_it(corpus, validated):
    seen = validated.fits
    everyone = tuple(sorted(p.country for p in corpus))
    assert seen[0] == everyone  # the priors every forecast then uses
    assert [tuple(sorted(set(everyone) - set(s))) for s in seen[1:]] == [(c,) for c in everyone]
    assert validated.result.pooled.countries == everyone


def test_steady_series_are_covered_and_beat_the_naive_line(validated):
    result = validated.result  # 100 trials: the 80 % band held 87 % of 120 later figures
    s = result.summary()
    assert s["countries"] == 5 and s["stock_points"] > 20
    assert all(0.0 <= p.pit <= 1.0 for p in result.stocks)
    assert all(p.p10 <= p.p50 <= p.p90 for p in result.stocks)
    # Every release here is cleared area, so the naive line (stock ÷ cleared rate) is the
    # truth's own straight line: the forecast must be about as good, and its bands hold it.
    assert s["coverage"]["80"] >= 0.8
    model, naive = result.median_errors()
    assert model <= 2 * naive + 0.02


def test_report_writes_page_plot_and_figures(corpus, validated, tmp_path):
    result = validated.result
    written = write_report(result, corpus, tmp_path / "v.md")
    text = written["markdown"].read_text(encoding="utf-8")
    figures = json.loads(written["figures"].read_text(encoding="utf-8"))
    assert written["plot"].read_bytes().startswith(b"\x89PNG")
    assert figures["summary"] == json.loads(json.dumps(result.summary()))
    assert f"{figures['summary']['stock_points']} later stock figures" in text
    for c in corpus:
        assert f"({c.country})" in text
    # The same corpus, trials and seed write the same page.
    (tmp_path / "again").mkdir()
    again = write_report(validate(corpus, trials=100, seed=1), corpus, tmp_path / "again" / "v.md")
    assert again["markdown"].read_text(encoding="utf-8") == text


def test_the_published_page_meets_the_targets_it_states():
    figures = json.loads(PAGE.with_suffix(".json").read_text(encoding="utf-8"))
    s = figures["summary"]
    text = PAGE.read_text(encoding="utf-8")
    assert 0.7 <= s["coverage"]["80"] <= 0.9
    assert s["error_ratio"] <= 0.7
    assert all(s["targets"].values())
    assert f"{s['coverage']['80']:.0%}" in text and f"ratio {s['error_ratio']:.2f}" in text
    assert s["countries"] >= 15
    # Made with as many trials as the command's default, from this corpus.
    assert figures["trials"] == 1000
    assert {c["country"] for c in figures["countries"]} == {
        p.stem.upper() for p in (ROOT / "data" / "national-series").glob("*.toml")
    }


def test_readme_shows_the_published_figures():
    from demine.planning.validation_report import README_BEGIN, README_END, summary_table

    figures = json.loads(PAGE.with_suffix(".json").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert block == summary_table(figures).strip()


def test_validate_command_writes_the_page(tmp_path, corpus, capsys):
    from typer.testing import CliRunner

    from demine.cli.app import app, main

    folder = tmp_path / "corpus"
    folder.mkdir()
    for p in corpus:
        rows = "".join(
            f"[[history]]\nyear = {r.year}\nremaining_m2 = {r.remaining_m2}\nreleased_m2 = {r.released_m2}\n"
            'source = "X"\nevidence = "e"\n'
            for r in p.history
        )
        (folder / f"{p.country.lower()}.toml").write_text(
            f'name = "{p.name}"\ncountry = "{p.country}"\nscope = "test"\n[references]\nX = "t http://x"\n'
            + rows
        )
    out = tmp_path / "page.md"
    run = CliRunner().invoke(
        app,
        [
            *("validate", "--corpus", str(folder), "--out", str(out), "--trials", "60"),
            *("--no-fit", "--json", "--readme", str(tmp_path / "README.md")),
        ],
    )
    assert run.exit_code in (0, 1), run.output
    report = json.loads(run.output)
    assert report["countries"] == 5 and out.exists() and out.with_suffix(".png").exists()
    assert "pooled" not in report["written"]  # --no-fit leaves the package's priors alone
    with pytest.raises(SystemExit) as empty:  # through main, as `demine` runs it
        main(["validate", "--corpus", str(tmp_path / "nothing"), "--out", str(out), "--no-fit"])
    assert empty.value.code == 3 and "no national series" in capsys.readouterr().err


def test_dates_beyond_what_python_holds_are_null():
    # A 3.1 million km² hazard and one team: the naive date is past year 9999.
    from demine.planning import CapacityPlan, forecast, single_region
    from demine.planning.prepared import PreparedForecast, forecast_report

    inputs = single_region([3.1e12], date(2026, 1, 1))
    prepared = PreparedForecast(
        "test", inputs, pooled_module.load_pooled() and _priors(), CapacityPlan({"manual": 1})
    )
    result = forecast(inputs, prepared.parameters, prepared.capacity, 50, 0, horizon_years=20)
    assert result.naive_completion is None or result.naive_completion.year <= 9999
    report = forecast_report(prepared, result)
    json.dumps(report, default=str)
    assert report["completion"]["p50"] is None and report["completion"]["not_within_horizon_share"] == 1.0


def _priors():
    from demine.planning import default_parameters

    return default_parameters()
