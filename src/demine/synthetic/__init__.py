"""A deterministic synthetic mine action programme for the demo, tests and benchmarks.

``build_programme(conn, hazards=2000, seed=1)`` draws a region with admin areas, settlements
and roads; hazards of plausible shapes and sizes; organisations, teams, personnel and
accreditations; and two years of history (activities, daily progress, land release
products, finds, accidents, risk education and QA) from the ranges in
``docs/sources.md``. The same seed and ``as_of`` date give the same
programme.
"""
