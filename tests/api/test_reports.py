"""Summary and forecast endpoints: the planner run on the register over HTTP."""

from __future__ import annotations


def test_forecast_from_the_register(clients):
    r = clients["viewer"].get("/api/forecast", params={"trials": 50, "seed": 3})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["completion"]["p10"] <= report["completion"]["p50"] <= report["completion"]["p90"]
    assert report["stock_m2"] > 0 and report["trajectory"]
    again = clients["viewer"].get("/api/forecast", params={"trials": 50, "seed": 3}).json()
    assert again["completion"] == report["completion"]  # same seed, same answer
    assert clients[None].get("/api/forecast").status_code == 401
    assert clients["viewer"].get("/api/forecast", params={"trials": 100_000}).status_code == 422


def test_scenario_against_the_baseline(clients):
    scenario = {
        "name": "More manual teams",
        "add_teams": [{"team_type": "manual", "teams": 10, "start": "2026-09-01"}],
    }
    r = clients["im"].post("/api/forecast/scenario", json={"scenario": scenario, "trials": 50})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scenario"]["completion"]["p50"] <= body["baseline"]["completion"]["p50"]
    bad = clients["im"].post("/api/forecast/scenario", json={"scenario": {"add_teams": "many"}})
    assert bad.status_code == 422 and bad.json()["problems"]
