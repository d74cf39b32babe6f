"""The team page's figures: per caseworker, clocks overdue, due this week, queries and breaches this
month; and the team's backlog ageing (assessments past their 20 weeks by the month they ran out;
reviews overdue and phase transfers at risk by band).

Counted in SQL over the stored clock rows (``db.clock_result``: day numbers, read through the case
table's team index and the clock table's ``(kind, case_id)`` index), so a team of 25,000 cases is
a few grouped reads, not 100,000 rows judged in pandas on every request. The SQL conditions are
``engine.judge``'s verdicts written as intervals over the stored days (running: no stop event, no
closure, nothing overtaking it; overdue: running and due before today; late: stopped after the due
date, or closed after it with the clock still running); ``pandas_figures`` is the old path (every
clock judged in pandas), kept for when the stored rows do not answer (``listings.stored_ok``) and
as what ``tests/test_web_team.py`` compares the counts with, on SQLite and PostgreSQL.

Queries are not stored clocks: they are found by ``clocks.queries`` from the case rows, as always,
but only over the cases that could hold one (a recorded exemption; a
final plan fewer than 15 days after the draft; a review decision or exemption, with the child's
other rows of the team), which the database picks out; the finding itself is unchanged. They
depend on the case rows alone, which only an import changes, so they are counted once per import
run (``access.run_cached``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join

from ..clocks.engine import OPEN_STATUSES
from ..clocks.queries import NO_REVIEW_EXEMPTIONS, REPRESENTATION_DAYS, caseload_queries
from ..listings import (AT_RISK_BAND, PHASE_TRANSFER_RISK_DAYS, REVIEW_BANDS, Filters, backlog, backlog_summary,
                        clock_results, filter_condition, queries, review_backlog, stored_ok, week_window)
from ..schema import KINDS
from ..store import db
from .access import run_cached

EPOCH = dt.date(1970, 1, 1)


@dataclass
class TeamFigures:
    rows: list[dict]  # one per caseworker, sorted: caseworker, overdue, week, queries, breaches
    ageing: list[dict]  # due_month, open_cases, with_exception, oldest_weeks_overdue
    review_ageing: list[dict]  # clock, band, open_cases, with_exception, oldest_weeks_overdue
    counted_in: str  # "sql" or "pandas"


def _row(caseworker: str) -> dict:
    return {"caseworker": caseworker, "overdue": 0, "week": 0, "queries": 0, "breaches": 0}


def team_figures(snap, book, as_of: dt.date, filters: Filters) -> TeamFigures:
    """The figures for ``filters`` (the team, already narrowed to the visitor's scope): in SQL when
    the stored clocks answer for ``as_of``, else judged in pandas as the listings do."""
    if stored_ok(snap._conn, book, as_of) is not None:
        return pandas_figures(snap, book, as_of, filters)
    return sql_figures(snap._conn, book, as_of, filters)


# ------------------------------------------------------------------------------------------ pandas

def pandas_figures(snap, book, as_of: dt.date, filters: Filters) -> TeamFigures:
    """Every clock of the team judged in pandas (``listings.clock_results``) and its queries found
    over every case of the team: the first implementation, and the reference for the SQL counts."""
    results = clock_results(snap, book, as_of, filters, stored=True)
    monday, sunday = week_window(as_of)
    month_start = as_of.replace(day=1)
    day = results["due"].dt.date
    running = results["status"].isin(OPEN_STATUSES)
    rows = {cw: _row(cw) for cw in sorted(set(results["caseworker"].dropna()))}
    table = pd.DataFrame({"cw": results["caseworker"], "overdue": running & (results["status"] == "overdue"),
                          "week": running & (results["status"] != "overdue") & (day >= monday) & (day <= sunday),
                          "breaches": results["status"].isin(["overdue", "late"]) & (day >= month_start) & (day <= as_of)})
    for cw, part in table.dropna(subset=["cw"]).groupby("cw"):
        rows[cw].update(overdue=int(part["overdue"].sum()), week=int(part["week"].sum()),
                        breaches=int(part["breaches"].sum()))
    found = queries(snap, book, as_of, filters)
    for cw, count in found["caseworker"].dropna().value_counts().items():
        rows.setdefault(cw, _row(cw))["queries"] = int(count)
    ageing = backlog_summary(backlog(snap, book, as_of, Filters(team=filters.team), results=results))
    review_ageing = backlog_summary(review_backlog(snap, book, as_of, Filters(team=filters.team), results=results))
    return TeamFigures([rows[k] for k in sorted(rows)], _records(ageing), _records(review_ageing), "pandas")


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: (int(v) if k in ("open_cases", "with_exception", "oldest_weeks_overdue") else v)
             for k, v in row.items()} for row in frame.to_dict("records")]


# ------------------------------------------------------------------------------------------ SQL

def _day(value: dt.date) -> int:
    return (value - EPOCH).days


def _rule_ids(conn: sa.Connection, book, case: str, clocks: set[str] | None = None) -> list[int]:
    """The ``clock_rule`` ids of the book's clocks of one kind (``clocks``: only these)."""
    wanted = {c.id for c in book.clocks_for(case)}
    if clocks is not None:
        wanted &= clocks
    rule = db.clock_rule
    return [int(i) for i in conn.execute(sa.select(rule.c.id).where(rule.c.kind == case,
                                                                     rule.c.clock.in_(sorted(wanted)))).scalars()]


class Ordered(Join):
    """A join read left table first: on SQLite a ``CROSS JOIN`` (which its planner never reorders),
    so the team's cases come by the team index and each one's running clocks by the partial index
    ``ix_clock_result_running`` (or, for this month's breaches, the month's clocks by
    ``ix_clock_result_due`` and each one's case by its key); a planner without statistics would
    otherwise walk every stored clock of the kind. PostgreSQL plans it as the inner join it is."""

    inherit_cache = True


@compiles(Ordered, "sqlite")
def _ordered(element, compiler, **kw):
    return compiler.visit_join(element, **kw).replace(" JOIN ", " CROSS JOIN ", 1)


def _source(kind, filters: Filters, *, clocks_first: bool = False):
    """The stored clocks of the cases matching ``filters`` (present in the latest extract)."""
    table = db.table_for(kind.name)
    r = db.clock_result
    conditions = [table.c.missing_since_run_id.is_(None)]
    narrowed = filter_condition(table, filters)
    if narrowed is not None:
        conditions.append(narrowed)
    on = sa.and_(r.c.kind == db.KIND_CODES[kind.case], r.c.case_id == table.c[kind.key])
    joined = Ordered(r, table, on) if clocks_first else Ordered(table, r, on)
    if clocks_first:
        conditions.append(r.c.kind == db.KIND_CODES[kind.case])
    return table, r, joined, conditions


def _verdicts(r, today: int):
    """``engine.judge`` as SQL conditions over one stored row's day numbers. Running is spelt as
    the partial index's condition, so the database reads that index."""
    running = sa.and_(r.c.stop_event.is_(None), r.c.closure.is_(None), r.c.overtaken.is_(None))
    overdue = sa.and_(running, r.c.due < today)
    late = sa.or_(sa.and_(r.c.stop_event.is_not(None), r.c.stop_event > r.c.due),
                  sa.and_(r.c.stop_event.is_(None), r.c.closure.is_not(None),
                          sa.or_(r.c.overtaken.is_(None), r.c.closure <= r.c.overtaken), r.c.closure > r.c.due))
    return running, overdue, late


def _count(condition):
    return sa.func.sum(sa.case((condition, 1), else_=0))


def sql_figures(conn: sa.Connection, book, as_of: dt.date, filters: Filters) -> TeamFigures:
    """The figures in SQL. A clock counts only while running (overdue, due this week, a breach
    while overdue, the backlogs) or once it stopped late (a breach): so one read per kind of the
    running clocks of the team's cases, counted by caseworker, rule and due day, then the clocks
    due this month that stopped late, and never the settled rest. The running clocks are not
    narrowed to the book's rules (nor the late ones): every stored row is one of them (the rows' fingerprint is the
    book's, ``listings.stored_ok``), and an ``IN`` over twenty rule ids would make SQLite probe the
    index twenty times a case."""
    today = _day(as_of)
    monday, sunday = (_day(d) for d in week_window(as_of))
    month_start = _day(as_of.replace(day=1))
    listed = run_cached(conn, ("caseworkers with clocks", book.content_digest, filters),
                        lambda: _caseworkers_with_clocks(conn, filters))
    rows: dict[str, dict] = {cw: _row(cw) for cw in listed}
    running_groups = {}
    for kind in KINDS.values():
        rules = _rule_ids(conn, book, kind.case)
        if not rules:
            running_groups[kind.case] = []
            continue
        table, r, joined, conditions = _source(kind, filters)
        running, _, late = _verdicts(r, today)
        groups = conn.execute(sa.select(table.c.caseworker, r.c.rule, r.c.due, sa.func.count(),
                                        _count(r.c.exception.is_not(None)))
                              .select_from(joined).where(*conditions, running)
                              .group_by(table.c.caseworker, r.c.rule, r.c.due)).all()
        running_groups[kind.case] = groups
        for cw, _, due, count, _ in groups:
            if cw is None or due is None:
                continue  # no caseworker: not a row of the page; no due day: never overdue nor due this week
            row = rows.get(cw)
            if row is None:
                row = rows[cw] = _row(cw)
            if due < today:
                row["overdue"] += count
                if due >= month_start:
                    row["breaches"] += count
            elif monday <= due <= sunday:
                row["week"] += count
        table, r, joined, conditions = _source(kind, filters, clocks_first=True)
        stopped_late = (sa.select(table.c.caseworker, sa.func.count()).select_from(joined)
                        .where(*conditions, r.c.due >= month_start, r.c.due <= today, late,
                               table.c.caseworker.is_not(None))
                        .group_by(table.c.caseworker))
        for cw, n_late in conn.execute(stopped_late):
            rows.setdefault(cw, _row(cw))["breaches"] += int(n_late or 0)
    counts = run_cached(conn, ("query counts", as_of, book.content_digest, filters),
                        lambda: query_counts(conn, book, as_of, filters))
    for cw, count in counts.items():
        rows.setdefault(cw, _row(cw))["queries"] = int(count)
    for row in rows.values():
        for name in ("overdue", "week", "breaches"):
            row[name] = int(row[name])
    return TeamFigures([rows[k] for k in sorted(rows)],
                       _assessment_ageing(conn, book, as_of, running_groups["assessment"]),
                       _review_ageing(conn, book, as_of, running_groups["review"]), "sql")


def _caseworkers_with_clocks(conn: sa.Connection, filters: Filters) -> tuple[str, ...]:
    """The caseworkers of the cases matching ``filters`` that hold a stored clock: each is a row of
    the page, zeros and all. Every stored row is a clock of the book the rows were made under
    (``listings.stored_ok`` checks its fingerprint), so any row will do; they change only with an
    import run or a new book (the cache's key)."""
    found: set[str] = set()
    for kind in KINDS.values():
        table = db.table_for(kind.name)
        r = db.clock_result
        conditions = [table.c.missing_since_run_id.is_(None), table.c.caseworker.is_not(None)]
        narrowed = filter_condition(table, filters)
        if narrowed is not None:
            conditions.append(narrowed)
        held = sa.exists().where(r.c.kind == db.KIND_CODES[kind.case], r.c.case_id == table.c[kind.key])
        found |= set(conn.execute(sa.select(table.c.caseworker).distinct().where(*conditions, held)).scalars())
    return tuple(sorted(found))


def _date(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day))


