"""Exporting a layer of the register to a file, with pyogrio (GDAL).

Formats: GeoPackage, GeoJSON, Shapefile (``.shp`` or zipped ``.shp.zip``), CSV, XLSX, KML.

* Code-list columns keep their **codes**, and with ``labels`` (the default) each gets a
  ``<column>_label`` column beside it with the human-readable label (several labels
  joined by "; " for multi-valued columns): the file reads well and still imports back.
* CSV carries the geometry as WKT in a ``WKT`` column, XLSX (which has no geometry) in a
  ``wkt`` column; both add ``lon``/``lat`` columns for point layers. Dates are ISO text in
  CSV and real dates elsewhere.
* Shapefile names are cut to 10 characters by the format: :mod:`demine.export.names`
  chooses them, and the importer knows them.
* **Personal data** (victims' names, identification, birth dates) is left out unless
  asked for *and* the caller's role allows it (:func:`may_see_personal_data`). The command
  line runs with the ``local`` role, held by whoever has the database file; the web
  service (issue 6) will pass the signed-in user's role.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
from sqlalchemy import ColumnElement, Connection, and_, select

from demine.accounts.roles import PERSONAL_DATA_ROLES as WEB_PERSONAL_DATA_ROLES
from demine.domain.errors import DemineError
from demine.export.layers import LAYERS, Column, Layer
from demine.export.names import short_name
from demine.export.where import parse_where
from demine.storage import qgis_styles
from demine.storage.codelists import all_code_labels

# format -> (GDAL driver, file suffix)
FORMATS: dict[str, tuple[str, str]] = {
    "gpkg": ("GPKG", ".gpkg"),
    "geojson": ("GeoJSON", ".geojson"),
    "shp": ("ESRI Shapefile", ".shp"),
    "csv": ("CSV", ".csv"),
    "xlsx": ("XLSX", ".xlsx"),
    "kml": ("KML", ".kml"),
}
SUFFIX_FORMATS = {
    ".gpkg": "gpkg",
    ".geojson": "geojson",
    ".json": "geojson",
    ".shp": "shp",
    ".zip": "shp",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".kml": "kml",
}
XLSX_CELL_LIMIT = 32_767  # characters in one Excel cell
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")

# Roles that may receive victims' personal data. ``local`` is the command line: its user
# already holds the whole database file; the web roles are those that see it on the pages.
PERSONAL_DATA_ROLES = frozenset({"local", "victim_assistance"}) | WEB_PERSONAL_DATA_ROLES


class PersonalDataRefused(DemineError):
    """Personal data was asked for by a role that may not see it."""


def may_see_personal_data(role: str | None) -> bool:
    """Whether ``role`` may export victims' names, identification and birth dates."""
    return role in PERSONAL_DATA_ROLES


@dataclass
class ExportResult:
    """What an export wrote."""

    kind: str
    format: str
    path: str
    rows: int
    columns: list[str] = field(default_factory=list)
    personal_data: bool = False
    where: str | None = None

    def as_json(self) -> dict[str, Any]:
        """For ``demine export --json``."""
        return dict(self.__dict__)


def format_for(path: Path, fmt: str | None) -> str:
    """The format asked for, or the one the file name implies."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise DemineError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
        return fmt
    found = SUFFIX_FORMATS.get(path.suffix.lower())
    if found is None:
        raise DemineError(f"cannot tell the format from {path.name!r}: pass --format ({', '.join(FORMATS)})")
    return found


def _label(labels: dict[str, str], value: Any, multi: bool) -> str | None:
    if value is None or value == "":
        return None
    if multi:
        return "; ".join(labels.get(v, v) for v in str(value).split(",") if v)
    return labels.get(value, value)


def _array(values: list[Any], kind: str, fmt: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A typed array for pyogrio and its null mask (None when nothing is null)."""
    nulls = np.array([v is None for v in values], dtype=bool)
    mask = nulls if nulls.any() else None
    if kind == "date":
        if fmt == "csv":  # GDAL would write 2025/01/02: ISO text reads back everywhere
            return np.array([v.isoformat() if v else None for v in values], dtype=object), None
        return np.array([v if v is not None else "NaT" for v in values], dtype="datetime64[D]"), None
    if kind == "float":
        return np.array([np.nan if v is None else v for v in values], dtype=float), None
    if kind == "int":
        return np.array([0 if v is None else v for v in values], dtype=np.int64), mask
    if kind == "bool":
        return np.array([bool(v) for v in values], dtype=bool), mask
    return np.array([None if v is None else str(v) for v in values], dtype=object), None


