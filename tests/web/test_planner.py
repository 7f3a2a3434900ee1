"""The planner page in a real browser: the forecast, a scenario beside the baseline, priorities, workplan."""

from __future__ import annotations

import re
import time

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^beyond the horizon$")


def test_a_scenario_runs_beside_the_baseline(open_as, server, screenshot):
    page = open_as("viewer")
    started = time.perf_counter()
    page.goto(f"{server.url}/planner")
    page.locator("#baseline[data-loaded='true']").wait_for(timeout=60_000)
    print(f"baseline forecast shown {time.perf_counter() - started:.2f} s after opening the page")
    assert DATE.match(page.locator("#baseline-completion [data-key='p50']").inner_text())
    assert page.locator("#baseline img.fan").get_attribute("src").startswith("data:image/png;base64,")
    # One line per input that the register's own records moved, each naming the prior.
    overruled = page.locator("#calibration li")
    assert overruled.count() >= 4
    assert all("prior" in text or "pooled" in text for text in overruled.all_inner_texts())

    # A wrong scenario says what is wrong, key by key.
    page.get_by_role("button", name="Add teams").click()
    page.locator("fieldset[data-table='add_teams'] [data-key='teams']").fill("-3")
    page.get_by_role("button", name="Run the scenario").click()
    errors = page.locator("#scenario-errors")
    errors.locator("li").first.wait_for()
    assert "add_teams" in errors.inner_text() and "teams" in errors.inner_text()

    # Ten more TS teams (the stage that holds this programme back) and a deminer course.
    row = page.locator("fieldset[data-table='add_teams']")
    row.locator("[data-key='team_type']").select_option("ts")
    row.locator("[data-key='teams']").fill("10")
    page.get_by_role("button", name="Add a training course").click()
    page.get_by_label("Scenario name").fill("Ten TS teams")
    started = time.perf_counter()
    page.get_by_role("button", name="Run the scenario").click()
    table = page.locator("#scenario-comparison")
    table.wait_for(timeout=60_000)
    print(f"scenario run in {time.perf_counter() - started:.2f} s")
    assert page.locator("#scenario-errors").inner_text() == ""
    baseline = table.locator("[data-key='baseline-p50']").inner_text()
    scenario = table.locator("[data-key='scenario-p50']").inner_text()
    assert DATE.match(baseline) and DATE.match(scenario)
    assert baseline == page.locator("#baseline-completion [data-key='p50']").inner_text()  # same draws
    assert scenario < baseline  # ISO dates: more TS teams finish earlier
    assert "Ten TS teams" in table.inner_text()
    assert "Years saved (P50)" in page.locator("#years-saved").inner_text()

    # The priority list explains every score by its factors.
    page.locator("#priorities[data-loaded='true']").wait_for(timeout=60_000)
    ranks = page.locator("#priority-list > tbody > tr")
    assert ranks.count() == 25
    first = ranks.first
    first.locator("summary").click()
    assert first.locator("table.factors tbody tr").count() > 3

    # The workplan runs on request, within the time limit.
    page.get_by_label("Solver time limit (s)").fill("5")
    started = time.perf_counter()
    page.get_by_role("button", name="Plan the teams").click()
    page.locator("#workplan[data-loaded='true']").wait_for(timeout=90_000)
    print(f"workplan in {time.perf_counter() - started:.2f} s")
    assert page.locator("#workplan-hazards tbody tr").count() > 0
    assert "teams" in page.locator("#workplan-summary").inner_text()
    screenshot(page, "planner")
    assert page.js_errors == []
