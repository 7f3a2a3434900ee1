"""Reading and extending the ``code_list`` table."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

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


def add_code(conn: Connection, list_name: str, code: str, label: str) -> None:
    """Add a country-specific value to a list (it sorts after the defaults)."""
    c = schema.code_list
    last = conn.execute(
        select(c.c.sort_order).where(c.c.list_name == list_name).order_by(c.c.sort_order.desc())
    ).first()
    conn.execute(
        insert(c).values(list_name=list_name, code=code, label=label, sort_order=(last[0] + 1) if last else 0)
    )
