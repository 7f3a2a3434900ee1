"""The planner page in a real browser: the interactive fan chart, a scenario beside the baseline,
priorities, the workplan."""

from __future__ import annotations

import re
import time

from doc_screenshots import keep_screenshot

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^beyond the horizon$")
TIP_P50 = re.compile(r"P50 ([\d,.]+) (km²|ha|m²)")
PER = {"km²": 1e6, "ha": 1e4, "m²": 1.0}


def _m2(text: str) -> float:
    return float(text.replace(",", ""))


def test_the_fan_chart_shows_each_years_figures_on_hover_and_focus(open_as, server, screenshot):
    page = open_as("viewer")
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    started = time.perf_counter()
    page.goto(f"{server.url}/planner")
    page.locator("#baseline[data-loaded='true']").wait_for(timeout=600_000)
    print(f"baseline forecast shown {time.perf_counter() - started:.2f} s after opening the page")
    assert DATE.match(page.locator("#baseline-completion [data-key='p50']").inner_text())
    assert page.locator("#baseline img").count() == 0  # the SVG replaces the PNG
    chart = page.locator("#baseline-chart")
    hits = chart.locator(".fan-hit")
    assert hits.count() > 3
    tip = chart.locator(".fan-tip")
    assert tip.is_hidden()

    # Hover over the third year end: the tooltip holds its P10/P50/P90, and the P50 is the table's.
    chart.scroll_into_view_if_needed()
    hits.nth(3).hover()
    tip.wait_for(state="visible")
    text = tip.inner_text()
    year = int(re.search(r"end of (\d{4})", text)[1])
    assert all(q in text for q in ("P10 ", "P50 ", "P90 "))
    row = page.locator("#baseline details table tbody tr", has=page.locator(f"th:text-is('{year}')"))
    table_p50 = _m2(row.locator("td").nth(1).text_content())
    value, unit = TIP_P50.search(text).groups()
    decimals = len(value.split(".")[1]) if "." in value else 0
    assert abs(_m2(value) * PER[unit] - table_p50) <= 0.51 * 10**-decimals * PER[unit]
    # the tip stays inside the figure
    box, frame = tip.bounding_box(), chart.bounding_box()
    assert box["x"] >= frame["x"] - 1 and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
    keep_screenshot(page, "planner")
    page.mouse.move(5, 5)
    tip.wait_for(state="hidden")

    # The keyboard reaches every year too, and says it to a screen reader.
    hits.nth(5).focus()
    tip.wait_for(state="visible")
    assert "end of" in tip.inner_text()
    assert "P50" in hits.nth(5).get_attribute("aria-label")
    page.keyboard.press("Tab")
    assert "end of" in tip.inner_text()  # the next year's target took the focus
    assert page.js_errors == [] and console_errors == []


def test_a_scenario_runs_beside_the_baseline(open_as, server, screenshot):
    page = open_as("viewer")
    page.goto(f"{server.url}/planner")
    # A viewer's scenario is capped at the role's trials; the page says so in the field's maximum.
    trials = page.locator("#s-trials")
    assert trials.get_attribute("max") == "500" and trials.input_value() == "500"

    # A wrong scenario says what is wrong, key by key.
    page.get_by_role("button", name="Add teams").click()
    page.locator("fieldset[data-table='add_teams'] [data-key='teams']").fill("-3")
    page.get_by_role("button", name="Run the scenario").click()
    errors = page.locator("#scenario-errors")
    errors.locator("li").first.wait_for()
    assert "add_teams" in errors.inner_text() and "teams" in errors.inner_text()

    # Ten more TS teams (the stage that holds this programme back) and a deminer course; a small
    # run (the test is about the comparison, not the size).
    row = page.locator("fieldset[data-table='add_teams']")
    row.locator("[data-key='team_type']").select_option("ts")
    row.locator("[data-key='teams']").fill("10")
    page.get_by_role("button", name="Add a training course").click()
    page.get_by_label("Scenario name").fill("Ten TS teams")
    trials.fill("100")
    started = time.perf_counter()
    page.get_by_role("button", name="Run the scenario").click()
    table = page.locator("#scenario-comparison")
    table.wait_for(timeout=300_000)
    print(f"scenario run in {time.perf_counter() - started:.2f} s")
    assert page.locator("#scenario-errors").inner_text() == ""
    baseline = table.locator("[data-key='baseline-p50']").inner_text()
    scenario = table.locator("[data-key='scenario-p50']").inner_text()
    assert DATE.match(baseline) and DATE.match(scenario)
    assert scenario < baseline  # ISO dates: more TS teams finish earlier
    assert "100 trials" in table.inner_text() and "Ten TS teams" in table.inner_text()
    assert "Years saved (P50)" in page.locator("#years-saved").inner_text()
    # Its chart shows both forecasts' figures for a year.
    chart = page.locator("#scenario-chart")
    chart.locator(".fan-hit").nth(2).hover()
    tip = chart.locator(".fan-tip")
    tip.wait_for(state="visible")
    assert "baseline: P10" in tip.inner_text() and "Ten TS teams: P10" in tip.inner_text()

    # The priority list explains every score by its factors, in points out of 100.
    page.locator("#priorities[data-loaded='true']").wait_for(timeout=120_000)
    ranks = page.locator("#priority-list > tbody > tr")
    assert ranks.count() == 25
    first = ranks.first
    assert 0 <= float(first.locator("[data-key='points']").inner_text()) <= 100
    first.locator("summary").click()
    assert first.locator("table.factors tbody tr").count() > 3

    # A viewer does not run the solver: the button shows the last solved plan or the greedy one,
    # with a reason for every high-priority hazard it leaves out.
    assert page.locator("#w-limit").get_attribute("type") == "hidden"
    page.get_by_role("button", name="Show the plan").click()
    page.locator("#workplan[data-loaded='true']").wait_for(timeout=120_000)
    assert page.locator("#workplan-source").get_attribute("data-source") in ("greedy", "last")
    assert page.locator("#workplan-hazards tbody tr").count() > 0
    high = page.locator("#workplan-high-priority tbody tr")
    assert high.count() == 25
    for row in page.locator("#workplan-high-priority tbody tr[data-left-out='true']").all():
        assert row.locator("details summary").inner_text().strip()
        assert row.locator("details .reason").text_content().strip()
    screenshot(page, "planner-scenario")
    assert page.js_errors == []
