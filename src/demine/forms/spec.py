"""The field forms, declared once: what the XLSForm builder writes and what the ingest reads.

Each :class:`Form` lists its questions in order; a question's ``name`` is the field of the
workflow payload it fills wherever the two coincide, so the form, its XLSForm and the export
reader cannot drift apart. Bounds (``minimum``/``maximum``), "not in the future" and
"required" are declared here and become both the XLSForm ``constraint``/``required`` columns
and the checks the ingest applies to exported rows (a form edited by hand, or an old version,
may let anything through).

Choice lists are code lists (``code_list`` table), or register lists filled from the database
when the form is built: ``organisation``, ``team`` (filtered by the chosen organisation) and
``admin_area``; plus ``yes_no``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from demine.forms import labels as L

Pair = tuple[str, str]  # (English, French)

REGISTER_LISTS = ("organisation", "team", "admin_area")


@dataclass(frozen=True)
class Question:
    """One question (an XLSForm ``survey`` row)."""

    name: str
    type: str  # text integer decimal date geopoint geoshape select_one select_multiple note calculate
    label: Pair
    choices: str | None = None
    required: bool = False
    hint: Pair | None = None
    relevant: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    not_future: bool = False
    constraint: str | None = None  # an extra XLSForm constraint (with ``message``)
    message: Pair | None = None
    calculation: str | None = None
    default: str | None = None
    appearance: str | None = None
    choice_filter: str | None = None


@dataclass(frozen=True)
class Group:
    """A ``begin_group``/``begin_repeat`` block of questions."""

    name: str
    label: Pair
    questions: tuple[Question, ...]
    repeat: bool = False
    relevant: str | None = None
    appearance: str | None = None


Item = Question | Group


@dataclass(frozen=True)
class Form:
    """A form: its id, title, the workflow kind(s) it produces, its questions."""

    name: str  # also the value of ``--form``
    title: Pair
    kinds: tuple[str, ...]
    items: tuple[Item, ...]
    instance_name: str
    description: str = ""
    sadd: bool = False  # EORE: a group of counts per sex × age band, built from the code lists

    @property
    def form_id(self) -> str:
        return f"demine_{self.name}"

    def questions(self) -> list[Question]:
        """Every question, groups flattened (repeats included)."""
        out: list[Question] = []
        for item in self.items:
            out.extend(item.questions if isinstance(item, Group) else (item,))
        return out

    def top_questions(self) -> list[Question]:
        """The questions answered once per submission (not inside a repeat)."""
        out: list[Question] = []
        for item in self.items:
            if isinstance(item, Group):
                if not item.repeat:
                    out.extend(item.questions)
            else:
                out.append(item)
        return out

    def repeats(self) -> list[Group]:
        return [i for i in self.items if isinstance(i, Group) and i.repeat]


def _code(name: str, label: Pair, hint: Pair | None = None) -> Question:
    return Question(
        name,
        "text",
        label,
        required=True,
        hint=hint,
        constraint="regex(., '^[A-Za-z0-9_./-]+$')",
        message=L.CODE_CHARS,
    )


def _date(name: str, label: Pair, **kw: object) -> Question:
    return Question(name, "date", label, not_future=True, **kw)  # type: ignore[arg-type]


ORGANISATION = Question(
    "organisation", "select_one", ("Organisation", "Organisation"), choices="organisation", required=True
)
TEAM = Question(
    "team",
    "select_one",
    ("Team", "Équipe"),
    choices="team",
    required=True,
    choice_filter="organisation=${organisation}",
)
HAZARD_REF = Question(
    "hazard",
    "text",
    ("Hazardous area code", "Code de la zone dangereuse"),
    hint=("As on the marking or task order, e.g. HA-000123.", "Comme sur le marquage ou l'ordre de tâche."),
)
ACTIVITY_REF = Question(
    "activity",
    "text",
    ("Activity (task) code", "Code de l'activité (tâche)"),
    hint=("As on the task order, e.g. ACT-0000123.", "Comme sur l'ordre de tâche."),
)


HAZARDOUS_AREA = Form(
    name="hazardous_area",
    title=("Hazardous area report", "Rapport de zone dangereuse"),
    kinds=("hazard",),
    instance_name="concat('HA ', ${code})",
    description="A suspected or confirmed hazardous area with its polygon and evidence.",
    items=(
        _code("code", ("Hazardous area code", "Code de la zone dangereuse")),
        Question("name", "text", ("Local name of the area", "Nom local de la zone")),
        Question(
            "hazard_type",
            "select_one",
            ("Type of area", "Type de zone"),
            choices="hazard_type",
            required=True,
        ),
        ORGANISATION,
        Question(
            "admin_pcode", "select_one", ("Administrative area", "Zone administrative"), choices="admin_area"
        ),
        _date("reported_on", ("Date of the report", "Date du rapport"), required=True),
        Question("priority", "select_one", ("Priority", "Priorité"), choices="priority"),
        Question(
            "evidence",
            "select_multiple",
            ("Evidence of contamination", "Preuves de contamination"),
            choices="evidence",
            required=True,
        ),
        Question(
            "eo_categories",
            "select_multiple",
            ("Explosive ordnance suspected", "Munitions explosives suspectées"),
            choices="eo_category",
            required=True,
        ),
        Question(
            "blockages",
            "select_multiple",
            ("What the area blocks", "Ce que la zone bloque"),
            choices="blockage",
        ),
        Question(
            "geometry",
            "geoshape",
            ("Boundary of the area", "Limite de la zone"),
            required=True,
            hint=("Walk or draw the boundary; close the polygon.", "Parcourez ou dessinez la limite."),
        ),
        Question(
            "benchmark",
            "geopoint",
            ("Benchmark (fixed reference point)", "Point de référence fixe"),
        ),
    ),
)

NON_TECHNICAL_SURVEY = Form(
    name="non_technical_survey",
    title=("Non-technical survey", "Enquête non technique"),
    kinds=("activity", "release"),
    instance_name="concat('NTS ', ${code})",
    description="An NTS activity on a hazardous area, with the land it cancelled if any.",
    items=(
        _code("code", ("Activity code", "Code de l'activité")),
        ORGANISATION,
        TEAM,
        Question(
            "hazard",
            "text",
            ("Hazardous area code", "Code de la zone dangereuse"),
            required=True,
            hint=HAZARD_REF.hint,
        ),
        _date("start_date", ("Start date", "Date de début"), required=True),
        _date(
            "end_date",
            ("End date", "Date de fin"),
            constraint=". >= ${start_date}",
            message=L.AFTER_START,
        ),
        Question(
            "status",
            "select_one",
            ("Status of the survey", "État de l'enquête"),
            choices="activity_status",
            required=True,
            default="completed",
        ),
        Question("reference", "geopoint", ("Reference point", "Point de référence")),
        Question(
            "cancelled_any",
            "select_one",
            ("Was land cancelled?", "Des terres ont-elles été annulées ?"),
            choices="yes_no",
            required=True,
        ),
        Question(
            "cancelled_area",
            "geoshape",
            ("Land cancelled", "Terres annulées"),
            required=True,
            relevant="${cancelled_any} = 'yes'",
        ),
        _date(
            "cancelled_on",
            ("Date of cancellation", "Date d'annulation"),
            required=True,
            relevant="${cancelled_any} = 'yes'",
        ),
    ),
)

DAILY_PROGRESS = Form(
    name="daily_progress",
    title=("Daily progress report", "Rapport journalier d'avancement"),
    kinds=("progress_report",),
    instance_name="concat('DPR ', ${team}, ' ', ${report_date})",
    description="A team's daily area and hours on an activity.",
    items=(
        ORGANISATION,
        TEAM,
        ACTIVITY_REF,
        _date("report_date", ("Date", "Date"), required=True),
        Question(
            "area_m2",
            "decimal",
            ("Area processed today (m²)", "Surface traitée aujourd'hui (m²)"),
            required=True,
            minimum=0,
        ),
        Question(
            "hours", "decimal", ("Working hours", "Heures de travail"), minimum=0, maximum=24, message=L.HOURS
        ),
    ),
)

EO_FIND = Form(
    name="eo_find",
    title=("Explosive ordnance find", "Découverte de munition explosive"),
    kinds=("find",),
    instance_name="concat('EO ', ${category}, ' ', ${found_on})",
    description="Explosive ordnance found, where and how it was disposed of.",
    items=(
        Question("category", "select_one", ("Category", "Catégorie"), choices="eo_category", required=True),
        Question("model", "text", ("Model / type", "Modèle / type")),
        Question("quantity", "integer", ("Quantity", "Quantité"), required=True, minimum=1, default="1"),
        _date("found_on", ("Date found", "Date de découverte"), required=True),
        Question("location", "geopoint", ("Location", "Position"), required=True),
        Question("depth_cm", "decimal", ("Depth (cm)", "Profondeur (cm)"), minimum=0),
        Question("condition", "select_one", ("Condition", "État"), choices="eo_condition"),
        Question(
            "disposal_method",
            "select_one",
            ("Disposal", "Destruction / traitement"),
            choices="disposal_method",
            required=True,
        ),
        HAZARD_REF,
        ACTIVITY_REF,
    ),
)

ACCIDENT = Form(
    name="accident",
    title=("Accident and victims", "Accident et victimes"),
    kinds=("accident",),
    instance_name="concat('ACC ', ${code})",
    description="A mine/ERW accident with one entry per victim (a repeat).",
    items=(
        _code("code", ("Accident code", "Code de l'accident")),
        _date("occurred_on", ("Date of the accident", "Date de l'accident"), required=True),
        Question(
            "accident_kind",
            "select_one",
            ("Kind of accident", "Type d'accident"),
            choices="accident_kind",
            required=True,
        ),
        Question("location", "geopoint", ("Location", "Position")),
        Question(
            "eo_category",
            "select_one",
            ("Device that caused it", "Engin en cause"),
            choices="eo_category",
        ),
        HAZARD_REF,
        Question("description", "text", ("What happened", "Circonstances"), appearance="multiline"),
        Group(
            "victims",
            ("Victim", "Victime"),
            repeat=True,
            questions=(
                Question("status", "select_one", ("Status", "État"), choices="victim_status", required=True),
                Question("sex", "select_one", ("Sex", "Sexe"), choices="sex", required=True),
                Question(
                    "age_band",
                    "select_one",
                    ("Age group", "Tranche d'âge"),
                    choices="age_band",
                    required=True,
                ),
                Question("full_name", "text", ("Full name", "Nom complet")),
                Question(
                    "birth_date",
                    "date",
                    ("Date of birth", "Date de naissance"),
                    constraint=". <= ${occurred_on}",
                    message=L.BEFORE_ACCIDENT,
                ),
                Question(
                    "activity_at_time",
                    "text",
                    ("Activity at the time of the accident", "Activité au moment de l'accident"),
                ),
                Question(
                    "tampered",
                    "select_one",
                    ("Was the device tampered with?", "L'engin a-t-il été manipulé ?"),
                    choices="yes_no",
                ),
            ),
        ),
    ),
)

EORE_SESSION = Form(
    name="eore_session",
    title=("Risk education session", "Séance d'éducation aux risques"),
    kinds=("eore_session",),
    instance_name="concat('EORE ', ${held_on})",
    description="An explosive ordnance risk education session with attendance by sex and age.",
    sadd=True,
    items=(
        ORGANISATION,
        _date("held_on", ("Date of the session", "Date de la séance"), required=True),
        Question("method", "select_one", ("Method", "Méthode"), choices="eore_method", required=True),
        Question(
            "admin_pcode", "select_one", ("Administrative area", "Zone administrative"), choices="admin_area"
        ),
        Question("location", "geopoint", ("Location", "Position")),
    ),
)

QA_VISIT = Form(
    name="qa_visit",
    title=("Quality assurance visit", "Visite d'assurance qualité"),
    kinds=("qa_visit",),
    instance_name="concat('QA ', ${inspected_organisation}, ' ', ${visited_on})",
    description="A QA visit to an operator with its non-conformities (a repeat).",
    items=(
        Question(
            "inspecting_organisation",
            "select_one",
            ("Inspecting organisation", "Organisation qui inspecte"),
            choices="organisation",
            required=True,
        ),
        Question(
            "inspected_organisation",
            "select_one",
            ("Inspected organisation", "Organisation inspectée"),
            choices="organisation",
            required=True,
        ),
        _date("visited_on", ("Date of the visit", "Date de la visite"), required=True),
        Question(
            "visit_type",
            "select_one",
            ("Type of visit", "Type de visite"),
            choices="qa_visit_type",
            required=True,
        ),
        ACTIVITY_REF,
        Question("result", "select_one", ("Result", "Résultat"), choices="qa_result", required=True),
        Question("comments", "text", ("Comments", "Commentaires"), appearance="multiline"),
        Group(
            "nonconformities",
            ("Non-conformity", "Non-conformité"),
            repeat=True,
            relevant="${result} != 'satisfactory'",
            questions=(
                Question("nc_type", "select_one", ("Type", "Type"), choices="nc_type", required=True),
                Question(
                    "severity", "select_one", ("Severity", "Gravité"), choices="nc_severity", required=True
                ),
                Question("measures", "text", ("Corrective measures", "Mesures correctives")),
            ),
        ),
    ),
)

FORMS: dict[str, Form] = {
    f.name: f
    for f in (HAZARDOUS_AREA, NON_TECHNICAL_SURVEY, DAILY_PROGRESS, EO_FIND, ACCIDENT, EORE_SESSION, QA_VISIT)
}


@dataclass(frozen=True)
class SaddCell:
    """One count of an EORE session: participants of one sex in one age band."""

    name: str
    sex: str
    age_band: str


@dataclass
class SaddGrid:
    """The count questions of the EORE form, one per sex × age band of the code lists."""

    cells: list[SaddCell] = field(default_factory=list)

    @classmethod
    def of(cls, sexes: list[str], age_bands: list[str]) -> SaddGrid:
        return cls([SaddCell(xml_name(f"n_{s}_{a}"), s, a) for s in sexes for a in age_bands])


def xml_name(text: str) -> str:
    """A value usable as an XLSForm question name (letters, digits, underscores)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"[A-Za-z_]", name) else f"_{name}"
