"""Rendering a :class:`~demine.reports.official.Report` as HTML (Jinja2), PDF (WeasyPrint) or XLSX.

Every format is written under a temporary name beside the target and moved into place when
complete, so a failure never leaves a half-written report (or overwrites a good one).
"""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Font, PatternFill

from demine.domain.errors import DemineError
from demine.reports.catalogue import FORMATS
from demine.reports.official import Report

AREA_FORMAT = "#,##0"


def _cell(value: Any, area: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if area or abs(value) >= 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("demine.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    return env


def render_html(report: Report) -> str:
    """The report as a standalone HTML page (charts inline as SVG)."""
    template = _environment().get_template(f"{report.kind}.html.j2")
    return template.render(report=report, charts={c.key: c for c in report.charts})


def _write_atomically(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_xlsx(report: Report, path: Path) -> None:
    """One sheet per table (areas as numbers in m²), a sheet of charts, a cover sheet."""
    workbook = Workbook()
    cover = workbook.active
    cover.title = "Report"
    cover.append([report.title])
    cover["A1"].font = Font(bold=True, size=14)
    for row in (
        ["Period", report.period.label],
        ["From", report.period.start],
        ["To", report.period.end],
        ["Organisation", report.organisation or "all"],
        ["Generated", report.generated_on],
        ["Records", "approved records of the national register only"],
    ):
        cover.append(row)
    header_fill = PatternFill("solid", fgColor="EEF2F7")
    for table in report.tables:
        sheet = workbook.create_sheet(table.key[:31])
        sheet.append([table.title])
        sheet["A1"].font = Font(bold=True)
        sheet.append(table.columns)
        for cell in sheet[2]:
            cell.font = Font(bold=True)
            cell.fill = header_fill
        rows = [*table.rows, *([table.total] if table.total else [])]
        for row in rows:
            sheet.append([v if not isinstance(v, date) else v.isoformat() for v in row])
        for index in table.area_columns:
            for cells in sheet.iter_rows(min_row=3, min_col=index + 1, max_col=index + 1):
                for cell in cells:
                    cell.number_format = AREA_FORMAT
        if table.total:
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
        sheet.column_dimensions["A"].width = 36
        if table.note:
            sheet.append([])
            sheet.append([table.note])
    if report.charts:
        sheet = workbook.create_sheet("charts")
        row = 1
        for chart in report.charts:
            sheet.cell(row=row, column=1, value=chart.title).font = Font(bold=True)
            image = Image(io.BytesIO(chart.png))
            sheet.add_image(image, f"A{row + 1}")
            row += int(image.height / 20) + 3
    _write_atomically(path, lambda tmp: workbook.save(tmp))


def write_report(report: Report, fmt: str, path: str | Path) -> Path:
    """Write ``report`` as ``fmt`` (pdf, html, xlsx) to ``path``."""
    path = Path(path)
    if fmt not in FORMATS:
        raise DemineError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if path.is_dir():
        raise DemineError(f"{path} is a directory; give a file name")
    if not path.parent.exists():
        raise DemineError(f"{path.parent}: no such directory")
    if fmt == "html":
        html = render_html(report)
        _write_atomically(path, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    elif fmt == "pdf":
        import weasyprint  # heavy: imported only when a PDF is asked for

        html = render_html(report)
        _write_atomically(path, lambda tmp: weasyprint.HTML(string=html).write_pdf(tmp))
    else:
        write_xlsx(report, path)
    return path
