"""Charts, maps and tables fit to publish, checked on the matplotlib objects after drawing (not on
pixels): titles inside the figure, a legend entry for every line, axis labels with one unit, a
map in metres with a scale bar and a north arrow and a legend that covers no data, a Gantt that
stays readable at 20,000 hazards, team equivalents printed as people read numbers."""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import shapely
import typer
from matplotlib.text import Annotation
from pyproj import Geod
from typer.testing import CliRunner

from demine.cli import forecast as forecast_cli
from demine.cli.common import fmt_area_in, fmt_teams, table_area_unit
from demine.domain.accreditation import Accreditation
from demine.planning import CapacityPlan, Scenario, TeamChange, compare, default_parameters, single_region
from demine.planning.charts import fan_figure
from demine.reports import charts
from demine.reports import figures as F
from demine.reports.official import build_report
from demine.reports.period import parse_period
from demine.workplan import HazardInput, PlanConfig, TeamInput, build_instance, make_plan, stage_work
from demine.workplan.outputs import GanttData, gantt_data, gantt_figure

UNIT = re.compile(r"\((km²|ha|m²)\)")
AREA_WORDS = ("km²", " ha", "(ha)", "m²", "hectare")


def _drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _inside(box, outer, slack=0.5):
    return (
        box.x0 >= outer.x0 - slack
        and box.y0 >= outer.y0 - slack
        and box.x1 <= outer.x1 + slack
        and box.y1 <= outer.y1 + slack
    )


def _overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


# --- the forecast fan chart ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def comparison():
    rng = np.random.default_rng(3)
    inputs = single_region(rng.lognormal(np.log(20_000), 1.0, 150), date(2026, 1, 1), rng.integers(0, 2, 150))
    capacity = CapacityPlan({"manual": 6, "mdd": 2, "mechanical": 1, "nts": 1, "ts": 2})
    # A long scenario name: the title once ran off the figure's right edge with one like it.
    more = Scenario(
        name="ten more manual clearance teams from June, funded by the new donor",
        add_teams=(TeamChange("manual", 10, date(2026, 6, 1)),),
    )
    return compare(inputs, default_parameters(), capacity, more, trials=60, seed=4)


@pytest.mark.store_free
def test_fan_chart_title_legend_and_axes(comparison):
    fig = fan_figure(
        comparison.baseline, scenario=comparison.with_scenario, scenario_name=comparison.scenario.name
    )
    renderer = _drawn(fig)
    ax = fig.axes[0]
    title = ax.title
    assert "P50 completion" in title.get_text()
    assert _inside(title.get_window_extent(renderer), fig.bbox)
    # Every line and band drawn has its legend entry, and the legend sits outside the axes.
    (legend,) = fig.legends
    entries = {" ".join(t.get_text().split()) for t in legend.get_texts()}  # long labels are wrapped
    drawn = [a.get_label() for a in (*ax.lines, *ax.collections) if not a.get_label().startswith("_")]
    assert len(ax.lines) >= 5  # two P50 lines, the naive line, two completion lines
    assert len(drawn) == len(ax.lines) + len(ax.collections)
    assert set(drawn) == entries
    assert any("completion" in e for e in entries) and any("naive" in e for e in entries)
    assert _inside(legend.get_window_extent(renderer), fig.bbox)
    assert not _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
    assert ax.get_xlabel() == "year"
    unit = UNIT.search(ax.get_ylabel())
    assert unit, ax.get_ylabel()
    # The band is not cut off at the top: the y axis reaches the highest P90 in the chart's unit.
    per = {"km²": 1e6, "ha": 1e4, "m²": 1.0}[unit.group(1)]
    peak = max(b.p90 for r in (comparison.baseline, comparison.with_scenario) for b in r.trajectory)
    assert ax.get_ylim()[1] >= peak / per


# --- the reports' charts ------------------------------------------------------------------------


