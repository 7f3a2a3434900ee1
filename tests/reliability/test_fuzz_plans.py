"""Fuzzing the scenario and programme TOML parsers: every file is a forecast or a clean error.

Hypothesis starts from the example files (``examples/*.toml``) and mutates them: values
replaced by anything TOML can hold (wrong types, negative, huge, NaN and infinite numbers,
dates out of order, strings of any characters), keys deleted, unknown keys added, tables
replaced by scalars and the other way round. Each document is written out as TOML text and
read by :func:`parse_scenario` / :func:`parse_programme`; raw text (broken TOML) is tried too.
A file that is accepted must also work: a scenario applies to a capacity plan, a programme
prepares and forecasts (a few trials). Any exception other than the project's
:class:`~demine.domain.errors.DemineError` family is a failure.

``DEMINE_FUZZ_EXAMPLES`` sets the number of examples per test (default 150; nightly 10,000).
"""

from __future__ import annotations

import json
import math
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import env_int, record_result

from demine.domain.errors import DemineError
from demine.planning.capacity import CapacityPlan
from demine.planning.programme_file import parse_programme
from demine.planning.scenario import parse_scenario

# No database: nothing to gain from running it again on PostgreSQL.
pytestmark = pytest.mark.store_free

EXAMPLES = env_int("DEMINE_FUZZ_EXAMPLES", 150)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples"
BASES = {p.stem: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLE_DIR.glob("*.toml"))}
SCENARIOS = [d for d in BASES.values() if any(k in d for k in ("add_teams", "training", "budget"))]
PROGRAMMES = [d for d in BASES.values() if "start" in d]
COUNTS: dict[str, dict[str, int]] = {}


def toml_value(value: Any) -> str:
    """TOML text for a value (inline tables and arrays; strings with JSON's escapes, which TOML shares)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_text(document: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in document.items())


scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 2, 12, 100, 1000, 2015, 2030, 100_000, 10**9, 10**15]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, 1.5, -1e-9, 1e300, math.nan, math.inf]),
    st.booleans(),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.sampled_from([date(2015, 1, 1), date(2026, 1, 1), date(2027, 4, 1), date(1990, 6, 30)]),
    st.text(max_size=20),
    st.sampled_from(
        ["manual", "mdd", "mechanical", "nts", "ts", "eod", "", "2026-01-01", "2026-13-45", "USD"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)


def paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a document a mutation can hit (keys of tables, items of arrays)."""
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for k, v in document.items():
            found += paths(v, (*prefix, k))
    elif isinstance(document, list):
        for i, v in enumerate(document):
            found += paths(v, (*prefix, i))
    return found


@st.composite
def mutated(draw, bases: list[dict[str, Any]]) -> dict[str, Any]:
    """One of the example documents with a few random changes."""
    document = json.loads(
        json.dumps(draw(st.sampled_from(bases)), default=lambda d: {"__date__": d.isoformat()})
    )
    document = _dates_back(document)
    for _ in range(draw(st.integers(1, 4))):
        places = paths(document)
        action = draw(st.sampled_from(["tweak", "tweak", "tweak", "replace", "delete", "add", "duplicate"]))
        if not places or action == "add":
            target = document
            if places:
                parent = _get(document, draw(st.sampled_from(places)))
                target = parent if isinstance(parent, dict) else document
            key = draw(st.one_of(st.text(max_size=10), st.sampled_from(_known_keys(bases))))
            target[key] = draw(values)
            continue
        place = draw(st.sampled_from(places))
        parent = _get(document, place[:-1])
        if action == "delete":
            del parent[place[-1]]
        elif action == "tweak":
            parent[place[-1]] = draw(_tweaked(parent[place[-1]]))
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(json.loads(json.dumps(parent[place[-1]], default=str)))
        else:
            parent[place[-1]] = draw(values)
    return document


def _tweaked(value: Any) -> st.SearchStrategy:
    """A plausible change that keeps the type: numbers scaled or negated, dates moved."""
    if isinstance(value, bool) or not isinstance(value, int | float | date):
        return values
    if isinstance(value, date):
        return st.integers(-20_000, 20_000).map(
            lambda days: date.fromordinal(min(max(value.toordinal() + days, 1), date.max.toordinal()))
        )
    factors = st.sampled_from([0, -1, 0.001, 0.5, 0.9, 1.1, 2, 10, 1000])
    if isinstance(value, int):
        return st.one_of(factors.map(lambda f: int(value * f)), st.integers(value - 5, value + 5))
    return factors.map(lambda f: value * f)


def _dates_back(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__date__"}:
            return date.fromisoformat(value["__date__"])
        return {k: _dates_back(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_back(v) for v in value]
    return value


def _get(document: Any, place: tuple) -> Any:
    for step in place:
        document = document[step]
    return document


def _known_keys(bases: list[dict[str, Any]]) -> list[str]:
    return sorted({k for p in paths({"x": bases}) for k in p if isinstance(k, str) and k != "x"})


def _tally(name: str, outcome: str) -> None:
    COUNTS.setdefault(name, {"accepted": 0, "refused": 0})[outcome] += 1


def try_scenario(text: str) -> None:
    try:
        scenario = parse_scenario(text, "fuzz.toml")
    except DemineError as exc:
        assert str(exc), "an error without a message"
        _tally("scenario", "refused")
        return
    scenario.apply(CapacityPlan({}))
    json.dumps(scenario.to_dict(), default=str)
    _tally("scenario", "accepted")


def try_programme(text: str) -> None:
    try:
        programme = parse_programme(text, "fuzz.toml")
        prepared = programme.prepare()
        result = prepared.forecast(trials=8, seed=1, horizon_years=30)
    except DemineError as exc:
        assert str(exc), "an error without a message"
        _tally("programme", "refused")
        return
    assert result is not None
    _tally("programme", "accepted")


@SETTINGS
@given(document=mutated(SCENARIOS))
def test_mutated_scenarios_forecast_or_fail_cleanly(document):
    try_scenario(toml_text(document))


@SETTINGS
@given(document=mutated(PROGRAMMES))
def test_mutated_programmes_forecast_or_fail_cleanly(document):
    try_programme(toml_text(document))


@SETTINGS
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.sampled_from(
            [
                "",
                "[[history]]\n",
                "start = 2020-01-01\n[[history]]\nyear = 2019\n",
                "[[add_teams]]\n[[budget]]\n",
            ]
        ),
    )
)
def test_raw_text_is_a_clean_error(text):
    try_scenario(text)
    try_programme(text)


def test_zz_record_counts():
    """Runs last in this module: write how many documents each parser saw."""
    record_result("fuzz_plans", {"examples_per_test": EXAMPLES, "outcomes": COUNTS})
