"""The outcome of an import: counts that add up, reasons for every rejection, the rejection file.

Accounting, which the tests hold the importer to:

* every feature read from the source ends in exactly one of **imported** (a new record),
  **updated** (an existing record matched by its source id, or by its P-code for admin
  areas) or **rejected**: ``read == imported + updated + rejected``;
* **repaired** counts the imported or updated features whose geometry was repaired first
  (see :mod:`demine.ingest.geometries` for what counts as a safe repair), so it is a subset
  of ``imported + updated``, never a fourth outcome;
* **unchanged** counts the updated features whose values were already in the register (a
  re-import of the same file): a subset of ``updated``, with nothing written for them.

The rejection file lists each rejected feature with its row (1 for the first feature or
data row of the source, whatever the format), source id, reason code, a message for people,
and all its original attributes; a GeoJSON rejection file also carries the geometry as
entered (in the source CRS, named in the file's ``crs`` member).
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

import shapely

from demine.ingest.reasons import REASONS


@dataclass
class Rejection:
    """Why one feature was not taken: a reason code from :data:`REASONS` and a message."""

    reason: str
    message: str

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown rejection reason {self.reason!r}")


@dataclass
class ImportResult:
    """What an import did, in numbers; :meth:`as_json` is what ``demine import --json`` prints."""

    kind: str
    source: str
    layer: str | None = None
    source_format: str | None = None
    source_crs: str | None = None
    encoding: str | None = None
    read: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    repairs: dict[str, int] = field(default_factory=dict)
    rejects_file: str | None = None
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        """Count one rejected feature."""
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def repair(self, kind: str) -> None:
        """Count one repaired feature that was kept."""
        self.repaired += 1
        self.repairs[kind] = self.repairs.get(kind, 0) + 1

    @property
    def balanced(self) -> bool:
        """True when every feature read has exactly one outcome."""
        return self.read == self.imported + self.updated + self.rejected

    def as_json(self) -> dict[str, Any]:
        """The counts first (the documented contract), then the details."""
        return {
            "read": self.read,
            "imported": self.imported,
            "updated": self.updated,
            "repaired": self.repaired,
            "rejected": self.rejected,
            "reasons": dict(sorted(self.reasons.items())),
            "rejects_file": self.rejects_file,
            "unchanged": self.unchanged,
            "repairs": dict(sorted(self.repairs.items())),
            "kind": self.kind,
            "source": self.source,
            "layer": self.layer,
            "format": self.source_format,
            "crs": self.source_crs,
            "encoding": self.encoding,
            "dry_run": self.dry_run,
            "warnings": self.warnings,
        }


def _plain(value: Any) -> Any:
    """An attribute value as JSON can hold it (NaN and infinities become null)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return str(value)


def _geojson_geometry(geom: shapely.Geometry | None) -> Any:
    if geom is None:
        return None
    try:
        mapping = shapely.geometry.mapping(geom)
        # Round-trip through json with allow_nan=False: a NaN coordinate is not JSON.
        return json.loads(json.dumps(mapping, allow_nan=False))
    except (ValueError, TypeError, shapely.errors.GEOSException):
        return None


def _wkt(geom: shapely.Geometry | None) -> str | None:
    if geom is None:
        return None
    try:
        return shapely.to_wkt(geom, rounding_precision=-1)
    except shapely.errors.GEOSException:
        return None


META_COLUMNS = ("_row", "_source_id", "_reason", "_message")


class RejectWriter:
    """Streams rejected features to a GeoJSON or CSV file, created only when there is one.

    The file is written under a temporary name and moved into place by :meth:`commit`, so an
    import that fails leaves no half-written rejection file behind.
    """

    def __init__(self, path: Path, columns: list[str], crs_urn: str | None) -> None:
        self.path = path
        self.columns = columns
        self.crs_urn = crs_urn
        self.format = "csv" if path.suffix.lower() in (".csv", ".txt") else "geojson"
        self.count = 0
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        self._file: TextIO | None = None
        self._csv: Any = None

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._tmp.open("w", encoding="utf-8", newline="")
        if self.format == "csv":
            self._csv = csv.writer(self._file)
            self._csv.writerow([*META_COLUMNS, *self.columns, "_geometry_wkt"])
        else:
            header: dict[str, Any] = {"type": "FeatureCollection", "name": "rejects"}
            if self.crs_urn:
                header["crs"] = {"type": "name", "properties": {"name": self.crs_urn}}
            text = json.dumps(header, ensure_ascii=False)
            self._file.write(text[:-1] + ', "features": [\n')

    def add(
        self,
        row: int,
        source_id: str | None,
        rejection: Rejection,
        attributes: dict[str, Any],
        geometry: shapely.Geometry | None,
    ) -> None:
        """Write one rejected feature with its original attributes and geometry as entered."""
        if self._file is None:
            self._open()
        assert self._file is not None
        if self.format == "csv":
            extra = [attributes.get(c) for c in self.columns]
            self._csv.writerow(
                [row, source_id, rejection.reason, rejection.message, *map(_csv_cell, extra), _wkt(geometry)]
            )
        else:
            properties = {
                "_row": row,
                "_source_id": source_id,
                "_reason": rejection.reason,
                "_message": rejection.message,
            }
            properties |= {k: _plain(v) for k, v in attributes.items() if k not in properties}
            feature = {"type": "Feature", "properties": properties, "geometry": _geojson_geometry(geometry)}
            prefix = ",\n" if self.count else ""
            self._file.write(prefix + json.dumps(feature, ensure_ascii=False, allow_nan=False))
        self.count += 1

    def commit(self) -> str | None:
        """Close the file and move it into place; the path, or None when nothing was rejected."""
        if self._file is None:
            return None
        if self.format == "geojson":
            self._file.write("\n]}\n")
        self._file.close()
        self._file = None
        os.replace(self._tmp, self.path)
        return str(self.path)

    def discard(self) -> None:
        """Drop the partial file of an import that failed."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)


def _csv_cell(value: Any) -> Any:
    plain = _plain(value)
    return json.dumps(plain, ensure_ascii=False) if isinstance(plain, list) else plain
