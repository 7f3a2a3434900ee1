"""Reading submissions as KoboToolbox and ODK Central export them.

Formats (picked by the file's extension, then recognised by their columns):

* **KoboToolbox XLSX**: the main sheet first, then one sheet per repeat group; the main sheet
  has ``_uuid``, ``_submission_time`` and ``_index``, a repeat sheet ``_parent_index`` (the
  ``_index`` of its submission) and ``_parent_table_name``.
* **KoboToolbox CSV**: the main table alone (``;`` or ``,`` separated), the same columns.
* **KoboToolbox GeoJSON**: a FeatureCollection, one feature per submission, the first geo
  question as the geometry, repeats (if any) as lists of objects in the properties.
* **KoboToolbox API JSON** (``.json``): a page of ``/api/v2/assets/<uid>/data/`` (its
  ``results``) or a bare list of the same records, read like the GeoJSON's properties.
* **ODK Central CSV zip**: ``<form>.csv`` with ``KEY`` and ``meta-instanceID``, and one
  ``<form>-<repeat>.csv`` per repeat whose ``PARENT_KEY`` is its submission's ``KEY``;
  geopoints split into ``-Latitude``/``-Longitude``/``-Altitude``/``-Accuracy`` columns.

Column names keep their group path (``group/question`` in Kobo, ``group-question`` in
Central); questions are looked up by their last segment. Anything that is not one of these
exports is a :class:`~demine.domain.errors.DemineError`, raised before anything is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from demine.domain.errors import DemineError

UUID_COLUMNS = ("meta/instanceID", "meta-instanceID", "instanceID", "_uuid", "KEY")
PARENT_COLUMNS = ("_parent_index", "PARENT_KEY")
ODK_META = {
    "KEY",
    "PARENT_KEY",
    "SubmissionDate",
    "SubmitterID",
    "SubmitterName",
    "AttachmentsPresent",
    "AttachmentsExpected",
    "Status",
    "ReviewState",
    "DeviceID",
    "Edits",
    "FormVersion",
}
_GEOPOINT_PART = re.compile(r"^(?P<base>.+?)[-/](?P<part>Latitude|Longitude|Altitude|Accuracy)$")
MAX_CELL = 5_000_000  # characters; a larger cell is not a field answer


@dataclass
class ExportedSubmission:
    """One submission: its row in the main table, instance id, answers and repeat rows."""

    row: int
    uuid: str | None
    submitted_at: str | None
    values: dict[str, Any]
    repeats: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    geometry: Any = None  # a GeoJSON geometry (GeoJSON exports)


@dataclass
class Export:
    """An export file read into submissions."""

    path: Path
    format: str  # kobo_xlsx, kobo_csv, kobo_geojson, kobo_json, odk_zip, odk_csv
    name_hint: str  # the main sheet's or file's name (often the form id or title)
    columns: list[str]  # question names of the main table
    submissions: list[ExportedSubmission]


@dataclass
class _Table:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]


def field_name(column: str) -> str:
    """The question a column holds: the last segment of its group path."""
    column = str(column).strip()
    if column.startswith("_") or column in ODK_META:
        return column
    return re.split(r"[/-]", column)[-1]


def question_names(columns: list[str]) -> list[str]:
    """The questions a table's columns hold, once each: Central's four geopoint columns are one."""
    names: list[str] = []
    for column in columns:
        match = _GEOPOINT_PART.match(str(column))
        name = field_name(match["base"] if match else column)
        if name not in names:
            names.append(name)
    return names


def instance_uuid(value: Any) -> str | None:
    """An instance id without its ``uuid:`` prefix; None when blank."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower().startswith("uuid:"):
        text = text[5:]
    text = text.split("/", 1)[0]  # ODK repeat keys: uuid:…/victims[1]
    return text or None


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_CELL:
            return value[:MAX_CELL]
        return value
    return value