def _remove(path: Path) -> None:
    if path.suffix.lower() == ".shp":
        for suffix in SHAPEFILE_PARTS:
            path.with_suffix(suffix).unlink(missing_ok=True)
    else:
        path.unlink(missing_ok=True)


def export_layer(
    conn: Connection,
    kind: str,
    path: str | Path,
    fmt: str | None = None,
    where: str | None = None,
    labels: bool = True,
    include_personal_data: bool = False,
    role: str | None = None,
    overwrite: bool = False,
    condition: ColumnElement | None = None,
) -> ExportResult:
    """Write one kind of record to ``path``; see the module docstring for what goes in.

    ``condition`` is a filter built by the caller's code (the web register's search and
    filters), never from text; it is combined with ``where``.

    ``include_personal_data`` only takes effect for a ``role`` that
    :func:`may_see_personal_data`; asking without one raises :class:`PersonalDataRefused`.
    """
    make = LAYERS.get(kind)
    if make is None:
        raise DemineError(f"--kind: {kind!r} is not one of {', '.join(LAYERS)}")
    layer = make()
    path = Path(path).expanduser()
    fmt = format_for(path, fmt)
    if fmt == "shp" and path.suffix.lower() == ".zip" and not path.name.lower().endswith(".shp.zip"):
        raise DemineError(f"{path.name}: name a zipped Shapefile NAME.shp.zip")
    if include_personal_data and not may_see_personal_data(role):
        raise PersonalDataRefused(f"role {role!r} may not export personal data")
    columns = [c for c in layer.columns if include_personal_data or not c.personal]
    if fmt == "kml" and layer.geometry is None:
        raise DemineError(f"a {kind} has no geometry: KML cannot hold it; use csv, xlsx or gpkg")
    if path.exists() and not overwrite:
        raise DemineError(f"{path} exists; pass --overwrite to replace it")
    if not path.parent.exists():
        raise DemineError(f"no folder {path.parent}")

    conditions = [c for c in (layer.base_filter, condition) if c is not None]
    if where:
        conditions.append(parse_where(where, layer, {c.name for c in columns}))
    exprs = [c.expr.label(f"c{i}") for i, c in enumerate(columns)]
    if layer.geometry is not None:
        exprs.append(layer.geometry.label("geometry"))
    query = select(*exprs).select_from(layer.source).order_by(layer.order_by)
    if conditions:
        query = query.where(and_(*conditions))
    rows = conn.execute(query).all()

    names, arrays, masks = _columns(conn, columns, rows, labels, fmt)
    geometries = [row[-1] for row in rows] if layer.geometry is not None else None
    wkb = None
    if geometries is not None:
        geoms = np.empty(len(geometries), dtype=object)
        geoms[:] = geometries
        if layer.geometry_type == "Point" and fmt in ("csv", "xlsx"):
            names += ["lon", "lat"]
            arrays += [
                np.array([g.x if g is not None else np.nan for g in geoms], dtype=float),
                np.array([g.y if g is not None else np.nan for g in geoms], dtype=float),
            ]
            masks += [None, None]
        if fmt == "xlsx":
            texts = shapely.to_wkt(geoms, rounding_precision=-1)
            too_long = [i for i, t in enumerate(texts) if t is not None and len(t) > XLSX_CELL_LIMIT]
            if too_long:
                raise DemineError(
                    f"{len(too_long)} geometries are too detailed for an Excel cell "
                    f"({XLSX_CELL_LIMIT:,} characters); export to gpkg, geojson or csv instead"
                )
            names.append("wkt")
            arrays.append(np.array(list(texts), dtype=object))
            masks.append(None)
        else:
            wkb = shapely.to_wkb(geoms)
    if fmt == "shp":
        names = [short_name(n) for n in names]
        if len(set(names)) != len(names):  # pragma: no cover - names.py must keep them unique
            raise AssertionError(f"Shapefile column names collide: {names}")

    driver = FORMATS[fmt][0]
    target = path
    temporary = None
    if fmt != "shp":
        # Write beside the target and move into place: a failed export leaves no half file.
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")
        target = temporary
    elif overwrite and path.exists():
        _remove(path)
    layer_options = {"GEOMETRY": "AS_WKT"} if fmt == "csv" and wkb is not None else None
    # GDAL writes WKT (CSV) and KML coordinates with 15 significant digits unless told
    # otherwise; 17 round-trips every double, so an export imports back exactly.
    precision = pyogrio.get_gdal_config_option("OGR_WKT_PRECISION")
    pyogrio.set_gdal_config_options({"OGR_WKT_PRECISION": "17"})
    try:
        pyogrio.raw.write(
            str(target),
            wkb,
            arrays,
            names,
            field_mask=masks if any(m is not None for m in masks) else None,
            layer=kind,
            driver=driver,
            geometry_type=layer.geometry_type if wkb is not None else None,
            crs="EPSG:4326" if wkb is not None else None,
            encoding="UTF-8",
            layer_options=layer_options,
            # GeoPackage 1.3: the 1.4 that newer GDAL writes makes Debian's GDAL 3.6 warn on open.
            dataset_options={"VERSION": "1.3"} if fmt == "gpkg" else None,
        )
        if temporary is not None:
            if fmt == "gpkg":  # opens styled in QGIS, as the register's own file does
                qgis_styles.add_to_geopackage(temporary, kind, kind)
            os.replace(temporary, path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise DemineError(f"cannot write {path}: {exc}") from exc
    finally:
        pyogrio.set_gdal_config_options({"OGR_WKT_PRECISION": precision})
        if temporary is not None and temporary.exists():
            temporary.unlink()
    return ExportResult(
        kind=kind,
        format=fmt,
        path=str(path),
        rows=len(rows),
        columns=names,
        personal_data=any(c.personal for c in columns),
        where=where,
    )


def _columns(
    conn: Connection, columns: list[Column], rows: list[Any], labels: bool, fmt: str
) -> tuple[list[str], list[np.ndarray], list[np.ndarray | None]]:
    code_labels = all_code_labels(conn) if labels else {}
    names: list[str] = []
    arrays: list[np.ndarray] = []
    masks: list[np.ndarray | None] = []
    for i, column in enumerate(columns):
        values = [row[i] for row in rows]
        if column.type == "date":
            values = [v if isinstance(v, date) or v is None else date.fromisoformat(str(v)) for v in values]
        array, mask = _array(values, column.type, fmt)
        names.append(column.name)
        arrays.append(array)
        masks.append(mask)
        if labels and column.type in ("code", "codes"):
            table = code_labels.get(column.code_list or "", {})
            texts = [_label(table, v, column.type == "codes") for v in values]
            names.append(f"{column.name}_label")
            arrays.append(np.array(texts, dtype=object))
            masks.append(None)
    return names, arrays, masks


__all__ = [
    "FORMATS",
    "PERSONAL_DATA_ROLES",
    "ExportResult",
    "Layer",
    "PersonalDataRefused",
    "export_layer",
    "format_for",
    "may_see_personal_data",
]
