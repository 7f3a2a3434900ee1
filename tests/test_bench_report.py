"""The published benchmark table says what was measured: planted defects vs findings, one statistic
per forecast figure, and whether the two stores gave the same bbox answers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benchmarks" / "report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)


def _checks(counts: dict[str, int], planted: dict[str, int]) -> dict:
    return {
        "hazards": 1000,
        "check": {
            "run_checks_s": 1.0,
            "findings": sum(counts.values()),
            "counts": counts,
            "peak_rss_mb": 1.0,
        },
        "stages": {"records": {"hazard": 1000}},
        "naive": {"naive_s": 1.0, "naive_n": 100},
        "per_geometry": {"per_geometry_s": 0.5},
        "fix": {"fix_s": 2.0, "peak_rss_mb": 1.0},
        "planted": planted,
    }


def test_findings_are_not_called_planted_defects():
    rows = report._checks_rows(
        _checks(
            {"invalid_polygon": 4, "long_segment": 1, "partly_outside_admin_area": 17},
            {"invalid_polygon": 4, "long_segment": 2},
        )
    )
    by_figure = {r["figure"].strip(): r for r in rows}
    planted = by_figure["planted defects found"]
    assert planted["value"] == 5 and planted["reference"] == "of 6 planted, 2 kinds; missed: 1"
    everything = by_figure["findings in all"]
    assert everything["value"] == 22
    assert (
        "5 by the rules of the planted kinds; 17 by rules nothing was planted for" in everything["reference"]
    )
    assert "partly_outside_admin_area: 17" in everything["reference"]
    assert not any("planted" in r["figure"] and r["value"] == 22 for r in rows)


def test_the_forecast_time_and_its_speed_up_use_the_same_statistic():
    d = {
        "case": {"hazards": 100, "trials": 1000},
        "reference": {"estimated_seconds_1000_trials": 1000.0, "trials_timed": 2},
        "vectorised_seconds": {
            "workers_2": {"seconds": [2.0, 4.0, 5.0], "best": 2.0, "median": 4.0},
            "workers_1": {"seconds": [8.0, 10.0, 9.0], "best": 8.0, "median": 9.0},
        },
        # A stale or differently computed field in the results file must not be published.
        "speedup_vs_reference": 500.0,
        "speedup_vs_reference_single_thread": 125.0,
    }
    two, one = report._forecast_rows(d)
    assert two["value"] == 4.0 and two["ratio"] == 250.0 and "median of 3" in two["figure"]
    assert "best of 3: 2.00 s" in two["reference"]
    assert one["value"] == 9.0 and one["ratio"] == round(1000 / 9, 2)


def _backends(**extra) -> dict:
    store = {"import_s": 1.0, "bbox_p50_ms": 1.0}
    return {"hazards": 10, "windows": 300, "sqlite": dict(store), "postgresql": dict(store), **extra}


def test_the_bbox_disagreement_is_published_with_its_size():
    rows = report._backends_rows(
        _backends(windows_with_different_hits=3, hit_differences=[[67, 68], [58, 59]])
    )
    row = next(r for r in rows if r["figure"] == "SQLite and PostGIS bbox answers differ")
    assert row["value"] == 3 and row["unit"] == "windows"
    assert "of 300" in row["reference"] and "67/68" in row["reference"]

    d = _backends(windows_with_different_hits=3)
    d["sqlite"] |= {"hits_beyond_exact": 4, "hits_missed": 0, "farthest_extra_m": 0.05}
    d["postgresql"] |= {"hits_beyond_exact": 7, "hits_missed": 0, "farthest_extra_m": 0.51}
    row = next(r for r in report._backends_rows(d) if r["unit"] == "windows")
    assert "SQLite returned 4 extra hits, PostGIS 7, all within 0.51 m" in row["reference"]
    assert "float32" in row["reference"]
    # A miss is never explained away as rounding.
    d["postgresql"]["hits_missed"] = 1
    row = next(r for r in report._backends_rows(d) if r["unit"] == "windows")
    assert "missed: 0 / 1" in row["reference"] and "float32" not in row["reference"]
