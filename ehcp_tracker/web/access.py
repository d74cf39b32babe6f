"""Row-level access, in the query layer: what a signed-in user may see is a condition on the case
tables, added to every query a page makes, never a filter applied to what a template shows.

A caseworker sees the cases whose ``caseworker`` is theirs; a team lead the cases of their team; an
admin every case. A case outside that answers exactly as a case that does not exist (the caller
turns both into the same 404), so a guessed ID says nothing about whether it exists.

Every page reads through one connection and one transaction (``Snapshot``), so a nightly import
committing half-way through a page cannot show part of the old night and part of the new one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import sqlalchemy as sa

from ..listings import Filters, _spelling
from ..schema import KINDS
from ..store import db
from .accounts import User


class Snapshot:
    """An engine stand-in over one open connection: the library's ``with engine.connect()`` blocks
    all read inside the same transaction (REPEATABLE READ on PostgreSQL; one WAL read transaction
    on SQLite), so a page sees one committed state of the database from its first read to its last."""

    def __init__(self, conn: sa.Connection):
        self._conn = conn
        self.dialect = conn.dialect

    def connect(self):
        return contextlib.nullcontext(self._conn)


@contextlib.contextmanager
def snapshot(engine) -> contextlib.AbstractContextManager[Snapshot]:
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as conn:
        with conn.begin():
            yield Snapshot(conn)


def stored_spellings(conn: sa.Connection, column: str, value: str) -> tuple[str, ...]:
    """Every stored spelling of a caseworker or team (``CW005``, ``cw005 ``), and the value itself,
    so that a user bound to an ID no case has yet matches nothing rather than everything."""
    wanted = _spelling(value)
    known = {v for kind in KINDS for v in conn.execute(
        sa.select(db.table_for(kind).c[column]).distinct().where(db.table_for(kind).c[column].is_not(None))).scalars()}
    return tuple(sorted({value, *(v for v in known if _spelling(v) == wanted)}))


@dataclass(frozen=True)
class Scope:
    """What one user may see, as the stored spellings of their caseworker ID or team."""

    role: str
    caseworkers: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()

    @classmethod
    def of(cls, conn: sa.Connection, user: User) -> "Scope":
        if user.role == "admin":
            return cls("admin")
        if user.role == "caseworker":
            return cls("caseworker", caseworkers=stored_spellings(conn, "caseworker", user.caseworker or ""))
        if user.role == "team_lead":
            return cls("team_lead", teams=stored_spellings(conn, "team", user.team or ""))
        return cls("none", caseworkers=("\x00no one",))  # an unknown role sees nothing

    def condition(self, table: sa.Table):
        """The rows of ``table`` (a case table) this user may see (None: every row)."""
        if self.role == "admin":
            return None
        parts = []
        if self.caseworkers:
            parts.append(table.c.caseworker.in_(self.caseworkers))
        if self.teams:
            parts.append(table.c.team.in_(self.teams))
        return sa.and_(*parts) if parts else sa.false()

    def filters(self, filters: Filters) -> Filters:
        """``filters`` narrowed to this scope: a caseworker's list is always theirs; a team lead's
        always within their team (a caseworker of another team gives an empty list, never theirs)."""
        if self.role == "admin":
            return filters
        if self.role == "caseworker":
            return replace(filters, caseworker=self.caseworkers)
        return replace(filters, team=self.teams)


def visible_case(conn: sa.Connection, scope: Scope, case_id: str) -> tuple[str, dict] | None:
    """The stored record of ``case_id`` (exact ID) if this user may see it, else None: a case
    outside the scope and a case that does not exist are the same None."""
    for kind in KINDS.values():
        table = db.table_for(kind.name)
        condition = table.c[kind.key] == case_id
        scoped = scope.condition(table)
        if scoped is not None:
            condition = sa.and_(condition, scoped)
        frame = db.load_cases(conn, kind, condition)
        if len(frame):
            return kind.case, frame.iloc[0].to_dict()
    return None


def caseworkers_of(conn: sa.Connection, scope: Scope) -> list[str]:
    """The caseworker values this user may list (a team lead: their team's), sorted."""
    found: set[str] = set()
    for kind in KINDS:
        table = db.table_for(kind)
        query = sa.select(table.c.caseworker).distinct().where(table.c.caseworker.is_not(None),
                                                              table.c.missing_since_run_id.is_(None))
        condition = scope.condition(table)
        if condition is not None:
            query = query.where(condition)
        found |= set(conn.execute(query).scalars())
    return sorted(found)


def teams_of(conn: sa.Connection) -> list[str]:
    found: set[str] = set()
    for kind in KINDS:
        table = db.table_for(kind)
        found |= set(conn.execute(sa.select(table.c.team).distinct().where(table.c.team.is_not(None))).scalars())
    return sorted(found)
