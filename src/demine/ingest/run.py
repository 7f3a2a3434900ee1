"""The import itself: read in batches, check, convert, match, write, account for every feature.

One run is one database transaction. Rows that pass are written as each batch is done, but
nothing is committed until the whole file has been read: if the run fails or is killed,
SQLite's write-ahead log discards all of it. A row that fails never stops the others; it
goes to the rejection file with its reason.

Use :func:`plan_import` then :func:`import_file` (or :func:`import_into` inside a transaction
of your own); the command line does exactly that.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from demine.domain.errors import DemineError
from demine.ingest.geometries import Reprojection, prepare, read_text, read_wkb, read_xy
from demine.ingest.kinds import KINDS, Context, KindSpec, Row, parse_many
from demine.ingest.mapping import (
    ColumnMapping,
    build_mapping,
    check_code_pattern,
    parse_recode,
    read_values_file,
)
from demine.ingest.report import ImportResult, Rejection, RejectWriter
from demine.ingest.sources import RawBatch, Source, open_source
from demine.ingest.store import STORES, Store
from demine.ingest.values import as_text
from demine.storage.codelists import load_code_lists
from demine.storage.geopackage import refresh_extents

DEFAULT_BATCH = 5000


@dataclass
class ImportOptions:
    """Everything ``demine import`` takes besides the file."""

    kind: str
    layer: str | None = None
    maps: Sequence[str] = ()
    defaults: Sequence[str] = ()
    source_id: str | None = None
    crs: str | None = None  # the CRS of the coordinates when the file names none (or to override it)
    encoding: str | None = None  # of CSV files (and of DBFs that lie about theirs); detected when None
    date_format: str | None = None  # strptime format for dates that are not YYYY-MM-DD
    values: Sequence[str] = ()  # field:SOURCE=REGISTER recodings
    values_file: str | Path | None = None  # a CSV of field,from,to rows
    code_pattern: str | None = None  # a code for rows without one, e.g. "SMF-{row:05d}"
    aoi: tuple[float, float, float, float] | None = None  # minlon, minlat, maxlon, maxlat
    rejects: str | Path | None = None  # .geojson or .csv; default <file>-rejects.geojson here
    dry_run: bool = False  # check and count, then roll back
    today: date | None = None  # for "not in the future" checks
    batch_size: int = DEFAULT_BATCH
    changed_by: str = "import"


@dataclass
class ImportPlan:
    """An opened source with its mapping and CRS: everything checked before writing starts."""

    path: Path
    options: ImportOptions
    spec: KindSpec
    source: Source
    mapping: ColumnMapping
    reprojection: Reprojection
    rejects: RejectWriter
    warnings: list[str] = field(default_factory=list)


def plan_import(path: str | Path, options: ImportOptions) -> ImportPlan:
    """Open and check the source and the options; raises :class:`DemineError` on any mistake."""
    spec = KINDS.get(options.kind)
    if spec is None:
        raise DemineError(f"--kind: {options.kind!r} is not one of {', '.join(KINDS)}")
    if options.batch_size < 1:
        raise DemineError("the batch size must be at least 1")
    path = Path(path)
    source = open_source(path, options.layer, options.encoding, spec.layers)
    try:
        return _plan(path, options, spec, source)
    except BaseException:
        source.close()
        raise


def _plan(path: Path, options: ImportOptions, spec: KindSpec, source: Source) -> ImportPlan:
    mapping = build_mapping(
        spec.fields,
        source.columns,
        options.maps,
        options.defaults,
        options.source_id,
        geometry_from_columns=not source.has_geometry,
        points=spec.geometry == "point",
    )
    if mapping.geometry is not None and mapping.geometry.is_points and spec.geometry == "polygon":
        raise DemineError(
            f"a {spec.name} needs a polygon, but this table has only coordinate columns "
            f"({mapping.geometry.x}, {mapping.geometry.y}): give a WKT column with --map geometry=COLUMN"
        )
    rows = read_values_file(options.values_file) if options.values_file is not None else []
    mapping.recode = parse_recode(options.values, spec.fields, rows)
    if options.code_pattern is not None:
        if "code" not in {f.name for f in spec.fields}:
            raise DemineError(f"--code-pattern: a {spec.name} has no code")
        check_code_pattern(options.code_pattern, source.columns)
        mapping.code_pattern = options.code_pattern
    unfilled = [f.name for f in spec.fields if f.required and f.name not in mapping.columns]
    unfilled = [name for name in unfilled if name not in mapping.defaults]
    unfilled = [name for name in unfilled if not (name == "code" and mapping.code_pattern)]
    if unfilled:
        raise DemineError(
            f"no column for required field(s) {', '.join(unfilled)} of a {spec.name}: give "
            + " or ".join(f"--map {n}=COLUMN / --default {n}=VALUE" for n in unfilled[:1])
            + f"; the file's columns: {', '.join(source.columns)}"
        )
    reprojection = Reprojection.from_source(source.crs, options.crs)
    warnings = list(source.warnings)
    if reprojection.assumed:
        warnings.append("the file names no CRS: coordinates read as WGS 84 longitude/latitude (EPSG:4326)")
    elif options.crs and source.crs and options.crs != source.crs:
        warnings.append(f"--crs {options.crs} overrides the CRS the file declares")
    used = set(mapping.columns.values())
    if mapping.geometry is not None:
        used |= {mapping.geometry.text, mapping.geometry.x, mapping.geometry.y}
    ignored = [c for c in source.columns if c not in used]
    if ignored:
        shown = ", ".join(ignored[:20]) + (" ..." if len(ignored) > 20 else "")
        warnings.append(f"columns not imported: {shown}")
    rejects_path = Path(options.rejects) if options.rejects else Path.cwd() / f"{path.stem}-rejects.geojson"
    if rejects_path.suffix.lower() not in (".geojson", ".json", ".csv"):
        raise DemineError(f"--rejects {rejects_path.name}: name a .geojson or .csv file")
    rejects = RejectWriter(rejects_path, list(source.columns), reprojection.urn)
    return ImportPlan(path, options, spec, source, mapping, reprojection, rejects, warnings)


def import_file(
    engine: Engine, plan: ImportPlan, progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Run a planned import in one transaction of its own; commit unless it is a dry run."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            result = import_into(conn, plan, progress)
        except BaseException:
            transaction.rollback()
            plan.rejects.discard()
            raise
        finally:
            plan.source.close()
        if plan.options.dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    result.rejects_file = plan.rejects.commit()
    return result


def import_into(
    conn: Connection, plan: ImportPlan, progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Import in the caller's transaction (the caller commits, and writes ``plan.rejects``)."""
    options, spec, source = plan.options, plan.spec, plan.source
    ctx = Context.load(conn, load_code_lists(conn), options.today or date.today(), options.date_format)
    store = STORES[spec.name](conn, ctx, f"import of {plan.path.name}", options.changed_by)
    result = ImportResult(
        kind=spec.name,
        source=str(plan.path),
        layer=source.layer,
        source_format=source.format,
        source_crs=plan.reprojection.name,
        encoding=source.encoding,
        dry_run=options.dry_run,
    )
    # Python's cyclic garbage collector rescans every live object each time enough new ones
    # appear; a batch creates hundreds of thousands (geometries, rows), none of them cyclic,
    # and the scans took 40 % of an import. Collect once per batch instead.
    collecting = gc.isenabled()
    gc.disable()
    cache = _larger_page_cache(conn)
    try:
        for batch in source.batches(options.batch_size):
            _import_batch(plan, ctx, store, result, batch)
            gc.collect(1)
            if progress is not None:
                progress(len(batch))
    finally:
        if collecting:
            gc.enable()
        if cache is not None:
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")
    if not result.balanced:  # pragma: no cover - a bug, not a user error: say so loudly
        raise AssertionError(f"import accounting does not add up: {result.as_json()}")
    refresh_extents(conn)
    result.warnings = plan.warnings + [w for w in source.warnings if w not in plan.warnings]
    return result


