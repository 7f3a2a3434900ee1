"""A country's code lists: listing them, adding a value, renaming a value's label.

Records store codes, never labels, so a label can change at any time; a code never changes
once added (records and exports refer to it). Both writes go through
:mod:`demine.workflow.records`, as the REST API's do, so each gets its audit row.

Imports read a value by its code or its label, in any case (:class:`demine.ingest.values.CodeResolver`):
two values of a list sharing a label, or a label spelling another value's code, would make a
file's wording ambiguous, so both are refused.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from demine.domain.codelists import DEFAULT_CODE_LISTS
from demine.domain.errors import DemineError, NotFoundError
from demine.storage import schema
from demine.storage.codelists import next_sort_order


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def list_names(conn: Connection) -> list[str]:
    """Every code list: the defaults and any the database holds."""
    c = schema.code_list
    held = set(conn.execute(select(c.c.list_name).distinct()).scalars())
    return sorted(held | set(DEFAULT_CODE_LISTS))


def list_codes(conn: Connection, list_name: str | None = None) -> list[dict[str, Any]]:
    """The values of one list (or of all), retired ones too, in display order."""
    c = schema.code_list
    if list_name is not None:
        _check_list(conn, list_name)
    query = select(c.c.list_name, c.c.code, c.c.label, c.c.sort_order, c.c.active).order_by(
        c.c.list_name, c.c.sort_order, c.c.code
    )
    if list_name is not None:
        query = query.where(c.c.list_name == list_name)
    return [dict(r._mapping) | {"active": bool(r.active)} for r in conn.execute(query)]


def _check_list(conn: Connection, list_name: str) -> None:
    names = list_names(conn)
    if list_name not in names:
        raise NotFoundError(f"no code list {list_name!r}; the lists: {', '.join(names)}")


def _label_clash(conn: Connection, list_name: str, code: str, label: str) -> None:
    c = schema.code_list
    for other, other_label in conn.execute(
        select(c.c.code, c.c.label).where(c.c.list_name == list_name, c.c.code != code)
    ):
        if _norm(other_label) == _norm(label):
            raise DemineError(
                f"{list_name}: {other!r} already has the label {other_label!r}; imports read labels, "
                "so two values cannot share one"
            )
        if _norm(other) == _norm(label):
            raise DemineError(
                f"{list_name}: the label {label!r} is the code {other!r}: "
                "an import would read it as that value"
            )


def add_code(conn: Connection, list_name: str, code: str, label: str, actor: str) -> dict[str, Any]:
    """Add a value to a list (after the others); refused when the code exists in any case."""
    from demine.workflow.records import create_record

    code, label = code.strip(), label.strip()
    _check_list(conn, list_name)
    if not code or not label:
        raise DemineError("a code and its label must not be blank")
    if "," in code or ";" in code or "|" in code:
        # Several codes share one text column, separated by these (EO categories, evidence ...).
        raise DemineError(f"{code!r}: a code cannot contain ',', ';' or '|'")
    c = schema.code_list
    for existing, existing_label, active in conn.execute(
        select(c.c.code, c.c.label, c.c.active).where(c.c.list_name == list_name)
    ):
        if _norm(existing) == _norm(code):
            retired = "" if active else " (retired: inactive)"
            raise DemineError(
                f"{list_name} already has the code {existing!r}, labelled {existing_label!r}{retired}; "
                f"`demine codes rename {list_name} {existing} LABEL` changes its label"
            )
    _label_clash(conn, list_name, code, label)
    values = {
        "list_name": list_name,
        "code": code,
        "label": label,
        "sort_order": next_sort_order(conn, list_name),
    }
    state = create_record(conn, "code_list", values, actor)
    return {k: state[k] for k in ("list_name", "code", "label", "sort_order")} | {"active": True}


def rename_code(conn: Connection, list_name: str, code: str, label: str, actor: str) -> dict[str, Any]:
    """Give a value a new label; its code, which records hold, stays. Returns old and new label."""
    from demine.workflow.records import update_record

    label = label.strip()
    _check_list(conn, list_name)
    if not label:
        raise DemineError("the new label must not be blank")
    c = schema.code_list
    row = conn.execute(
        select(c.c.id, c.c.label, c.c.version).where(c.c.list_name == list_name, c.c.code == code)
    ).first()
    if row is None:
        codes = ", ".join(
            conn.execute(
                select(c.c.code).where(c.c.list_name == list_name).order_by(c.c.sort_order)
            ).scalars()
        )
        raise NotFoundError(f"{list_name} has no code {code!r} (codes are exact; its codes: {codes})")
    _label_clash(conn, list_name, code, label)
    if row.label != label:
        update_record(conn, "code_list", row.id, row.version, {"label": label}, actor)
    return {"list_name": list_name, "code": code, "old_label": row.label, "label": label}
