"""Reading and extending the ``code_list`` table."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select

from demine.domain.codelists import CodeLists
from demine.storage import schema


def load_code_lists(conn: Connection) -> CodeLists:
    """The active codes of every list, in display order."""
    c = schema.code_list
    rows = conn.execute(
        select(c.c.list_name, c.c.code, c.c.label)
        .where(c.c.active.is_(True))
        .order_by(c.c.list_name, c.c.sort_order, c.c.code)
    )
    return CodeLists.from_rows(rows)


def next_sort_order(conn: Connection, list_name: str) -> int:
    """Where a value added to ``list_name`` sorts: after every value it has (retired ones too)."""
    c = schema.code_list
    last = conn.execute(select(func.max(c.c.sort_order)).where(c.c.list_name == list_name)).scalar()
    return 0 if last is None else last + 1


def all_code_labels(conn: Connection) -> dict[str, dict[str, str]]:
    """Every list's labels by code, retired codes included: old records still carry them."""
    c = schema.code_list
    labels: dict[str, dict[str, str]] = {}
    for name, code, label in conn.execute(select(c.c.list_name, c.c.code, c.c.label)):
        labels.setdefault(name, {})[code] = label
    return labels


def add_code(conn: Connection, list_name: str, code: str, label: str) -> None:
    """Add a country-specific value to a list (it sorts after the defaults)."""
    conn.execute(
        insert(schema.code_list).values(
            list_name=list_name, code=code, label=label, sort_order=next_sort_order(conn, list_name)
        )
    )
