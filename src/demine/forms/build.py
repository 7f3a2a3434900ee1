"""Writing the XLSForms: ``survey``, ``choices`` and ``settings`` sheets from :mod:`.spec`.

Choices come from the database at build time: the active values of each code list (a
country's added value appears as a choice) and the register's organisations, teams and
administrative areas. A register list that is empty (a new database) turns its question into
free text, because an XLSForm ``select_one`` with no choices does not compile.

The form ``version`` is a hash of the sheets' content, so building again with the same code
lists gives the same version, and any change (a new code, a new team) gives a new one, as
ODK Central and KoboToolbox need to replace a deployed form.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Connection, select

from demine.domain.codelists import CodeLists
from demine.domain.errors import DemineError
from demine.forms import labels as L
from demine.forms.spec import FORMS, REGISTER_LISTS, Form, Group, Pair, Question, SaddGrid, xml_name
from demine.storage import schema
from demine.storage.codelists import load_code_lists

REQUIRED_MESSAGE: Pair = ("This question is required.", "Cette question est obligatoire.")
YES_NO = {"yes": "Yes", "no": "No"}
SEX_GROUP: Pair = ("Participants", "Participants")
TOTAL: Pair = ("Total participants", "Total des participants")


@dataclass
class Choices:
    """Everything a form's choice lists can be filled from: code lists and register lists."""

    code_lists: CodeLists
    organisations: list[tuple[str, str]]
    teams: list[tuple[str, str, str]]  # code, name, organisation code
    admin_areas: list[tuple[str, str]]

    @classmethod
    def load(cls, conn: Connection) -> Choices:
        """Read the current code lists and register lists."""
        o, t, a = schema.organisation, schema.team, schema.admin_area
        return cls(
            code_lists=load_code_lists(conn),
            organisations=[tuple(r) for r in conn.execute(select(o.c.code, o.c.name).order_by(o.c.code))],
            teams=[
                tuple(r)
                for r in conn.execute(
                    select(t.c.code, t.c.name, o.c.code)
                    .select_from(t.join(o, o.c.id == t.c.organisation_id))
                    .where(t.c.active)
                    .order_by(t.c.code)
                )
            ],
            admin_areas=[
                tuple(r) for r in conn.execute(select(a.c.pcode, a.c.name).order_by(a.c.level, a.c.pcode))
            ],
        )

    def sadd(self) -> SaddGrid:
        """The EORE count questions for the current sex and age band codes."""
        return SaddGrid.of(self.code_lists.codes("sex"), self.code_lists.codes("age_band"))

    def rows(self, list_name: str, languages: Sequence[str]) -> list[dict[str, Any]]:
        """The ``choices`` sheet rows of one list (empty when the list has no values)."""
        out: list[dict[str, Any]] = []
        if list_name == "organisation":
            for code, name in self.organisations:
                out.append(_choice(list_name, code, {lang: f"{name} ({code})" for lang in languages}))
        elif list_name == "team":
            for code, name, org in self.teams:
                row = _choice(list_name, code, {lang: f"{name} ({code})" for lang in languages})
                out.append(row | {"organisation": org})
        elif list_name == "admin_area":
            for pcode, name in self.admin_areas:
                out.append(_choice(list_name, pcode, {lang: f"{name} ({pcode})" for lang in languages}))
        else:
            english = YES_NO if list_name == "yes_no" else self.code_lists.labels.get(list_name, {})
            for code, label in english.items():
                out.append(
                    _choice(
                        list_name,
                        code,
                        {lang: L.choice_label(lang, list_name, code, label) for lang in languages},
                    )
                )
        return out


def _choice(list_name: str, code: str, label_by_language: dict[str, str]) -> dict[str, Any]:
    return {"list_name": list_name, "name": code} | {
        f"label::{L.LANGUAGES[lang]}": text for lang, text in label_by_language.items()
    }


