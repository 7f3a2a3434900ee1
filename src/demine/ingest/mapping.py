"""Which source column feeds which register field: ``--map``, ``--default`` and name matching.

A field is filled from, in order: the column named by ``--map field=COLUMN``; else a column
whose name matches the field, one of its aliases or its first 10 characters (case, spaces
and hyphens ignored — so a file exported by ``demine export``, even as a Shapefile, maps by
itself, and so does a Shapefile whose DBF cut the names short); else nothing.
``--default field=VALUE`` fills a field wherever the row leaves it blank.
``--value field:FROM=TO`` (or a CSV of ``field,from,to`` rows) replaces a source's own wording
with a register value, matched ignoring case and surrounding blanks ("Suspected Minefield" →
``SHA``). ``--code-pattern`` makes a code for rows that have none, from the row number and
the row's columns (``"SMF-{row:05d}"``, ``"{District}-{row}"``).

For sources without a native geometry (CSV, XLSX, a table), the geometry comes from a
WKT/GeoJSON column (``--map geometry=COLUMN``) or from coordinate columns
(``--map x=COLUMN --map y=COLUMN``; ``lon``/``lat`` are accepted as names for them), found
by name when not given.
"""

from __future__ import annotations

import csv
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demine.domain.errors import DemineError

GEOMETRY_TEXT_TARGETS = ("geometry", "wkt", "geojson")
X_TARGETS = ("x", "lon", "longitude", "easting")
Y_TARGETS = ("y", "lat", "latitude", "northing")
AUTO_TEXT = ("wkt", "geometry", "geom", "the_geom", "wkt_geom", "geojson", "shape")
AUTO_X = ("lon", "long", "longitude", "lng", "x", "easting", "point_x")
AUTO_Y = ("lat", "latitude", "y", "northing", "point_y")


@dataclass(frozen=True)
class FieldSpec:
    """A register field an import can fill, and how its value is read."""

    name: str
    type: str  # text | code | codes | date | int | float | ref
    required: bool = False
    code_list: str | None = None
    aliases: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class GeometryColumns:
    """Where the geometry of a table without a geometry column is."""

    text: str | None = None
    x: str | None = None
    y: str | None = None

    @property
    def is_points(self) -> bool:
        """True when the geometry comes from a pair of coordinate columns."""
        return self.text is None


