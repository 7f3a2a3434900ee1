"""Reading features from whatever file an operator sent, in batches of bounded size.

Three readers share one interface (:class:`Source`):

* **GDAL** (through pyogrio) for every vector format it reads — GeoPackage, Shapefile
  (also zipped: ``/vsizip/``), GeoJSON, KML, FlatGeobuf, GML, MapInfo, ODS ... Features are
  streamed through GDAL's Arrow interface (:mod:`demine.ingest.arrow`) one batch at a time,
  so a 100,000-feature file never sits in memory as Python objects;
* **CSV** with Python's ``csv`` module, so each row's problems (a short row, an odd
  encoding) stay that row's, with the separator sniffed and the encoding detected;
* **XLSX** with openpyxl in read-only (streaming) mode.

A source yields :class:`RawBatch` objects: the original attributes of each feature and, for
GDAL formats with a geometry column, its WKB. Geometry held in columns (WKT, lon/lat) is
picked out later by :mod:`demine.ingest.mapping`, for any source without a native geometry.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import re
import sys
import warnings
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyogrio
import pyogrio.errors
import pyogrio.raw

from demine.domain.errors import DemineError
from demine.ingest.arrow import ArrowBatchReader, ArrowStreamError

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
WKB_EXTENSIONS = ("geoarrow.wkb", "ogc.wkb")

# csv's default limit (128 KiB per field) is too small for the WKT of a detailed polygon.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class SourceError(DemineError):
    """The file cannot be read at all (not found, not a format we read, damaged)."""


@dataclass
class RawBatch:
    """Consecutive features of a source: their attributes and (GDAL) geometries as WKB."""

    first_row: int  # 1-based number of the first feature of the batch in the source
    attributes: list[dict[str, Any]]
    wkb: list[bytes | None] | None = None

    def __len__(self) -> int:
        return len(self.attributes)


class Source(ABC):
    """A layer of features to import."""

    def __init__(self, path: Path, layer: str | None, source_format: str) -> None:
        self.path = path
        self.layer = layer
        self.format = source_format
        self.columns: list[str] = []
        self.crs: str | None = None  # as the file declares it; None when it says nothing
        self.encoding: str | None = None
        self.has_geometry = False
        self.warnings: list[str] = []

    @abstractmethod
    def batches(self, size: int) -> Iterator[RawBatch]:
        """The features in source order, ``size`` at a time."""

    def _open_options(self) -> dict[str, str]:
        # GeoJSON has no date type: GDAL guesses one from the text and turns "2026-02-30" into
        # 2 March on its way to Arrow. Read such values as text, so that they are checked as
        # dates the same way as in a CSV or XLSX file (and refused when impossible).
        return {"DATE_AS_STRING": "YES"} if self.format == "GeoJSON" else {}

    def count(self) -> int | None:
        """How many features there are, when that is cheap to learn (for a progress bar)."""
        return None

    def close(self) -> None:  # noqa: B027 - most sources open their file only while reading
        """Release the file."""


def _choose_layer(path: Path, layers: Sequence[str], layer: str | None, preferred: Sequence[str]) -> str:
    if layer is not None:
        if layer not in layers:
            raise SourceError(f"{path.name} has no layer {layer!r}; its layers: {', '.join(layers)}")
        return layer
    # QGIS's styles (demine's exported GeoPackages carry them) are never the data.
    layers = [name for name in layers if name != "layer_styles"]
    if len(layers) == 1:
        return layers[0]
    for name in preferred:
        if name in layers:
            return name
    if not layers:
        raise SourceError(f"{path.name} has no layers")
    raise SourceError(f"{path.name} has {len(layers)} layers; choose one with --layer: {', '.join(layers)}")


# What GDAL raises for a file or layer it cannot open; a field name that is not UTF-8 surfaces
# from pyogrio as UnicodeDecodeError.
_UNREADABLE = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, UnicodeDecodeError)


class GdalSource(Source):
    """Any vector format GDAL reads, streamed through its Arrow interface.

    GDAL's warnings (a feature given a NULL geometry, a field value it could not convert)
    are collected into :attr:`warnings` for the import report instead of going to stderr.
    """

    MAX_WARNINGS = 10

    def __init__(self, path: Path, layer: str | None, encoding: str | None, preferred: Sequence[str]) -> None:
        self.vsi = f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)
        self._gdal_warnings: dict[str, int] = {}
        try:
            with self._collect():
                layers = [str(name) for name, _ in pyogrio.list_layers(self.vsi)]
        except _UNREADABLE as exc:
            raise SourceError(f"cannot read {path.name} as a GIS file: {_gdal_message(exc)}") from exc
        chosen = _choose_layer(path, layers, layer, preferred)
        super().__init__(path, chosen, "")
        self.user_encoding = encoding
        try:
            with self._collect():
                info = pyogrio.read_info(self.vsi, layer=chosen, encoding=encoding)
        except _UNREADABLE as exc:
            raise SourceError(f"cannot read layer {chosen!r} of {path.name}: {_gdal_message(exc)}") from exc
        self.format = str(info.get("driver") or "GDAL")
        self.crs = info.get("crs")
        self.encoding = info.get("encoding") or encoding
        self._info = info
        self.has_geometry = info.get("geometry_type") is not None
        self.columns = [str(c) for c in info["fields"]]

    @contextlib.contextmanager
    def _collect(self) -> Iterator[None]:
        # Only around calls into GDAL: the importer's own warnings must not be swallowed.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for warning in caught:
            message = " ".join(str(warning.message).split())
            self._gdal_warnings[message] = self._gdal_warnings.get(message, 0) + 1

    @property
    def warnings_text(self) -> list[str]:
        """GDAL's warnings, each once, with how often it was given."""
        items = list(self._gdal_warnings.items())
        out = [f"GDAL: {m}" + (f" (×{n})" if n > 1 else "") for m, n in items[: self.MAX_WARNINGS]]
        if len(items) > self.MAX_WARNINGS:
            out.append(f"GDAL: {len(items) - self.MAX_WARNINGS} more kinds of warning")
        return out

    def _date_columns(self) -> list[str]:
        """Date and date-time columns GDAL parses itself (GeoJSON's are read as text already)."""
        if self.format == "GeoJSON":
            return []
        dtypes = self._info.get("dtypes")
        if dtypes is None:
            return []
        return [c for c, t in zip(self.columns, dtypes, strict=True) if str(t).startswith("datetime64")]

    def _dates_as_text_query(self) -> dict[str, str]:
        """Read each date column a second time as the text in the file.

        GDAL turns an impossible date such as 2026-02-30 into 2026-03-02 on its way to Arrow,
        which would store a date nobody wrote. Its SQL layer casts the field to text without
        that arithmetic, so the importer can refuse the value as it does in a CSV file.
        """
        columns = self._date_columns()
        if not columns:
            return {}
        casts = ", ".join(
            f"CAST({_quoted(c)} AS CHARACTER(64)) AS {_quoted(_TEXT_PREFIX + c)}" for c in columns
        )
        dialect = "SQLITE" if self.format == "GPKG" else "OGRSQL"
        return {"sql": f"SELECT *, {casts} FROM {_quoted(self.layer)}", "sql_dialect": dialect}

    def count(self) -> int | None:
        features = self._info.get("features")
        return int(features) if features is not None and features >= 0 else None

    def batches(self, size: int) -> Iterator[RawBatch]:
        row = 1
        try:
            with self._collect():
                # A date-reading query names the layer itself (pyogrio takes one or the other).
                which = self._dates_as_text_query() or {"layer": self.layer}
                opened = pyogrio.raw.open_arrow(
                    self.vsi,
                    encoding=self.user_encoding,
                    batch_size=size,
                    datetime_as_string=True,
                    **self._open_options(),
                    **which,
                )
                _meta, stream = opened.__enter__()
            try:
                with self._collect():
                    reader = ArrowBatchReader(stream)
                    batches = iter(reader)
                geometry_column = next(
                    (
                        name
                        for name, meta in zip(reader.columns, reader.metadata, strict=True)
                        if meta.get("ARROW:extension:name") in WKB_EXTENSIONS
                    ),
                    None,
                )
                if reader.unsupported:
                    self.warnings.append(
                        "columns of a type demine cannot read were imported as empty: "
                        + ", ".join(reader.unsupported)
                    )
                while True:
                    with self._collect():
                        batch = next(batches, None)
                    if batch is None:
                        break
                    wkb = batch.pop(geometry_column) if geometry_column else None
                    _keep_impossible_dates(batch, self._date_columns())
                    names = list(batch)
                    n = len(wkb) if wkb is not None else (len(batch[names[0]]) if names else 0)
                    columns = [batch[name] for name in names]
                    attributes = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
                    if not names:
                        attributes = [{} for _ in range(n)]
                    yield RawBatch(row, attributes, wkb)
                    row += n
                reader.close()
            finally:
                with self._collect():
                    opened.__exit__(None, None, None)
                self.warnings.extend(w for w in self.warnings_text if w not in self.warnings)
        except (
            ArrowStreamError,
            pyogrio.errors.DataSourceError,
            pyogrio.errors.DataLayerError,
            UnicodeDecodeError,
        ) as exc:
            raise SourceError(
                f"{self.path.name} is damaged: reading stopped after {row - 1} features "
                f"({_gdal_message(exc)})"
            ) from exc