def parse_languages(text: str | None) -> list[str]:
    """``"en,fr"`` as a list of language codes; an unknown one is a :class:`DemineError`."""
    codes = [c.strip().lower() for c in (text or "en,fr").split(",") if c.strip()]
    unknown = [c for c in codes if c not in L.LANGUAGES]
    if unknown or not codes:
        available = ", ".join(L.LANGUAGES)
        raise DemineError(
            f"--languages: {', '.join(unknown) or '(none)'} not available; choose from {available}"
        )
    return list(dict.fromkeys(codes))


def _translated(column: str, pair: Pair, languages: Sequence[str]) -> dict[str, str]:
    return {f"{column}::{L.LANGUAGES[lang]}": pair[0] if lang == "en" else pair[1] for lang in languages}


def _join(pairs: list[Pair]) -> Pair:
    return (" ".join(p[0] for p in pairs), " ".join(p[1] for p in pairs))


def constraint_of(q: Question) -> tuple[str | None, Pair | None]:
    """The XLSForm constraint of a question and its message, from its declared bounds."""
    parts: list[str] = []
    messages: list[Pair] = []
    if q.minimum is not None:
        parts.append(f". >= {q.minimum:g}")
        if q.message is None:
            messages.append(L.AT_LEAST_ONE if q.minimum == 1 else L.NOT_NEGATIVE)
    if q.maximum is not None:
        parts.append(f". <= {q.maximum:g}")
    if q.not_future:
        parts.append(". <= today()")
        messages.append(L.NOT_FUTURE)
    if q.constraint:
        parts.append(q.constraint)
    if q.message is not None:
        messages.append(q.message)
    if not parts:
        return None, None
    return " and ".join(f"({p})" if len(parts) > 1 else p for p in parts), _join(messages)


def _question_row(q: Question, choices: Choices, languages: Sequence[str]) -> dict[str, Any]:
    kind = q.type
    if q.choices is not None:
        if q.choices in REGISTER_LISTS and not choices.rows(q.choices, languages):
            kind = "text"  # an empty register list: type the code instead
        else:
            kind = f"{q.type} {q.choices}"
    row: dict[str, Any] = {"type": kind, "name": q.name} | _translated("label", q.label, languages)
    if q.hint:
        row |= _translated("hint", q.hint, languages)
    if q.required:
        row["required"] = "yes"
        row |= _translated("required_message", REQUIRED_MESSAGE, languages)
    constraint, message = constraint_of(q)
    if constraint:
        row["constraint"] = constraint
        if message:
            row |= _translated("constraint_message", message, languages)
    for column in ("relevant", "calculation", "default", "appearance"):
        value = getattr(q, column)
        if value is not None:
            row[column] = value
    if q.choice_filter and kind.startswith("select_one "):
        row["choice_filter"] = q.choice_filter
    return row


def _sadd_rows(choices: Choices, languages: Sequence[str]) -> list[dict[str, Any]]:
    grid = choices.sadd()
    rows: list[dict[str, Any]] = []
    labels = choices.code_lists.labels
    for sex in choices.code_lists.codes("sex"):
        sex_pair = (
            labels["sex"][sex],
            L.choice_label("fr", "sex", sex, labels["sex"][sex]),
        )
        rows.append(
            {"type": "begin_group", "name": f"participants_{xml_name(sex)}", "appearance": "field-list"}
            | _translated(
                "label", (f"{SEX_GROUP[0]}: {sex_pair[0]}", f"{SEX_GROUP[1]} : {sex_pair[1]}"), languages
            )
        )
        for cell in (c for c in grid.cells if c.sex == sex):
            band = labels["age_band"][cell.age_band]
            pair = (band, L.choice_label("fr", "age_band", cell.age_band, band))
            rows.append(
                {
                    "type": "integer",
                    "name": cell.name,
                    "required": "yes",
                    "default": "0",
                    "constraint": ". >= 0",
                }
                | _translated("label", pair, languages)
                | _translated("required_message", REQUIRED_MESSAGE, languages)
                | _translated("constraint_message", L.NOT_NEGATIVE, languages)
            )
        rows.append({"type": "end_group", "name": ""})
    total = " + ".join(f"${{{c.name}}}" for c in grid.cells) or "0"
    rows.append({"type": "calculate", "name": "total_participants", "calculation": total})
    rows.append(
        {
            "type": "note",
            "name": "total_note",
        }
        | _translated(
            "label",
            (f"{TOTAL[0]}: ${{total_participants}}", f"{TOTAL[1]} : ${{total_participants}}"),
            languages,
        )
    )
    return rows