@pytest.mark.store_free
def test_stacked_chart_has_one_unit_exact_ticks_and_a_legend_beside_the_data():
    by_method = {
        "cancelled": [180_000.0, 20_000.0],
        "reduced": [30_000.0, 0.0],
        "cleared": [40_000.0, 5_000.0],
    }
    fig = charts.stacked_methods_figure(["ORG-A", "ORG-B"], by_method)
    renderer = _drawn(fig)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "area released (ha)"
    # The bars are in hectares: the tallest stack is 25 ha.
    assert max(p.get_y() + p.get_height() for p in ax.patches) == pytest.approx(25.0)
    for tick, loc in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True):
        if tick.get_text():
            assert float(tick.get_text().replace(",", "")) == pytest.approx(loc)  # no "2" for 2.5
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["cancelled (NTS)", "reduced (TS)", "cleared"]
    assert not _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
    assert _inside(legend.get_window_extent(renderer), fig.bbox)


@pytest.mark.store_free
def test_area_unit_is_chosen_per_chart():
    assert charts.area_unit(63e6) == ("km²", 1e6)
    assert charts.area_unit(4e6) == ("ha", 1e4)  # 400 ha, not 4.0 km² with ticks of 0.5
    assert charts.area_unit(9_000.0) == ("m²", 1.0)
    fig = charts.bars_figure(["a", "b"], [2_500_000.0, 1_000.0], "area remaining (m²)")
    _drawn(fig)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert "2,000,000" in labels  # thousands separators, no scientific offset text
    assert fig.axes[0].xaxis.get_offset_text().get_text() == ""


def test_report_tables_use_one_area_unit_each(demo_db):
    with demo_db.connect() as conn:
        reports = [
            build_report(conn, kind, parse_period(p))
            for kind, p in (("annual", "2025"), ("article7", "2025"))
        ]
    for report in reports:
        for table in report.tables:
            text = " ".join([table.title, *table.columns])
            units = {u for u in ("km²", "ha)", "m²") if u in text}
            assert len(units) <= 1, (table.key, text)
            assert bool(table.area_columns) == bool(units), (table.key, text)


# --- the report map -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_map(demo_db):
    period = parse_period("2025")
    with demo_db.connect() as conn:
        boundaries = F.admin_boundaries(conn)
        releases = F.releases(conn, period, geometry=True)
        accidents = F.accidents(conn, parse_period("2000-01-01..2026-12-31"))
    points = [(a["geom"].x, a["geom"].y) for a in accidents if a["geom"] is not None]
    shapes = [(r["method"], r["geom"]) for r in releases if r["geom"] is not None]
    assert boundaries and shapes and points
    fig = charts.release_map_figure(boundaries, shapes, points)
    return fig, _drawn(fig), boundaries, shapes


def test_map_is_in_metres_with_a_true_scale_bar(report_map):
    fig, _renderer, boundaries, _ = report_map
    ax = fig.axes[0]
    assert ax.get_aspect() == 1.0
    # Metres, not degrees: the frame spans the region's true width as measured on the ellipsoid.
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray([g for _, g in boundaries], dtype=object))
    lat = (miny + maxy) / 2
    _, _, width_m = Geod(ellps="WGS84").inv(minx, lat, maxx, lat)
    x0, x1 = ax.get_xlim()
    assert width_m < x1 - x0 < width_m * 1.1  # the data plus a 3 % margin on each side
    (bar,) = [a for a in ax.artists if a.get_gid() == "scale-bar"]
    label = bar.txt_label.get_text()
    match = re.fullmatch(r"([\d.]+) (km|m)", label)
    assert match, label
    (rectangle,) = bar.size_bar.get_children()
    metres = float(match.group(1)) * (1000 if match.group(2) == "km" else 1)
    assert rectangle.get_width() == pytest.approx(metres)
    assert 0.1 <= metres / (x1 - x0) <= 0.25


