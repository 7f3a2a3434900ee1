"""Fuzzing every importer: any file is imported row by row or refused whole, never half-written.

Hypothesis writes files the way operators' tools would (GeoJSON text, CSV through Python's
csv module, XLSX through openpyxl, shapefiles and GeoPackages through GDAL/pyogrio) holding
good hazards mixed with garbage: attributes of any type and content, broken geometries, raw
byte damage; and ``--map``/``--default`` options of any text. Each file goes through the real
import (:func:`plan_import` then :func:`import_file`, one committed transaction) into one
register shared by the whole module, and then:

* nothing but the project's :class:`~demine.domain.errors.DemineError` family is raised;
* a refused run changed nothing: every table's row count is what it was;
* an accepted run accounts for every feature (imported + updated + rejected = read), added
  exactly ``imported`` hazards with their remaining rows, R*Tree entries and registration
  events, and every good hazard of a readable file is in the register;
* the register keeps its invariants (see :func:`reliability_support.invariant_violations`).

``DEMINE_FUZZ_EXAMPLES`` sets the examples per test (default 60; a nightly run uses thousands).
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import json
import warnings
from datetime import date, datetime

import numpy as np
import openpyxl
import pyogrio.raw
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reliability_support import env_int, invariant_violations, record_result
from sqlalchemy import func, select

import backend_support
from demine.domain.errors import DemineError
from demine.ingest import ImportOptions, import_file, plan_import
from demine.ingest.kinds import KINDS
from demine.register.organisations import NewOrganisation, add_organisations
from demine.storage import schema
from demine.storage.database import open_database
from geometry_strategies import KINDS as BROKEN_KINDS
from geometry_strategies import broken_geometry

# On both stores: the importers write through the same code to a GeoPackage or to PostGIS.
EXAMPLES = env_int("DEMINE_FUZZ_EXAMPLES", 60)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    database=None,
)
TODAY = date(2026, 6, 30)
TABLES = (
    schema.hazard,
    schema.hazard_remaining,
    schema.hazard_area_event,
    schema.release_product,
    schema.eo_find,
    schema.accident,
    schema.admin_area,
    schema.audit_log,
)
# Every name a column may be matched to: garbage columns stay clear of them (case-insensitively),
# so that a good row's meaning never depends on what the garbage rows hold.
FIELD_NAMES = {n.casefold() for spec in KINDS.values() for f in spec.fields for n in (f.name, *f.aliases)}
FIELD_NAMES |= {"wkt", "geometry", "geom", "x", "y", "lon", "lat", "longitude", "latitude", "the_geom", "wkb"}
TALLY: dict[str, dict[str, int]] = {}
_serial = itertools.count()


class Register:
    """The module's register and the checks run after every import."""

    def __init__(self, path) -> None:
        self.path = path
        self.engine = open_database(path, create=True)
        with self.engine.begin() as conn:
            add_organisations(conn, [NewOrganisation("HALO", "The HALO Trust", "ngo")])

    def counts(self) -> dict[str, int]:
        tables = TABLES + ((schema.hazard_rtree,) if self.engine.dialect.name == "sqlite" else ())
        with self.engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}

    def codes(self, codes: list[str]) -> set[str]:
        with self.engine.connect() as conn:
            return set(
                conn.execute(select(schema.hazard.c.code).where(schema.hazard.c.code.in_(codes))).scalars()
            )

    def run(
        self,
        name: str,
        path,
        kind: str = "hazard",
        good: list[str] = (),
        readable: bool = True,
        **options,
    ):
        """Import ``path``; check the outcome as the module docstring says. Returns the result or None."""
        before = self.counts()
        with self.engine.connect() as conn:
            self.last_hazard_id = conn.execute(
                select(func.coalesce(func.max(schema.hazard.c.id), 0))
            ).scalar_one()
        rejects = path.with_name(path.stem + "-rejects.geojson")
        try:
            plan = plan_import(path, ImportOptions(kind=kind, rejects=rejects, today=TODAY, **options))
            result = import_file(self.engine, plan)
        except DemineError as exc:
            assert str(exc).strip(), "an error without a message"
            assert self.counts() == before, f"a refused import changed the register: {exc}"
            _tally(name, "refused")
            if good and readable:
                pytest.fail(f"a readable file with good rows was refused: {exc}")
            return None
        after = self.counts()
        assert result.read == result.imported + result.updated + result.rejected
        assert sum(result.reasons.values()) == result.rejected
        if kind == "hazard":
            assert after["hazard"] - before["hazard"] == result.imported
            assert after["hazard_remaining"] - before["hazard_remaining"] == result.imported
        missing = set(good) - self.codes(list(good))
        if missing:
            why = rejects.read_text(errors="replace")[:3000] if rejects.exists() else "no rejection file"
            source = path.read_bytes()[:3000]
            pytest.fail(f"good rows lost: {sorted(missing)[:5]}; {result.as_json()}; {why}; file: {source!r}")
        problems = invariant_violations(self.path, after_hazard_id=self.last_hazard_id)
        assert not problems, problems
        _tally(name, "accepted")
        return result


