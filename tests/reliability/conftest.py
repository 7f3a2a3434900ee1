"""Fixtures of the reliability tests: the demo programme as a template, sizes from the environment.

The session's demo programme (``demo`` in ``tests/conftest.py``) is the starting register of
the crash tests, so that the land release identity they check spans real release products.
"""

from __future__ import annotations

import shutil

import pytest

import backend_support


@pytest.fixture
def demo_file(demo, tmp_path):
    """A private copy of the demo programme's file (not opened here: the test's processes do)."""
    path = tmp_path / "register.gpkg"
    shutil.copy(demo.template, path)
    return path


@pytest.fixture
def demo_store(demo, tmp_path):
    """A private copy of the demo programme on the suite's store: a file path on SQLite, a new
    database's URL on PostgreSQL."""
    return backend_support.clone(demo.template, tmp_path / "register.gpkg")
