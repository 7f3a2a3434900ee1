"""The register's own priority (high, medium, low) as a factor of prioritise and plan (issue 19, item 4).

Four hazards alike in everything but their recorded priority; codes are chosen so that the
tie-break by code alone would rank them the wrong way round.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import numpy as np
import pytest
import shapely
from sqlalchemy import select, update

from demine.domain.errors import ValidationError
from demine.prioritisation import default_weights, load_weights, score_hazards, scoring_inputs
from demine.prioritisation.scoring import ScoringInputs
from demine.register.hazards import NewHazard, add_hazards
from demine.storage import schema
from demine.storage.database import open_database

AS_OF = date(2026, 6, 30)
PRIORITIES = {"A-LOW": "low", "B-NONE": None, "C-MEDIUM": "medium", "D-HIGH": "high"}


def demine(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "160"}  # the human table on one line per row
    proc = subprocess.run(
        [sys.executable, "-m", "demine", *args], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def rated(fresh_db):
    """Four SHAs with AP mines, 10 km apart, nothing around them; only the priority differs."""
    engine = open_database(fresh_db)
    with engine.begin() as conn:
        add_hazards(
            conn,
            [
                NewHazard(
                    code=code,
                    hazard_type="SHA",
                    geometry=shapely.box(32 + 0.13 * i, 47.5, 32.001 + 0.13 * i, 47.501),
                    reported_on=date(2026, 1, 1),
                    priority=priority,
                    eo_categories=["apm"],
                )
                for i, (code, priority) in enumerate(PRIORITIES.items())
            ],
            today=AS_OF,
        )
    engine.dispose()
    return fresh_db


@pytest.fixture
def zero_weight(tmp_path):
    path = tmp_path / "no-priority.toml"
    path.write_text("[factors.register_priority]\nweight = 0\n", encoding="utf-8")
    return path


def contributions(data: dict) -> dict[str, float]:
    return {
        r["code"]: next(f["contribution"] for f in r["factors"] if f["factor"] == "register_priority")
        for r in data["ranking"]
    }


def test_high_ranks_above_low_and_no_priority_is_neutral(rated):
    engine = open_database(rated)
    with engine.connect() as conn:
        ranking = score_hazards(scoring_inputs(conn, AS_OF))
    engine.dispose()
    data = ranking.to_dict()
    assert [r["code"] for r in data["ranking"]] == ["D-HIGH", "B-NONE", "C-MEDIUM", "A-LOW"]
    assert contributions(data) == {"D-HIGH": 5.0, "B-NONE": 2.5, "C-MEDIUM": 2.5, "A-LOW": 0.0}
    assert [r["score"] for r in data["ranking"]] == pytest.approx([7.0, 4.5, 4.5, 2.0])
    top = data["ranking"][0]
    factor = next(f for f in top["factors"] if f["factor"] == "register_priority")
    assert (factor["raw"], factor["group"], top["groups"]["authority"]) == (1, "authority", 5.0)
    unrated = next(r for r in data["ranking"] if r["code"] == "B-NONE")
    assert next(f["raw"] for f in unrated["factors"] if f["factor"] == "register_priority") is None
    assert "1 hazard(s) have no priority: register_priority counts them as neutral (0.5)" in data["warnings"]
    source = default_weights().factor("register_priority").source
    assert "national authority" in source and "IMAS 07.11" in source


def test_a_weights_file_can_switch_it_off(rated, zero_weight):
    weights = load_weights(zero_weight)
    engine = open_database(rated)
    with engine.connect() as conn:
        data = score_hazards(scoring_inputs(conn, AS_OF), weights).to_dict()
    engine.dispose()
    assert [r["code"] for r in data["ranking"]] == sorted(PRIORITIES)  # a tie, broken by code
    assert set(contributions(data).values()) == {0.0}
    assert {r["score"] for r in data["ranking"]} == {2.0}
    assert not any("priority" in w for w in data["warnings"])
    assert data["weights"]["factors"]["register_priority"]["weight"] == 0.0


def test_a_level_takes_only_a_weight(tmp_path):
    path = tmp_path / "w.toml"
    path.write_text("[factors.register_priority]\nsaturation = 3\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_weights(path)
    assert any(
        "factors.register_priority.saturation: unknown parameter" in str(p) for p in info.value.problems
    )


def test_a_code_outside_the_list_is_neutral_and_said():
    inputs = ScoringInputs(
        codes=["X", "Y"],
        geometry=np.array([None, None], dtype=object),
        hazard_type=np.array(["SHA", "SHA"], dtype=object),
        eo_categories=["", ""],
        blockages=["", ""],
        beneficiaries=np.zeros(2),
        as_of=AS_OF,
        priority=np.array(["urgent", "low"], dtype=object),
    )
    ranking = score_hazards(inputs)
    assert ranking.score.tolist() == pytest.approx([2.5, 0.0])
    assert "1 hazard(s) have priority 'urgent', not high, medium or low: counted as neutral (0.5)" in (
        ranking.warnings
    )


def test_cli_prioritise_shows_the_factor(rated):
    data = json.loads(demine("prioritise", "--json", "--as-of", "2026-06-30", "--db", str(rated)).stdout)
    assert [r["code"] for r in data["ranking"]] == ["D-HIGH", "B-NONE", "C-MEDIUM", "A-LOW"]
    assert contributions(data)["D-HIGH"] == 5.0
    assert data["weights"]["factors"]["register_priority"]["group"] == "authority"
    human = demine("prioritise", "--as-of", "2026-06-30", "--db", str(rated)).stdout
    first = human[human.index("D-HIGH") :]
    assert "register_priority 5.0" in first[: first.index("B-NONE")]
    assert "sec/soc/eco/env/auth" in human and "2.0/0.0/0.0/0.0/5.0" in human


def test_plan_values_hazards_with_the_register_priority(demo, clone_db, zero_weight):
    """``demine plan`` values each hazard by its prioritise score, the register's priority in it."""
    db = clone_db(demo.template, "rated")
    engine = open_database(db)
    h = schema.hazard
    with engine.begin() as conn:  # every level present, a missing priority too
        conn.execute(update(h).where(h.c.id % 4 == 0).values(priority="high"))
        conn.execute(update(h).where(h.c.id % 4 == 1).values(priority=None))
        recorded = dict(conn.execute(select(h.c.code, h.c.priority)).all())
    engine.dispose()
    args = ["plan", "--json", "--greedy", "--months", "1", "--as-of", "2026-06-30", "--db", str(db)]
    with_it = {r["hazard"]: r["score"] for r in json.loads(demine(*args).stdout)["hazards"]}
    without = {
        r["hazard"]: r["score"]
        for r in json.loads(demine(*args, "--weights", str(zero_weight)).stdout)["hazards"]
    }
    assert with_it and set(with_it) == set(without)
    assert {recorded[c] for c in with_it} == {"high", "medium", "low", None}
    total = default_weights().total_weight
    level = {"high": 1.0, "medium": 0.5, "low": 0.0, None: 0.5}
    floor = 0.01  # the plan adds it to every score
    for code, score in with_it.items():
        evidence = (without[code] - floor) * (total - 5.0)  # the score before normalising, priority left out
        assert score == pytest.approx((evidence + 5.0 * level[recorded[code]]) / total + floor, abs=1e-5)