def _tally(name: str, outcome: str) -> None:
    counts = TALLY.setdefault(name, {"accepted": 0, "refused": 0})
    counts[outcome] = counts.get(outcome, 0) + 1


@pytest.fixture(scope="module")
def register(tmp_path_factory, store):  # store: on the suite's backend, whatever ran first
    reg = Register(backend_support.new(tmp_path_factory.mktemp("fuzz-register") / "register.gpkg"))
    yield reg
    reg.engine.dispose()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-files")


def good_rows(n: int) -> list[dict]:
    """``n`` valid hazards with codes and places no other example uses."""
    rows = []
    for _ in range(n):
        k = next(_serial)
        lon, lat = -170.0 + (k % 3000) * 0.01, -60.0 + (k // 3000) * 0.01
        rows.append(
            {
                "code": f"GOOD-{k:06d}",
                "hazard_type": "SHA" if k % 2 else "CHA",
                "reported_on": "2025-03-01",
                "geometry": shapely.box(lon, lat, lon + 0.002, lat + 0.002),
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# what garbage is made of

junk_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["", " ", "NULL", "N/A", "2026-02-30", "1e999", "-0", "SHA ", "cha", "open", "\x00", "'; drop"]
)
junk_number = st.one_of(
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1e308]),
)
junk_scalar = st.one_of(st.none(), junk_text, junk_number, st.booleans())
junk_json = st.recursive(
    junk_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(junk_text, inner, max_size=3),
    max_leaves=6,
)
junk_key = st.one_of(
    st.sampled_from(
        ["code", "hazard_type", "reported_on", "status", "priority", "organisation", "eo_categories"]
    ),
    st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8).map(
        lambda s: "x_" + s
    ),
)
# Where a hazard polygon should be: anything a broken GIS file may hold, or nothing.
junk_geometry = functools.partial(
    broken_geometry, kinds=("none", *BROKEN_KINDS), x=(0.0, 10.0), y=(0.0, 10.0)
)


junk_geojson_geometry = st.one_of(
    junk_geometry().map(lambda g: None if g is None or isinstance(g, bytes) else shapely.geometry.mapping(g)),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "Banana"]), "coordinates": junk_json}
    ),
    junk_json,
)


def _mix(draw, good: list, junk: list) -> list:
    rows = good + junk
    order = draw(st.permutations(range(len(rows))))
    return [rows[i] for i in order]


def damaged(draw, raw: bytes, damage: str | None) -> bytes:
    """The file's bytes cut short or with bytes inserted (positions drawn as fractions: the
    length depends on the codes, which differ between runs, and a draw must not)."""
    if damage is None:
        return raw
    at = int(draw(st.floats(0, 1)) * len(raw))
    if damage == "cut":
        return raw[:at]
    return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]


def _plain(value):
    """JSON for a geometry-free value (shapely geometries written as GeoJSON mappings)."""
    return shapely.geometry.mapping(value) if isinstance(value, shapely.Geometry) else value


# ---------------------------------------------------------------------------------------------
# GeoJSON


@SETTINGS
@given(
    data=st.data(),
    n_good=st.integers(0, 4),
    n_junk=st.integers(0, 8),
    damage=st.sampled_from([None, None, "cut", "bytes"]),
)
def test_geojson(register, folder, data, n_good, n_junk, damage):
    good = good_rows(n_good)
    junk = [
        {
            "properties": data.draw(st.dictionaries(junk_key, junk_json, max_size=6)),
            "geometry": data.draw(junk_geojson_geometry),
        }
        for _ in range(n_junk)
    ]
    features = [
        {
            "type": "Feature",
            "properties": {k: v for k, v in g.items() if k != "geometry"},
            "geometry": _plain(g["geometry"]),
        }
        for g in good
    ] + [{"type": "Feature", **j} for j in junk]
    features = _mix(data.draw, features[:n_good], features[n_good:])
    text = json.dumps({"type": "FeatureCollection", "features": features}, allow_nan=True)
    raw = text.encode()
    raw = damaged(data.draw, raw, damage)
    path = folder / f"f{next(_serial)}.geojson"
    path.write_bytes(raw)
    good_codes = [g["code"] for g in good] if damage is None else []
    register.run("geojson", path, good=good_codes, readable=damage is None)


# ---------------------------------------------------------------------------------------------
# CSV


