"""Reading attribute values as operators write them: codes or labels, dates, numbers.

Every reader takes whatever the source gave (text from CSV, numbers and dates from XLSX and
GDAL) and returns a clean value or raises :class:`ValueProblem` carrying the reason code
the row is rejected with.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from demine.domain.codelists import CodeLists

MULTI_SEPARATORS = re.compile(r"\s*[,;|]\s*")


class ValueProblem(Exception):
    """A value that cannot be used; ``reason`` is a code of :data:`demine.ingest.report.REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass
class CodeResolver:
    """Codes and labels of every code list, looked up case-insensitively."""

    lists: CodeLists

    def __post_init__(self) -> None:
        self._lookup: dict[str, dict[str, str]] = {}
        for name, labels in self.lists.labels.items():
            table: dict[str, str] = {}
            # Labels first so that a code always wins over another value's identical label.
            for code, label in labels.items():
                table.setdefault(_norm(label), code)
            for code in labels:
                table[_norm(code)] = code
            self._lookup[name] = table

    def code(self, list_name: str, value: Any, field: str) -> str | None:
        """The code for ``value`` (a code or a label, any case); None for a blank value."""
        text = as_text(value)
        if text is None:
            return None
        found = self._lookup.get(list_name, {}).get(_norm(text))
        if found is None:
            allowed = ", ".join(self.lists.codes(list_name)) or "(the list is empty)"
            raise ValueProblem(
                "bad_code_list_value",
                f"{field}: {text!r} is neither a code nor a label of code list {list_name!r} "
                f"(codes: {allowed})",
            )
        return found

    def codes(self, list_name: str, value: Any, field: str) -> tuple[str, ...]:
        """Several codes or labels separated by commas, semicolons or bars."""
        if isinstance(value, list | tuple):
            items = [str(v) for v in value if v is not None]
        else:
            text = as_text(value)
            items = MULTI_SEPARATORS.split(text) if text else []
        out: list[str] = []
        for item in items:
            if item.strip():
                code = self.code(list_name, item, field)
                if code is not None and code not in out:
                    out.append(code)
        return tuple(out)


def as_text(value: Any) -> str | None:
    """Text with surrounding blanks removed; None for blank or missing values."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        # GDAL types a whole column list(str) when one GeoJSON feature holds an array there, so
        # every other row's "A-1" arrives as ["A-1"]: take the elements' text, never the repr.
        parts = [t for t in (as_text(v) for v in value) if t is not None]
        return ", ".join(parts) or None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        # 12.0 from a spreadsheet cell that held the code "12".
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    # A NUL byte (a corrupt file) is dropped: no register value needs one and PostgreSQL text
    # cannot hold one.
    text = str(value).replace("\x00", "").strip()
    return text or None


def as_date(value: Any, field: str, date_format: str | None = None) -> date | None:
    """A date from a date or datetime value, or from text: ISO 8601, YYYY/MM/DD or ``date_format``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = as_text(value)
    if text is None:
        return None
    if date_format:
        try:
            return datetime.strptime(text, date_format).date()
        except ValueError:
            pass
    candidate = text.replace("/", "-")
    try:
        # Date-times (GDAL gives "2025-03-04T10:00:00" or "2025/03/04 10:00:00") keep their day.
        return date.fromisoformat(candidate[:10]) if len(candidate) >= 10 else date.fromisoformat(candidate)
    except ValueError:
        expected = f"the format {date_format!r} or YYYY-MM-DD" if date_format else "YYYY-MM-DD"
        raise ValueProblem("bad_date", f"{field}: {text!r} is not a date ({expected})") from None


def as_float(value: Any, field: str) -> float | None:
    """A finite number; a decimal comma is accepted when there is no decimal point."""
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = as_text(value)
        if text is None:
            return None
        if "," in text and "." not in text and text.count(",") == 1:
            text = text.replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            raise ValueProblem("bad_number", f"{field}: {text!r} is not a number") from None
    if not math.isfinite(number):
        if math.isnan(number):
            return None  # GDAL's way of writing a missing number
        raise ValueProblem("bad_number", f"{field}: {value!r} is not a finite number")
    return number


def as_int(value: Any, field: str) -> int | None:
    """A whole number (12, "12", 12.0)."""
    number = as_float(value, field)
    if number is None:
        return None
    if not number.is_integer():
        raise ValueProblem("bad_number", f"{field}: {value!r} is not a whole number")
    return int(number)
