"""Code lists: the default values every programme starts with, and membership checks.

Code lists are data. These defaults seed the ``code_list`` table when a database is created;
a national authority adds or retires values there (``active = false``) without touching code.
Codes follow GICHD's Minimum Data Requirements and IMSMA usage where those give values
(``docs/sources.md#mdr-code-lists``); where the sources give only a list's name, the
values are ours and are marked as such in the label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from demine.domain.errors import Problem

# (code, English label). Order is display order.
DEFAULT_CODE_LISTS: dict[str, list[tuple[str, str]]] = {
    "hazard_type": [
        ("SHA", "Suspected hazardous area"),
        ("CHA", "Confirmed hazardous area"),
    ],
    # The MDR table and diagram disagree (open/closed/handed over vs open/closed/suspended);
    # we keep the union the issue asks for.
    "hazard_status": [
        ("open", "Open"),
        ("suspended", "Suspended"),
        ("closed", "Closed (fully released)"),
        ("handed_over", "Handed over to the community"),
    ],
    "team_type": [
        ("manual", "Manual clearance"),
        ("mdd", "Mine detection dogs"),
        ("mechanical", "Mechanical"),
        ("nts", "Non-technical survey"),
        ("ts", "Technical survey"),
        ("eod_bac", "EOD / battle area clearance"),
    ],
    "activity_type": [
        ("nts", "Non-technical survey"),
        ("ts", "Technical survey"),
        ("clearance", "Clearance"),
        ("bac", "Battle area clearance"),
        ("eod", "Explosive ordnance disposal"),
    ],
    "activity_status": [
        ("planned", "Planned"),
        ("ongoing", "Ongoing"),
        ("suspended", "Suspended"),
        ("completed", "Completed"),
        ("cancelled", "Cancelled"),
    ],
    "release_method": [
        ("cancelled", "Cancelled by non-technical survey"),
        ("reduced", "Reduced by technical survey"),
        ("cleared", "Cleared"),
    ],
    "eo_category": [
        ("apm", "Anti-personnel mine"),
        ("atm", "Anti-vehicle / anti-tank mine"),
        ("uxo", "Unexploded ordnance"),
        ("axo", "Abandoned explosive ordnance"),
        ("submunition", "Cluster submunition"),
        ("ied", "Improvised explosive device"),
        ("other", "Other"),
    ],
    "eo_condition": [
        ("armed", "Armed / fuzed"),
        ("unarmed", "Unarmed"),
        ("damaged", "Damaged"),
        ("unknown", "Unknown"),
    ],
    "disposal_method": [
        ("in_situ", "Destroyed in situ"),
        ("moved_destroyed", "Moved and destroyed at a demolition site"),
        ("render_safe", "Rendered safe"),
        ("handed_over", "Handed to the authorities"),
    ],
    "blockage": [
        ("roads", "Roads and tracks"),
        ("agriculture", "Agricultural land"),
        ("housing", "Housing"),
        ("infrastructure", "Infrastructure"),
        ("water", "Water sources"),
    ],
    "evidence": [
        ("eo_presence", "Presence of explosive ordnance"),
        ("marking", "Marking"),
        ("scrap_metal", "Scrap metal"),
        ("craters", "Craters"),
        ("damaged_infrastructure", "Damaged infrastructure"),
        ("land_not_in_use", "Productive land not in use"),
        ("reported_detonation", "Reported detonation"),
        ("accident", "Accident"),
        ("other", "Other"),
    ],
    "priority": [
        ("high", "High"),
        ("medium", "Medium"),
        ("low", "Low"),
    ],
    "sex": [
        ("female", "Female"),
        ("male", "Male"),
        ("unknown", "Unknown"),
    ],
    # Syria's RE forms count 5–12, 13–17 and 18+ (docs/sources.md#syria-forms); we add under-5 and
    # 60+ so that direct beneficiaries of land release (households) fit too.
    "age_band": [
        ("0_4", "0–4 years"),
        ("5_12", "5–12 years"),
        ("13_17", "13–17 years"),
        ("18_59", "18–59 years"),
        ("60_plus", "60 years and over"),
        ("unknown", "Unknown age"),
    ],
    "beneficiary_kind": [
        ("direct", "Direct"),
        ("indirect", "Indirect"),
    ],
    "organisation_type": [
        ("national_authority", "National mine action authority"),
        ("ngo", "Non-governmental organisation"),
        ("commercial", "Commercial operator"),
        ("military", "Military / civil defence"),
        ("un", "United Nations"),
    ],
    "accident_kind": [
        ("demining", "Demining accident"),
        ("non_demining", "Mine/ERW accident (not demining)"),
    ],
    "victim_status": [
        ("killed", "Killed"),
        ("injured", "Injured"),
    ],
    "eore_method": [
        ("interpersonal", "Interpersonal session"),
        ("mass_media", "Mass media"),
        ("digital", "Digital / social media"),
        ("training_of_trainers", "Training of trainers"),
    ],
    "qa_visit_type": [
        ("accreditation", "Accreditation visit"),
        ("monitoring", "Monitoring visit"),
        ("inspection", "Post-clearance inspection"),
    ],
    "qa_result": [
        ("satisfactory", "Satisfactory"),
        ("minor_nc", "Minor non-conformities"),
        ("major_nc", "Major non-conformities"),
        ("suspended", "Operations suspended"),
    ],
    "nc_severity": [
        ("minor", "Minor"),
        ("major", "Major"),
        ("critical", "Critical"),
    ],
    "nc_type": [
        ("marking", "Marking"),
        ("procedures", "Procedures / SOP not followed"),
        ("equipment", "Equipment"),
        ("medical", "Medical support"),
        ("documentation", "Documentation"),
        ("quality_of_clearance", "Quality of clearance"),
    ],
}


@dataclass
class CodeLists:
    """The active codes of each list, with labels; built from the database or the defaults."""

    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def defaults(cls) -> CodeLists:
        """The lists a new database is seeded with."""
        return cls.from_rows(
            (name, code, label) for name, rows in DEFAULT_CODE_LISTS.items() for code, label in rows
        )

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str]]) -> CodeLists:
        """Build from ``(list_name, code, label)`` rows."""
        labels: dict[str, dict[str, str]] = {}
        for name, code, label in rows:
            labels.setdefault(name, {})[code] = label
        return cls(labels)

    def codes(self, list_name: str) -> list[str]:
        """The active codes of a list, in display order."""
        return list(self.labels.get(list_name, {}))

    def label(self, list_name: str, code: str) -> str:
        """The human-readable label of a code (the code itself when unknown)."""
        return self.labels.get(list_name, {}).get(code, code)

    def check(self, list_name: str, value: str | None, record: str, field_name: str) -> list[Problem]:
        """Problems with one value that must belong to ``list_name`` (None is allowed)."""
        if value is None:
            return []
        allowed = self.labels.get(list_name, {})
        if value in allowed:
            return []
        choices = ", ".join(allowed) or "(the list is empty)"
        return [Problem(record, field_name, f"{value!r} is not in code list {list_name!r} ({choices})")]

    def check_many(
        self, list_name: str, values: Iterable[str], record: str, field_name: str
    ) -> list[Problem]:
        """Problems with several values that must each belong to ``list_name``."""
        problems: list[Problem] = []
        for value in values:
            problems += self.check(list_name, value, record, field_name)
        return problems