@SETTINGS
@given(
    data=st.data(),
    n_good=st.integers(0, 4),
    n_junk=st.integers(0, 8),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]),
    damage=st.sampled_from([None, None, "cut", "bytes"]),
)
def test_csv(register, folder, data, n_good, n_junk, delimiter, encoding, damage):
    extra = data.draw(st.lists(junk_key.filter(lambda k: k.startswith("x_")), max_size=3, unique=True))
    header = ["code", "hazard_type", "reported_on", "wkt", *extra]
    good = good_rows(n_good)
    rows = [
        [g["code"], g["hazard_type"], g["reported_on"], g["geometry"].wkt] + [""] * len(extra) for g in good
    ]
    cell = st.one_of(
        junk_text,
        junk_number.map(str),
        junk_geometry().map(lambda g: g.wkt if isinstance(g, shapely.Geometry) else ""),
    )
    junk = [[data.draw(cell) for _ in header] for _ in range(n_junk)]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(_mix(data.draw, rows, junk))
    try:
        raw = out.getvalue().encode(encoding)
    except UnicodeEncodeError:
        raw = out.getvalue().encode("utf-8")
    raw = damaged(data.draw, raw, damage)
    path = folder / f"f{next(_serial)}.csv"
    path.write_bytes(raw)
    # A NUL in a cell, or text that is not the encoding detected, may make a row unreadable
    # for the CSV reader itself: then only "no crash, no partial write" is asked for.
    readable = damage is None and "\x00" not in out.getvalue()
    register.run("csv", path, good=[g["code"] for g in good] if readable else [], readable=readable)


# ---------------------------------------------------------------------------------------------
# XLSX

xlsx_cell = st.one_of(
    st.none(),
    junk_text.filter(
        lambda s: openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE.search(s) is None and not s.startswith("=")
    ),
    junk_number,
    st.booleans(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 1, 1)),
    st.dates(min_value=date(1900, 3, 1)),
    st.sampled_from(["=1/0", "=NA()", "#REF!", "#DIV/0!"]),
)


@SETTINGS
@given(data=st.data(), n_good=st.integers(0, 4), n_junk=st.integers(0, 8))
def test_xlsx(register, folder, data, n_good, n_junk):
    extra = data.draw(st.lists(junk_key.filter(lambda k: k.startswith("x_")), max_size=3, unique=True))
    header = ["code", "hazard_type", "reported_on", "wkt", *extra]
    good = good_rows(n_good)
    rows = [
        [g["code"], g["hazard_type"], g["reported_on"], g["geometry"].wkt] + [None] * len(extra) for g in good
    ]
    junk = [[data.draw(xlsx_cell) for _ in header] for _ in range(n_junk)]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in _mix(data.draw, rows, junk):
        sheet.append(row)
    path = folder / f"f{next(_serial)}.xlsx"
    book.save(path)
    register.run("xlsx", path, good=[g["code"] for g in good])


# ---------------------------------------------------------------------------------------------
# Shapefile and GeoPackage through GDAL


