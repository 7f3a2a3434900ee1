"""Helpers for the import/export tests: writing files with GDAL, running imports and the CLI.

Every file the tests read is written by GDAL (pyogrio), openpyxl or Python's csv module —
never by the code under test.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely
from pyproj import Transformer

from demine.ingest import ImportOptions, import_file, plan_import

TODAY = date(2026, 6, 30)
UTM36 = "EPSG:32636"
TO_UTM = Transformer.from_crs("EPSG:4326", UTM36, always_xy=True)
TO_WGS = Transformer.from_crs(UTM36, "EPSG:4326", always_xy=True)
DEMINE = [sys.executable, "-m", "demine"]


def run_import(engine, path, kind="hazard", rejects=None, today=TODAY, **options: Any):
    """Plan and run an import; the rejection file goes beside the source unless named."""
    path = Path(path)
    rejects = rejects or path.with_name(f"{path.stem}-rejects.geojson")
    plan = plan_import(path, ImportOptions(kind=kind, rejects=rejects, today=today, **options))
    return import_file(engine, plan)


def read_rejects(path) -> list[dict[str, Any]]:
    """The features of a GeoJSON rejection file, or the rows of a CSV one."""
    path = Path(path)
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    return [f["properties"] | {"geometry": f["geometry"]} for f in json.loads(path.read_text())["features"]]


def write_layer(
    path,
    geometries,
    fields: dict[str, list[Any]],
    crs: str | None = "EPSG:4326",
    driver: str | None = None,
    geometry_type: str = "Unknown",
    layer: str | None = None,
    **kwargs: Any,
) -> Path:
    """Write features with GDAL: shapely geometries or raw WKB (None allowed), text/number columns."""
    wkb = np.empty(len(geometries), dtype=object)
    wkb[:] = [g if g is None or isinstance(g, bytes) else shapely.to_wkb(g) for g in geometries]
    arrays = []
    for values in fields.values():
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            arrays.append(np.asarray(values))
        else:
            arrays.append(np.array([None if v is None else str(v) for v in values], dtype=object))
    pyogrio.raw.write(
        str(path),
        wkb,
        arrays,
        list(fields),
        crs=crs,
        driver=driver,
        geometry_type=geometry_type,
        layer=layer,
        **kwargs,
    )
    return Path(path)


def utm_square(x: float, y: float, size: float = 100.0) -> shapely.Polygon:
    """A square in UTM 36N metres, anticlockwise."""
    return shapely.Polygon([(x, y), (x + size, y), (x + size, y + size), (x, y + size)])


def to_wgs84(geom):
    """A UTM 36N geometry in WGS 84 lon/lat."""
    return shapely.transform(geom, lambda xy: np.column_stack(TO_WGS.transform(xy[:, 0], xy[:, 1])))


def lonlat_square(lon: float, lat: float, size: float = 0.001) -> shapely.Polygon:
    """A small square in WGS 84 degrees."""
    return shapely.box(lon, lat, lon + size, lat + size)


def hazard_fields(n: int, start: int = 0, **overrides: list[Any]) -> dict[str, list[Any]]:
    """Good attribute columns for ``n`` hazards (all text, as operators' files often are)."""
    fields: dict[str, list[Any]] = {
        "sid": [f"S{start + i}" for i in range(n)],
        "code": [f"HZ-{start + i:05d}" for i in range(n)],
        "hazard_type": ["SHA" if i % 2 else "Confirmed hazardous area" for i in range(n)],
        "status": ["open"] * n,
        "organisation": ["HALO" if i % 3 else "Norwegian People's Aid" for i in range(n)],
        "reported_on": ["2025-03-01"] * n,
        "eo_categories": ["apm, uxo" if i % 4 else "Anti-personnel mine" for i in range(n)],
    }
    fields.update(overrides)
    return fields


def run_cli(*args: str, db=None, check: bool = True, cwd=None) -> subprocess.CompletedProcess:
    """``python -m demine ...`` as a real process."""
    cmd = [*DEMINE, *map(str, args)] + (["--db", str(db)] if db else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
