"""Benchmark of the field-forms ingest and the official reports, on the demo programme.

The register is the demo programme of 2,000 hazards (seed 1, history up to 2026-11-24), built
once by ``demine demo`` and cached under /tmp (:func:`bench_api.cached_database`); each run
works on a private copy of it (SQLite online backup), so the cached file is never changed.
On it are timed:

* ``build_forms`` — every XLSForm (7 forms, English and French), what ``demine forms build``
  writes;
* ``ingest_file`` of a KoboToolbox CSV export of 2,000 hazardous-area submissions
  (:func:`demine.forms.synthetic.synthetic_submissions`, ``write_kobo_csv``): each submission
  converted, dry-run checked against the register and staged as a workflow submission with
  its audit row; then the same file again, which must stage nothing (idempotency);
* the same for a KoboToolbox XLSX export of 2,000 accident reports with their victims (a
  repeat group, one sheet per repeat);
* the monthly (the last whole month before 2026-11-24), annual and Article 7 reports (the
  year before): ``build_report`` (figures, tables, charts), then ``write_report`` as html, pdf
  and xlsx. WeasyPrint's import and a first tiny PDF are timed apart as a warm-up, so each
  PDF figure is what one more report costs in a running process.

Drawing and writing the synthetic exports is timed but not counted as ingest. The script
fails (non-zero exit) when an ingest does not stage every submission the first time, stages
anything the second time, or when a PDF is not a PDF.

``BENCH_SIZE=small``: 200 hazards and 200 submissions of each form.

Run: ``.venv/bin/python benchmarks/bench_reports.py [--hazards N] [--submissions N]``
(writes benchmarks/results/reports.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# benchmarks/bench_api.py, beside this file: the cached demo programme and its as-of day.
from bench_api import AS_OF, cached_database  # noqa: E402
from demine.forms.build import build_forms  # noqa: E402
from demine.forms.ingest import ingest_file  # noqa: E402
from demine.forms.synthetic import WRITERS, synthetic_submissions  # noqa: E402
from demine.reports import charts  # noqa: E402
from demine.reports.official import build_report  # noqa: E402
from demine.reports.period import parse_period  # noqa: E402
from demine.reports.render import write_report  # noqa: E402
from demine.storage import schema  # noqa: E402
from demine.storage.database import open_database  # noqa: E402

SMALL = os.environ.get("BENCH_SIZE") == "small"
RESULTS = HERE / "results" / "reports.json"
SEED = 1
LANGUAGES = ("en", "fr")
INGESTS = (("hazardous_area", "kobo_csv"), ("accident", "kobo_xlsx"))
SUFFIX = {"kobo_csv": ".csv", "kobo_xlsx": ".xlsx", "kobo_geojson": ".geojson", "odk_zip": ".zip"}
FORMATS = ("html", "pdf", "xlsx")


def report_periods(as_of: date) -> dict[str, str]:
    """The periods reported on: the last whole month before ``as_of``, and the year before it."""
    last_month = as_of.replace(day=1) - timedelta(days=1)
    year = str(as_of.year - 1)
    return {"monthly": f"{last_month:%Y-%m}", "annual": year, "article7": year}


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _fail(message: str) -> None:
    raise SystemExit(f"bench_reports: {message}")


def copy_database(source: Path, target: Path) -> float:
    """Copy the cached register to ``target`` (a consistent snapshot); the seconds it took."""
    started = time.perf_counter()
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return time.perf_counter() - started


def time_forms_build(engine: Engine, out_dir: Path) -> dict[str, Any]:
    """``build_forms`` for every form: seconds, forms written and their size."""
    started = time.perf_counter()
    with engine.connect() as conn:
        built = build_forms(conn, out_dir, LANGUAGES)
    seconds = time.perf_counter() - started
    return {
        "forms": len(built),
        "languages": list(LANGUAGES),
        "questions": sum(b.questions for b in built),
        "choices": sum(b.choices for b in built),
        "bytes": sum(b.path.stat().st_size for b in built),
        "seconds": round(seconds, 3),
    }


def _submission_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.submission)).scalar_one()


def _ingest_once(engine: Engine, path: Path, rejects: Path) -> tuple[Any, float, int]:
    before = _submission_rows(engine)
    started = time.perf_counter()
    result = ingest_file(engine, path, rejects=rejects, today=AS_OF)
    seconds = time.perf_counter() - started
    return result, seconds, _submission_rows(engine) - before


def time_ingest(engine: Engine, form: str, fmt: str, count: int, workdir: Path) -> dict[str, Any]:
    """Ingest ``count`` synthetic submissions of ``form`` exported as ``fmt``, then the same file again."""
    started = time.perf_counter()
    with engine.connect() as conn:
        subs = synthetic_submissions(conn, form, count, seed=SEED, today=AS_OF)
    generate_s = time.perf_counter() - started
    path = workdir / f"{form}{SUFFIX[fmt]}"
    started = time.perf_counter()
    WRITERS[fmt](form, subs, path)
    write_s = time.perf_counter() - started
    names = dict.fromkeys(name for s in subs for name in s.repeats)
    repeats = {name: sum(len(s.repeats.get(name, [])) for s in subs) for name in names}

    first, first_s, first_added = _ingest_once(engine, path, workdir / f"{form}-rejects.csv")
    if (first.read, first.staged, first.rejected, first.already_present) != (count, count, 0, 0):
        _fail(
            f"{form}: the first ingest read {first.read}, staged {first.staged}, rejected {first.rejected} "
            f"{first.reasons}, found {first.already_present} already present; expected {count} staged"
        )
    if first_added != count or len(first.submissions) != count:
        _fail(f"{form}: the first ingest added {first_added} submission rows, expected {count}")
    again, again_s, again_added = _ingest_once(engine, path, workdir / f"{form}-rejects-again.csv")
    if again.staged or again_added or again.submissions or again.already_present != count:
        _fail(
            f"{form}: ingesting the same file again staged {again.staged} and added {again_added} rows "
            f"({again.already_present} already present); it must add none"
        )
    return {
        "format": fmt,
        "submissions": count,
        "repeat_rows": repeats,
        "file_bytes": path.stat().st_size,
        "generate_seconds": round(generate_s, 3),
        "write_export_seconds": round(write_s, 3),
        "first": {
            "seconds": round(first_s, 3),
            "rows_per_s": round(count / first_s, 1),
            "staged": first.staged,
            "submission_rows_added": first_added,
        },
        "again": {
            "seconds": round(again_s, 3),
            "rows_per_s": round(count / again_s, 1),
            "staged": again.staged,
            "already_present": again.already_present,
            "submission_rows_added": again_added,
        },
    }


def warmup() -> dict[str, float]:
    """The one-off costs of a process's first report: a first chart, WeasyPrint's import, a tiny PDF."""
    started = time.perf_counter()
    charts.bars("warm-up", "warm-up", ["a", "b"], [1.0, 2.0], "ha")  # matplotlib's fonts and caches
    charted = time.perf_counter()
    import weasyprint

    imported = time.perf_counter()
    weasyprint.HTML(string="<h1>warm-up</h1><table><tr><td>1</td></tr></table>").write_pdf()
    done = time.perf_counter()
    return {
        "first_chart_seconds": round(charted - started, 3),
        "weasyprint_import_seconds": round(imported - charted, 3),
        "first_pdf_seconds": round(done - imported, 3),
    }


def time_report(engine: Engine, kind: str, period: str, workdir: Path) -> dict[str, Any]:
    """Build one report, then write it in every format: seconds and bytes."""
    started = time.perf_counter()
    with engine.connect() as conn:
        report = build_report(conn, kind, parse_period(period), today=AS_OF)
    build_s = time.perf_counter() - started
    formats = {}
    for fmt in FORMATS:
        path = workdir / f"{kind}-{period}.{fmt}"
        started = time.perf_counter()
        write_report(report, fmt, path)
        render_s = time.perf_counter() - started
        if fmt == "pdf" and not path.read_bytes().startswith(b"%PDF"):
            _fail(f"{kind} {period}: {path.name} is not a PDF")
        formats[fmt] = {
            "render_seconds": round(render_s, 3),
            "total_seconds": round(build_s + render_s, 3),
            "bytes": path.stat().st_size,
        }
    activity = report.totals.get("release_products", report.totals.get("apm_areas", 0))
    if not activity:
        _fail(f"{kind} {period}: nothing to report (no land released, no mined area); pick another period")
    return {
        "period": period,
        "build_seconds": round(build_s, 3),
        "tables": len(report.tables),
        "table_rows": sum(len(t.rows) for t in report.tables),
        "charts": len(report.charts),
        "activity": {k: v for k, v in report.totals.items() if isinstance(v, int)},
        "formats": formats,
    }


def print_table(result: dict[str, Any]) -> None:
    """The figures as a small table on stdout."""
    print(
        f"\nfield forms and reports: {result['hazards']:,} hazards, {result['submissions']:,} submissions "
        f"per form; load average before {result['load_average_before'][0]:.1f}, "
        f"peak memory {result['peak_rss_mb']:.0f} MB"
    )
    head = f"  {'step':<52}{'seconds':>9}{'rows/s':>10}{'bytes':>11}"
    print(head + "\n  " + "-" * (len(head) - 2))

    def line(step: str, seconds: float, rate: float | None = None, size: int | None = None) -> None:
        rate_text = f"{rate:,.0f}" if rate is not None else ""
        size_text = f"{size:,}" if size is not None else ""
        print(f"  {step:<52}{seconds:>9.2f}{rate_text:>10}{size_text:>11}")

    fb = result["forms_build"]
    languages = "+".join(fb["languages"])
    line(f"forms build ({fb['forms']} XLSForms, {languages})", fb["seconds"], None, fb["bytes"])
    for form, d in result["ingest"].items():
        extra = ", ".join(f"{n:,} {name}" for name, n in d["repeat_rows"].items())
        name = f"ingest {d['submissions']:,} {form} ({d['format']}{', ' + extra if extra else ''})"
        line(name, d["first"]["seconds"], d["first"]["rows_per_s"], d["file_bytes"])
        line("  same file again (0 staged)", d["again"]["seconds"], d["again"]["rows_per_s"])
    line("warm-up: first chart, weasyprint import, tiny PDF", sum(result["reports"]["warmup"].values()))
    for kind, d in result["reports"]["kinds"].items():
        line(f"{kind} report {d['period']}: figures and charts", d["build_seconds"])
        for fmt, f in d["formats"].items():
            step = f"  {fmt} (render; build + render {f['total_seconds']:.2f} s)"
            line(step, f["render_seconds"], None, f["bytes"])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table and write benchmarks/results/reports.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hazards", type=int, default=200 if SMALL else 2000)
    parser.add_argument("--submissions", type=int, default=200 if SMALL else 2000, help="per form")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    cached = cached_database(args.hazards, SEED)
    load_before = os.getloadavg()
    peaks: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="demine-bench-reports-") as tmp:
        workdir = Path(tmp)
        db = workdir / "register.gpkg"
        copy_s = copy_database(cached, db)
        engine = open_database(db)
        try:
            forms = time_forms_build(engine, workdir / "forms")
            peaks["forms_build"] = _peak_mb()
            count = args.submissions
            ingest = {form: time_ingest(engine, form, fmt, count, workdir) for form, fmt in INGESTS}
            peaks["ingest"] = _peak_mb()
            warm = warmup()
            periods = report_periods(AS_OF)
            kinds = {kind: time_report(engine, kind, period, workdir) for kind, period in periods.items()}
            peaks["reports"] = _peak_mb()
        finally:
            engine.dispose()
    result = {
        "benchmark": "demine field forms ingest and official reports",
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hazards": args.hazards,
        "seed": SEED,
        "as_of": AS_OF.isoformat(),
        "submissions": args.submissions,
        "database_mb": round(cached.stat().st_size / 1e6, 1),
        "copy_database_seconds": round(copy_s, 3),
        "forms_build": forms,
        "ingest": ingest,
        "reports": {"warmup": warm, "kinds": kinds},
        "peak_rss_mb": _peak_mb(),
        "peak_rss_mb_after": peaks,
        "total_seconds": round(time.perf_counter() - started, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print_table(result)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {RESULTS.relative_to(HERE.parent)}")
    return result


if __name__ == "__main__":
    main()
