"""The summary of the benchmarks: one table from ``benchmarks/results/*.json``, printed and written.

``python benchmarks/report.py`` (run by ``make bench`` after the benchmarks) reads what each
benchmark wrote, prints one table — figure, value, reference, ratio, peak memory, machine
load while it ran — and writes it as ``benchmarks/results/summary.json`` and as
``docs/performance.md``. A benchmark without results is left out of the table and named.
Nothing here measures anything: every number comes from a results file, with its date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SUMMARY = RESULTS / "summary.json"
DOC = ROOT / "docs" / "performance.md"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data["_mtime"] = path.stat().st_mtime
    data["_written"] = datetime.fromtimestamp(data["_mtime"], UTC).strftime("%Y-%m-%d %H:%M UTC")
    return data


def _row(
    bench: str,
    figure: str,
    value: float | None,
    unit: str,
    reference: str = "",
    ratio: float | None = None,
    ratio_meaning: str = "",
    peak_mb: float | None = None,
) -> dict[str, Any]:
    return {
        "benchmark": bench,
        "figure": figure,
        "value": None if value is None else round(float(value), 4),
        "unit": unit,
        "reference": reference,
        "ratio": None if ratio is None else round(float(ratio), 2),
        "ratio_meaning": ratio_meaning,
        "peak_memory_mb": None if peak_mb is None else round(float(peak_mb), 1),
    }


def _import_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for size in d.get("sizes") or [d]:  # one entry per size since bench_import measures 10k and 100k
        n = size["features"]
        ours = size["demine"]
        reference = size.get("ogr2ogr")  # ogr2ogr -makevalid since the sizes were added
        label = "ogr2ogr -makevalid" if "sizes" in d else "ogr2ogr -f GPKG"
        rows += [
            _row(
                "import",
                f"import {n:,} polygons (GeoPackage→register, one transaction)",
                ours["seconds"],
                "s",
                f"{label}, same file: {reference['seconds']:.1f} s" if reference else "ogr2ogr missing",
                ours["seconds"] / reference["seconds"] if reference else None,
                "demine time ÷ ogr2ogr time (demine also validates, reprojects, measures geodesic areas, "
                "writes history and two R*Trees)",
                ours["peak_rss_mb"],
            ),
            _row("import", "  import throughput", ours["features_per_s"], "features/s"),
        ]
        if reference and "cpu_s" in ours and "process_cpu_s" in reference:
            rows.append(
                _row(
                    "import",
                    "  import CPU time (a loaded machine stretches wall time, not this)",
                    ours["cpu_s"],
                    "s",
                    f"{label} CPU: {reference['process_cpu_s']:.2f} s",
                    ours["cpu_s"] / reference["process_cpu_s"],
                    "demine CPU ÷ ogr2ogr CPU",
                )
            )
        if reference:
            rows.append(
                _row(
                    "import",
                    "  ogr2ogr peak memory",
                    reference["peak_rss_mb"],
                    "MB",
                    peak_mb=reference["peak_rss_mb"],
                )
            )
    return rows


def _checks_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    check, naive, stages = d["check"], d["naive"], d["stages"]
    hazards = stages["records"]["hazard"]
    naive_all = naive["naive_s"] * hazards / naive["naive_n"]
    return [
        _row(
            "checks",
            f"geometry checks on {d['hazards']:,} polygons (`demine check`, every rule)",
            check["run_checks_s"],
            "s",
            f"per-geometry rules alone, one polygon at a time: {naive_all:.1f} s "
            f"(timed on {naive['naive_n']:,}, × {hazards / naive['naive_n']:.0f})",
            naive_all / d["per_geometry"]["per_geometry_s"]
            if d["per_geometry"].get("per_geometry_s")
            else None,
            "one-at-a-time time ÷ vectorised time of the same per-geometry rules on the same hazard layer "
            f"({d['per_geometry']['per_geometry_s']:.1f} s)",
            check["peak_rss_mb"],
        ),
        *_findings_rows(d),
        _row(
            "checks",
            "  check --fix (check, repair, check again)",
            d["fix"]["fix_s"],
            "s",
            peak_mb=d["fix"]["peak_rss_mb"],
        ),
    ]


def _findings_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """Planted defects found, and all findings: the rules also find what nobody planted."""
    counts, findings = d["check"]["counts"], d["check"]["findings"]
    planted = d.get("planted")
    if not planted:
        return [_row("checks", "  findings (no planted counts recorded)", findings, "findings")]
    found = sum(min(n, counts.get(rule, 0)) for rule, n in planted.items())
    on_planted = sum(counts.get(rule, 0) for rule in planted)
    others = {rule: n for rule, n in counts.items() if rule not in planted and n}
    split = f"{on_planted:,} by the rules of the planted kinds"
    if others:
        listed = ", ".join(f"{rule}: {n:,}" for rule, n in sorted(others.items()))
        split += f"; {findings - on_planted:,} by rules nothing was planted for ({listed})"
    return [
        _row(
            "checks",
            "  planted defects found",
            found,
            "defects",
            f"of {sum(planted.values()):,} planted, {len(planted)} kinds"
            + ("" if found == sum(planted.values()) else f"; missed: {sum(planted.values()) - found:,}"),
        ),
        _row(
            "checks",
            "  findings in all",
            findings,
            "findings",
            split,
        ),
    ]


def _forecast_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    # The published time and the speed-up come from one statistic, the median of the repeats.
    case, ref = d["case"], d["reference"]
    reference_s = ref["estimated_seconds_1000_trials"]
    two, one = d["vectorised_seconds"]["workers_2"], d["vectorised_seconds"]["workers_1"]
    return [
        _row(
            "forecast",
            f"forecast {case['hazards']:,} hazards × {case['trials']:,} trials "
            f"(2 workers, median of {len(two['seconds'])})",
            two["median"],
            "s",
            f"day-by-day reference: {reference_s:,.0f} s "
            f"({ref['trials_timed']} trials timed × {case['trials'] // max(ref['trials_timed'], 1)}); "
            f"best of {len(two['seconds'])}: {two['best']:.2f} s",
            reference_s / two["median"],
            "reference time ÷ demine median (same hazards, same model; trials agree)",
            d.get("max_rss_mb"),
        ),
        _row(
            "forecast",
            f"  one worker (median of {len(one['seconds'])})",
            one["median"],
            "s",
            ratio=reference_s / one["median"],
            ratio_meaning="reference ÷ one-worker median",
        ),
    ]


def _validation_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """``validation.json``: leave-one-country-out backtests over the national series."""
    ratio = d["error_ratio"]
    return [
        _row(
            "validation",
            f"out of sample: later stocks inside P10–P90 ({d['stock_points']} in {d['countries']} countries)",
            100 * d["coverage"]["80"],
            "%",
            "target 70–90 % (an 80 % band)",
        ),
        _row(
            "validation",
            "  median |P50 error| of the remaining area",
            100 * d["median_abs_p50_error"],
            "%",
            f"naive stock ÷ rate: {100 * d['median_abs_naive_error']:.0f} %",
            ratio,
            "demine ÷ naive (target ≤ 0.7)",
        ),
        _row("validation", f"  run time ({d['trials']:,} trials per forecast)", d["seconds"], "s"),
    ]


def _workplan_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _row(
            "workplan",
            f"workplan {d['hazards']:,} hazards × {d['teams']} teams × {d['months']} months (HiGHS)",
            d["total_seconds"],
            "s",
            f"target {d.get('target', '')}",
            None,
            "",
            d.get("peak_rss_mb"),
        ),
        _row(
            "workplan",
            "  optimality gap (vs LP bound of the whole model)",
            100 * d["gap"] if d.get("gap") is not None else None,
            "%",
            f"greedy heuristic gap {100 * d['greedy_gap']:.2f} %" if d.get("greedy_gap") is not None else "",
            d["gap"] / d["greedy_gap"] if d.get("gap") is not None and d.get("greedy_gap") else None,
            "MILP gap ÷ greedy gap",
        ),
    ]


def _api_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    r = d["results"]
    peak = (d.get("server_peak_rss_mb") or {}).get("total")
    rows = []
    if "bbox-1conn" in r:
        one = r["bbox-1conn"]
        rows.append(
            _row(
                "api",
                f"API bbox query p50, 1 client ({d['hazards']:,} hazards, map views)",
                one["p50_ms"],
                "ms",
                f"p95 {one['p95_ms']:.1f} ms, {one['throughput_rps']:.0f} req/s",
                peak_mb=peak,
            )
        )
    if "bbox" in r:
        many = r["bbox"]
        rows.append(
            _row(
                "api",
                f"API bbox throughput, {d['connections']} connections ({d['load_tool']}, "
                f"{d['server_workers']} workers)",
                many["throughput_rps"],
                "req/s",
                f"p50 {many['p50_ms']:.0f} ms, p95 {many['p95_ms']:.0f} ms, errors {many['errors']}",
                peak_mb=peak,
            )
        )
    if "tiles" in r:
        tiles = r["tiles"]
        rows.append(
            _row(
                "api",
                f"vector tiles throughput, {d['connections']} connections",
                tiles["throughput_rps"],
                "req/s",
                f"p50 {tiles['p50_ms']:.0f} ms, p95 {tiles['p95_ms']:.0f} ms, errors {tiles['errors']}",
                peak_mb=peak,
            )
        )
    return rows


def _prioritise_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _row(
            "prioritise",
            f"impact scores, {d['hazards']:,} hazards × {d['context_features']:,} context features",
            d["score_seconds"],
            "s",
            f"target {d['target_seconds']} s",
            d["score_seconds"] / d["target_seconds"],
            "time ÷ target",
            d.get("peak_rss_mb"),
        )
    ]


def _store_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    size = max((k for k in d if k.isdigit()), key=int)
    figures = {r["figure"].strip(): r for r in d[size]}
    peak = figures.get("peak RSS", {}).get("value")
    rows = []
    for name in (
        f"build demo programme ({int(size):,} hazards)",
        "bbox query p50 (≈5 km window)",
        "bbox query p95",
    ):
        if name in figures:
            rows.append(
                _row("store", f"store: {name}", figures[name]["value"], figures[name]["unit"], peak_mb=peak)
            )
    return rows


def _reports_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """``reports.json``: the field-forms build and ingest, and the official reports as PDF."""
    n = d["hazards"]
    peaks = d.get("peak_rss_mb_after", {})
    fb = d["forms_build"]
    rows = [
        _row(
            "reports",
            f"forms build ({fb['forms']} XLSForms, {'+'.join(fb['languages'])})",
            fb["seconds"],
            "s",
            f"{fb['questions']:,} survey rows, {fb['choices']:,} choices",
            peak_mb=peaks.get("forms_build"),
        )
    ]
    ingest = d["ingest"]
    if "hazardous_area" in ingest:
        ha = ingest["hazardous_area"]
        others = "; ".join(
            f"{name} ({x['format']}{''.join(f', {k:,} {r}' for r, k in x['repeat_rows'].items())}): "
            f"{x['first']['rows_per_s']:,.0f}/s"
            for name, x in ingest.items()
            if name != "hazardous_area"
        )
        rows.append(
            _row(
                "reports",
                f"form ingest, {ha['submissions']:,} Kobo CSV hazardous-area submissions (checked, staged)",
                ha["first"]["seconds"],
                "s",
                f"{ha['first']['rows_per_s']:,.0f} submissions/s; the same file again: "
                f"{ha['again']['seconds']:.2f} s, 0 staged ({ha['again']['rows_per_s']:,.0f}/s)"
                + (f"; {others}" if others else ""),
                peak_mb=peaks.get("ingest"),
            )
        )
    kinds = d["reports"]["kinds"]
    names = {"annual": "annual report", "monthly": "monthly report", "article7": "Article 7 report"}
    for kind in ("annual", "monthly", "article7"):
        if kind not in kinds:
            continue
        r = kinds[kind]
        f = r["formats"]
        rows.append(
            _row(
                "reports",
                f"{names[kind]} PDF, {n:,} hazards ({r['period']}, figures, charts, WeasyPrint)",
                f["pdf"]["total_seconds"],
                "s",
                f"html {f['html']['total_seconds']:.2f} s, xlsx {f['xlsx']['total_seconds']:.2f} s "
                f"(each including {r['build_seconds']:.2f} s of figures and charts); "
                f"PDF {f['pdf']['bytes'] / 1024:,.0f} KiB",
                peak_mb=d.get("peak_rss_mb"),
            )
        )
    return rows


def _cli_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """``cli.json``: start-up of ``demine`` commands next to ``python -c "import typer, rich"``."""
    commands = d["commands"]
    bare = commands[0]["median_s"]
    return [
        _row(
            "cli",
            f"start-up: {c['command']}" + ("" if c["light"] else " (loads the importer or the solver)"),
            c["median_s"],
            "s",
            f"target {d['target_seconds']} s; bare Python + Typer + Rich {bare:.2f} s" if c["light"] else "",
            c["median_s"] / bare if bare else None,
            "÷ bare Python + Typer + Rich",
        )
        for c in commands[1:]
    ]


def _backends_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    """``backends.json`` (the PostgreSQL issue's benchmark): PostGIS next to SQLite, same work."""
    sq, pg = d.get("sqlite"), d.get("postgresql")
    if not sq or not pg:
        return []
    n = d.get("hazards", 0)
    rows = [
        _row(
            "backends",
            f"PostgreSQL/PostGIS: write {n:,} hazards (register's write path)",
            pg["import_s"],
            "s",
            f"SQLite/GeoPackage, same hazards: {sq['import_s']:.2f} s",
            pg["import_s"] / sq["import_s"] if sq.get("import_s") else None,
            "PostgreSQL time ÷ SQLite time",
        ),
        _row(
            "backends",
            "PostgreSQL/PostGIS: bbox query p50 (GiST)",
            pg["bbox_p50_ms"],
            "ms",
            f"SQLite R*Tree p50: {sq['bbox_p50_ms']:.2f} ms",
            pg["bbox_p50_ms"] / sq["bbox_p50_ms"] if sq.get("bbox_p50_ms") else None,
            "PostgreSQL time ÷ SQLite time",
        ),
    ]
    if "windows_with_different_hits" in d:
        rows.append(_bbox_agreement_row(d))
    if "copy_sqlite_to_postgresql_s" in d:
        rows.append(
            _row(
                "backends",
                f"copy the register SQLite → PostgreSQL ({d.get('copy_rows', 0):,} rows, verified)",
                d["copy_sqlite_to_postgresql_s"],
                "s",
            )
        )
    return rows


def _bbox_agreement_row(d: dict[str, Any]) -> dict[str, Any]:
    """In how many windows the two stores returned different hazards, and what the difference is."""
    sq, pg = d["sqlite"], d["postgresql"]
    n, windows = d["windows_with_different_hits"], d.get("windows", 0)
    if "hits_beyond_exact" in sq and "hits_beyond_exact" in pg:
        farthest = max(sq["farthest_extra_m"], pg["farthest_extra_m"])
        reference = (
            f"of {windows:,}; against the exact test (the hazard's box in doubles meets the window) "
            f"SQLite returned {sq['hits_beyond_exact']:,} extra hits, PostGIS {pg['hits_beyond_exact']:,}, "
            f"all within {farthest:.2f} m of the window; "
            f"missed: {sq['hits_missed']:,} / {pg['hits_missed']:,}"
        )
        if not sq["hits_missed"] and not pg["hits_missed"] and farthest < 1.0:
            reference += (
                " — both indexes keep float32 boxes rounded outwards, and PostGIS's && rounds the "
                "window outwards too (bench_backends.py)"
            )
    else:
        pairs = ", ".join(f"{a}/{b}" for a, b in d.get("hit_differences", []))
        reference = (
            f"of {windows:,} (SQLite/PostGIS hits: {pairs}); this run did not record which hazards "
            "differ (bench_backends.py now does)"
        )
    return _row("backends", "SQLite and PostGIS bbox answers differ", n, "windows", reference)


BUILDERS = {
    "cli": _cli_rows,
    "import": _import_rows,
    "checks": _checks_rows,
    "forecast": _forecast_rows,
    "validation": _validation_rows,
    "workplan": _workplan_rows,
    "api": _api_rows,
    "prioritise": _prioritise_rows,
    "store": _store_rows,
    "reports": _reports_rows,
    "backends": _backends_rows,
}


def summarise() -> dict[str, Any]:
    """The summary: rows of every benchmark that has results, with its run's date, size and load."""
    run = _load("run") or {}
    runs = run.get("benchmarks", {})
    rows: list[dict[str, Any]] = []
    missing, broken = [], []
    written, infos = {}, {}
    for bench, build in BUILDERS.items():
        data = _load(bench)
        if data is None:
            missing.append(bench)
            continue
        try:
            built = build(data)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            broken.append(f"{bench}: {type(exc).__name__} {exc}")
            continue
        info = runs.get(bench, {})
        if data["_mtime"] > info.get("finished", 0) + 60:
            # Written by a run of the script itself, not by run.py: its load and size are unknown.
            info = {"size": "?"}
        infos[bench] = info
        for row in built:
            row["load_mean"] = info.get("load_mean")
            row["size"] = info.get("size", "full")
        rows += built
        written[bench] = data["_written"]
    return {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "run": {k: v for k, v in run.items() if k != "benchmarks"},
        "benchmarks": {b: infos[b] | {"results_written": w} for b, w in written.items()},
        "rows": rows,
        "missing": missing,
        "unreadable": broken,
    }


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if abs(value) >= 100 or unit in ("features/s", "req/s", "findings", "defects", "windows"):
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def table_lines(summary: dict[str, Any]) -> list[str]:
    """The table as text for a terminal."""
    head = f"{'figure':<72} {'value':>10} {'unit':<10} {'ratio':>8} {'peak MB':>8} {'load':>5}  reference"
    lines = [head, "-" * len(head)]
    for r in summary["rows"]:
        lines.append(
            f"{r['figure'][:72]:<72} {_fmt(r['value'], r['unit']):>10} {r['unit']:<10} "
            f"{_fmt(r['ratio']) + ('×' if r['ratio'] is not None else ''):>8} {_fmt(r['peak_memory_mb']):>8} "
            f"{_fmt(r['load_mean']):>5}  {r['reference']}"
        )
    return lines


def markdown(summary: dict[str, Any]) -> str:
    """``docs/performance.md``: the table and how to read it."""
    m = summary["machine"]
    run = summary.get("run", {})
    out = [
        "# Performance",
        "",
        "<!-- Generated by `make bench` (benchmarks/report.py) from benchmarks/results/*.json:"
        " do not edit. -->",
        "",
        f"Measured on {m['cpus']} CPUs, Python {m['python']}, {m['platform']}; "
        f"last run {run.get('started', '?')} – {run.get('finished', '?')}, "
        f"size **{run.get('size', 'full')}**. "
        "The machine was shared with other work: *load* is the mean 1-minute load average "
        f"while the benchmark ran (the machine has {m['cpus']} cores, so a load above {m['cpus']} means "
        "every figure waited for a CPU part of the time; expect them faster on an idle machine).",
        "",
        "Ratios are measured side by side in the same run (import: ogr2ogr on the same file; "
        "forecast: the day-by-day reference simulation on the same hazards; checks: the same rules "
        "one polygon at a time).",
        "",
        "| figure | value | unit | reference | ratio | peak memory (MB) | load |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for r in summary["rows"]:
        ratio = f"{_fmt(r['ratio'])}×" if r["ratio"] is not None else ""
        meaning = f"*{r['ratio_meaning']}*" if r["ratio_meaning"] and r["ratio"] is not None else ""
        ref = " — ".join(part for part in (r["reference"], meaning) if part)
        out.append(
            f"| {r['figure'].strip()} | {_fmt(r['value'], r['unit'])} | {r['unit']} | {ref} | {ratio} | "
            f"{_fmt(r['peak_memory_mb'])} | {_fmt(r['load_mean'])} |"
        )
    out += [
        "",
        "## Runs",
        "",
        "| benchmark | wall time (s) | mean load | max load | size | results written |",
        "|---|---:|---:|---:|---|---|",
    ]
    for bench, info in summary["benchmarks"].items():
        out.append(
            f"| {bench} | {_fmt(info.get('seconds'))} | {_fmt(info.get('load_mean'))} | "
            f"{_fmt(info.get('load_max'))} | {info.get('size', '')} | {info['results_written']} |"
        )
    if summary["missing"]:
        out += [
            "",
            "No results (not run, or the benchmark is missing): " + ", ".join(summary["missing"]) + ".",
        ]
    if summary["unreadable"]:
        out += ["", "Results that could not be read: " + "; ".join(summary["unreadable"]) + "."]
    out += [
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench                      # every benchmark at full size (15–20 min on 2 cores), this page",
        "make bench BENCH_SIZE=small     # a tenth of the size, a few minutes",
        ".venv/bin/python benchmarks/run.py --only forecast,import   # some of them",
        ".venv/bin/python benchmarks/report.py                        # only rebuild the table",
        "```",
        "",
        "Each `benchmarks/bench_*.py` says in its docstring what it builds and times; the raw figures "
        "are in `benchmarks/results/*.json`, the table in `benchmarks/results/summary.json`.",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Print the table, write summary.json and (unless ``--no-docs``) docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args(argv)
    summary = summarise()
    print("\n" + "\n".join(table_lines(summary)))
    if summary["missing"]:
        print("no results: " + ", ".join(summary["missing"]))
    for problem in summary["unreadable"]:
        print("unreadable: " + problem)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {SUMMARY.relative_to(ROOT)}")
    if not args.no_docs:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(markdown(summary))
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
