"""Translations of the labels the field forms show, for every language the forms are built in.

English labels of code-list values come from the database (so a country's own values and
relabellings appear); the other languages come from :data:`CODE_LABELS` for the default codes.
A value a country added has no translation here: its database label is shown in every
language, which is better than a blank choice (and keeps pyxform's translation check quiet).
"""

from __future__ import annotations

# Language code -> the XLSForm language name (``label::English (en)``): ODK wants the ISO
# 639-1 code in brackets to pick the device language.
LANGUAGES: dict[str, str] = {"en": "English (en)", "fr": "French (fr)"}

# French labels of the default code-list values (domain/codelists.py), by list then code.
CODE_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "fr": {
        "hazard_type": {"SHA": "Zone suspectée dangereuse", "CHA": "Zone dangereuse confirmée"},
        "hazard_status": {
            "open": "Ouverte",
            "suspended": "Suspendue",
            "closed": "Fermée (entièrement remise à disposition)",
            "handed_over": "Remise à la communauté",
        },
        "activity_type": {
            "nts": "Enquête non technique",
            "ts": "Enquête technique",
            "clearance": "Dépollution",
            "bac": "Dépollution de zone de combat",
            "eod": "Neutralisation des explosifs",
        },
        "activity_status": {
            "planned": "Prévue",
            "ongoing": "En cours",
            "suspended": "Suspendue",
            "completed": "Terminée",
            "cancelled": "Annulée",
        },
        "release_method": {
            "cancelled": "Annulée par enquête non technique",
            "reduced": "Réduite par enquête technique",
            "cleared": "Dépolluée",
        },
        "eo_category": {
            "apm": "Mine antipersonnel",
            "atm": "Mine antivéhicule / antichar",
            "uxo": "Munition non explosée",
            "axo": "Munition explosive abandonnée",
            "submunition": "Sous-munition",
            "ied": "Engin explosif improvisé",
            "other": "Autre",
        },
        "eo_condition": {
            "armed": "Armé / amorcé",
            "unarmed": "Désarmé",
            "damaged": "Endommagé",
            "unknown": "Inconnu",
        },
        "disposal_method": {
            "in_situ": "Détruit sur place",
            "moved_destroyed": "Déplacé et détruit sur un site de destruction",
            "render_safe": "Neutralisé",
            "handed_over": "Remis aux autorités",
        },
        "blockage": {
            "roads": "Routes et pistes",
            "agriculture": "Terres agricoles",
            "housing": "Logements",
            "infrastructure": "Infrastructures",
            "water": "Points d'eau",
        },
        "evidence": {
            "eo_presence": "Présence de munitions explosives",
            "marking": "Marquage",
            "scrap_metal": "Ferraille",
            "craters": "Cratères",
            "damaged_infrastructure": "Infrastructures endommagées",
            "land_not_in_use": "Terres productives inutilisées",
            "reported_detonation": "Détonation signalée",
            "accident": "Accident",
            "other": "Autre",
        },
        "priority": {"high": "Haute", "medium": "Moyenne", "low": "Basse"},
        "sex": {"female": "Femme", "male": "Homme", "unknown": "Inconnu"},
        "age_band": {
            "0_4": "0–4 ans",
            "5_12": "5–12 ans",
            "13_17": "13–17 ans",
            "18_59": "18–59 ans",
            "60_plus": "60 ans et plus",
            "unknown": "Âge inconnu",
        },
        "accident_kind": {
            "demining": "Accident de déminage",
            "non_demining": "Accident par mine/REG (hors déminage)",
        },
        "victim_status": {"killed": "Tué", "injured": "Blessé"},
        "eore_method": {
            "interpersonal": "Séance interpersonnelle",
            "mass_media": "Médias de masse",
            "digital": "Numérique / réseaux sociaux",
            "training_of_trainers": "Formation de formateurs",
        },
        "qa_visit_type": {
            "accreditation": "Visite d'accréditation",
            "monitoring": "Visite de suivi",
            "inspection": "Inspection après dépollution",
        },
        "qa_result": {
            "satisfactory": "Satisfaisant",
            "minor_nc": "Non-conformités mineures",
            "major_nc": "Non-conformités majeures",
            "suspended": "Opérations suspendues",
        },
        "nc_severity": {"minor": "Mineure", "major": "Majeure", "critical": "Critique"},
        "nc_type": {
            "marking": "Marquage",
            "procedures": "Procédures / SOP non respectées",
            "equipment": "Équipement",
            "medical": "Soutien médical",
            "documentation": "Documentation",
            "quality_of_clearance": "Qualité de la dépollution",
        },
        "yes_no": {"yes": "Oui", "no": "Non"},
    },
}

# Messages shared by many questions: (English, French).
NOT_FUTURE = ("The date cannot be in the future.", "La date ne peut pas être dans le futur.")
NOT_NEGATIVE = ("Must be zero or more.", "Doit être supérieur ou égal à zéro.")
AT_LEAST_ONE = ("Must be at least 1.", "Doit être au moins 1.")
HOURS = ("Between 0 and 24 hours.", "Entre 0 et 24 heures.")
AFTER_START = ("Cannot be before the start date.", "Ne peut pas précéder la date de début.")
BEFORE_ACCIDENT = ("Cannot be after the accident.", "Ne peut pas être postérieure à l'accident.")
CODE_CHARS = (
    "Letters, digits and - _ . / only.",
    "Lettres, chiffres et - _ . / uniquement.",
)


def choice_label(language: str, list_name: str, code: str, english: str) -> str:
    """The label of a code in ``language``: the translation, else the database's label."""
    if language == "en":
        return english
    return CODE_LABELS.get(language, {}).get(list_name, {}).get(code, english)
