"""One area unit per table on the command line: named in the header, plain numbers in the cells.

Real ``demine`` processes on the session's demo programme (read only). A column that read
"16.28 km²" above "58.33 ha" and "0 m²" could not be compared at a glance; each area column now
carries its unit in its header (or, in a two-column name/value table, in the row's name) and
every cell is a number in that unit, which is also checked against the raw square metres that
``--json`` keeps.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from demine.cli.common import column_area_unit, fmt_area_in

DEMINE = [sys.executable, "-m", "demine"]
EXAMPLES = Path(__file__).parent.parent / "examples"
UNITS = {"km²": 1e6, "ha": 1e4, "m²": 1.0}
UNIT_IN_NAME = re.compile(r"\((km²|ha|m²)\)$")
NUMBER = re.compile(r"-?\d{1,3}(,\d{3})*(\.\d\d)?")
ANY_UNIT = re.compile(r"km²|m²|\bha\b")


def run(*args: str, db: str | None = None) -> str:
    cmd = [*DEMINE, *args] + (["--db", str(db)] if db else [])
    # Wide enough that no header or cell wraps onto a second line.
    env = os.environ | {"COLUMNS": "200", "TERM": "dumb"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, f"{cmd}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def tables(text: str) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Rich's box tables by title: (header cells, or [] for a headerless table; body rows)."""
    found: dict[str, tuple[list[str], list[list[str]]]] = {}
    lines = text.splitlines()
    current = None
    for i, line in enumerate(lines):
        if line.startswith(("┏", "┌")):
            title = lines[i - 1].strip() if i else ""
            current = found.setdefault(title, ([], []))
        elif current is not None and line.startswith("┃"):
            current[0].extend(c.strip() for c in line.strip("┃").split("┃"))
        elif current is not None and line.startswith("│"):
            current[1].append([c.strip() for c in line.strip("│").split("│")])
        elif line.startswith("└"):
            current = None
    return found


def area_columns(headers: list[str], rows: list[list[str]]) -> dict[str, tuple[float, list[str]]]:
    """Each area column: header -> (m² per unit, its cells); asserts the cells are bare numbers."""
    columns = {}
    for k, header in enumerate(headers):
        unit = UNIT_IN_NAME.search(header)
        if unit is None:
            assert not ANY_UNIT.search(header), header
            continue
        cells = [row[k] for row in rows]
        for cell in cells:
            assert NUMBER.fullmatch(cell), f"{header}: {cell!r} is not a bare number"
        columns[header] = (UNITS[unit.group(1)], cells)
    # No unit written in any cell of the table, area column or not.
    assert not [cell for row in rows for cell in row if ANY_UNIT.search(cell)]
    return columns


def value(cell: str) -> float:
    return float(cell.replace(",", ""))


def shows(cell: str, m2: float, per: float) -> bool:
    """The cell reads ``m2`` in the unit, to the two decimals (or whole m²) it is printed to."""
    return abs(value(cell) * per - m2) <= 0.005 * per + 0.5


def test_summary_tables_name_one_unit_per_area_column(demo):
    text = run("summary", db=demo.path)
    data = json.loads(run("summary", "--json", db=demo.path))
    found = tables(text)
    headers, rows = next(t for title, t in found.items() if title.startswith("Hazards"))
    columns = area_columns(headers, rows)
    assert len(columns) == 2, headers
    by_row = {(r["hazard_type"], r["status"]): r for r in data["hazards"]["by_type_status"]}
    (area_per, areas), (left_per, lefts) = columns.values()
    for row, area, left in zip(rows, areas, lefts, strict=True):
        raw = by_row[(row[0], row[1])]
        assert shows(area, raw["area_m2"], area_per) and shows(left, raw["remaining_m2"], left_per)
    headers, rows = found["Land release balance"]
    [(per, cells)] = area_columns(headers, rows).values()
    keys = ("cancelled_m2", "reduced_m2", "cleared_m2", "remaining_m2", "original_m2")
    assert all(shows(c, data["area"][k], per) for c, k in zip(cells, keys, strict=True))
    # the raw figures stay square metres under --json
    assert data["area"]["original_m2"] > 1e4 and isinstance(data["area"]["original_m2"], float)


