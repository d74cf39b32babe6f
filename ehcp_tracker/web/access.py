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
import threading
import weakref
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


class RunCache:
    """What a page works out from the case tables alone (the stored spellings of caseworkers and
    teams, the teams, a team's query counts), kept per import run.

    Only an import writes the case tables, and it does so in the transaction that adds its
    ``import_run`` row, so the latest run ID a snapshot sees names the case tables it sees: a value
    worked out under run N holds for every snapshot whose latest run is N, and a new import run's
    commit is a new key (the old values are dropped). Kept per engine (a new engine, a new cache)."""

    KEEP_RUNS = 2  # a page still reading the night before keeps its values while the new night's are made

    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[tuple, object] = {}

    def get(self, conn: sa.Connection, key: tuple, make):
        run = latest_run(conn)
        entry = (run, *key)
        with self._lock:
            if entry in self._values:
                return self._values[entry]
        value = make()  # outside the lock: two pages may both work it out; each gets the same answer
        with self._lock:
            runs = sorted({k[0] or 0 for k in self._values} | {run or 0})[-self.KEEP_RUNS:]
            self._values = {k: v for k, v in self._values.items() if (k[0] or 0) in runs}
            if (run or 0) in runs:
                self._values[entry] = value
        return value


_CACHES: "weakref.WeakKeyDictionary[sa.Engine, RunCache]" = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def latest_run(conn: sa.Connection) -> int | None:
    """The latest import run this snapshot sees (its primary key: one index probe)."""
    return conn.execute(sa.select(sa.func.max(db.import_run.c.id))).scalar()


def run_cached(conn: sa.Connection, key: tuple, make):
    """``make()``, worked out once per import run and engine (``RunCache``)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(conn.engine)
        if cache is None:
            cache = _CACHES[conn.engine] = RunCache()
    return cache.get(conn, key, make)


def _known_values(conn: sa.Connection, column: str) -> frozenset[str]:
    """Every distinct stored caseworker (or team) of both case tables: a ``DISTINCT`` over the
    column's index, read once per import run."""
    return run_cached(conn, ("known", column), lambda: frozenset(
        v for kind in KINDS for v in conn.execute(sa.select(db.table_for(kind).c[column]).distinct()
                                                  .where(db.table_for(kind).c[column].is_not(None))).scalars()))


def stored_spellings(conn: sa.Connection, column: str, value: str) -> tuple[str, ...]:
    """Every stored spelling of a caseworker or team (``CW005``, ``cw005 ``), and the value itself,
    so that a user bound to an ID no case has yet matches nothing rather than everything."""
    wanted = _spelling(value)
    known = _known_values(conn, column)
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
    """The caseworker values this user may list (a team lead: their team's), sorted; once per
    import run and scope."""
    return list(run_cached(conn, ("caseworkers", scope), lambda: tuple(_caseworkers_of(conn, scope))))


def _caseworkers_of(conn: sa.Connection, scope: Scope) -> list[str]:
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
    """Every stored team, sorted (once per import run)."""
    return sorted(_known_values(conn, "team"))
