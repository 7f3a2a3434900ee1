"""Command paths issue 19 found untested, end to end: real ``demine`` processes on a real database.

``history`` for one hazard, ``import-reasons``, ``release --force/--activity/--depth-cm``,
``forecast --horizon/--discovery-years`` and ``serve --secure-cookies``. Each test asserts
what its option does to the register or the answer, not only that the command runs.
(``history`` for the whole programme and ``hazards list --type`` are in ``test_cli.py``.)
"""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import shapely
from sqlalchemy import func, select

import backend_support
from demine.storage import schema
from demine.storage.database import open_database
from serve_support import start_server, stop_server

DEMINE = [sys.executable, "-m", "demine"]
START = "2026-07-01"  # the day after the session demo's history ends


def run(*args, db=None, check=True, stdin=None) -> subprocess.CompletedProcess:
    cmd = [*DEMINE, *map(str, args)] + (["--db", str(db)] if db else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_together(*commands: list[str]) -> list[dict]:
    """Several ``demine ... --json`` at once (each is mostly start-up and reading), their JSON answers."""
    procs = [
        subprocess.Popen([*DEMINE, *map(str, c)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    answers = []
    for cmd, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{err}"
        answers.append(json.loads(out))
    return answers


@pytest.fixture(scope="module")
def register(demo, tmp_path_factory):
    """A private, writable copy of the session's demo programme (150 hazards)."""
    return backend_support.clone(demo.template, tmp_path_factory.mktemp("untested") / "register.gpkg")


def _rows(db, query) -> list:
    engine = open_database(db)
    try:
        with engine.connect() as conn:
            return conn.execute(query).all()
    finally:
        engine.dispose()


def _untouched_hazard(db, skip: int = 0):
    """An open hazard nothing was released from yet (code, geom, area_m2): all of it is releasable."""
    h = schema.hazard
    rows = _rows(
        db,
        select(h.c.code, h.c.geom, h.c.area_m2, h.c.remaining_area_m2)
        .where(h.c.status == "open")
        .order_by(h.c.id),
    )
    return [r for r in rows if math.isclose(r.remaining_area_m2, r.area_m2)][skip]


def _straddling(hazard, at: float, path: Path) -> Path:
    """A WKT disc centred on the hazard's boundary: about half of it lies outside the hazard."""
    ring = shapely.get_exterior_ring(shapely.get_geometry(hazard.geom, 0))
    path.write_text(ring.interpolate(at, normalized=True).buffer(0.0002).wkt)
    return path


def _show(db, code: str) -> dict:
    return json.loads(run("hazards", "show", code, "--json", db=db).stdout)


# ---------------------------------------------------------------------------------------------
# release --force


def test_force_records_a_release_that_strays_outside_the_hazard(register, tmp_path):
    hazard = _untouched_hazard(register)
    code = hazard.code
    product = _straddling(hazard, 0.3, tmp_path / "straddling.wkt")
    release = ("release", code, product, "--method", "cleared", "--date", "2026-07-10")

    refused = run(*release, db=register, check=False)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "of the product lies outside the hazard; correct the polygon or pass --force" in refused.stderr
    assert "nothing was written" in refused.stderr and "Traceback" not in refused.stderr
    assert _show(register, code)["releases"] == []

    out = json.loads(run(*release, "--force", "--json", db=register).stdout)
    product_m2, released, outside = out["product_area_m2"], out["released_area_m2"], out["outside_m2"]
    assert 0.3 * product_m2 < outside < 0.7 * product_m2
    assert out["overlap_m2"] == pytest.approx(0, abs=0.01)  # nothing was released there before
    # Only the part inside the hazard is released; the part outside is kept on the product.
    assert released + outside == pytest.approx(product_m2, rel=1e-6)
    assert out["remaining_area_m2"] == pytest.approx(hazard.area_m2 - released, rel=1e-9)
    (recorded,) = _show(register, code)["releases"]
    assert recorded["id"] == out["release_product_id"] and recorded["forced"] is True
    assert recorded["area_m2"] == pytest.approx(product_m2) and recorded["released_area_m2"] == pytest.approx(
        released
    )


def test_a_forced_release_says_it_was_forced(register, tmp_path):
    hazard = _untouched_hazard(register, skip=1)
    product = _straddling(hazard, 0.6, tmp_path / "straddling.wkt")
    out = run(
        "release", hazard.code, product, "--method", "cleared", "--date", "2026-07-10", "--force", db=register
    )
    text = " ".join(out.stdout.split())
    assert "forced" in text and "outside the hazard" in text


# ---------------------------------------------------------------------------------------------
# release --activity and --depth-cm


def test_activity_and_depth_are_checked_stored_and_exported(register, tmp_path):
    a, h = schema.activity, schema.hazard
    found = _rows(
        register,
        select(a.c.id, a.c.code, a.c.activity_type, h.c.code.label("hazard"), h.c.id.label("hazard_id"))
        .join(h, h.c.id == a.c.hazard_id)
        .where(h.c.status == "open")
        .order_by(a.c.id),
    )
    by_hazard: dict[str, dict[str, object]] = {}
    for row in found:
        by_hazard.setdefault(row.hazard, {}).setdefault(row.activity_type, row)
    code, acts = next((k, v) for k, v in by_hazard.items() if {"clearance", "nts"} <= set(v))
    clearance, nts = acts["clearance"], acts["nts"]
    elsewhere = next(r for r in found if r.activity_type == "clearance" and r.hazard != code)

    remaining = _rows(
        register,
        select(schema.hazard_remaining.c.geom).where(schema.hazard_remaining.c.id == clearance.hazard_id),
    )[0][0]
    product = tmp_path / "inside.wkt"
    product.write_text(remaining.intersection(remaining.representative_point().buffer(0.0003)).wkt)
    release = ("release", code, product, "--method", "cleared", "--date", "2026-07-11")
    p = schema.release_product
    count = select(func.count()).select_from(p).where(p.c.hazard_id == clearance.hazard_id)
    before = _rows(register, count)[0][0]

    for extra, message in (
        (["--activity", "ACT-NOPE"], "activity: no activity with code 'ACT-NOPE'"),
        (["--activity", nts.code], "a nts activity cannot produce a 'cleared' release"),
        (["--activity", elsewhere.code], f"activity {elsewhere.code} works on another hazard"),
        (["--activity", clearance.code, "--depth-cm", "-5"], "clearance_depth_cm: must not be negative"),
    ):
        refused = run(*release, *extra, db=register, check=False)
        assert refused.returncode == 3 and message in refused.stderr, (extra, refused.stderr)
        assert "nothing was written" in refused.stderr and "Traceback" not in refused.stderr
    assert _rows(register, count)[0][0] == before  # nothing was written

    out = json.loads(
        run(*release, "--activity", clearance.code, "--depth-cm", "130", "--json", db=register).stdout
    )
    product_id = out["release_product_id"]
    (stored,) = _rows(
        register, select(p.c.activity_id, p.c.clearance_depth_cm, p.c.forced).where(p.c.id == product_id)
    )
    assert (stored.activity_id, stored.clearance_depth_cm, bool(stored.forced)) == (
        clearance.id,
        130.0,
        False,
    )
    # What a user sees: the export names the activity by its code and gives the depth.
    exported = tmp_path / "product.csv"
    run("export", exported, "--kind", "release", "--where", f"id = {product_id}", db=register)
    (row,) = csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8-sig")))
    assert row["activity"] == clearance.code and float(row["clearance_depth_cm"]) == 130.0
    assert row["hazard"] == code and row["method"] == "cleared"


# ---------------------------------------------------------------------------------------------
# history HAZARD


def test_history_of_one_hazard_adds_up_to_its_releases(register):
    h, p = schema.hazard, schema.release_product
    most = (
        select(h.c.code)
        .join(p, p.c.hazard_id == h.c.id)
        .where(h.c.status == "open")
        .group_by(h.c.code)
        .order_by(func.count().desc(), h.c.code)
        .limit(1)
    )
    ((code,),) = _rows(register, most)
    detail = _show(register, code)
    series = json.loads(run("history", code, "--json", db=register).stdout)
    # First the hazard's registration (its whole area), then one change per release product.
    assert series[0]["change_m2"] == pytest.approx(detail["area_m2"])
    assert [r["date"] for r in series] == sorted(r["date"] for r in series)
    running = 0.0
    for r in series:
        running += r["change_m2"]
        assert r["remaining_m2"] == pytest.approx(running, rel=1e-9, abs=1e-6)
    assert series[-1]["remaining_m2"] == pytest.approx(detail["remaining_area_m2"])
    assert sorted(-r["change_m2"] for r in series[1:]) == pytest.approx(
        sorted(p["released_area_m2"] for p in detail["releases"])
    )
    shown = run("history", code, "--last", "1", db=register).stdout
    assert f"Remaining area of {code}" in shown
    assert f"the last 1 of {len(series)} changes" in " ".join(shown.split())
    unknown = run("history", "HA-NOPE", db=register, check=False)
    assert unknown.returncode == 4 and "no hazard with code 'HA-NOPE'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


# ---------------------------------------------------------------------------------------------
# import-reasons


def test_import_reasons_lists_every_reason_a_real_import_gives(fresh_db, tmp_path):
    square = "POLYGON (({x} 47.70, {y} 47.70, {y} 47.702, {x} 47.702, {x} 47.70))"
    rows = [
        ("R-1", "CHA", "2026-01-05", "", square.format(x=31.600, y=31.602)),
        ("R-2", "CHA", "2099-01-05", "", square.format(x=31.610, y=31.612)),  # in the future
        ("R-3", "XYZ", "2026-01-05", "", square.format(x=31.620, y=31.622)),  # not a hazard type
        ("", "CHA", "2026-01-05", "", square.format(x=31.630, y=31.632)),  # no code
        ("R-1", "CHA", "2026-01-05", "", square.format(x=31.640, y=31.642)),  # twice
        ("R-6", "CHA", "2026-01-05", "", "POINT (31.65 47.70)"),
        ("R-7", "CHA", "2026-01-05", "", ""),
        ("R-8", "CHA", "2026-01-05", "NOPE", square.format(x=31.660, y=31.662)),
        (
            "R-9",
            "CHA",
            "2026-01-05",
            "",
            "POLYGON ((31.67 47.70, 31.672 47.702, 31.672 47.70, 31.67 47.702, 31.67 47.70))",
        ),
        ("R-10", "CHA", "2026-01-05", "", square.format(x=200.000, y=200.002)),
    ]
    source = tmp_path / "hazards.csv"
    with source.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["code", "hazard_type", "reported_on", "organisation", "wkt"])
        writer.writerows(rows)
    rejects = tmp_path / "rejects.csv"
    done = run(
        "import", source, "--kind", "hazard", "--map", "geometry=wkt", "--rejects", rejects, "--dry-run",
        "--json", db=fresh_db, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # rejected rows are findings
    report = json.loads(done.stdout)
    assert (report["read"], report["rejected"]) == (10, 9)
    given = set(report["reasons"])
    assert len(given) == 9  # each bad row fails for a reason of its own
    with rejects.open(encoding="utf-8-sig") as f:
        assert {r["_reason"] for r in csv.DictReader(f)} == given

    listed = json.loads(run("import-reasons", "--json").stdout)
    assert given <= set(listed), (
        f"the import gave reasons import-reasons does not list: {given - set(listed)}"
    )
    assert all(isinstance(m, str) and len(m) > 10 for m in listed.values())
    table = run("import-reasons").stdout
    for reason in listed:
        assert reason in table


# ---------------------------------------------------------------------------------------------
# forecast --horizon and --discovery-years


@pytest.fixture(scope="module")
def forecast_db(demo, tmp_path_factory):
    """Its own copy: the release tests above change the register the forecast reads."""
    return backend_support.clone(demo.template, tmp_path_factory.mktemp("forecast") / "forecast.gpkg")


def _forecast(db, *extra: str) -> list[str]:
    return ["forecast", "--db", db, "--start", START, "--trials", "100", "--seed", "3", "--json", *extra]


# The forecast engine is the same on both stores once the register is read (read on both in
# tests/planning); the suite's time is better spent elsewhere on PostgreSQL.
@pytest.mark.sqlite_only
def test_horizon_cuts_the_same_simulation_short(forecast_db):
    full, short = run_together(_forecast(forecast_db), _forecast(forecast_db, "--horizon", "8"))
    assert (full["horizon_years"], short["horizon_years"]) == (100.0, 8.0)
    end = date.fromisoformat(short["completion"]["horizon_end"])
    assert abs(end - date(2034, 7, 1)) <= timedelta(days=3)  # eight years after the start
    assert full["completion"]["not_within_horizon_share"] == 0.0
    # The same trials, stopped earlier: every year shown is the full run's, none after the horizon.
    assert [t["year"] for t in short["trajectory"]] == list(range(2026, end.year))
    assert short["trajectory"] == full["trajectory"][: len(short["trajectory"])]
    # A trial's completion date does not depend on the horizon: a quantile within it is the full
    # run's, one beyond it is unknown ("not within the horizon").
    share = short["completion"]["not_within_horizon_share"]
    for q, level in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9)):
        reached = full["completion"][q]
        if date.fromisoformat(reached) <= end:
            assert short["completion"][q] == reached and share <= 1 - level + 0.01
        else:
            assert short["completion"][q] is None and share >= 1 - level - 0.01
    assert short["completion"]["p10"] is not None and short["completion"]["p90"] is None  # a cut in the fan


# The forecast engine is the same on both stores once the register is read (read on both in
# tests/planning); the suite's time is better spent elsewhere on PostgreSQL.
@pytest.mark.sqlite_only
def test_discovery_years_stop_new_contamination_then(forecast_db):
    none, two, thirty = run_together(
        *(_forecast(forecast_db, "--discovery-years", str(years)) for years in (0, 2, 30))
    )
    for answer, years in ((none, 0), (two, 2), (thirty, 30)):
        assert answer["parameters"]["new_contamination_years"] == years
        assert f"new contamination stops after {years} years (assumption given)" in answer["inputs"]["notes"]
        assert answer["stock_m2"] == none["stock_m2"]  # today's stock is the register's, whatever comes
    # Until two years after the start (1 July 2028) both runs discover alike: the same years.
    by_year = {t["year"]: t for t in two["trajectory"]}
    later = {t["year"]: t for t in thirty["trajectory"]}
    assert by_year[2026] == later[2026] and by_year[2027] == later[2027]
    assert later[2028]["p50"] > by_year[2028]["p50"]  # from then on, only the 30-year run finds more
    # No discovery at all leaves less to do from the first year, and the programme ends sooner.
    assert none["trajectory"][0]["p50"] < two["trajectory"][0]["p50"]
    p50 = [date.fromisoformat(a["completion"]["p50"] or "9999-12-31") for a in (none, two, thirty)]
    assert p50[0] <= p50[1] <= p50[2] and p50[0] < p50[2]


# ---------------------------------------------------------------------------------------------
# serve --secure-cookies

PASSWORD = "a long enough passphrase"


@pytest.fixture(scope="module")
def login_db(store, tmp_path_factory):
    """An empty register with one user who logs in with a password (added by ``demine users add``)."""
    db = store.empty("serve", tmp_path_factory.mktemp("serve"))
    run("users", "add", "clerk", "--role", "viewer", "--password-stdin", db=db, stdin=PASSWORD + "\n")
    return db


def _cookie_attributes(response: httpx.Response) -> dict[str, set[str]]:
    """Cookie name -> its attribute names (lower case), from the Set-Cookie headers."""
    out = {}
    for header in response.headers.get_list("set-cookie"):
        name_value, *attributes = (part.strip() for part in header.split(";"))
        out[name_value.split("=", 1)[0]] = {a.split("=", 1)[0].lower() for a in attributes}
    return out


# Cookie flags do not depend on the store.
@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("options", "secure"),
    [([], False), (["--secure-cookies"], True), (["--secure-cookies", "--workers", "2"], True)],
    ids=["plain", "secure", "secure-2-workers"],
)
def test_secure_cookies_mark_the_session_cookies_secure(login_db, options, secure):
    process, url = start_server(login_db, *options)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            api = client.post("/auth/login", json={"username": "clerk", "password": PASSWORD})
            assert api.status_code == 200, api.text
            form = httpx.post(
                f"{url}/login",
                data={"username": "clerk", "password": PASSWORD, "next": "/"},
                follow_redirects=False,
                timeout=30,
            )
            assert form.status_code == 303, form.text
            for response in (api, form):
                cookies = _cookie_attributes(response)
                assert set(cookies) == {"demine_session", "demine_csrf"}
                assert all(("secure" in attrs) is secure for attrs in cookies.values()), cookies
                assert "httponly" in cookies["demine_session"]
            # Over plain HTTP a client keeps a Secure cookie to itself, as a browser does: the
            # session works here only without the flag (behind HTTPS it is sent again).
            assert client.get("/auth/me").status_code == (401 if secure else 200)
    finally:
        stop_server(process)