def test_hazard_list_show_and_history_name_one_unit_per_area_column(demo):
    listed = json.loads(run("hazards", "list", "--json", "--limit", "500", db=demo.path))
    magnitudes = {column_area_unit([r["area_m2"]])[0] for r in listed}
    # the demo has hazards whose own best unit differs: the old cells mixed units in one column
    assert len(magnitudes) > 1, magnitudes
    headers, rows = tables(run("hazards", "list", "--limit", "500", db=demo.path))[
        f"Hazards: 1–{len(listed)} of {len(listed)}"
    ]
    columns = area_columns(headers, rows)
    assert [h.split(" (")[0] for h in columns] == ["area", "remaining"]
    by_code = {r["code"]: r for r in listed}
    (per, areas), (left_per, lefts) = columns.values()
    for row, area, left in zip(rows, areas, lefts, strict=True):
        assert shows(area, by_code[row[0]]["area_m2"], per)
        assert shows(left, by_code[row[0]]["remaining_area_m2"], left_per)

    released = next(r for r in listed if r["remaining_area_m2"] < r["area_m2"])
    shown = tables(run("hazards", "show", released["code"], db=demo.path))
    _, fields = shown[f"Hazard {released['code']}"]
    named = {row[0]: row[1] for row in fields}
    area_rows = {k: v for k, v in named.items() if UNIT_IN_NAME.search(k)}
    assert {k.split(" (")[0] for k in area_rows} == {"area", "remaining_area"}
    assert len({UNIT_IN_NAME.search(k).group(1) for k in area_rows}) == 1
    assert all(NUMBER.fullmatch(v) for v in area_rows.values()), area_rows
    assert not [v for v in named.values() if ANY_UNIT.search(v)]
    for title in ("Land release products", "Remaining area over time"):
        headers, rows = shown[title]
        assert len(area_columns(headers, rows)) == 2

    history = json.loads(run("history", "--json", db=demo.path))
    headers, rows = tables(run("history", "--last", "0", db=demo.path))["Remaining area"]
    columns = area_columns(headers, rows)
    assert [h.split(" (")[0] for h in columns] == ["change", "remaining"]
    (per, changes), (left_per, lefts) = columns.values()
    assert all(shows(c, h["change_m2"], per) for c, h in zip(changes, history, strict=True))
    assert all(shows(c, h["remaining_m2"], left_per) for c, h in zip(lefts, history, strict=True))


def test_plan_names_the_unit_of_the_released_areas(demo):
    text = run("plan", "--months", "3", "--greedy", "--start", "2026-07", db=demo.path)
    data = json.loads(run("plan", "--json", "--months", "3", "--greedy", "--start", "2026-07", db=demo.path))
    [(_, fields)] = [t for title, t in tables(text).items() if title.startswith("Workplan")]
    released = {row[0]: row[1] for row in fields if row[0].startswith("released by")}
    by_stage = data["summary"]["released_m2_by_stage"]
    assert len(released) == len(by_stage) and sum(by_stage.values()) > 0
    units = {UNIT_IN_NAME.search(name).group(1) for name in released}
    assert len(units) == 1, released
    per = UNITS[units.pop()]
    for stage, m2 in by_stage.items():
        [cell] = [v for k, v in released.items() if k.startswith(f"released by {stage} (")]
        assert NUMBER.fullmatch(cell) and shows(cell, m2, per)


def test_traverse_gives_its_area_in_square_metres_only():
    text = run("traverse", str(EXAMPLES / "traverse-sheet.csv"))
    data = json.loads(run("traverse", str(EXAMPLES / "traverse-sheet.csv"), "--json"))
    [(_, fields)] = [t for title, t in tables(text).items() if title.startswith("Traverse")]
    named = {row[0]: row[1] for row in fields}
    assert "area" not in named and NUMBER.fullmatch(named["area (m²)"])
    assert value(named["area (m²)"]) == pytest.approx(data["area_m2"], abs=0.005)


@pytest.mark.parametrize(
    ("areas", "unit"),
    [
        ([16.28e6, 58.33e4, 0.0], "km²"),  # every area readable in km²
        ([1.2e6, 2_000.0], "ha"),  # 2,000 m² would read 0.00 km²; 0.20 ha it is
        ([1.2e6, 40.0], "m²"),  # 40 m² reads 0.00 ha
        ([5e4, 0.2, None], "ha"),  # a sliver under a square metre prints as 0 in any unit
        ([], "m²"),
    ],
)
def test_a_column_s_unit_keeps_every_area_of_a_square_metre_readable(areas, unit):
    chosen, per = column_area_unit(areas)
    assert chosen == unit
    for m2 in areas:
        if m2 and m2 >= 1:
            assert value(fmt_area_in(m2, per)) > 0
