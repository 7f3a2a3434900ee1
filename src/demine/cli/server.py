"""Commands to run the web service and manage its users: ``serve`` and ``users add/list/disable/token``."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from demine.cli.common import DbOption, JsonOption, console, print_json
from demine.domain.errors import DemineError

users_app = typer.Typer(
    help="Manage the users of the demine server.", no_args_is_help=True, rich_markup_mode=None
)


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes: one per CPU core for a busy server (each keeps its own tile and "
            "feature caches; SQLite readers never wait for the writer or each other).",
        ),
    ] = 1,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark session cookies Secure (serve behind HTTPS).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    basemap_url: Annotated[
        str | None,
        typer.Option(
            envvar="DEMINE_BASEMAP_URL",
            help="Base map of the web map: an XYZ raster tile URL ({z}/{x}/{y}), a style JSON URL or a "
            ".pmtiles file URL [default: none, the map works offline on a plain background].",
        ),
    ] = None,
    basemap_attribution: Annotated[
        str | None,
        typer.Option(
            envvar="DEMINE_BASEMAP_ATTRIBUTION",
            help="Credit line the base map's licence asks for, shown on the map (HTML allowed), e.g. "
            "'© OpenStreetMap contributors'.",
        ),
    ] = None,
) -> None:
    """Run the web service: the web interface, REST API, OGC API – Features, vector tiles."""
    import uvicorn

    from demine.api.context import Settings
    from demine.storage.database import open_database, resolve_url

    url = resolve_url(db)
    open_database(url).dispose()  # fail fast, with the CLI's message, on a missing or old database
    if basemap_url:
        os.environ["DEMINE_BASEMAP_URL"] = basemap_url  # read by the map page (worker processes too)
    if basemap_attribution:
        os.environ["DEMINE_BASEMAP_ATTRIBUTION"] = basemap_attribution
    shown = f"[{host}]" if ":" in host else host
    console.print(f"demine: web interface on http://{shown}:{port}/ (API documentation at /docs)")
    if workers == 1:
        from demine.api.app import create_app

        app = create_app(Settings(db=url, secure_cookies=secure_cookies))
        uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False)
        return
    # Several processes: each imports the app factory and reads its settings from the environment.
    os.environ["DEMINE_DB"] = url
    os.environ["DEMINE_SECURE_COOKIES"] = "1" if secure_cookies else "0"
    uvicorn.run(
        "demine.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
    )


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        return None
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name (lower case).")],
    role: Annotated[
        str, typer.Option(help="admin, im_officer, operator_manager, operator, qa_officer or viewer")
    ],
    organisation: Annotated[
        str | None, typer.Option(help="Organisation code (required for operators and their managers).")
    ] = None,
    full_name: Annotated[str | None, typer.Option(help="The person's name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a user. Without --password-stdin the password is asked for on a terminal; with neither,
    the account logs in by API token only (``demine users token``)."""
    from demine.accounts.users import add_user
    from demine.storage.database import open_database

    password = _read_password(password_stdin)
    engine = open_database(db)
    with engine.begin() as conn:
        user = add_user(conn, username, role, organisation, password, full_name, actor="cli")
    if json_out:
        print_json(user.to_dict())
        return
    console.print(
        f"added {user.username} ({user.role}{', ' + user.organisation if user.organisation else ''})"
    )


@users_app.command("list")
def users_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List the users."""
    from demine.accounts.users import list_users
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.connect() as conn:
        users = list_users(conn)
    if json_out:
        print_json([u.to_dict() for u in users])
        return
    t = Table(title=f"Users ({len(users)})")
    for col in ("username", "role", "organisation", "name", "active"):
        t.add_column(col)
    for u in users:
        t.add_row(u.username, u.role, u.organisation or "", u.full_name or "", "yes" if u.active else "no")
    console.print(t)


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="Login name.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Stop a user from logging in and revoke their sessions and tokens."""
    from demine.accounts.users import disable_user
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.begin() as conn:
        disable_user(conn, username, actor="cli")
    if json_out:
        print_json({"username": username, "active": False})
        return
    console.print(f"disabled {username}")


@users_app.command("token")
def users_token(
    username: Annotated[str, typer.Argument(help="Login name.")],
    name: Annotated[str | None, typer.Option(help="What the token is for, e.g. 'QGIS on laptop 3'.")] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days until it expires.")] = 90,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Issue an API token for a user and print it (shown once): for QGIS, GDAL and scripts."""
    from demine.accounts.tokens import API, issue_token
    from demine.accounts.users import get_user
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.begin() as conn:
        user = get_user(conn, username)
        if not user.active:
            raise DemineError(f"user {username} is disabled")
        issued = issue_token(conn, user, kind=API, ttl=timedelta(days=days), name=name)
    if json_out:
        print_json(
            {"username": username, "name": name, "token": issued.token, "expires_at": issued.expires_at}
        )
        return
    typer.echo(issued.token)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``demine`` app."""
    app.command()(serve)
    app.add_typer(users_app, name="users")
