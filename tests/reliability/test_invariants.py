"""The reliability tests' own check of the register sees a half-written record, on both stores."""

from __future__ import annotations

from reliability_support import invariant_violations
from sqlalchemy import text

from demine.storage.database import open_database


def test_a_sound_register_passes_and_a_broken_identity_is_seen(demo_store):
    assert invariant_violations(demo_store) == []
    engine = open_database(demo_store)
    with engine.begin() as conn:
        hazard_id = conn.execute(text("select min(id) from hazard_remaining")).scalar_one()
        conn.execute(
            text("update hazard_remaining set area_m2 = area_m2 + 5000 where id = :i"), {"i": hazard_id}
        )
        orphan = conn.execute(text("select max(id) from hazard")).scalar_one()
        conn.execute(text("delete from hazard_remaining where id = :i"), {"i": orphan})
    engine.dispose()
    problems = " ".join(invariant_violations(demo_store))
    assert "land release identity broken" in problems
    assert "area events do not add up" in problems
    assert "hazard without a remaining row: 1" in problems