_TEXT_PREFIX = "__demine_text__"
_DATE_TEXT = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _keep_impossible_dates(batch: dict[str, list[Any]], columns: list[str]) -> None:
    """Put back the file's own text where GDAL rolled an impossible date over into another one.

    A valid date keeps GDAL's value; an impossible one becomes its text (``2026-02-30``), which
    the field's parser refuses with the row and the reason.
    """
    for column in columns:
        texts = batch.pop(_TEXT_PREFIX + column, None)
        if texts is None:
            continue
        values = batch[column]
        for i, text in enumerate(texts):
            match = _DATE_TEXT.match(text) if isinstance(text, str) else None
            if match is None:
                continue
            year, month, day = (int(part) for part in match.groups())
            try:
                date(year, month, day)
            except ValueError:
                values[i] = f"{year:04d}-{month:02d}-{day:02d}{text[match.end() :]}"


def _gdal_message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def detect_encoding(path: Path, chunk: int = 1 << 20) -> str:
    """The text encoding of a file: UTF-8 (with or without BOM), UTF-16 by BOM, else cp1252/Latin-1.

    The whole file is checked incrementally (constant memory): one stray byte deep in a large
    file must not turn a UTF-8 file into mojibake, nor a Windows file into a crash.
    """
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for candidate in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(candidate)()
        try:
            with path.open("rb") as f:
                while block := f.read(chunk):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
            return candidate
        except UnicodeDecodeError:
            continue
    return "latin-1"  # every byte is a Latin-1 character: this cannot fail


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(names):
        name = raw.strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _dialect(header: str) -> type[csv.Dialect]:
    """Excel's CSV dialect with the separator that splits the header line into most names.

    The header decides, not a sniffer reading the data: values (WKT, free text) are full of
    commas, semicolons and spaces that say nothing about the separator.
    """
    best = max(",;\t|", key=lambda sep: (len(next(csv.reader([header], delimiter=sep), [])), sep == ","))

    class Dialect(csv.excel):
        delimiter = best

    return Dialect