def _assessment_ageing(conn, book, as_of: dt.date, groups) -> list[dict]:
    """``backlog_summary(backlog(...))``: overdue final-plan clocks by the month they ran out, from
    the running clocks counted by caseworker, rule and due day."""
    rules = set(_rule_ids(conn, book, "assessment", {"final_plan"}))
    today = _day(as_of)
    months: dict[str, dict] = {}
    for _, rule_id, due, count, excepted in groups:
        if rule_id not in rules or due is None or due >= today:
            continue
        month = _date(due).strftime("%Y-%m")
        part = months.setdefault(month, {"due_month": month, "open_cases": 0, "with_exception": 0,
                                         "oldest_weeks_overdue": 0})
        part["open_cases"] += int(count)
        part["with_exception"] += int(excepted or 0)
        part["oldest_weeks_overdue"] = max(part["oldest_weeks_overdue"], (today - int(due)) // 7)
    return [months[m] for m in sorted(months)]


def _months_overdue(due: dt.date, as_of: dt.date) -> int:
    """``listings.months_overdue`` for one day."""
    return (as_of.year * 12 + as_of.month) - (due.year * 12 + due.month) - (1 if due.day > as_of.day else 0)


def _review_ageing(conn, book, as_of: dt.date, groups) -> list[dict]:
    """``backlog_summary(review_backlog(...))``: overdue annual reviews and phase transfers overdue
    or due within 8 weeks, by clock and band."""
    clock_of = {}
    for clock in ("annual_review", "phase_transfer"):
        for rule_id in _rule_ids(conn, book, "review", {clock}):
            clock_of[rule_id] = clock
    today = _day(as_of)
    horizon = _day(as_of + dt.timedelta(days=PHASE_TRANSFER_RISK_DAYS))
    found: dict[tuple, dict] = {}
    for _, rule_id, due, count, excepted in groups:
        if rule_id not in clock_of or due is None or due > horizon:
            continue
        clock, overdue = clock_of[rule_id], due < today
        if clock == "annual_review" and not overdue:
            continue
        band = AT_RISK_BAND
        if overdue:
            months = _months_overdue(_date(due), as_of)
            for low, label in REVIEW_BANDS:
                if months >= low:
                    band = label
        part = found.setdefault((clock, band), {"clock": clock, "band": band, "open_cases": 0,
                                                "with_exception": 0, "oldest_weeks_overdue": 0})
        part["open_cases"] += int(count)
        part["with_exception"] += int(excepted or 0)
        part["oldest_weeks_overdue"] = max(part["oldest_weeks_overdue"], (today - int(due)) // 7 if overdue else 0)
    order = {label: i for i, label in enumerate([AT_RISK_BAND, *(label for _, label in REVIEW_BANDS)])}
    return [found[k] for k in sorted(found, key=lambda k: (k[0], order[k[1]]))]


def _days_from(earlier, later, dialect: str):
    """``later - earlier`` in days, for two date columns (SQLite keeps dates as ISO text)."""
    if dialect == "sqlite":
        return sa.func.julianday(later) - sa.func.julianday(earlier)
    return later - earlier


def query_candidates(kind_name: str, table: sa.Table, book, dialect: str):
    """The case rows that could hold a query (``clocks.queries``): every finding needs one of these
    fields recorded, so the rest cannot be found and need not be read. A review brings the child's
    other rows with it (a phase transfer is the child's: ``engine.review_fields``)."""
    c = table.c
    if kind_name == "assessments":
        fields = {*KINDS[kind_name].exception_columns,
                  *(clock.exception_field for clock in book.clocks_for("assessment") if clock.exception_field)}
        recorded = [c[name].is_not(None) for name in sorted(fields)]
        short = _days_from(c.draft_plan_issued, c.final_plan_issued, dialect) < REPRESENTATION_DAYS
        return sa.or_(*recorded, sa.and_(c.draft_plan_issued.is_not(None), c.final_plan_issued.is_not(None), short))
    return sa.or_(c.decision == "maintain",
                  sa.and_(c.decision == "amend", c.amendment_notice_sent.is_not(None), c.amended_plan_issued.is_not(None)),
                  sa.and_(c.decision == "cease", c.decision_notified.is_not(None), c.ceased_date.is_not(None)),
                  c.exception_reason.in_(NO_REVIEW_EXEMPTIONS))


def query_counts(conn: sa.Connection, book, as_of: dt.date, filters: Filters) -> dict[str, int]:
    """How many queries each caseworker's cases (matching ``filters``) hold: ``listings.queries``'
    findings, found over the candidate rows only."""
    frames = {}
    for name, kind in KINDS.items():
        table = db.table_for(name)
        scoped = [table.c.missing_since_run_id.is_(None)]
        narrowed = filter_condition(table, filters)
        if narrowed is not None:
            scoped.append(narrowed)
        wanted = query_candidates(name, table, book, conn.dialect.name)
        if name == "reviews":
            persons = sa.select(table.c.person_id).where(*scoped, wanted)
            wanted = table.c.person_id.in_(persons)
        frames[name] = db.load_cases(conn, kind, sa.and_(*scoped, wanted), include_missing=False)
    found = caseload_queries(frames["assessments"], frames["reviews"], book, as_of)
    counts: dict[str, int] = defaultdict(int)
    for cw, count in found["caseworker"].dropna().value_counts().items():
        counts[cw] += int(count)
    return dict(counts)
