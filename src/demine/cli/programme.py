"""Commands over the register: init, demo, summary, hazards, release, history."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from demine.cli.common import DbOption, JsonOption, column_area_unit, console, fmt_area_in, fmt_m2, print_json
from demine.domain.errors import DemineError

if TYPE_CHECKING:
    from sqlalchemy import Connection

hazards_app = typer.Typer(help="List and show hazardous areas.", no_args_is_help=True, rich_markup_mode=None)

# One login per role for trying the web interface on the demo programme. The password is
# printed and documented: never use --users on a real register.
DEMO_PASSWORD = "demine-demo"
DEMO_USERS = (
    ("admin", "admin", None),
    ("im", "im_officer", "NMAA"),
    ("manager", "operator_manager", "HDT"),
    ("operator", "operator", "HDT"),
    ("qa", "qa_officer", "NMAA"),
    ("viewer", "viewer", None),
)


def init(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Create (or migrate) a database: a GeoPackage with the register's tables and code lists."""
    from demine.storage.database import current_revision, open_database

    engine = open_database(db, create=True)
    where = engine.url.database or engine.url.render_as_string(hide_password=True)
    if json_out:
        print_json({"database": where, "revision": current_revision(engine)})
        return
    console.print(f"database ready: {where}")


def demo(
    db: DbOption = None,
    hazards: Annotated[int, typer.Option(min=1, help="Number of hazards.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same programme.")] = 1,
    as_of: Annotated[
        str | None, typer.Option(help="Last day of history, YYYY-MM-DD [default: today].")
    ] = None,
    replace: Annotated[bool, typer.Option(help="Delete an existing database file first.")] = False,
    users: Annotated[
        bool,
        typer.Option(
            "--users",
            help=f"Also add a web login for each role, all with the password {DEMO_PASSWORD!r} (demo only).",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Build the synthetic demo programme (region, hazards, teams, two years of history)."""
    from sqlalchemy import func, select

    from demine.storage import schema
    from demine.storage.database import open_database, resolve_url
    from demine.synthetic.programme import build_programme

    url = resolve_url(db)
    path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if path is not None and path.exists():
        if not replace:
            raise DemineError(f"{path} exists; pass --replace to rebuild it")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    day = _parse_date(as_of, "--as-of") if as_of else None
    engine = open_database(url, create=True)
    with engine.connect() as conn:
        held = [
            t.name
            for t in (schema.organisation, schema.hazard, schema.team)
            if conn.execute(select(func.count()).select_from(t)).scalar_one()
        ]
    if held:
        # Only a file is ever replaced: a server database is not emptied by a demo command.
        engine.dispose()
        raise DemineError(
            f"the database already holds records ({', '.join(held)}): build the demo into a new, "
            "empty database"
        )
    with console.status("building the demo programme") as status, engine.begin() as conn:
        counts = build_programme(
            conn,
            hazards=hazards,
            seed=seed,
            as_of=day,
            progress=lambda m: status.update(f"building {m}"),
        )
        logins = add_demo_users(conn) if users else []
    if json_out:
        print_json(counts | ({"users": logins} if users else {}))
        return
    table = Table(title=f"Demo programme (seed {seed})", show_header=False)
    for key, value in counts.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    if logins:
        t = Table(title=f"Demo logins (password for all: {DEMO_PASSWORD})")
        for col in ("username", "role", "organisation"):
            t.add_column(col)
        for row in logins:
            t.add_row(row["username"], row["role"], row["organisation"] or "")
        console.print(t)


def add_demo_users(conn: Connection) -> list[dict[str, str | None]]:
    """Add the demo logins (one per role) to a freshly built demo programme."""
    from demine.accounts.users import add_user

    out = []
    for username, role, organisation in DEMO_USERS:
        add_user(conn, username, role, organisation, DEMO_PASSWORD, full_name=f"Demo {role}", actor="demo")
        out.append({"username": username, "role": role, "organisation": organisation})
    return out


def summary(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Hazards by type and status, area remaining and released by method, teams by accreditation."""
    from demine.reports.summary import programme_summary
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.connect() as conn:
        data = programme_summary(conn)
    if json_out:
        print_json(data)
        return
    area = data["area"]
    rows = data["hazards"]["by_type_status"]
    # One unit for the table's area columns, named in their headers; --json keeps m².
    unit, per = column_area_unit(v for r in rows for v in (r["area_m2"], r["remaining_m2"]))
    t = Table(title=f"Hazards ({data['hazards']['count']:,})")
    for col in ("type", "status", "count", f"area ({unit})", f"remaining ({unit})"):
        t.add_column(col, justify="left" if col in ("type", "status") else "right")
    for r in rows:
        t.add_row(
            r["hazard_type"],
            r["status"],
            f"{r['count']:,}",
            fmt_area_in(r["area_m2"], per),
            fmt_area_in(r["remaining_m2"], per),
        )
    console.print(t)
    balance = (
        ("cancelled_m2", "cancelled (NTS)"),
        ("reduced_m2", "reduced (TS)"),
        ("cleared_m2", "cleared"),
        ("remaining_m2", "remaining"),
        ("original_m2", "original"),
    )
    unit, per = column_area_unit(area[key] for key, _ in balance)
    a = Table(title="Land release balance")
    a.add_column("")
    a.add_column(f"area ({unit})", justify="right")
    a.add_column("share", justify="right")
    original = area["original_m2"] or 1.0
    for key, label in balance:
        a.add_row(label, fmt_area_in(area[key], per), f"{area[key] / original:.1%}")
    console.print(a)
    mark = "[green]balanced[/]" if area["balanced"] else "[red]NOT balanced[/]"
    console.print(
        f"cancelled + reduced + cleared + remaining − original = {area['balance_m2']:.3f} m² ({mark})"
    )
    tt = Table(title="Teams by accreditation status")
    for col in ("type", "total", "valid", "expiring ≤60d", "expired", "none"):
        tt.add_column(col, justify="left" if col == "type" else "right")
    for r in data["teams"]:
        tt.add_row(r["team_type"], *(str(r[k]) for k in ("total", "valid", "expiring", "expired", "none")))
    console.print(tt)
    found = ", ".join(f"{k} {v:,}" for k, v in data["eo_found"].items()) or "none"
    console.print(
        f"EO found: {found}. Accidents: {data['accidents']} "
        f"(killed {data['victims']['killed']}, injured {data['victims']['injured']})."
    )


@hazards_app.command("list")
def hazards_list(
    db: DbOption = None,
    status: Annotated[
        str | None, typer.Option(help="A code or label of the hazard_status list (open, suspended, ...).")
    ] = None,
    hazard_type: Annotated[
        str | None, typer.Option("--type", help="A code or label of the hazard_type list (SHA, CHA).")
    ] = None,
    bbox: Annotated[str | None, typer.Option(help="minlon,minlat,maxlon,maxlat (WGS 84)")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    json_out: JsonOption = False,
) -> None:
    """List hazards, filtered by status, type and bounding box.

    Values match a code or a label of their code list in any case (``--type cha``); an unknown
    one is refused with the valid ones, rather than listing nothing.
    """
    from demine.ingest.values import CodeResolver, ValueProblem
    from demine.register.hazards import count_hazards, list_hazards
    from demine.storage.codelists import load_code_lists
    from demine.storage.database import open_database

    box = _parse_bbox(bbox) if bbox else None
    engine = open_database(db)
    with engine.connect() as conn:
        resolver = CodeResolver(load_code_lists(conn))
        try:
            status = resolver.code("hazard_status", status, "--status") if status else None
            hazard_type = resolver.code("hazard_type", hazard_type, "--type") if hazard_type else None
        except ValueProblem as exc:
            raise DemineError(exc.message) from None
        rows = list_hazards(
            conn, status=status, hazard_type=hazard_type, bbox=box, limit=limit, offset=offset
        )
        total = count_hazards(conn, status=status, hazard_type=hazard_type, bbox=box)
    if json_out:
        print_json(rows)
        return
    shown = f"{offset + 1:,}–{offset + len(rows):,} of {total:,}" if rows else f"none of {total:,}"
    more = " (--offset and --limit page through the rest)" if offset + len(rows) < total else ""
    unit, per = column_area_unit(v for r in rows for v in (r["area_m2"], r["remaining_area_m2"]))
    t = Table(title=f"Hazards: {shown}{more}")
    for col in ("code", "type", "status", "admin", "priority"):
        t.add_column(col)
    for col in (f"area ({unit})", f"remaining ({unit})"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            r["code"],
            r["hazard_type"],
            r["status"],
            r["admin_pcode"] or "",
            r["priority"] or "",
            fmt_area_in(r["area_m2"], per),
            fmt_area_in(r["remaining_area_m2"], per),
        )
    console.print(t)


@hazards_app.command("show")
def hazards_show(code: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Show one hazard: attributes, beneficiaries, releases and its remaining-area history."""
    from demine.landrelease.history import remaining_area_history
    from demine.register.hazards import get_hazard
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.connect() as conn:
        data = get_hazard(conn, code)
        data["history"] = remaining_area_history(conn, code)
    if json_out:
        print_json(data)
        return
    geometry = data.pop("geometry")
    unit, per = column_area_unit(v for k, v in data.items() if k.endswith("area_m2"))
    t = Table(title=f"Hazard {code}", show_header=False)
    for key, value in data.items():
        if key in ("beneficiaries", "releases", "history", "entered_geometry"):
            continue
        if key.endswith("area_m2"):
            # The unit goes with the name ("area (ha)"): the value column holds other fields too.
            key, shown = (
                f"{key.removesuffix('_m2')} ({unit})",
                "" if value is None else fmt_area_in(value, per),
            )
        elif value is None:
            shown = ""
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = str(value)
        t.add_row(key, shown)
    t.add_row(
        "geometry",
        f"{geometry['type']} ({len(str(geometry))} chars of GeoJSON)" if geometry else "none",
    )
    console.print(t)
    if data["releases"]:
        unit, per = column_area_unit(
            v for p in data["releases"] for v in (p["area_m2"], p["released_area_m2"])
        )
        r = Table(title="Land release products")
        for col in ("id", "method", "released on"):
            r.add_column(col)
        for col in (f"area ({unit})", f"released ({unit})"):
            r.add_column(col, justify="right")
        for p in data["releases"]:
            r.add_row(
                str(p["id"]),
                p["method"],
                str(p["released_on"]),
                fmt_area_in(p["area_m2"], per),
                fmt_area_in(p["released_area_m2"], per),
            )
        console.print(r)
    if data["beneficiaries"]:
        b = Table(title="Beneficiaries")
        for col in ("kind", "sex", "age band", "people"):
            b.add_column(col, justify="right" if col == "people" else "left")
        for row in data["beneficiaries"]:
            b.add_row(row["kind"], row["sex"], row["age_band"], f"{row['count']:,}")
        console.print(b)
    else:
        console.print("Beneficiaries: none recorded.")
    console.print(_history_table(data["history"], "Remaining area over time"))


def release(
    hazard: Annotated[str, typer.Argument(help="Hazard code.")],
    geometry: Annotated[
        Path,
        typer.Argument(
            help="GeoJSON (geometry, Feature or one-feature collection) or WKT file; '-' for stdin.",
            allow_dash=True,
        ),
    ],
    method: Annotated[str, typer.Option(help="cancelled, reduced or cleared")],
    released_on: Annotated[str, typer.Option("--date", help="Release date YYYY-MM-DD.")],
    db: DbOption = None,
    activity: Annotated[str | None, typer.Option(help="Activity code that produced it.")] = None,
    depth: Annotated[float | None, typer.Option("--depth-cm", help="Clearance depth in cm.")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of the coordinates [default: EPSG:4326].")] = None,
    note: Annotated[str | None, typer.Option()] = None,
    force: Annotated[
        bool,
        typer.Option(help="Record even if it strays outside the hazard or over earlier releases."),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Record a land release product against a hazard; its polygon is subtracted from what remains."""
    from demine.geometry.reading import read_geometry
    from demine.landrelease.accounting import NewRelease, record_release
    from demine.storage.database import open_database

    text = typer.get_text_stream("stdin").read() if str(geometry) == "-" else _read_text(geometry)
    record = f"release for hazard {hazard}"
    entered = read_geometry(text, record, "geometry", crs)
    day = _parse_date(released_on, "--date")
    engine = open_database(db)
    with engine.begin() as conn:
        result = record_release(
            conn,
            NewRelease(
                hazard=hazard,
                method=method,
                released_on=day,
                geometry=entered,
                activity=activity,
                clearance_depth_cm=depth,
                note=note,
                force=force,
            ),
        )
    if json_out:
        print_json(result)
        return
    console.print(
        f"recorded product {result['release_product_id']}: {method} {fmt_m2(result['released_area_m2'])} "
        f"of hazard {hazard}; remaining {fmt_m2(result['remaining_area_m2'])}"
        + (" — hazard closed" if result["hazard_closed"] else "")
    )
    not_counted = [
        f"{fmt_m2(result[key])} {what}"
        for key, what in (("outside_m2", "outside the hazard"), ("overlap_m2", "over land already released"))
        if result.get(key, 0) > 0.5  # below a square metre is the rounding of two polygons' shared edge
    ]
    if force and not_counted:
        console.print(
            f"forced (--force): of the {fmt_m2(result['product_area_m2'])} product, "
            + " and ".join(not_counted)
            + " was recorded with the product but not counted as released"
        )


def history(
    hazard: Annotated[str | None, typer.Argument(help="Hazard code [default: whole programme].")] = None,
    db: DbOption = None,
    last: Annotated[int, typer.Option(min=0, help="Show only the last N changes (0: all).")] = 40,
    json_out: JsonOption = False,
) -> None:
    """Remaining area over time, for one hazard or the whole programme."""
    from demine.landrelease.history import remaining_area_history
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.connect() as conn:
        series = remaining_area_history(conn, hazard)
    if json_out:
        print_json(series)
        return
    shown = series[-last:] if last else series
    title = f"Remaining area{' of ' + hazard if hazard else ''}"
    caption = (
        f"the last {len(shown):,} of {len(series):,} changes; --last 0 shows all"
        if len(shown) < len(series)
        else None
    )
    console.print(_history_table(shown, title, caption))


def _history_table(series: list[dict], title: str, caption: str | None = None) -> Table:
    unit, per = column_area_unit(v for row in series for v in (row["change_m2"], row["remaining_m2"]))
    t = Table(title=title, caption=caption)
    for col in ("date", f"change ({unit})", f"remaining ({unit})"):
        t.add_column(col, justify="right")
    for row in series:
        t.add_row(str(row["date"]), fmt_area_in(row["change_m2"], per), fmt_area_in(row["remaining_m2"], per))
    return t


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DemineError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DemineError(f"{path} is not UTF-8 text (a GeoJSON or WKT file): {exc.reason}") from exc


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise DemineError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from exc


def _parse_bbox(value: str) -> tuple[float, float, float, float]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise DemineError(f"--bbox: {value!r} must be four numbers minlon,minlat,maxlon,maxlat") from exc
    if minx > maxx or miny > maxy:
        raise DemineError(f"--bbox: {value!r} has min greater than max")
    return minx, miny, maxx, maxy


def register(app: typer.Typer) -> None:
    """Add these commands to the ``demine`` app."""
    app.command()(init)
    app.command()(demo)
    app.command()(summary)
    app.command()(release)
    app.command()(history)
    app.add_typer(hazards_app, name="hazards")
