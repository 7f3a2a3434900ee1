"""Clearance forecasting: when will the open hazards be released, with what confidence.

A pure library (numpy/scipy, no database): the register fills :class:`ForecastInputs`, a
:class:`CapacityPlan` and, optionally, a :class:`History`; this package returns results as
dataclasses with JSON-ready ``to_dict()``.

The model
=========

**Land.** Each open hazard ``i`` has a remaining area ``A_i`` (m²), a class (0 = SHA, 1 = CHA), a
region and a place in the priority order. Its area passes a land release funnel: a share ``c_i``
is cancelled by non-technical survey (NTS), of the rest a share is reduced by technical survey
(TS), and the remainder is cleared. The funnel's mean shares are drawn per trial and class from a
Dirichlet; each hazard then varies uniformly around them (``hazard_share_spread``), keeping the
mean. Sourced defaults: ``docs/forecast-sources.md`` (see :mod:`.parameters`).

**Stages and effort.** Three stages work in parallel, each serving hazards in priority order
with pooled capacity (the next hazard starts as soon as the previous one is done):

* NTS surveys all of ``A_i`` (effort ``A_i``) and releases the cancelled part ``A_i·c_i``;
* TS works the area not cancelled, ``A_i(1 − c_i)·m_i``, and releases the reduced part;
* clearance works the cleared part ``A_i(1 − c_i)·g_i·m_i·e_i / q_class``.

``m_i = 1 + δ·position_i`` is depletion: the hardest land comes last (``position`` = share of the
stock served before the hazard, ``δ`` drawn per trial). ``e_i`` is per-hazard effort noise and
``q`` a per-class speed factor. Effort is in m² of reference land; capacity is in the same unit:
Σ over team types of (m² per team-day, lognormal, drawn per trial) × team-days worked, plus m²
bought by budgets. Stages have no precedence: NTS and TS capacity is far larger than the
clearance it feeds, so ignoring the wait between them changes little, and a stage with no
capacity is reported, not hidden.

**Capacity** (:mod:`.capacity`) is deterministic: accredited teams by type, teams added or
withdrawn from dates, training pipelines (trainees per month → course → pass rate → teams of
``staff_per_team`` → attrition), ramp-up of new teams, working days per year and closed months
per team type (winter, dogs in hot months), budgets converted at a cost per m².

**New contamination** arrives every day at a rate drawn per trial (m² per year, or a share of the
initial stock per year) with class 0's funnel and is worked first, by each stage. The programme is
complete on the first day on which all known stock is released and the backlog of new finds is
empty; if that never happens within the horizon the result says so (``None`` dates and a
``not_within_horizon_share``), it never invents a date.

**Year to year** (:class:`Volatility`): all capacity is multiplied in each calendar year by a
factor (the level the programme may be wrong about, a walk, one year's mean-one noise); at each
year end the estimate of the land not yet released may be revised (a centred lognormal factor,
sized by the stock) and drifts between revisions, for as long as survey goes on; new
contamination comes in yearly bursts around its rate. How large these are is fitted on the
corpus of published national series (:mod:`.pooled`, ``data/national-series``) and checked by
leaving each country out in turn (:mod:`.validation`, ``demine validate``).

**Outputs** per trial: completion day, each region's completion (its last hazard's), and on each
31 December the area released by method and the area still open. Percentiles over trials give
completion P10/P50/P90, the remaining-area band by year and region P50/P90. ``naive_years`` is
stock ÷ recent clearance rate (the "757 years" method) for comparison.

Engines
=======

:func:`forecast` (:mod:`.simulate`) is vectorised: for each stage, cumulative effort along the
priority order (prefix sums over hazards) is compared with cumulative capacity over days (prefix
sums, and a running maximum for the new-contamination queue) by binary search, never a loop over
days. :func:`simulate_reference` (:mod:`.reference`) simulates the same model one day at a time
and is the correctness oracle; both consume the same draws (:mod:`.draws`), so they agree on
every trial up to floating rounding. :func:`compare` runs a baseline and a :class:`Scenario`
(parsed from TOML by :func:`load_scenario`) on common random numbers. :func:`calibrate` blends a
:class:`History` into the priors.

Sources and outputs
===================

These modules are not imported here, so the engine stays free of the database and of plotting:
:mod:`.register_history` fills a :class:`~.prepared.PreparedForecast` from the register (stock,
accredited teams, calibration on its own history), :mod:`.national` from a national
programme summary TOML (:mod:`.programme_file`); :mod:`.backtest` scores a forecast made from
an earlier year of such a file against the later years; :mod:`.charts` draws the burn-down fan
chart.
"""

from demine.planning.calibrate import History, calibrate
from demine.planning.capacity import Budget, CapacityPlan, Season, TeamChange, TrainingPipeline
from demine.planning.compare import Comparison, YearComparison, compare
from demine.planning.distributions import Fixed, Funnel, Lognormal
from demine.planning.draws import TrialDraws, draw_trials
from demine.planning.inputs import ForecastInputs, single_region
from demine.planning.model import DEFAULT_HORIZON_YEARS, Model, build_model
from demine.planning.parameters import (
    CLASS_NAMES,
    STAGES,
    TEAM_TYPES,
    Parameters,
    Volatility,
    default_parameters,
    deterministic_parameters,
)
from demine.planning.reference import ReferenceRun, simulate_reference
from demine.planning.results import (
    Completion,
    ForecastResult,
    RegionCompletion,
    TrialOutcomes,
    YearBand,
    YearRelease,
)
from demine.planning.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_from_dict,
)
from demine.planning.simulate import forecast, simulate

__all__ = [
    "CLASS_NAMES",
    "DEFAULT_HORIZON_YEARS",
    "STAGES",
    "TEAM_TYPES",
    "Budget",
    "CapacityPlan",
    "Comparison",
    "Completion",
    "Fixed",
    "ForecastInputs",
    "ForecastResult",
    "Funnel",
    "History",
    "Lognormal",
    "Model",
    "Parameters",
    "ReferenceRun",
    "RegionCompletion",
    "Scenario",
    "ScenarioError",
    "Season",
    "TeamChange",
    "TrainingPipeline",
    "TrialDraws",
    "TrialOutcomes",
    "Volatility",
    "YearBand",
    "YearComparison",
    "YearRelease",
    "build_model",
    "calibrate",
    "compare",
    "default_parameters",
    "deterministic_parameters",
    "draw_trials",
    "forecast",
    "load_scenario",
    "parse_scenario",
    "scenario_from_dict",
    "simulate",
    "simulate_reference",
    "single_region",
]