# SQLite's page cache during an import, in KiB (a negative cache_size). The default 2 MiB
# holds a few thousand rows' index pages; a large import then spills pages to the write-ahead
# log and reads them back for every index it updates, which cost a third of the inserts' time.
IMPORT_PAGE_CACHE_KIB = 131_072


def _larger_page_cache(conn: Connection) -> int | None:
    """On SQLite, raise the connection's page cache for the import; the previous setting."""
    if conn.dialect.name != "sqlite":
        return None
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = {-IMPORT_PAGE_CACHE_KIB}")
    return previous


def _import_batch(
    plan: ImportPlan, ctx: Context, store: Store, result: ImportResult, batch: RawBatch
) -> None:
    """Check, convert and write one batch; every row ends imported, updated or rejected."""
    result.read += len(batch)
    prepared = _geometries(plan, batch.attributes, batch.wkb)

    def reject(i: int, rejection: Rejection, sid: str | None) -> None:
        result.reject(rejection.reason)
        plan.rejects.add(batch.first_row + i, sid, rejection, batch.attributes[i], prepared.entered[i])

    store.prepare(batch.first_row, prepared.geometries)
    first = batch.first_row
    mapped = [plan.mapping.values(attributes, first + i) for i, attributes in enumerate(batch.attributes)]
    # The fields of the rows whose geometry passed, read column by column (see parse_many).
    passed = [i for i, rejection in enumerate(prepared.rejections) if rejection is None]
    parsed = dict(zip(passed, parse_many(plan.spec.fields, [mapped[i] for i in passed], ctx), strict=True))
    source_ids: list[str | None] = []
    for i, values in enumerate(mapped):
        sid = as_text(values.get("source_id"))
        source_ids.append(sid)
        rejection = prepared.rejections[i]
        if rejection is not None:
            reject(i, rejection, sid)
            continue
        row = Row(
            first + i,
            values,
            prepared.geometries[i],
            prepared.entered_text[i],
            plan.reprojection.name,
            parsed[i],
        )
        converted = plan.spec.convert(row, ctx)
        if isinstance(converted, Rejection):
            reject(i, converted, sid)
            continue
        duplicate = store.offer(row.number, converted)
        if duplicate is not None:
            reject(i, duplicate, sid)
    for outcome in store.flush():
        i = outcome.row - batch.first_row
        if outcome.rejection is not None:
            reject(i, outcome.rejection, source_ids[i])
            continue
        if outcome.status == "imported":
            result.imported += 1
        else:
            result.updated += 1
            result.unchanged += outcome.status == "unchanged"
        repair = prepared.repairs[i]
        if repair:
            result.repair(repair)


def _geometries(plan: ImportPlan, attributes: list[dict[str, Any]], wkb: list[bytes | None] | None) -> Any:
    geometry = plan.mapping.geometry
    n = len(attributes)
    entered_text = None
    if wkb is not None:
        geoms, rejections, repairs = read_wkb(wkb)
    elif geometry is not None and geometry.text is not None:
        texts = [a.get(geometry.text) for a in attributes]
        geoms, rejections, repairs = read_text(texts)
        entered_text = [as_text(t) for t in texts]
    else:
        # plan_import made sure a table without a geometry of its own has coordinate columns.
        assert geometry is not None
        xs = [a.get(geometry.x) for a in attributes]
        geoms, rejections = read_xy(xs, [a.get(geometry.y) for a in attributes])
        repairs = [None] * n
    return prepare(
        geoms,
        rejections,
        repairs,
        plan.spec.geometry,
        plan.reprojection,
        plan.options.aoi,
        entered_text,
    )
