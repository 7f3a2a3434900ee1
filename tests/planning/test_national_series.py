"""The corpus of published national series: every figure sourced, the countries allowed, the
pooled priors shipped with the package fitted on exactly this corpus."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pytest

from demine.planning.pooled import PooledPriors, fit_pooled, load_pooled
from demine.planning.programme_file import YEAR_AREAS
from demine.planning.validation import load_corpus

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

CORPUS = Path(__file__).resolve().parents[2] / "data" / "national-series"
# The countries the corpus may hold (issue 14); the others are kept aside for an independent check.
ALLOWED = {
    "AFG", "ALB", "DZA", "AGO", "BIH", "BDI", "KHM", "COL", "HRV", "CYP", "COD", "ECU", "ERI", "ETH",
    "GRC", "GNB", "IRQ", "JOR", "LBN", "MRT", "MNE", "MOZ", "NIC", "NER", "MKD", "PER", "RWA", "SEN",
    "SRB", "SOM", "SSD", "SDN", "TUR", "UGA", "UKR", "VEN", "YEM",
}  # fmt: skip
FIGURES = {f"{n}_{u}" for n in YEAR_AREAS for u in ("m2", "km2")} | {"revised_m2", "revised_km2"}


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


def test_corpus_loads_and_holds_only_allowed_countries(corpus):
    countries = [p.country for p in corpus]
    assert len(countries) == len(set(countries)) >= 15
    assert set(countries) <= ALLOWED
    for p in corpus:
        assert Path(p.path).stem == p.country.lower()
        assert p.scope, f"{p.path}: no scope"


def test_fifteen_countries_with_five_years_or_more(corpus):
    long = [p.country for p in corpus if len({r.year for r in p.history}) >= 5]
    assert len(long) >= 15, long


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_figure_has_a_source_and_its_evidence(path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    references = data.get("references", {})
    assert references, "no references"
    for key, citation in references.items():
        assert "http" in citation, f"reference {key} has no address"
    if "completed_on" in data:
        assert data.get("completed_source") in references
    for row in data.get("history", []):
        figures = FIGURES & set(row)
        if not figures:
            continue
        assert row.get("evidence", "").strip(), f"{row['year']}: figures without evidence"
        source = row.get("source")
        assert source, f"{row['year']}: figures without a source"
        keys = list(source.values()) if isinstance(source, dict) else [source]
        for k in keys:
            for part in str(k).replace(";", ",").split(","):
                assert part.strip() in references, f"{row['year']}: unknown reference {part!r}"
        if isinstance(source, dict):
            assert set(source) <= figures | {"remaining_on"}, f"{row['year']}: a source for no figure"


def test_shipped_pooled_priors_are_this_corpus_fitted(corpus):
    shipped = load_pooled()
    fitted = fit_pooled(corpus)
    a, b = shipped.to_dict(), fitted.to_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert _close(a[key], b[key]), (key, a[key], b[key])
    assert set(shipped.countries) == {p.country for p in corpus}


def test_pooled_priors_round_trip_through_json():
    p = load_pooled()
    again = PooledPriors.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return (a is None and b is None) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b
