"""Migration 0004 adds the accounts and workflow tables and version columns, keeping the GeoPackage intact."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from demine.storage.database import alembic_config, migrate, open_database

VERSIONED = ("eo_find", "progress_report", "victim", "qa_visit", "accreditation")


def _triggers(engine):
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())


@pytest.mark.sqlite_only
def test_upgrade_and_downgrade(tmp_path):
    engine = open_database(tmp_path / "m.gpkg", create=True)
    names = set(inspect(engine).get_table_names())
    assert {"app_user", "auth_token", "submission"} <= names
    for table in VERSIONED:
        assert "version" in {c["name"] for c in inspect(engine).get_columns(table)}
    triggers = _triggers(engine)
    assert {"rtree_eo_find_geom_insert", "rtree_hazard_geom_update1"} <= triggers
    with engine.connect() as conn:
        kinds = dict(conn.execute(text("SELECT table_name, data_type FROM gpkg_contents")).all())
    assert kinds["submission"] == "attributes" and kinds["eo_find"] == "features"
    command.downgrade(alembic_config(engine), "0002")
    assert not {"app_user", "auth_token", "submission"} & set(inspect(engine).get_table_names())
    assert "version" not in {c["name"] for c in inspect(engine).get_columns("eo_find")}
    register_triggers = {
        t for t in triggers if t.startswith(("rtree_hazard_", "rtree_eo_find_", "rtree_team_"))
    }
    assert register_triggers and register_triggers <= _triggers(engine)  # no table was rebuilt
    migrate(engine)
    assert "submission" in set(inspect(engine).get_table_names())
    engine.dispose()
