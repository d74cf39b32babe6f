"""The command line of the web work tray: ``ehcp serve``, ``ehcp users ...``, ``ehcp access-log``.

A thin layer like the rest of ``cli``: options parsed here, the work done by ``accounts``,
``access_log`` and ``serve``. Only click is imported at module level (``tests/test_startup.py``)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from ..output import counted

LIST_FORMATS = ("table", "csv", "json")


def _emit(frame, fmt: str, title: str) -> None:
    from ..output import emit

    emit(frame, fmt, None, title)


def _password(password_stdin: bool, name: str) -> str:
    """A new password: the first line of stdin (``--password-stdin``, for scripts) or typed twice,
    hidden. Checked here so that a short one is refused before anything is stored."""
    from ..errors import EhcpError
    from .passwords import check_new

    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise EhcpError("--password-stdin: no password on standard input")
        password = line.rstrip("\r\n")
    else:
        password = click.prompt(f"New password for {name}", hide_input=True, confirmation_prompt=True)
    return check_new(password, name)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback should sit behind a TLS proxy.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--auth", type=click.Choice(["local", "header"]), default="local", show_default=True,
              help="local: user name and password; header: the user named by a trusted proxy's header (SSO).")
@click.option("--user-header", metavar="NAME", help="With --auth header: the header naming the user (e.g. X-Remote-User).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDR",
              help="With --auth header: the proxy's address or network (repeatable); a header from anyone else is ignored.")
@click.option("--base-url", metavar="URL", help="The address people use (https://send.council.gov.uk/): "
                                                 "https turns on Secure cookies and HSTS.")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True, help="Worker threads.")
@click.pass_obj
def serve(obj, host, port, auth, user_header, trusted_proxies, base_url, threads):
    """The web work tray over the same database as the command line.

    Caseworkers see their own cases, team leads their team's, admins everything (ehcp users).

    \b
    Example: ehcp users add admin --role admin     (the first admin)
             ehcp serve --port 8000
             ehcp serve --host 0.0.0.0 --auth header --user-header X-Remote-User --trusted-proxy 10.0.0.5
    """
    from .serve import run

    run(obj.engine, obj.book, host=host, port=port, auth=auth, user_header=user_header,
        trusted_proxies=trusted_proxies, base_url=base_url, threads=threads, as_of=obj._as_of, say=obj.say)


@click.group()
def users():
    """Accounts of the web work tray: caseworker (bound to a caseworker ID), team_lead (bound to a
    team) or admin.

    \b
    Example: ehcp users add admin --role admin
             ehcp users add cw001 --role caseworker --caseworker CW001 --password-stdin < pw.txt
             ehcp users import people.csv
    """


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["caseworker", "team_lead", "admin"]))
@click.option("--caseworker", metavar="CW", help="A caseworker account's caseworker ID, as the extracts spell it.")
@click.option("--team", metavar="T", help="A team lead's team, as the extracts spell it.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--no-password", is_flag=True, help="No password: the account signs in only through --auth header.")
@click.pass_obj
def users_add(obj, name, role, caseworker, team, password_stdin, no_password):
    """Add an account (asks for its password twice unless --password-stdin or --no-password).

    Example: ehcp users add lead.north --role team_lead --team North
    """
    from . import accounts

    key = accounts.user_key(name)
    accounts._binding(role, caseworker, team)  # a wrong binding is refused before a password is asked for
    password = None if no_password else _password(password_stdin, key)
    user = accounts.add(obj.engine, name, role, caseworker=caseworker, team=team, password=password)
    obj.say(f"user {user.id} added: {user.role}, sees {user.bound_to}")


@users.command("disable")
@click.argument("name")
@click.pass_obj
def users_disable(obj, name):
    """Stop an account signing in; its open sessions end at their next request."""
    from . import accounts

    accounts.set_enabled(obj.engine, name, False)
    obj.say(f"user {accounts.user_key(name)} disabled")


@users.command("enable")
@click.argument("name")
@click.pass_obj
def users_enable(obj, name):
    """Let a disabled account sign in again (and lift a lockout)."""
    from . import accounts

    accounts.set_enabled(obj.engine, name, True)
    obj.say(f"user {accounts.user_key(name)} enabled")


@users.command("reset-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.pass_obj
def users_reset_password(obj, name, password_stdin):
    """Give an account a new password; lifts a lockout and ends its sessions."""
    from . import accounts

    key = accounts.user_key(name)
    accounts.reset_password(obj.engine, key, _password(password_stdin, key))
    obj.say(f"password of {key} reset")


@users.command("list")
@click.option("--format", "fmt", type=click.Choice(LIST_FORMATS), default="table", show_default=True)
@click.pass_obj
def users_list(obj, fmt):
    """Every account: role, what it is bound to, enabled, whether it has a password, any lockout."""
    from . import accounts

    _emit(accounts.list_users(obj.engine), fmt, "users")


@users.command("import")
@click.argument("people_file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def users_import(obj, people_file):
    """Accounts from the alerts' people file (id,name,email,team,role): same IDs, teams and roles.

    Imported accounts have no password: give one with reset-password, or sign in by --auth header.

    Example: ehcp users import people.csv
    """
    from . import accounts

    added, updated = accounts.import_people(obj.engine, people_file)
    obj.say(f"{counted(added, 'user')} added, {updated} updated from {people_file.name}")


def _since(ctx, param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD") from None


@click.command("access-log")
@click.option("--user", metavar="U", help="Only this user's entries.")
@click.option("--case", "case_id", metavar="ID", help="Only views of this case.")
@click.option("--since", callback=_since, metavar="YYYY-MM-DD", help="Only entries from this day on (UTC).")
@click.option("--format", "fmt", type=click.Choice(LIST_FORMATS), default="table", show_default=True)
@click.pass_obj
def access_log(obj, user, case_id, since, fmt):
    """Who viewed which case, downloaded which list, signed in or failed to (UK GDPR accountability).

    Example: ehcp access-log --case R0000123 --since 2026-01-01
    """
    from .access_log import entries

    _emit(entries(obj.engine, user=user, case_id=case_id, since=since), fmt, "access log")


COMMANDS = (serve, users, access_log)