META_ROWS = [
    {"type": "start", "name": "start"},
    {"type": "end", "name": "end"},
    {"type": "today", "name": "today"},
    {"type": "deviceid", "name": "deviceid"},
]


def survey_rows(form: Form, choices: Choices, languages: Sequence[str]) -> list[dict[str, Any]]:
    """The ``survey`` sheet of a form."""
    rows: list[dict[str, Any]] = list(META_ROWS)
    for item in form.items:
        if isinstance(item, Group):
            begin, end = ("begin_repeat", "end_repeat") if item.repeat else ("begin_group", "end_group")
            row = {"type": begin, "name": item.name} | _translated("label", item.label, languages)
            if item.relevant:
                row["relevant"] = item.relevant
            if item.appearance:
                row["appearance"] = item.appearance
            rows.append(row)
            rows.extend(_question_row(q, choices, languages) for q in item.questions)
            rows.append({"type": end, "name": ""})
        else:
            rows.append(_question_row(item, choices, languages))
    if form.sadd:
        rows.extend(_sadd_rows(choices, languages))
    return rows


def choice_rows(form: Form, choices: Choices, languages: Sequence[str]) -> list[dict[str, Any]]:
    """The ``choices`` sheet: every list the form's questions use, once each."""
    used = list(dict.fromkeys(q.choices for q in form.questions() if q.choices is not None))
    rows: list[dict[str, Any]] = []
    for name in used:
        rows.extend(choices.rows(name, languages))
    return rows


@dataclass(frozen=True)
class BuiltForm:
    """A form written to disk."""

    form: str
    form_id: str
    path: Path
    version: str
    questions: int
    choices: int


def _sheet(workbook: Workbook, title: str, rows: list[dict[str, Any]], first: Sequence[str]) -> None:
    sheet = workbook.create_sheet(title)
    columns = list(first)
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    sheet.append(columns)
    for row in rows:
        sheet.append([row.get(c) for c in columns])


def write_form(form: Form, choices: Choices, languages: Sequence[str], out_dir: Path) -> BuiltForm:
    """Write one form's XLSForm into ``out_dir``."""
    survey = survey_rows(form, choices, languages)
    choice_sheet = choice_rows(form, choices, languages)
    digest = hashlib.sha256(
        json.dumps([survey, choice_sheet, list(languages)], sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:10]
    default = L.LANGUAGES["en" if "en" in languages else languages[0]]
    title = form.title[0] if (languages[0] == "en") else form.title[1]
    settings = [
        {
            "form_title": title,
            "form_id": form.form_id,
            "version": digest,
            "instance_name": form.instance_name,
            "default_language": default,
        }
    ]
    workbook = Workbook()
    workbook.remove(workbook.active)
    _sheet(workbook, "survey", survey, ["type", "name"])
    _sheet(workbook, "choices", choice_sheet, ["list_name", "name"])
    _sheet(workbook, "settings", settings, [])
    path = out_dir / f"{form.form_id}.xlsx"
    workbook.save(path)
    return BuiltForm(form.name, form.form_id, path, digest, len(survey), len(choice_sheet))


def build_forms(
    conn: Connection,
    out_dir: str | Path,
    languages: Sequence[str] = ("en", "fr"),
    forms: Sequence[str] | None = None,
) -> list[BuiltForm]:
    """Write every form (or those named) as XLSForms in ``out_dir``, from the database's lists."""
    names = list(forms or FORMS)
    unknown = [n for n in names if n not in FORMS]
    if unknown:
        raise DemineError(f"unknown form {', '.join(unknown)}: one of {', '.join(FORMS)}")
    choices = Choices.load(conn)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DemineError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    return [write_form(FORMS[n], choices, languages, out) for n in names]