@SETTINGS
@given(
    data=st.data(),
    n_good=st.integers(0, 4),
    n_junk=st.integers(0, 8),
    driver=st.sampled_from(["GPKG", "ESRI Shapefile"]),
)
def test_gdal_formats(register, folder, data, n_good, n_junk, driver):
    good = good_rows(n_good)
    shp = driver == "ESRI Shapefile"
    geoms = [g["geometry"] for g in good]
    junk_geoms = [data.draw(junk_geometry()) for _ in range(n_junk)]
    if shp:  # a shapefile holds one geometry type: keep the garbage polygonal (or missing)
        junk_geoms = [
            g if isinstance(g, shapely.Polygon | shapely.MultiPolygon) else None for g in junk_geoms
        ]
    order = data.draw(st.permutations(range(n_good + n_junk)))
    text_cell = junk_text.map(lambda s: s.replace("\x00", "")[:80])
    columns = {
        "code": [g["code"] for g in good] + [data.draw(text_cell) for _ in range(n_junk)],
        "hazard_type": [g["hazard_type"] for g in good] + [data.draw(text_cell) for _ in range(n_junk)],
        "reported_on": [g["reported_on"] for g in good] + [data.draw(text_cell) for _ in range(n_junk)],
        "x_number": [0.0] * n_good + [float(data.draw(st.floats(-1e12, 1e12))) for _ in range(n_junk)],
        "x_text": [""] * n_good + [data.draw(text_cell) for _ in range(n_junk)],
    }
    assume(n_good + n_junk > 0)
    wkb = np.empty(n_good + n_junk, dtype=object)
    all_geoms = geoms + junk_geoms
    wkb[:] = [
        all_geoms[i]
        if all_geoms[i] is None or isinstance(all_geoms[i], bytes)
        else shapely.to_wkb(all_geoms[i])
        for i in order
    ]
    arrays = [
        np.asarray([values[i] for i in order])
        if name == "x_number"
        else np.array([values[i] for i in order], dtype=object)
        for name, values in columns.items()
    ]
    path = folder / (f"f{next(_serial)}" + (".shp" if shp else ".gpkg"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pyogrio.raw.write(
                str(path), wkb, arrays, list(columns), crs="EPSG:4326", driver=driver,
                geometry_type="MultiPolygon" if shp else "Unknown", encoding="UTF-8" if shp else None,
            )  # fmt: skip
        except Exception:  # GDAL itself refused to write this garbage: nothing to import
            assume(False)
    register.run("shp" if shp else "gpkg", path, good=[g["code"] for g in good])


# ---------------------------------------------------------------------------------------------
# --map / --default

option_text = st.one_of(
    st.text(max_size=25),
    st.builds(
        lambda a, b: f"{a}={b}",
        st.sampled_from([*sorted(FIELD_NAMES), "", " ", "Code", "WKT", "nope"]),
        st.sampled_from(
            ["code", "hazard_type", "reported_on", "wkt", "kind", "", "x", "2025-01-01", "SHA", "open"]
        )
        | st.text(max_size=10),
    ),
)


@SETTINGS
@given(
    maps=st.one_of(st.just(["hazard_type=kind"]), st.lists(option_text, max_size=3)).flatmap(
        lambda base: (
            st.just(base) | st.just(base) | st.lists(option_text, max_size=2).map(lambda more: base + more)
        )
    ),
    # Valid options often enough that the accepted path is fuzzed too, not only the refusals.
    defaults=st.just([])
    | st.lists(st.sampled_from(["status=open", "priority=high", "organisation=HALO", "eo_categories=apm"]))
    | st.lists(option_text, max_size=4),
    kind=st.just("hazard") | st.sampled_from(sorted(KINDS)),
    source_id=st.sampled_from([None, None, None, "code", "kind", "nope", ""]),
)
def test_map_and_default_options(register, folder, maps, defaults, kind, source_id):
    good = good_rows(3)
    path = folder / f"f{next(_serial)}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["code", "kind", "reported_on", "wkt"])
        for g in good:
            writer.writerow([g["code"], g["hazard_type"], g["reported_on"], g["geometry"].wkt])
    register.run("map_default", path, kind=kind, maps=maps, defaults=defaults, source_id=source_id)


# ---------------------------------------------------------------------------------------------
# every kind, from GeoJSON


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)), n=st.integers(1, 8))
def test_every_kind(register, folder, data, kind, n):
    names = [n for f in KINDS[kind].fields for n in (f.name, *f.aliases)]
    features = []
    for _ in range(n):
        props = data.draw(st.dictionaries(st.sampled_from(names) | junk_key, junk_json, max_size=8))
        geometry = data.draw(
            junk_geojson_geometry
            | st.builds(
                lambda x, y: {"type": "Point", "coordinates": [x, y]},
                st.floats(-180, 180),
                st.floats(-90, 90),
            )
            | st.builds(
                lambda x, y: shapely.geometry.mapping(shapely.box(x, y, x + 0.01, y + 0.01)),
                st.floats(-170, 170),
                st.floats(-80, 80),
            )
        )
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    path = folder / f"f{next(_serial)}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    register.run(f"kind_{kind}", path, kind=kind)


def test_field_name_not_utf8_is_a_clean_refusal(register, folder):
    path = folder / "bad-field-name.geojson"
    path.write_bytes(
        b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"\x80code": "A"}, '
        b'"geometry": {"type": "Point", "coordinates": [1, 2]}}]}'
    )
    with pytest.raises(DemineError, match="cannot read"):
        plan_import(path, ImportOptions(kind="find", rejects=path.with_suffix(".rejects.geojson")))


def test_list_property_keeps_the_text_of_other_rows(register, folder):
    good = good_rows(1)[0]
    features = [
        {
            "type": "Feature",
            "properties": {k: v for k, v in good.items() if k != "geometry"},
            "geometry": _plain(good["geometry"]),
        },
        {"type": "Feature", "properties": {"code": ["x", "y"]}, "geometry": None},
    ]
    path = folder / "list-property.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    plan = plan_import(
        path, ImportOptions(kind="hazard", rejects=path.with_suffix(".rejects.geojson"), today=TODAY)
    )
    result = import_file(register.engine, plan)
    assert result.imported == 1
    assert register.codes([good["code"]]) == {good["code"]}


def test_zz_record_counts(register):
    """Runs last in this module: write how many files each importer saw and what became of them."""
    record_result(
        "fuzz_importers",
        {
            "examples_per_test": EXAMPLES,
            "outcomes": TALLY,
            "hazards_in_register": register.counts()["hazard"],
        },
    )