@dataclass
class ColumnMapping:
    """The resolved mapping of one import."""

    columns: dict[str, str]  # field -> source column
    defaults: dict[str, str] = field(default_factory=dict)
    geometry: GeometryColumns | None = None
    recode: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> {source value: value}
    code_pattern: str | None = None

    def values(self, attributes: Mapping[str, Any], row: int | None = None) -> dict[str, Any]:
        """The raw value of each field for one row (recoded, defaults filling blanks, a code
        made from ``code_pattern`` when the row has none); ``row`` is its 1-based number."""
        out: dict[str, Any] = {}
        for name, column in self.columns.items():
            out[name] = attributes.get(column)
        for name, table in self.recode.items():
            current = out.get(name)
            if current is not None:
                out[name] = table.get(_norm_value(current), current)
        for name, value in self.defaults.items():
            if _blank(out.get(name)):
                out[name] = value
        if self.code_pattern is not None and _blank(out.get("code")):
            out["code"] = _make_code(self.code_pattern, attributes, row)
        return out

    def describe(self) -> dict[str, str]:
        """field -> column (or ``default: value``), for messages and ``--json``."""
        out = dict(self.columns)
        out |= {k: f"default: {v}" for k, v in self.defaults.items() if k not in out}
        if self.geometry is not None:
            if self.geometry.text:
                out["geometry"] = self.geometry.text
            else:
                out["x"], out["y"] = self.geometry.x or "", self.geometry.y or ""
        return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _norm_value(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


class _Columns(dict):
    """Row values for ``str.format_map``: a missing or blank column reads as an empty string."""

    def __missing__(self, key: str) -> str:
        return ""


def _make_code(pattern: str, attributes: Mapping[str, Any], row: int | None) -> str:
    values = _Columns({k: "" if v is None else str(v).strip() for k, v in attributes.items()})
    values["row"] = row if row is not None else 0
    return pattern.format_map(values)


def check_code_pattern(pattern: str, columns: Sequence[str]) -> None:
    """Refuse a ``--code-pattern`` that cannot make a code from this file's columns."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None]
    except ValueError as exc:
        raise DemineError(f"--code-pattern {pattern!r}: {exc}") from None
    unknown = [n for n in names if n != "row" and n not in columns]
    if unknown:
        raise DemineError(
            f"--code-pattern {pattern!r}: the file has no column {unknown[0]!r}; "
            f"use {{row}} or one of its columns: {', '.join(columns)}"
        )
    if "row" not in names:
        raise DemineError(
            f"--code-pattern {pattern!r}: include {{row}} (e.g. 'SMF-{{row:05d}}'), so that no two "
            "rows can get the same code"
        )
    try:
        _make_code(pattern, {c: "x" for c in columns}, 1)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise DemineError(f"--code-pattern {pattern!r}: {exc}") from None


def parse_recode(
    items: Sequence[str], fields: Sequence[FieldSpec], rows: Sequence[tuple[str, str, str]] = ()
) -> dict[str, dict[str, str]]:
    """``field:FROM=TO`` options (and ``(field, from, to)`` rows of a file) as field -> table."""
    by_name = {f.name for f in fields}
    pairs = list(rows)
    for item in items:
        target, sep, rest = item.partition(":")
        source, sep2, value = rest.rpartition("=")
        if not sep or not sep2 or not target.strip() or not source.strip():
            raise DemineError(f"--value {item!r}: write it as field:SOURCE VALUE=REGISTER VALUE")
        pairs.append((target, source, value))
    out: dict[str, dict[str, str]] = {}
    for target, source, value in pairs:
        key = _norm(target)
        if key not in by_name:
            raise DemineError(f"--value: no field {target!r}; the fields: {', '.join(sorted(by_name))}")
        out.setdefault(key, {})[_norm_value(source)] = value.strip()
    return out


def _norm(name: str) -> str:
    return name.strip().casefold().replace(" ", "_").replace("-", "_")


def _pairs(items: Sequence[str], option: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        target, sep, value = item.partition("=")
        if not sep or not target.strip():
            raise DemineError(f"{option} {item!r}: write it as field=value")
        out.append((target.strip(), value.strip()))
    return out


def build_mapping(
    fields: Sequence[FieldSpec],
    columns: Sequence[str],
    maps: Sequence[str] = (),
    defaults: Sequence[str] = (),
    source_id: str | None = None,
    geometry_from_columns: bool = False,
    points: bool = False,
) -> ColumnMapping:
    """Resolve ``--map``/``--default``/``--source-id`` against the source's columns.

    Raises :class:`DemineError` naming the allowed fields or the file's columns when an
    option names something that does not exist.
    """
    by_name = {f.name: f for f in fields}
    lookup = {_norm(c): c for c in reversed(columns)}  # the first of equal names wins

    def column(name: str, option: str) -> str:
        found = name if name in columns else lookup.get(_norm(name))
        if found is None:
            raise DemineError(f"{option}: the file has no column {name!r}; its columns: {', '.join(columns)}")
        return found

    explicit: dict[str, str] = {}
    geometry_explicit: dict[str, str] = {}
    for target, source in _pairs(maps, "--map"):
        key = _norm(target)
        if key in GEOMETRY_TEXT_TARGETS:
            geometry_explicit["text"] = column(source, f"--map {target}")
        elif key in X_TARGETS:
            geometry_explicit["x"] = column(source, f"--map {target}")
        elif key in Y_TARGETS:
            geometry_explicit["y"] = column(source, f"--map {target}")
        elif key in by_name:
            explicit[key] = column(source, f"--map {target}")
        else:
            allowed = ", ".join([*by_name, "geometry", "x", "y"])
            raise DemineError(f"--map: no field {target!r} to fill; the fields: {allowed}")
    if source_id is not None:
        explicit["source_id"] = column(source_id, "--source-id")

    mapped: dict[str, str] = {}
    for spec in fields:
        if spec.name in explicit:
            mapped[spec.name] = explicit[spec.name]
            continue
        # A DBF cuts names to 10 characters: "reported_on" arrives as "reported_o".
        for candidate in (spec.name, *spec.aliases, spec.name[:10]):
            found = lookup.get(_norm(candidate))
            if found is not None:
                mapped[spec.name] = found
                break

    default_values: dict[str, str] = {}
    for target, value in _pairs(defaults, "--default"):
        key = _norm(target)
        if key not in by_name:
            raise DemineError(f"--default: no field {target!r}; the fields: {', '.join(by_name)}")
        default_values[key] = value

    geometry = None
    if geometry_from_columns:
        geometry = _geometry_columns(geometry_explicit, lookup, columns, points)
    elif geometry_explicit:
        raise DemineError(
            "--map geometry/x/y: this file has a geometry of its own; they apply to tables only"
        )
    # A geometry column may also be a field's alias (x/y are common names): it is not a field.
    if geometry is not None:
        used = {geometry.text, geometry.x, geometry.y}
        mapped = {k: v for k, v in mapped.items() if v not in used or k in explicit}
    return ColumnMapping(mapped, default_values, geometry)


def _geometry_columns(
    explicit: dict[str, str], lookup: dict[str, str], columns: Sequence[str], points: bool
) -> GeometryColumns:
    if "text" in explicit:
        return GeometryColumns(text=explicit["text"])
    if "x" in explicit or "y" in explicit:
        if not ("x" in explicit and "y" in explicit):
            raise DemineError("--map x=COLUMN and --map y=COLUMN go together")
        return GeometryColumns(x=explicit["x"], y=explicit["y"])
    text = next((lookup[n] for n in AUTO_TEXT if n in lookup), None)
    if text is not None:
        return GeometryColumns(text=text)
    x = next((lookup[n] for n in AUTO_X if n in lookup), None)
    y = next((lookup[n] for n in AUTO_Y if n in lookup), None)
    if x is not None and y is not None:
        return GeometryColumns(x=x, y=y)
    need = "a WKT column (--map geometry=COLUMN)"
    if points:
        need += " or coordinate columns (--map x=LON_COLUMN --map y=LAT_COLUMN)"
    raise DemineError(f"no geometry found: this table needs {need}; its columns: {', '.join(columns)}")


def read_values_file(path: str | Path) -> list[tuple[str, str, str]]:
    """The ``field,from,to`` rows of a ``--values`` CSV file (a header row first)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DemineError(f"--values {p}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise DemineError(f"--values {p}: not UTF-8 text: {exc.reason}") from None
    reader = csv.reader(text.splitlines())
    header = [h.strip().casefold() for h in next(reader, [])]
    if header[:3] != ["field", "from", "to"]:
        raise DemineError(f"--values {p}: the first row must be the header field,from,to (it is {header})")
    rows = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 3 or not row[0].strip() or not row[1].strip():
            need = "needs a field, a source value and a register value"
            raise DemineError(f"--values {p}: row {number}: {need}")
        rows.append((row[0], row[1], row[2]))
    return rows