def test_map_north_arrow_labels_and_legend_cover_no_data(report_map):
    fig, renderer, boundaries, _shapes = report_map
    ax = fig.axes[0]
    (arrow,) = [t for t in ax.texts if isinstance(t, Annotation) and t.get_gid() == "north-arrow"]
    assert arrow.get_text() == "N"
    assert arrow.xy[0] == arrow.xyann[0] and arrow.xy[1] > arrow.xyann[1]  # pointing straight up
    # The scale bar and the arrow sit in the strip under the data.
    data_bottom = ax.transData.transform((0.0, ax.dataLim.y0))[1]
    (bar,) = [a for a in ax.artists if a.get_gid() == "scale-bar"]
    assert bar.get_window_extent(renderer).y1 < data_bottom
    assert arrow.get_window_extent(renderer).y1 < data_bottom
    assert arrow.arrow_patch.get_window_extent(renderer).y1 < data_bottom
    # Every top-level area is named on the map.
    written = {t.get_text() for t in ax.texts}
    assert {name for name, _ in boundaries} <= written
    # The legend is below the map frame, inside the figure, and names every layer.
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert not _overlap(box, ax.get_window_extent(renderer))
    assert _inside(box, fig.bbox)
    entries = [t.get_text() for t in legend.get_texts()]
    assert entries == ["cancelled (NTS)", "reduced (TS)", "cleared", "administrative boundary", "accident"]
    # The projection is stated under the frame.
    assert "equal-area" in ax.get_xlabel()
    assert _inside(ax.xaxis.label.get_window_extent(renderer), fig.bbox)


# --- the workplan Gantt -------------------------------------------------------------------------


def _tick_labels_readable(ax, renderer):
    labels = [t for t in ax.get_yticklabels() if t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in labels]
    for a, b in itertools.pairwise(boxes):
        assert not _overlap(a, b)
    assert all(t.get_fontsize() >= 7 for t in labels)
    return labels


@pytest.mark.store_free
def test_gantt_of_a_real_small_plan_has_a_row_per_team():
    always = tuple(Accreditation(a, date(2020, 1, 1), None) for a in ("nts", "ts", "clearance"))
    hazards = [
        HazardInput(
            f"HA-{i:03d}",
            32.0 + i / 100,
            47.5,
            1.0 - i / 20,
            stage_work(("ts", "clearance"), 8000.0, (0.5, 0.2, 0.3)),
        )
        for i in range(12)
    ]
    teams = [
        TeamInput(f"T{k}", ("manual", "ts")[k % 2], 32.0, 47.5, always, {"ts": 900.0, "clearance": 150.0})
        for k in range(4)
    ]
    config = PlanConfig(months=4, closed_months={})
    plan = make_plan(build_instance(hazards, teams, date(2027, 3, 1), config), config, greedy_only=True)
    data = gantt_data(plan)
    # The greedy fallback has no bound, and says so (not "upper bound 0, gap n/a").
    assert data.title == "greedy heuristic: no upper bound is known, so no optimality gap"
    assert plan.to_dict(detail=False)["solver"]["bound"] is None
    fig = gantt_figure(data)
    renderer = _drawn(fig)
    (ax,) = fig.axes
    assert len(_tick_labels_readable(ax, renderer)) == 4
    assert ax.get_ylabel() == "team (type)" and ax.get_xlabel() == "month"
    assert _inside(fig._suptitle.get_window_extent(renderer), fig.bbox)
    # Hazard codes are written only where they fit inside their bar's month.
    for text in ax.texts:
        assert text.get_text().startswith("HA-")
        assert text.get_window_extent(renderer).width < ax.get_window_extent(renderer).width / 4


def _national_plan(hazards=20_000, teams=330, months=12):
    rng = np.random.default_rng(7)
    types = ["manual", "mdd", "mechanical", "nts", "ts"]
    stage = {"manual": "clearance", "mdd": "clearance", "mechanical": "clearance", "nts": "nts", "ts": "ts"}
    team_list = [(f"T{k:04d}", types[k % 5]) for k in range(teams)]
    codes = [f"HA-{i:06d}" for i in range(hazards)]
    rows = []
    for code, kind in team_list:
        for t in range(months):
            for h in rng.integers(0, hazards, size=int(rng.integers(1, 4))):
                rows.append(
                    {
                        "team": code,
                        "team_type": kind,
                        "month_index": t,
                        "hazard": codes[h],
                        "stage": stage[kind],
                        "team_days": float(rng.uniform(2, 7)),
                    }
                )
    return GanttData(
        months=[f"2027-{m:02d}" for m in range(1, months + 1)],
        teams=team_list,
        capacity=np.full((teams, months), 20.0),
        rows=rows,
        scores={c: float(s) for c, s in zip(codes, rng.random(hazards), strict=True)},
        title="greedy heuristic: no upper bound is known, so no optimality gap",
    )


