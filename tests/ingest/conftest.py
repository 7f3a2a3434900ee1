"""Fixtures for import/export tests: fresh registers copied from a migrated template.

A test that needs a fresh database pays a file copy, not a migration.
"""

from __future__ import annotations

import pytest

import backend_support
from demine.register.organisations import NewOrganisation, add_organisations
from demine.storage.database import open_database


@pytest.fixture(scope="session")
def register_template(tmp_path_factory, store):
    """A migrated register with two organisations, never opened for writing after this.

    ``store`` puts it on the suite's backend whichever test this worker happened to run first."""
    path = tmp_path_factory.mktemp("template") / "register.gpkg"
    path = backend_support.new(path)
    engine = open_database(path, create=True)
    with engine.begin() as conn:
        add_organisations(
            conn,
            [
                NewOrganisation("HALO", "The HALO Trust", "ngo"),
                NewOrganisation("NPA", "Norwegian People's Aid", "ngo"),
            ],
        )
    engine.dispose()
    return path


@pytest.fixture
def register(register_template, tmp_path):
    """A fresh, writable register (copy of the template)."""
    path = tmp_path / "register.gpkg"
    path = backend_support.clone(register_template, path)
    engine = open_database(path)
    yield engine
    engine.dispose()
