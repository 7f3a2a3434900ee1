"""The numbers the synthetic programme is drawn from, with their sources.

Sources are in ``shared/reference/planning-figures.md``; figures marked *assumption* are ours.
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

# Land release funnel per surveyed hazard (planning-figures §2.1: 32 % cancelled, 24 %
# reduced, 44 % cleared globally in 2022; Cambodia 48/20/32).
CANCEL_BETA = (2.0, 2.6)  # mean ≈ 0.43 of an SHA cancelled by NTS
CANCEL_ALL_SHARE = 0.15  # NTS finds no evidence at all and cancels the whole SHA
REDUCE_BETA = (2.0, 4.0)  # mean ≈ 0.33 of what TS examines is reduced

# Productivity per team-day (m²), lognormal medians and sigmas (planning-figures §1, §7).
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
WORK_HOURS = {"manual": 6.0, "mdd": 5.0, "mechanical": 7.0, "nts": 8.0, "ts": 7.0}  # SFOR 2001

# Mines per km² cleared in confirmed areas (planning-figures §2.3: 65–2,300 APM/km²).
FINDS_PER_KM2 = {"CHA": 400.0, "SHA": 40.0}
CLEARANCE_DEPTH_CM = 13.0  # Sudan NTSG: 13 cm minimum (planning-figures §1.1)

ACCREDITATION_YEARS = 2