def _answers(row: dict[str, Any]) -> dict[str, Any]:
    """A row's answers keyed by question name; ODK's split geopoints joined back into one."""
    out: dict[str, Any] = {}
    parts: dict[str, dict[str, Any]] = {}
    for column, value in row.items():
        match = _GEOPOINT_PART.match(str(column))
        if match:
            parts.setdefault(field_name(match["base"]), {})[match["part"]] = value
            continue
        name = field_name(column)
        # Kobo writes a select_multiple's 0/1 columns (question/choice) after the question
        # itself: the first column of a name wins.
        out.setdefault(name, _cell(value))
    for name, p in parts.items():
        if out.get(name) in (None, ""):
            lat, lon = p.get("Latitude"), p.get("Longitude")
            if lat not in (None, "") and lon not in (None, ""):
                out[name] = " ".join(
                    str(p.get(k) or 0) for k in ("Latitude", "Longitude", "Altitude", "Accuracy")
                )
    return out


def _first(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return value
    return None


def _read_csv_text(text: str, name: str) -> _Table:
    sample = text[:20_000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise DemineError(f"{name}: the file is empty") from None
    except csv.Error as exc:
        raise DemineError(f"{name}: not a CSV file ({exc})") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    rows: list[dict[str, Any]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            rows.append({h: (v if v != "" else None) for h, v in zip(header, values, strict=False)})
    except csv.Error as exc:
        raise DemineError(f"{name}: not a CSV file ({exc})") from None
    return _Table(name, header, rows)


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DemineError(f"{name}: the text is neither UTF-8 nor Windows-1252")


def _read_xlsx(path: Path) -> list[_Table]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a file that is not a workbook
        raise DemineError(f"{path.name}: not an Excel workbook ({type(exc).__name__}: {exc})") from None
    tables = []
    try:
        for sheet in workbook.worksheets:
            rows_iter = sheet.iter_rows(values_only=True)
            header_row = next(rows_iter, None)
            if not header_row:
                continue
            header = [str(h).strip() if h is not None else "" for h in header_row]
            rows = []
            for values in rows_iter:
                if values is None or all(v is None or v == "" for v in values):
                    continue
                rows.append({h: v for h, v in zip(header, values, strict=False) if h})
            tables.append(_Table(sheet.title, header, rows))
    finally:
        workbook.close()
    return tables


def _read_zip(path: Path) -> list[_Table]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DemineError(f"{path.name}: not a zip archive ({exc})") from None
    tables = []
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.lower().endswith(".csv"):
                continue
            name = Path(info.filename).stem
            tables.append(_read_csv_text(_decode(archive.read(info), info.filename), name))
    return tables


def _read_geojson(path: Path) -> Export:
    try:
        data = json.loads(_decode(path.read_bytes(), path.name))
    except json.JSONDecodeError as exc:
        raise DemineError(f"{path.name}: not JSON ({exc})") from None
    features = data.get("features") if isinstance(data, dict) else None
    fmt = "kobo_geojson"
    # The KoboToolbox API (/api/v2/assets/<uid>/data/) pages its submissions under "results"
    # (its v1 API and Ona's give the bare list): the records are the flat "group/question"
    # objects a GeoJSON export has as properties, only without a feature geometry.
    records = data.get("results") if isinstance(data, dict) and features is None else data
    if features is None and isinstance(records, list) and all(isinstance(r, dict) for r in records):
        features = [{"properties": r, "geometry": None} for r in records]
        fmt = "kobo_json"
    if not isinstance(features, list):
        raise DemineError(
            f"{path.name}: not a GeoJSON FeatureCollection (no 'features' list) "
            "nor KoboToolbox API data (no 'results' list)"
        )
    submissions: list[ExportedSubmission] = []
    columns: list[str] = []
    for number, feature in enumerate(features, start=1):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        properties = properties if isinstance(properties, dict) else {}
        for key in properties:
            if key not in columns:
                columns.append(key)
        scalars = {k: v for k, v in properties.items() if not isinstance(v, list | dict)}
        repeats = {
            field_name(k): [_answers(r) for r in v if isinstance(r, dict)]
            for k, v in properties.items()
            if isinstance(v, list) and all(isinstance(r, dict) for r in v)
        }
        submissions.append(
            ExportedSubmission(
                row=number,
                uuid=instance_uuid(_first(scalars, UUID_COLUMNS)),
                submitted_at=_text(_first(scalars, ("_submission_time", "SubmissionDate"))),
                values=_answers(scalars),
                repeats=repeats,
                raw=scalars,
                geometry=feature.get("geometry") if isinstance(feature, dict) else None,
            )
        )
    if features and not any(c in columns for c in UUID_COLUMNS):
        raise DemineError(
            f"{path.name}: not a KoboToolbox or ODK Central export: no _uuid or meta/instanceID property"
        )
    return Export(path, fmt, path.stem, [field_name(c) for c in columns], submissions)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _assemble(path: Path, tables: list[_Table], fmt: str) -> Export:
    main = next(
        (
            t
            for t in tables
            if any(c in t.columns for c in UUID_COLUMNS) and not any(c in t.columns for c in PARENT_COLUMNS)
        ),
        None,
    )
    if main is None:
        if any(any(c in t.columns for c in PARENT_COLUMNS) for t in tables):
            raise DemineError(
                f"{path.name}: holds only a repeat group's rows; give the export with the main table"
            )
        raise DemineError(
            f"{path.name}: not a KoboToolbox or ODK Central export "
            f"(no table with a {', '.join(UUID_COLUMNS)} column)"
        )
    odk = "KEY" in main.columns
    fmt = fmt if not odk else ("odk_zip" if fmt == "zip" else "odk_csv")
    if fmt == "zip":
        fmt = "kobo_zip"
    submissions: list[ExportedSubmission] = []
    by_link: dict[Any, ExportedSubmission] = {}
    for number, row in enumerate(main.rows, start=1):
        sub = ExportedSubmission(
            row=number,
            uuid=instance_uuid(_first(row, UUID_COLUMNS)),
            submitted_at=_text(_first(row, ("_submission_time", "SubmissionDate"))),
            values=_answers(row),
            raw=row,
        )
        submissions.append(sub)
        link = row.get("KEY") if odk else row.get("_index")
        if link not in (None, ""):
            by_link[str(link).strip() if odk else _index(link)] = sub
    for table in tables:
        if table is main or not any(c in table.columns for c in PARENT_COLUMNS):
            continue
        # Kobo names a repeat sheet after the group; Central names the file <form>-<group>.
        repeat = field_name(table.name.rsplit("-", 1)[-1] if odk else table.name)
        for row in table.rows:
            parent = row.get("PARENT_KEY") if odk else _index(row.get("_parent_index"))
            owner = by_link.get(str(parent).strip() if odk and parent is not None else parent)
            if owner is not None:
                owner.repeats.setdefault(repeat, []).append(_answers(row))
    return Export(path, fmt, main.name, question_names(main.columns), submissions)


def _index(value: Any) -> Any:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return value


def read_export(path: str | Path) -> Export:
    """Read a KoboToolbox or ODK Central export; a :class:`DemineError` if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise DemineError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _assemble(path, _read_xlsx(path), "kobo_xlsx")
    if suffix in (".csv", ".txt"):
        table = _read_csv_text(_decode(path.read_bytes(), path.name), path.stem)
        return _assemble(path, [table], "kobo_csv")
    if suffix == ".zip":
        return _assemble(path, _read_zip(path), "zip")
    if suffix in (".geojson", ".json"):
        return _read_geojson(path)
    raise DemineError(f"{path.name}: not an export this reads (.xlsx, .csv, .zip of CSVs, .geojson)")
