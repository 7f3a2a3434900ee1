"""Official reports: figures checked against the database with independent SQL, totals against
``demine summary``, every format rendered (the PDF down to pixels)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date

import pytest
from openpyxl import load_workbook
from PIL import Image, ImageStat
from sqlalchemy import text

from demine.accounts.users import add_user
from demine.domain.errors import DemineError, NotFoundError
from demine.forms.ingest import ingest_file
from demine.forms.synthetic import synthetic_submissions, write_kobo_xlsx
from demine.reports.official import build_report
from demine.reports.period import parse_period
from demine.reports.render import render_html, write_report
from demine.reports.summary import programme_summary
from demine.workflow import submissions as wf

WHOLE = "2000-01-01..2026-12-31"


def test_periods():
    may = parse_period("2026-05")
    assert (may.start, may.end, may.kind, may.label) == (
        date(2026, 5, 1),
        date(2026, 5, 31),
        "month",
        "May 2026",
    )
    assert parse_period("2024-02").end == date(2024, 2, 29)
    year = parse_period("2025")
    assert (year.start, year.end, len(year.months())) == (date(2025, 1, 1), date(2025, 12, 31), 12)
    span = parse_period("2025-03-15..2025-04-02")
    assert (span.start, span.end, len(span.months())) == (date(2025, 3, 15), date(2025, 4, 2), 2)
    for bad in ("2026-13", "May 2026", "2025-12-31..2025-01-01", "", "2026-02-30..2026-03-01", "26"):
        with pytest.raises(DemineError, match="--period"):
            parse_period(bad)


def _sql(conn, sql, **params):
    return conn.execute(text(sql), params).all()


def test_monthly_figures_match_independent_sql(demo_db):
    period = parse_period("2025-05")
    args = {"a": period.start, "b": period.end}
    with demo_db.connect() as conn:
        report = build_report(conn, "monthly", period)
        released = dict(
            _sql(
                conn,
                "SELECT method, SUM(released_area_m2) FROM release_product "
                "WHERE released_on >= :a AND released_on <= :b GROUP BY method",
                **args,
            )
        )
        by_org = _sql(
            conn,
            "SELECT o.code, p.method, SUM(p.released_area_m2) FROM release_product p "
            "JOIN hazard h ON h.id = p.hazard_id LEFT JOIN activity a ON a.id = p.activity_id "
            "JOIN organisation o ON o.id = COALESCE(a.organisation_id, h.organisation_id) "
            "WHERE p.released_on >= :a AND p.released_on <= :b GROUP BY o.code, p.method",
            **args,
        )
        found = dict(
            _sql(
                conn,
                "SELECT category, SUM(quantity) FROM eo_find WHERE found_on >= :a AND found_on <= :b "
                "GROUP BY category",
                **args,
            )
        )
        destroyed = dict(
            _sql(
                conn,
                "SELECT category, SUM(quantity) FROM eo_find WHERE found_on >= :a AND found_on <= :b "
                "AND disposal_method IN ('in_situ', 'moved_destroyed') GROUP BY category",
                **args,
            )
        )
        accidents = _sql(
            conn, "SELECT COUNT(*) FROM accident WHERE occurred_on >= :a AND occurred_on <= :b", **args
        )
    assert released, "the demo releases land every month"
    for method in ("cancelled", "reduced", "cleared"):
        assert report.totals["released_m2"][method] == pytest.approx(released.get(method, 0.0))
    table = next(t for t in report.tables if t.key == "released_by_organisation")
    cells = {
        (row[0], m): row[i + 1]
        for row in table.rows
        for i, m in enumerate(("cancelled", "reduced", "cleared"))
    }
    for org, method, area in by_org:
        assert cells[(org, method)] == pytest.approx(area)
    assert report.totals["eo_found"] == found
    assert report.totals["eo_destroyed"] == destroyed
    assert report.totals["accidents"] == accidents[0][0]


def test_totals_over_the_whole_history_match_the_summary(demo_db):
    period = parse_period(WHOLE)
    with demo_db.connect() as conn:
        summary = programme_summary(conn)
        monthly = build_report(conn, "monthly", period)
        annual = build_report(conn, "annual", period)
    area = summary["area"]
    for report in (monthly, annual):
        t = report.totals
        for method in ("cancelled", "reduced", "cleared"):
            assert t["released_m2"][method] == pytest.approx(area[f"{method}_m2"], rel=1e-9)
        assert t["released_m2"]["total"] == pytest.approx(area["released_m2"], rel=1e-9)
        assert t["eo_found"] == summary["eo_found"]
        assert t["accidents"] == summary["accidents"]
        assert t["victims"] == summary["victims"]
    assert annual.totals["remaining_m2"] == pytest.approx(area["remaining_m2"], rel=1e-6)
    assert annual.totals["original_m2"] == pytest.approx(area["original_m2"], rel=1e-9)
    open_count = sum(r["count"] for r in summary["hazards"]["by_type_status"] if r["status"] == "open")
    assert annual.totals["open_hazards"] == open_count


def test_annual_state_is_the_state_at_the_end_of_the_period(demo_db):
    with demo_db.connect() as conn:
        report = build_report(conn, "annual", parse_period("2024"))
        remaining = _sql(
            conn,
            "SELECT SUM(change_m2) FROM hazard_area_event WHERE occurred_on <= :d",
            d=date(2024, 12, 31),
        )[0][0]
    assert report.totals["remaining_m2"] == pytest.approx(remaining, rel=1e-9)


def test_article7_tables_match_independent_sql(demo_db):
    period = parse_period("2025")
    with demo_db.connect() as conn:
        report = build_report(conn, "article7", period)
        released = _sql(
            conn,
            "SELECT SUM(p.released_area_m2) FROM release_product p JOIN hazard h ON h.id = p.hazard_id "
            "WHERE p.released_on >= :a AND p.released_on <= :b "
            "AND (',' || h.eo_categories || ',') LIKE '%,apm,%'",
            a=period.start,
            b=period.end,
        )[0][0]
        apm_found = _sql(
            conn,
            "SELECT COALESCE(SUM(quantity), 0) FROM eo_find WHERE category = 'apm' "
            "AND disposal_method IN ('in_situ', 'moved_destroyed') AND found_on >= :a AND found_on <= :b",
            a=period.start,
            b=period.end,
        )[0][0]
        areas = _sql(
            conn,
            "SELECT h.id, SUM(e.change_m2) FROM hazard h JOIN hazard_area_event e ON e.hazard_id = h.id "
            "WHERE e.occurred_on <= :d AND (',' || h.eo_categories || ',') LIKE '%,apm,%' GROUP BY h.id",
            d=period.end,
        )
    open_areas = [m2 for _, m2 in areas if m2 > 0.5]
    assert report.totals["apm_areas"] == len(open_areas) > 0
    assert report.totals["apm_remaining_m2"] == pytest.approx(sum(open_areas))
    assert report.totals["apm_released_m2"]["total"] == pytest.approx(released or 0.0)
    assert report.totals["apm_destroyed"] == apm_found
    table = next(t for t in report.tables if t.key == "apm_areas")
    assert table.total[5] == len(open_areas)
    assert sum(r[5] for r in table.rows) == len(open_areas)


def test_organisation_filter_and_unknown_organisation(demo_db):
    period = parse_period(WHOLE)
    with demo_db.connect() as conn:
        everyone = build_report(conn, "monthly", period)
        parts = [
            build_report(conn, "monthly", period, org)
            for org in ("HDT", "SAFEFIELD", "CLEARCO", "CDS", "NMAA")
        ]
        with pytest.raises(NotFoundError, match="NOPE"):
            build_report(conn, "monthly", period, "NOPE")
    total = sum(p.totals["released_m2"]["total"] for p in parts)
    assert total == pytest.approx(everyone.totals["released_m2"]["total"])


def test_pending_submissions_do_not_count_until_approved(demo_copy, tmp_path):
    today = date(2026, 11, 20)
    period = parse_period("2026-07-01..2026-11-30")
    with demo_copy.connect() as conn:
        before = build_report(conn, "monthly", period).totals
        subs = synthetic_submissions(conn, "eo_find", 5, seed=4, today=today)
    path = write_kobo_xlsx("eo_find", subs, tmp_path / "finds.xlsx")
    result = ingest_file(demo_copy, path, rejects=tmp_path / "r.csv", today=today)
    assert result.staged == 5
    with demo_copy.connect() as conn:
        pending = build_report(conn, "monthly", period).totals
    assert pending == before
    with demo_copy.begin() as conn:
        v, a = add_user(conn, "v.two", "im_officer"), add_user(conn, "a.two", "im_officer")
        for sid in result.submissions:
            s = wf.verify(conn, v, sid, 1, today=today)
            wf.approve(conn, a, sid, s["version"], today=today)
    with demo_copy.connect() as conn:
        after = build_report(conn, "monthly", period).totals
    added = sum(int(s.values["quantity"]) for s in subs)
    assert sum(after["eo_found"].values()) == sum(before["eo_found"].values()) + added


@pytest.fixture(scope="module")
def pdftoppm():
    """``pdftoppm`` from poppler-utils, installed when missing (we are root in CI)."""
    if shutil.which("pdftoppm") is None:
        subprocess.run(
            ["apt-get", "install", "-y", "poppler-utils"], capture_output=True, timeout=600, check=False
        )
    path = shutil.which("pdftoppm")
    if path is None:
        pytest.fail("pdftoppm is not available and poppler-utils could not be installed")
    return path


@pytest.mark.parametrize(
    ("kind", "period"), [("monthly", "2026-05"), ("annual", "2025"), ("article7", "2025")]
)
def test_every_format_renders(demo_db, tmp_path, pdftoppm, kind, period):
    with demo_db.connect() as conn:
        report = build_report(conn, kind, parse_period(period))
    html = render_html(report)
    for table in report.tables:
        assert table.title.replace("'", "&#39;") in html or table.title in html
    assert html.count("<svg") == sum(1 for c in report.charts if not c.raster)
    assert html.count("data:image/png;base64,") == 1  # the map

    xlsx = write_report(report, "xlsx", tmp_path / "r.xlsx")
    book = load_workbook(xlsx)
    assert {t.key[:31] for t in report.tables} <= set(book.sheetnames)
    first = report.tables[0]
    sheet = book[first.key[:31]]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert len(rows) >= len(first.rows) + (1 if first.total else 0)
    if first.total:
        written = rows[len(first.rows)][: len(first.total)]
        for got, want in zip(written, first.total, strict=True):
            assert got == (pytest.approx(want) if isinstance(want, float) else (want if want != "" else None))
    assert book["charts"]._images

    pdf = write_report(report, "pdf", tmp_path / "r.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(
        [pdftoppm, "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True
    )
    png = next(tmp_path.glob("page*.png"))
    image = Image.open(png).convert("L")
    stat = ImageStat.Stat(image)
    # Not blank: dark text and chart ink on the page, a spread of grey levels.
    assert stat.stddev[0] > 10
    assert sum(image.histogram()[:128]) > 500


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "demine", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_cli_report_json_and_bad_input(demo, tmp_path):
    out = tmp_path / "monthly.html"
    proc = _run("report", "monthly", out, "--period", "2026-05", "--db", demo.path, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["format"] == "html" and out.read_text().startswith("<!DOCTYPE html>")
    assert data["totals"]["released_m2"]["total"] > 0
    for args, message in (
        (("monthly", tmp_path / "a.pdf", "--period", "May-2026"), "--period"),
        (("monthly", tmp_path / "b.pdf", "--period", "2026-05", "--organisation", "NOPE"), "NOPE"),
        (("monthly", tmp_path / "c.doc", "--period", "2026-05"), "--format"),
        (("monthly", tmp_path / "d.pdf", "--period", "2026-05", "--format", "docx"), "docx"),
        (("quarterly", tmp_path / "e.pdf", "--period", "2026-05"), "quarterly"),
    ):
        proc = _run("report", *args, "--db", demo.path)
        # Click refuses an unknown kind (usage, 2); demine a value (3) or organisation (not found, 4).
        expected = {"NOPE": 4, "quarterly": 2}.get(message, 3)
        assert proc.returncode == expected, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert not args[1].exists()
