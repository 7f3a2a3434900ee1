"""``--where``: a small, safe filter language over an export's columns.

The text is never handed to SQL. It is parsed here into SQLAlchemy expressions whose
columns come only from the layer's own list and whose values are bound parameters, so no
input can reach another table, call a function or end the statement. The grammar::

    expr      := and_expr ("OR" and_expr)*
    and_expr  := not_expr ("AND" not_expr)*
    not_expr  := "NOT" not_expr | "(" expr ")" | predicate
    predicate := column op value
               | column ["NOT"] "IN" "(" value ("," value)* ")"
               | column "IS" ["NOT"] "NULL"
               | column ["NOT"] "BETWEEN" value "AND" value
               | column ["NOT"] "LIKE" 'pattern'
    op        := = | == | != | <> | < | <= | > | >=
    value     := 'text' (a quote doubled inside) | number | TRUE | FALSE

Keywords are case-insensitive; column names may be "double-quoted". Values are checked
against the column: dates as YYYY-MM-DD, numbers for numeric columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_

from demine.domain.errors import DemineError
from demine.export.layers import Layer

MAX_LENGTH = 2000
MAX_DEPTH = 30

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<op><=|>=|<>|!=|==|=|<|>)
      | (?P<punct>[(),])
      | (?P<quoted>"(?:[^"]|"")+")
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "is", "null", "between", "like", "true", "false"}


class WhereError(DemineError):
    """The filter cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Token:
    """One lexical token and where it starts in the text."""

    kind: str  # string | number | op | punct | name | keyword | end
    value: Any
    at: int


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens; anything not in the grammar is an error."""
    if len(text) > MAX_LENGTH:
        raise WhereError(f"--where: longer than {MAX_LENGTH} characters")
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise WhereError(f"--where: cannot read {text[pos:].strip()[:20]!r} (at character {pos + 1})")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        start = match.start(kind)
        if kind == "string":
            tokens.append(Token("string", raw[1:-1].replace("''", "'"), start))
        elif kind == "number":
            tokens.append(Token("number", float(raw) if any(c in raw for c in ".eE") else int(raw), start))
        elif kind == "quoted":
            tokens.append(Token("name", raw[1:-1].replace('""', '"'), start))
        elif kind == "word":
            lowered = raw.lower()
            keyword = lowered in KEYWORDS
            tokens.append(Token("keyword" if keyword else "name", lowered if keyword else raw, start))
        else:
            tokens.append(Token(kind, raw, start))
        pos = match.end()
    tokens.append(Token("end", None, len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, layer: Layer, allowed: set[str]) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.layer = layer
        self.allowed = allowed
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def fail(self, message: str) -> WhereError:
        return WhereError(f"--where: {message} (at character {self.token.at + 1})")

    def take(self, kind: str, value: Any = None) -> Token:
        token = self.token
        if token.kind != kind or (value is not None and token.value != value):
            wanted = value if value is not None else kind
            got = token.value if token.kind != "end" else "the end"
            raise self.fail(f"expected {wanted}, found {got!r}")
        self.pos += 1
        return token

    def accept(self, kind: str, value: Any = None) -> bool:
        if self.token.kind == kind and (value is None or self.token.value == value):
            self.pos += 1
            return True
        return False

    def parse(self) -> ColumnElement:
        expr = self.expr()
        if self.token.kind != "end":
            raise self.fail(f"unexpected {self.token.value!r}")
        return expr

    def expr(self) -> ColumnElement:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail("nested too deeply")
        parts = [self.and_expr()]
        while self.accept("keyword", "or"):
            parts.append(self.and_expr())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else or_(*parts)

    def and_expr(self) -> ColumnElement:
        parts = [self.not_expr()]
        while self.accept("keyword", "and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else and_(*parts)

    def not_expr(self) -> ColumnElement:
        if self.accept("keyword", "not"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail("nested too deeply")
            inner = self.not_expr()
            self.depth -= 1
            return not_(inner)
        if self.accept("punct", "("):
            inner = self.expr()
            self.take("punct", ")")
            return inner
        return self.predicate()

    def predicate(self) -> ColumnElement:
        name_token = self.take("name")
        name = name_token.value
        column = self.layer.column(name) if name in self.allowed else None
        if column is None:
            self.pos -= 1
            raise self.fail(f"no column {name!r}; the columns: {', '.join(sorted(self.allowed))}")
        expr = column.expr
        if self.token.kind == "op":
            op = self.take("op").value
            value = self.value(column)
            return {
                "=": expr == value,
                "==": expr == value,
                "!=": expr != value,
                "<>": expr != value,
                "<": expr < value,
                "<=": expr <= value,
                ">": expr > value,
                ">=": expr >= value,
            }[op]
        if self.accept("keyword", "is"):
            negate = self.accept("keyword", "not")
            self.take("keyword", "null")
            return expr.is_not(None) if negate else expr.is_(None)
        negate = self.accept("keyword", "not")
        if self.accept("keyword", "in"):
            self.take("punct", "(")
            values = [self.value(column)]
            while self.accept("punct", ","):
                values.append(self.value(column))
            self.take("punct", ")")
            return expr.not_in(values) if negate else expr.in_(values)
        if self.accept("keyword", "between"):
            low = self.value(column)
            self.take("keyword", "and")
            high = self.value(column)
            result = expr.between(low, high)
            return not_(result) if negate else result
        if self.accept("keyword", "like"):
            if column.type not in ("text", "code", "codes"):
                raise self.fail(f"LIKE needs a text column; {name} is {column.type}")
            pattern = self.take("string").value
            return expr.not_like(pattern) if negate else expr.like(pattern)
        raise self.fail(f"expected a comparison after {name}")

    def value(self, column: Any) -> Any:
        token = self.token
        if token.kind == "keyword" and token.value in ("true", "false"):
            self.pos += 1
            raw: Any = token.value == "true"
        elif token.kind in ("string", "number"):
            self.pos += 1
            raw = token.value
        else:
            got = token.value if token.kind != "end" else "the end"
            raise self.fail(f"expected a value ('text', a number, TRUE or FALSE), found {got!r}")
        return self.coerce(column, raw, token)

    def coerce(self, column: Any, raw: Any, token: Token) -> Any:
        kind = column.type
        try:
            if kind == "date":
                return date.fromisoformat(str(raw))
            if kind in ("float", "int"):
                if isinstance(raw, bool):
                    raise ValueError
                number = float(raw)
                return int(number) if kind == "int" and number.is_integer() else number
            if kind == "bool":
                if isinstance(raw, bool):
                    return raw
                if str(raw).lower() in ("1", "true", "yes"):
                    return True
                if str(raw).lower() in ("0", "false", "no"):
                    return False
                raise ValueError
        except ValueError:
            expected = {"date": "a date YYYY-MM-DD", "bool": "TRUE or FALSE"}.get(kind, "a number")
            raise WhereError(
                f"--where: {column.name} needs {expected}, not {raw!r} (at character {token.at + 1})"
            ) from None
        return str(raw) if not isinstance(raw, str) else raw


def parse_where(text: str, layer: Layer, allowed: set[str]) -> ColumnElement:
    """The SQLAlchemy condition for ``text`` over the columns named in ``allowed``."""
    if not text.strip():
        raise WhereError("--where: empty filter")
    return _Parser(text, layer, allowed).parse()
