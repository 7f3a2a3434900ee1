"""The ``demine`` entry point: builds the Typer app and turns user errors into messages.

A user mistake (bad geometry, unknown code, missing database) prints what is wrong, record
by record and field by field, and exits with a documented status (:class:`ExitCode`); it never
shows a traceback.

Commands are loaded lazily: ``demine --help`` lists them from :data:`COMMANDS` and only the
command being run (or asked for its help) imports its module, so that a command does not pay
for matplotlib, HiGHS, pyxform or WeasyPrint unless it uses them. Plain option values (a
string, a whole number already in range) are taken as they are rather than through Typer's
pydantic validation (see :func:`_plain_values_without_pydantic`).
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Annotated, Any, NoReturn

import typer
import typer.core
from typer.core import TyperCommand, TyperGroup

from demine.cli.common import ExitCode, print_json
from demine.domain.errors import DemineError, NotFoundError, StoreBusy

# name -> (module under demine.cli that registers it, its one-line help for `demine --help`).
# tests/test_cli_startup.py checks that each line is the command's own first help paragraph.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "programme",
        "Create (or migrate) a database: a GeoPackage with the register's tables and code lists.",
    ),
    "demo": (
        "programme",
        "Build the synthetic demo programme (region, hazards, teams, two years of history).",
    ),
    "summary": (
        "programme",
        "Hazards by type and status, area remaining and released by method, teams by accreditation.",
    ),
    "release": (
        "programme",
        "Record a land release product against a hazard; its polygon is subtracted from what remains.",
    ),
    "history": ("programme", "Remaining area over time, for one hazard or the whole programme."),
    "import": (
        "transfer",
        "Import hazards, releases, finds, accidents or admin areas; every feature is accounted for.",
    ),
    "export": (
        "transfer",
        "Export one kind of record with code-list labels and m² areas (gpkg, geojson, shp, csv, xlsx, kml).",
    ),
    "import-reasons": ("reasons", "List the reason codes an import can reject a feature with."),
    "check": ("quality", "Check geometries and land release figures (GICHD geocheck's rules and more)."),
    "traverse": (
        "quality",
        "Build a polygon from a field survey sheet of bearings and distances (a traverse).",
    ),
    "forecast": (
        "forecast",
        "When will the open hazards be released? P10/P50/P90 completion, burn-down, regions.",
    ),
    "backtest": (
        "forecast",
        "Forecast from the end of year AT with the history up to it; score it against the later years.",
    ),
    "validate": ("forecast", "Leave-one-country-out backtests over the corpus of published national series."),
    "prioritise": ("planner", "Rank open hazards by impact, each factor's contribution shown."),
    "plan": ("planner", "Assign accredited teams to hazards month by month (HiGHS MILP, greedy fallback)."),
    "serve": (
        "server",
        "Run the web service: the web interface, REST API, OGC API – Features, vector tiles.",
    ),
    "report": (
        "report",
        "Write an official report for a period from the approved register, with charts and a map.",
    ),
    "hazards": ("programme", "List and show hazardous areas."),
    "orgs": ("organisations", "Add, list and load organisations: the authority, operators, agencies."),
    "teams": ("organisations", "Add, list and load teams: organisation, type, size and base location."),
    "people": ("organisations", "Add, list and load personnel and their training records."),
    "accreditations": (
        "organisations",
        "Add, list and load team accreditations; list flags expired and expiring ones.",
    ),
    "codes": (
        "organisations",
        "List a programme's code lists, add a value to one, or change a value's label.",
    ),
    "users": ("server", "Manage the users of the demine server."),
    "db": ("db", "Migrate, copy and back up databases (SQLite/GeoPackage or PostgreSQL/PostGIS)."),
    "forms": (
        "forms",
        "Field forms for ODK, KoboToolbox and Survey123: build the XLSForms, ingest their exports.",
    ),
}

_loaded: dict[str, Any] = {}

_SLOW = object()
_WHOLE = re.compile(r"-?[0-9]{1,18}")
_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")


def plain_value(annotation: Any, info: Any, value: Any) -> Any:
    """``value`` for a ``str``, ``bool``, ``int`` or ``float`` parameter when it needs no more
    than Python to read it (what pydantic would give too), else ``_SLOW``."""
    if annotation is str:
        return value if type(value) is str else _SLOW
    if annotation is bool:
        return value if type(value) is bool else _SLOW
    if annotation is int:
        if type(value) is int:
            number: Any = value
        elif type(value) is str and _WHOLE.fullmatch(value):
            number = int(value)
        else:
            return _SLOW
    elif annotation is float:
        if not (type(value) in (int, float) or (type(value) is str and _DECIMAL.fullmatch(value))):
            return _SLOW
        number = float(value)
    else:
        return _SLOW
    # Out of range: pydantic says why (or clamps), in Typer's words.
    if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
        return _SLOW
    return number


class _PlainParam:
    """A parameter's coercion that builds Typer's own (a pydantic TypeAdapter) only for a value
    :func:`plain_value` does not read."""

    def __init__(self, descriptor: Any, build: Any) -> None:
        self.descriptor, self.build, self.full = descriptor, build, None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if not (param.multiple or param.nargs == -1):
            if value is None:
                return None
            quick = plain_value(self.descriptor.annotation, self.descriptor.parameter_info, value)
            if quick is not _SLOW:
                return quick
        elif value is None:
            return ()  # a repeatable option not given, as Typer gives it
        elif (
            self.descriptor.annotation == list[str]
            and type(value) in (list, tuple)
            and all(type(v) is str for v in value)
        ):
            return list(value)  # a repeatable option's strings, as Typer gives them
        if self.full is None:
            self.full = self.build(self.descriptor)
        return self.full.coerce(value, param=param, ctx=ctx)


def _plain_values_without_pydantic() -> None:
    """Recent Typer (0.29 here) coerces every parameter through a pydantic TypeAdapter, and
    importing pydantic for that costs a light command about a tenth of a second. A plain string,
    flag, number or repeated string is read directly; anything else (a path, a choice, an
    out-of-range or unusually written number) still goes through Typer, which words the error.
    A Typer without this hook is left as it is."""
    build = getattr(typer.core, "build_runtime_param", None)
    if build is None or getattr(build, "demine_plain", False):
        return

    def runtime_param(descriptor: Any) -> Any:
        info = descriptor.parameter_info
        if (
            (descriptor.annotation in (str, bool, int, float) or descriptor.annotation == list[str])
            and descriptor.file_annotation is None
            and getattr(info, "parser", None) is None
        ):
            return _PlainParam(descriptor, build)
        return build(descriptor)

    runtime_param.demine_plain = True  # type: ignore[attr-defined]
    typer.core.build_runtime_param = runtime_param


_plain_values_without_pydantic()


def load_command(name: str) -> Any:
    """The real Click command ``name``, importing (once) the module that registers it."""
    if name not in _loaded:
        module = importlib.import_module(f"demine.cli.{COMMANDS[name][0]}")
        sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
        sub.callback()(lambda: None)  # a group even when the module registers one command
        module.register(sub)
        group = typer.main.get_command(sub)
        assert isinstance(group, TyperGroup)
        _loaded.update(group.commands)
    return _loaded[name]


class _Placeholder(TyperCommand):
    """A command's name and help line, standing in for it until it is run."""