@pytest.mark.store_free
def test_gantt_at_20000_hazards_aggregates_and_stays_readable():
    data = _national_plan()
    fig = gantt_figure(data)
    renderer = _drawn(fig)
    types_ax, top_ax = fig.axes
    type_labels = _tick_labels_readable(types_ax, renderer)
    top_labels = _tick_labels_readable(top_ax, renderer)
    assert len(type_labels) + len(top_labels) <= 60
    assert next(t.get_text() for t in type_labels) == "manual (66 teams)"
    best = sorted(data.scores, key=lambda h: -data.scores[h])[: len(top_labels)]
    assert [t.get_text().split()[1] for t in top_labels] == best
    # What is shown is said: the panels' titles and the figure's title.
    assert "330 teams by type" in types_ax.get_title()
    assert "highest-priority of 20,000 hazards" in top_ax.get_title()
    suptitle = fig._suptitle
    assert "330 teams" in suptitle.get_text()
    assert _inside(suptitle.get_window_extent(renderer), fig.bbox)
    # No two labels in the bars overlap, and none is smaller than 6 pt.
    for ax in (types_ax, top_ax):
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert boxes
        assert all(t.get_fontsize() >= 6 for t in ax.texts)
        for i, a in enumerate(boxes):
            assert not any(_overlap(a, b) for b in boxes[i + 1 :])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "Non-technical survey",
        "Technical survey",
        "Clearance",
    ]
    for ax in (types_ax, top_ax):
        assert not _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))


# --- numbers in the CLI's tables ----------------------------------------------------------------


@pytest.mark.store_free
def test_team_equivalents_read_as_numbers():
    assert fmt_teams(12.499999999) == "12.5"
    assert fmt_teams(79.2012) == "79.2"
    assert fmt_teams(9.0) == "9"
    assert fmt_teams(0.690497) == "0.7"
    assert fmt_teams(1137.49) == "1,137.5"
    assert fmt_teams(0.02) == "0.02"
    assert table_area_unit([2.26e6, 5.833e5, 0.0]) == ("km²", 1e6)
    assert fmt_area_in(-1.0, 1e6) == "0.00"  # never "-0.00"


@pytest.mark.store_free
def test_forecast_prints_team_equivalents_and_one_unit_per_table():
    app = typer.Typer()
    forecast_cli.register(app)
    angola = Path(__file__).resolve().parents[2] / "examples" / "angola.toml"
    result = CliRunner().invoke(
        app, ["forecast", "--programme", str(angola), "--trials", "50"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    # Angola's summary gives no survey team counts: they are team equivalents of its output.
    flat = " ".join(result.output.split())
    teams = flat[flat.index("teams: ") + len("teams: ") : flat.index("Completion")]
    numbers = [item.split()[-1] for item in teams.strip().split(", ")]
    assert len(numbers) >= 2 and all(re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d)?", n) for n in numbers), teams
    # The year table states its unit once, in the title, and no cell carries another.
    assert re.search(r"Remaining area at the end of each year \(P10 / P50 / P90, (km²|ha|m²)\)", flat)
    lines = result.output.splitlines()
    title = next(i for i, line in enumerate(lines) if "Remaining area at the end" in line)
    start = next(i for i in range(title, len(lines)) if lines[i].startswith("┏"))
    body = []
    for line in lines[start:]:
        if line.startswith("└"):
            break
        body.append(line)
    assert body and not any(word in line for line in body for word in AREA_WORDS)