class CsvSource(Source):
    """A delimited text file with a header row."""

    def __init__(self, path: Path, encoding: str | None) -> None:
        super().__init__(path, None, "CSV")
        try:
            self.encoding = encoding or detect_encoding(path)
            codecs.lookup(self.encoding)
        except LookupError as exc:
            raise SourceError(f"unknown encoding {encoding!r}") from exc
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
        if self.encoding in ("cp1252", "latin-1") and encoding is None:
            self.warnings.append(f"{path.name} is not UTF-8; read it as {self.encoding}")
        try:
            with self._open() as f:
                first_line = f.readline()
            self.dialect: Any = _dialect(first_line)
            with self._open() as f:
                header = next(csv.reader(f, self.dialect), None)
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{path.name} is not {self.encoding} text ({exc.reason}); try --encoding"
            ) from exc
        except csv.Error as exc:
            raise SourceError(f"{path.name}: {exc}") from exc
        if not header:
            raise SourceError(f"{path.name} is empty: a CSV file needs a header row")
        self.columns = _unique(header)

    def _open(self) -> Any:
        return self.path.open(encoding=self.encoding, newline="", errors="strict")

    def count(self) -> int | None:
        # Only for the progress bar: a file that fails here fails properly when it is read.
        try:
            with self._open() as f:
                return sum(1 for row in csv.reader(f, self.dialect) if any(v.strip() for v in row)) - 1
        except (csv.Error, UnicodeDecodeError):
            return None

    def batches(self, size: int) -> Iterator[RawBatch]:
        width = len(self.columns)
        row, pending = 1, []
        with self._open() as f:
            reader = csv.reader(f, self.dialect)
            next(reader, None)
            try:
                for values in reader:
                    if not any(v.strip() for v in values):
                        continue  # blank lines are not features
                    record: dict[str, Any] = dict(zip(self.columns, values, strict=False))
                    if len(values) > width:
                        record["_extra"] = values[width:]
                    pending.append(record)
                    if len(pending) >= size:
                        yield RawBatch(row, pending)
                        row += len(pending)
                        pending = []
            except csv.Error as exc:
                raise SourceError(f"{self.path.name}, line {reader.line_num}: {exc}") from exc
            except UnicodeDecodeError as exc:
                where = f"{self.path.name} after line {reader.line_num}"
                raise SourceError(f"{where} is not {self.encoding} text; try --encoding") from exc
        if pending:
            yield RawBatch(row, pending)