class LazyGroup(TyperGroup):
    """The ``demine`` group: placeholders for the help listing, the real command when one runs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, (_module, summary) in COMMANDS.items():
            self.commands.setdefault(name, _Placeholder(name, help=summary))

    def format_commands(self, ctx: typer.Context, formatter: Any) -> None:
        # Each command's whole line, wrapped, rather than cut with "..." to fit one line.
        rows = [(name, command.help or "") for name, command in self.commands.items() if not command.hidden]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Placeholder) and name is not None:
            command = load_command(name)
        return name, command, rest


app = typer.Typer(
    name="demine",
    cls=LazyGroup,
    help="Record and plan humanitarian mine action: hazards, land release, teams, forecasts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help: wrapped at word boundaries, readable at 80 columns and in a pipe
    # (Rich's panels broke option lists mid-word there).
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def package_version() -> str:
    """The installed demine version (``unknown`` when run from a source tree without metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("demine")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"demine {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print demine's version and exit."
        ),
    ] = False,
) -> None:
    """Record and plan humanitarian mine action: hazards, land release, teams, forecasts."""


def _usage_exception() -> type[Exception]:
    try:  # Typer ≥ 0.20 ships its own copy of Click
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover - older Typer on the real Click
        from click.exceptions import ClickException
    return ClickException


def _fail(message: str, problems: list[Any], as_json: bool, exit_code: int, kind: str) -> NoReturn:
    """Say what went wrong on stderr (and, under ``--json``, as JSON on stdout), then exit."""
    from demine.cli.common import err_console

    if as_json:
        print_json(
            {
                "error": message,
                "kind": kind,
                "problems": [
                    {"record": p.record, "field": p.field, "message": p.message}
                    if hasattr(p, "record")
                    else {"message": str(p)}
                    for p in problems
                ],
                "exit_code": exit_code,
            }
        )
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    for problem in problems:
        err_console.print(f"  • {problem}", markup=False, highlight=False)
    sys.exit(exit_code)


def _status_of(exc: DemineError) -> tuple[ExitCode, str]:
    """The exit status and JSON ``kind`` of a user-facing error."""
    from demine.workflow.errors import VersionConflict

    if isinstance(exc, NotFoundError):
        return ExitCode.NOT_FOUND, "not_found"
    if isinstance(exc, StoreBusy | VersionConflict):
        return ExitCode.BUSY, "busy"
    if getattr(exc, "problems", None):
        return ExitCode.INVALID, "invalid"
    return ExitCode.INVALID, "refused"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Exit status (:class:`ExitCode`): 0 done; 1 findings (``check``'s findings,
    ``import``'s rejected features); 2 a usage error; 3 input refused, nothing written; 4 not
    found; 5 the store was busy or the record changed: try again. Under ``--json`` an error is
    also printed as JSON."""
    args = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in args
    usage_error = _usage_exception()
    try:
        # Under --json Click's own errors come back here to be written as JSON too.
        code = app(args=args, prog_name="demine", standalone_mode=not as_json)
    except DemineError as exc:
        status, kind = _status_of(exc)
        problems = list(getattr(exc, "problems", None) or [])
        message = f"{len(problems)} problem(s); nothing was written" if problems else str(exc)
        _fail(message, problems, as_json, status, kind)
    except usage_error as exc:
        _fail(exc.format_message(), [], as_json, getattr(exc, "exit_code", ExitCode.USAGE), "usage")
    except typer.Abort:
        _fail("aborted", [], as_json, ExitCode.INTERRUPTED, "aborted")
    sys.exit(code if isinstance(code, int) else 0)
