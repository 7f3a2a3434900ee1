"""PostgreSQL-only tests: moving a programme between stores, backups, many writers at once.

They run in the PostgreSQL half of ``make test`` (``DEMINE_TEST_BACKEND=postgresql``), against
the session's throwaway cluster, and are skipped in the SQLite half.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("DEMINE_TEST_BACKEND") == "postgresql":
        return
    skip = pytest.mark.skip(
        reason="PostgreSQL tests: DEMINE_TEST_BACKEND=postgresql runs them (make test does)"
    )
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here + os.sep):
            item.add_marker(skip)