class XlsxSource(Source):
    """The first row of a sheet names the columns; each later non-blank row is a feature."""

    def __init__(self, path: Path, layer: str | None, preferred: Sequence[str]) -> None:
        import openpyxl  # imported here: only XLSX imports pay for it

        try:
            self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (
            OSError,
            zipfile.BadZipFile,
            KeyError,
            ValueError,
            openpyxl.utils.exceptions.InvalidFileException,
        ) as exc:
            raise SourceError(f"cannot read {path.name} as an XLSX workbook: {exc}") from exc
        try:
            sheet = _choose_layer(path, self._book.sheetnames, layer, preferred)
            super().__init__(path, sheet, "XLSX")
            self.encoding = "utf-8"
            self._sheet = self._book[sheet]
            first = next(self._sheet.iter_rows(max_row=1, values_only=True), None)
            if not first or all(v is None for v in first):
                raise SourceError(f"sheet {sheet!r} of {path.name} has no header row")
        except BaseException:
            self._book.close()
            raise
        self.columns = _unique(["" if v is None else str(v) for v in first])

    def count(self) -> int | None:
        rows = self._sheet.max_row
        return rows - 1 if rows else None

    def batches(self, size: int) -> Iterator[RawBatch]:
        width = len(self.columns)
        row, pending = 1, []
        for values in self._sheet.iter_rows(min_row=2, values_only=True):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            record: dict[str, Any] = {
                name: (v.date() if isinstance(v, datetime) and v.time() == datetime.min.time() else v)
                for name, v in zip(self.columns, values, strict=False)
            }
            if len(values) > width and any(v is not None for v in values[width:]):
                record["_extra"] = [v for v in values[width:] if v is not None]
            pending.append(record)
            if len(pending) >= size:
                yield RawBatch(row, pending)
                row += len(pending)
                pending = []
        if pending:
            yield RawBatch(row, pending)
        self.close()

    def close(self) -> None:
        """Close the workbook (openpyxl keeps it open in read-only mode)."""
        self._book.close()


def open_source(
    path: str | Path,
    layer: str | None = None,
    encoding: str | None = None,
    preferred_layers: Sequence[str] = (),
) -> Source:
    """Open a file for import; raises :class:`SourceError` with a plain message when it cannot."""
    path = Path(path).expanduser()
    if not path.exists():
        raise SourceError(f"no file {path}")
    if path.is_dir() and path.suffix.lower() != ".gdb" and not any(path.glob("*.shp")):
        raise SourceError(f"{path} is a folder; give the file to import")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return CsvSource(path, encoding)
    if suffix in XLSX_SUFFIXES:
        return XlsxSource(path, layer, preferred_layers)
    if suffix == ".xls":
        raise SourceError(f"{path.name} is an old Excel file: save it as .xlsx or .csv")
    return GdalSource(path.resolve(), layer, encoding, preferred_layers)
