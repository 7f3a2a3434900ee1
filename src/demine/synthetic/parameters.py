"""The numbers the synthetic programme is drawn from, with their sources.

Each figure's public source is in ``docs/sources.md`` (the anchors below); figures marked
*assumption* are ours.
"""

from __future__ import annotations

# Region centre: fictional "Demoland" in a steppe at about 47.5° N (assumption).
CENTRE_LON, CENTRE_LAT = 32.0, 47.5
REGION_KM2_PER_HAZARD = 2.0  # assumption: density of hazards in contaminated districts

HISTORY_DAYS = 790  # a little over two years of recorded operations

# Hazard sizes (m²), lognormal: SHAs are broad suspicion, CHAs tighter (assumption; the
# issue asks for hundreds of m² to km²).
SHA_MEDIAN_M2, SHA_SIGMA = 40_000.0, 1.4
CHA_MEDIAN_M2, CHA_SIGMA = 9_000.0, 1.3
MIN_HAZARD_M2, MAX_HAZARD_M2 = 150.0, 3_000_000.0
SHA_SHARE = 0.65

# Land release funnel per surveyed hazard (Landmine Monitor 2023: 32 % cancelled, 24 % reduced,
# 44 % cleared by States Parties in 2022; Cambodia 2015 48/20/32; docs/sources.md#release-funnel).
CANCEL_BETA = (2.0, 2.6)  # mean ≈ 0.43 of an SHA cancelled by NTS
# NTS finds no evidence at all and cancels the whole SHA (assumption, docs/sources.md#confirmed-area-funnel)
CANCEL_ALL_SHARE = 0.15
REDUCE_BETA = (2.0, 4.0)  # mean ≈ 0.33 of what TS examines is reduced

# Productivity per team-day (m²), lognormal medians and sigmas: docs/sources.md#manual-clearance-rate,
# docs/sources.md#dog-clearance-rate, docs/sources.md#machine-rate, docs/sources.md#survey-rates.
PRODUCTIVITY = {
    "manual": (25.0, 0.45),  # per deminer: HALO 10–50 m²/day; multiplied by team members
    "mdd": (800.0, 0.4),  # a dog pair: SFOR 800–900 m²/day
    "mechanical": (2_500.0, 0.5),  # a machine: 2,500–5,000 realistic
    "nts": (60_000.0, 0.6),  # NTS covers suspicion, not ground (assumption)
    "ts": (4_000.0, 0.5),  # TS sampling (assumption)
}
TEAM_MIX = {
    "nts": 0.14,
    "ts": 0.12,
    "manual": 0.38,
    "mdd": 0.10,
    "mechanical": 0.10,
    "eod_bac": 0.16,
}
TEAM_MEMBERS = {"nts": 4, "ts": 6, "manual": 8, "mdd": 4, "mechanical": 3, "eod_bac": 4}
HAZARDS_PER_TEAM = 60
MAX_CLEARANCE_TASK_DAYS = 40  # a clearance task is closed out and reported at most this long
# SFOR 2001 (deminers ≤ 6 h a day), GICHD (dogs a few to 7 h); the rest assumed: docs/sources.md#working-days
WORK_HOURS = {"manual": 6.0, "mdd": 5.0, "mechanical": 7.0, "nts": 8.0, "ts": 7.0}

# Mines per km² cleared in confirmed areas (Landmine Monitor, Mine Action Review: 65–2,300 APM/km²;
# docs/sources.md#mine-density).
FINDS_PER_KM2 = {"CHA": 400.0, "SHA": 40.0}
CLEARANCE_DEPTH_CM = 13.0  # Sudan NTSG: 13 cm minimum (docs/sources.md#clearance-depth)

ACCREDITATION_YEARS = 2
