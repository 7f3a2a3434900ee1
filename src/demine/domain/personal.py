"""Which fields of the register are personal data, in one place.

Victims' names, identification and birth dates identify people; an accident's description
names them as often as not. Only roles with personal-data access see these fields: the API's
records, lists and histories (:mod:`demine.api.resources`), submission payloads
(:mod:`demine.workflow.submissions`) and exports (:mod:`demine.export.layers`) all read this
table, so a field added here is hidden everywhere at once.
"""

from __future__ import annotations

PERSONAL_COLUMNS: dict[str, frozenset[str]] = {
    "victim": frozenset({"full_name", "identification", "birth_date"}),
    "accident": frozenset({"description"}),
}


def personal_columns(table: str) -> frozenset[str]:
    """The personal-data columns of ``table`` (none for most tables)."""
    return PERSONAL_COLUMNS.get(table, frozenset())
