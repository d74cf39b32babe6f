"""Data for analysts: two SQL views over the stored clocks and cases (migration 0015_analyst_views).

``analyst_clocks`` has one row per clock of every stored case and ``analyst_cases`` one row per
case. They hold what the stored tables hold, in readable columns: real dates instead of
``clock_result``'s day numbers, ``assessment`` / ``review`` instead of kind codes, the rule's text
(basis, rule version, legal reference) from ``clock_rule`` instead of its id, ``yes`` / ``no`` for flags.
Power BI, Excel Power Query or any SQL client can read them straight from the database (the
PostgreSQL server, or the SQLite file); ``ehcp export`` writes them to Parquet or CSV.

A clock's status depends on the day it is judged on: the views judge on the database's today
(``status_on``; on PostgreSQL the date in Europe/London, on SQLite the computer's local date) with
the same rules as ``clocks.engine.judge``, which ``tests/test_analyst_views.py`` checks row for row.

``CLOCK_COLUMNS`` and ``CASE_COLUMNS`` are the column dictionary: each column's name, type, meaning
and its SQL. The views are made from them and the analysts' docs page is generated from them
(``docs_gen``), and a test compares the page, these lists and the columns of a migrated database.
Change them only with a new migration that calls :func:`drop` and then :func:`create`. A migration
may rebuild a table they read (SQLite's batch mode copies a table to change it, and a view naming
the table refuses the rename): ``db.init_db`` drops the views before it upgrades and makes them
again after, so later migrations need not know of them (one run of ``alembic`` by hand, outside
``init_db``, must drop them itself). ``metadata.drop_all`` drops them first by itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from . import db

MIGRATION = "0015_analyst_views"  # the revision that made them: ``db.init_db`` makes them again after later ones
CLOCKS_VIEW = "analyst_clocks"
CASES_VIEW = "analyst_cases"
VIEWS = (CASES_VIEW, CLOCKS_VIEW)  # in the order they are dropped (cases reads clocks)


@dataclass(frozen=True)
class ViewColumn:
    name: str
    type: str  # "text" | "date" | "whole number": what a reader of the view gets
    meaning: str
    sql: str  # the expression, in the terms of the view's FROM (see _clocks_sql, _cases_sql)


def _date(days: str, dialect: str) -> str:
    """A stored day number (days since 1970-01-01) as a date: ``date`` on PostgreSQL, ISO text on SQLite."""
    if dialect == "postgresql":
        return f"(DATE '1970-01-01' + {days})"
    return f"date({days} * 86400, 'unixepoch')"


def _today(dialect: str) -> str:
    """Today as a day number: London's date on PostgreSQL; SQLite knows only the computer's zone."""
    if dialect == "postgresql":
        return "(CAST(now() AT TIME ZONE 'Europe/London' AS DATE) - DATE '1970-01-01')"
    return "CAST(julianday(date('now', 'localtime')) - julianday('1970-01-01') AS INTEGER)"


def _yes_no(value: str) -> str:
    """A stored flag (a boolean, or SQLite's 0/1) as yes / no, blank kept blank."""
    return f"CASE WHEN {value} IS NULL THEN NULL WHEN {value} THEN 'yes' ELSE 'no' END"


# What engine.judge decides, in SQL, on the columns of the clocks view's inner query ``k``: ``ended``
# is the earlier of the closure and a stage that overtakes the clock, ``today`` the day judged on.
_HAS_EVENT = "k.stop_event IS NOT NULL"
_CLOSED = "(k.stop_event IS NULL AND k.ended IS NOT NULL)"
_CLOSED_LATE = f"({_CLOSED} AND k.closure IS NOT NULL AND k.closure = k.ended AND k.closure - k.due > 0)"
_STATUS = (f"CASE WHEN {_HAS_EVENT} AND k.stop_event - k.due <= 0 THEN 'met' WHEN {_HAS_EVENT} THEN 'late' "
           f"WHEN {_CLOSED_LATE} THEN 'late' WHEN {_CLOSED} THEN 'met' WHEN k.today - k.due > 0 THEN 'overdue' "
           "WHEN k.due - k.today <= k.warning_days THEN 'due_soon' ELSE 'open' END")
_DAYS_OVERDUE = (f"CASE WHEN {_HAS_EVENT} THEN CASE WHEN k.stop_event - k.due > 0 THEN k.stop_event - k.due ELSE 0 END "
                 f"WHEN {_CLOSED_LATE} THEN k.closure - k.due WHEN {_CLOSED} THEN 0 "
                 "WHEN k.today - k.due > 0 THEN k.today - k.due ELSE 0 END")
_STOP_REASON = f"CASE WHEN {_HAS_EVENT} THEN 'event' WHEN {_CLOSED} THEN 'closed' ELSE NULL END"

# ``{date}`` marks a day-number expression made a date per dialect; ``{yes_no}`` a flag made yes / no.
CLOCK_COLUMNS = (
    ViewColumn("case_id", "text", "the case's key: `request_id` of an assessment, `review_id` of a review",
               "k.case_id"),
    ViewColumn("kind", "text", "`assessment` or `review`", "CASE k.kind WHEN 1 THEN 'assessment' ELSE 'review' END"),
    ViewColumn("person_id", "text", "the child's or young person's ID (personal: share the view accordingly)",
               "c.person_id"),
    ViewColumn("caseworker", "text", "the case's caseworker, as the extract spells it", "c.caseworker"),
    ViewColumn("team", "text", "the case's team", "c.team"),
    ViewColumn("clock", "text", "the clock's id (see [Clocks](clocks.md))", "k.clock"),
    ViewColumn("started", "date", "the day the clock started", "{date:k.started}"),
    ViewColumn("due", "date", "the day it is due (on time if stopped on or before it)", "{date:k.due}"),
    ViewColumn("stopped", "date", "the day it stopped: its stop event, else the case's closure or a later stage "
               "that overtook it; blank while running", "{date:COALESCE(k.stop_event, k.ended)}"),
    ViewColumn("status", "text", "on `status_on`: `open`, `due_soon`, `overdue` (running), `met` or `late` (stopped)",
               _STATUS),
    ViewColumn("days_overdue", "whole number", "days past due: on `status_on` while running, at the stop when stopped "
               "(0 when on time)", _DAYS_OVERDUE),
    ViewColumn("exception", "text", "the exception recorded against this clock (an exception code), blank if none",
               "k.exception"),
    ViewColumn("statutory", "text", "`yes` (a duty in law), `guidance` (a Code of Practice expectation) or `no` "
               "(a local target)",
               "CASE k.statutory WHEN 'true' THEN 'yes' WHEN 'false' THEN 'no' ELSE k.statutory END"),
    ViewColumn("stop_reason", "text", "`event` (its stop event happened) or `closed` (the case closed, or a later "
               "stage overtook it); blank while running", _STOP_REASON),
    ViewColumn("rule_version", "text", "the version of the rule the clock was judged by (the one in force on its "
               "start)", "k.rule_version"),
    ViewColumn("reference", "text", "the legal citation of that rule version, as the rule book states it",
               "k.reference"),
    ViewColumn("looked_after", "text", "priority cohort flag: `yes` / `no`", "{yes_no:c.looked_after}"),
    ViewColumn("youth_justice", "text", "priority cohort flag: `yes` / `no`", "{yes_no:c.youth_justice}"),
    ViewColumn("camhs", "text", "priority cohort flag: `yes` / `no`", "{yes_no:c.camhs}"),
    ViewColumn("placed_out_of_area", "text", "priority cohort flag: `yes` / `no`", "{yes_no:c.placed_out_of_area}"),
    ViewColumn("request_outcome", "text", "assessments: `assess`, `not_assess` or `withdrawn`", "c.request_outcome"),
    ViewColumn("assessment_outcome", "text", "assessments: `issue` or `not_issue`", "c.assessment_outcome"),
    ViewColumn("decision", "text", "reviews: `maintain`, `amend` or `cease`", "c.decision"),
    ViewColumn("transfer_type", "text", "reviews: the phase transfer the clock counts to (`school`, `post16`, "
               "`post16_move`, `none`)", "k.transfer_type"),
    ViewColumn("stop_event", "date", "the day of the stage that stops the clock (blank while none)",
               "{date:k.stop_event}"),
    ViewColumn("case_closed", "date", "the day the case closed or was withdrawn with the clock running (late if "
               "after `due`)", "{date:k.closure}"),
    ViewColumn("overtaken", "date", "the day a later stage ended the clock unjudged (a final plan ends a local "
               "draft target)", "{date:k.overtaken}"),
    ViewColumn("warning_days", "whole number", "`due_soon` from this many days before `due`", "k.warning_days"),
    ViewColumn("in_latest_extract", "text", "`no` for a case missing from the latest extract (kept, never deleted)",
               "CASE WHEN c.missing_since_run_id IS NULL THEN 'yes' ELSE 'no' END"),
    ViewColumn("status_on", "date", "the day `status` and `days_overdue` are judged on: the database's today",
               "{date:k.today}"),
)

CASE_COLUMNS = (
    ViewColumn("case_id", "text", "`request_id` of an assessment, `review_id` of a review", "c.case_id"),
    ViewColumn("kind", "text", "`assessment` or `review`", "c.kind"),
    ViewColumn("person_id", "text", "the child's or young person's ID (personal)", "c.person_id"),
    ViewColumn("caseworker", "text", "the case's caseworker", "c.caseworker"),
    ViewColumn("team", "text", "the case's team", "c.team"),
    ViewColumn("request_received", "date", "assessments: the day the request was received", "c.request_received"),
    ViewColumn("final_plan_issued", "date", "assessments: the day the final plan was issued", "c.final_plan_issued"),
    ViewColumn("plan_issued", "date", "reviews: the day the plan was first made", "c.plan_issued"),
    ViewColumn("last_review", "date", "reviews: the day the previous review concluded", "c.last_review"),
    ViewColumn("closed", "date", "assessments: `closed_date`; reviews: `ceased_date`", "c.closed"),
    ViewColumn("request_outcome", "text", "assessments: `assess`, `not_assess` or `withdrawn`", "c.request_outcome"),
    ViewColumn("assessment_outcome", "text", "assessments: `issue` or `not_issue`", "c.assessment_outcome"),
    ViewColumn("decision", "text", "reviews: `maintain`, `amend` or `cease`", "c.decision"),
    ViewColumn("looked_after", "text", "priority cohort flag: `yes` / `no`", "{yes_no:c.looked_after}"),
    ViewColumn("youth_justice", "text", "priority cohort flag: `yes` / `no`", "{yes_no:c.youth_justice}"),
    ViewColumn("camhs", "text", "priority cohort flag: `yes` / `no`", "{yes_no:c.camhs}"),
    ViewColumn("placed_out_of_area", "text", "priority cohort flag: `yes` / `no`", "{yes_no:c.placed_out_of_area}"),
    ViewColumn("source", "text", "`sen2` for a case imported from an SEN2 return, blank otherwise", "c.source"),
    ViewColumn("in_latest_extract", "text", "`no` for a case missing from the latest extract (kept, never deleted)",
               "CASE WHEN c.missing_since_run_id IS NULL THEN 'yes' ELSE 'no' END"),
    ViewColumn("first_imported", "date", "the as-of date of the import that first brought the case", "f.as_of"),
    ViewColumn("last_changed", "date", "the as-of date of the import that last changed it", "l.as_of"),
    ViewColumn("clocks", "whole number", "its stored clocks", "COALESCE(a.clocks, 0)"),
    ViewColumn("clocks_running", "whole number", "of them still running (not stopped)", "COALESCE(a.clocks_running, 0)"),
    ViewColumn("clocks_overdue", "whole number", "running past their due date on `status_on`",
               "COALESCE(a.clocks_overdue, 0)"),
    ViewColumn("clocks_late", "whole number", "stopped after their due date", "COALESCE(a.clocks_late, 0)"),
    ViewColumn("next_due", "date", "the earliest due date of its running clocks", "a.next_due"),
    ViewColumn("most_days_overdue", "whole number", "the largest `days_overdue` of its clocks",
               "COALESCE(a.most_days_overdue, 0)"),
    ViewColumn("status_on", "date", "the day the counts are judged on: the database's today", "a.status_on"),
)


def _expression(column: ViewColumn, dialect: str) -> str:
    sql = column.sql
    if sql.startswith("{date:"):
        return _date(sql[6:-1], dialect)
    if sql.startswith("{yes_no:"):
        return _yes_no(sql[8:-1])
    return sql


def _select(columns: tuple[ViewColumn, ...], dialect: str) -> str:
    return ",\n  ".join(f"{_expression(c, dialect)} AS {c.name}" for c in columns)


def _null(sql_type: str) -> str:
    return f"CAST(NULL AS {sql_type})"


def _case_rows(*, for_clocks: bool) -> str:
    """Both kinds of case as rows of the same columns (what the one kind lacks is NULL)."""
    text, date = _null("VARCHAR(40)"), _null("DATE")
    flags = "looked_after, youth_justice, camhs, placed_out_of_area"
    if for_clocks:
        return (f"SELECT 1 AS kind, request_id AS case_id, person_id, caseworker, team, {flags}, request_outcome, "
                f"assessment_outcome, {text} AS decision, missing_since_run_id FROM assessment\n"
                f"  UNION ALL SELECT 2, review_id, person_id, caseworker, team, {flags}, {text}, {text}, decision, "
                "missing_since_run_id FROM review")
    return (f"SELECT 'assessment' AS kind, request_id AS case_id, person_id, caseworker, team, request_received, "
            f"final_plan_issued, {date} AS plan_issued, {date} AS last_review, closed_date AS closed, request_outcome, "
            f"assessment_outcome, {text} AS decision, {flags}, source, missing_since_run_id, first_run_id, last_run_id "
            "FROM assessment\n"
            f"  UNION ALL SELECT 'review', review_id, person_id, caseworker, team, {date}, {date}, plan_issued, "
            f"last_review, ceased_date, {text}, {text}, decision, {flags}, source, missing_since_run_id, first_run_id, "
            "last_run_id FROM review")


def clocks_sql(dialect: str) -> str:
    """The SELECT of ``analyst_clocks`` for ``dialect`` (``sqlite`` or ``postgresql``)."""
    ended = ("CASE WHEN r.closure IS NULL THEN r.overtaken WHEN r.overtaken IS NULL THEN r.closure "
             "WHEN r.closure <= r.overtaken THEN r.closure ELSE r.overtaken END")
    inner = ("SELECT r.kind, r.case_id, r.started, r.due, r.stop_event, r.closure, r.overtaken, r.exception, "
             "r.transfer_type, u.clock, u.statutory, u.rule_version, u.reference, u.warning_days, "
             f"{ended} AS ended, {_today(dialect)} AS today "
             "FROM clock_result r JOIN clock_rule u ON u.id = r.rule")
    return (f"SELECT\n  {_select(CLOCK_COLUMNS, dialect)}\nFROM ({inner}) k\n"
            f"JOIN ({_case_rows(for_clocks=True)}) c ON c.kind = k.kind AND c.case_id = k.case_id")


def cases_sql(dialect: str) -> str:
    """The SELECT of ``analyst_cases`` (it reads ``analyst_clocks`` for the counts)."""
    summary = (f"SELECT kind, case_id, COUNT(*) AS clocks, "
               "SUM(CASE WHEN stopped IS NULL THEN 1 ELSE 0 END) AS clocks_running, "
               "SUM(CASE WHEN status = 'overdue' THEN 1 ELSE 0 END) AS clocks_overdue, "
               "SUM(CASE WHEN status = 'late' THEN 1 ELSE 0 END) AS clocks_late, "
               "MIN(CASE WHEN stopped IS NULL THEN due END) AS next_due, "
               f"MAX(days_overdue) AS most_days_overdue, MAX(status_on) AS status_on FROM {CLOCKS_VIEW} "
               "GROUP BY kind, case_id")
    return (f"SELECT\n  {_select(CASE_COLUMNS, dialect)}\nFROM ({_case_rows(for_clocks=False)}) c\n"
            "LEFT JOIN import_run f ON f.id = c.first_run_id\nLEFT JOIN import_run l ON l.id = c.last_run_id\n"
            f"LEFT JOIN ({summary}) a ON a.kind = c.kind AND a.case_id = c.case_id")


def database_today(conn: sa.Connection) -> dt.date:
    """The day the views judge on (``status_on``), as the database reckons it."""
    days = conn.execute(sa.text(f"SELECT {_today(conn.dialect.name)}")).scalar_one()
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(days))


def create(conn: sa.Connection) -> None:
    """Make both views (in a migration: ``op.get_bind()``)."""
    dialect = conn.dialect.name
    conn.execute(sa.text(f"CREATE VIEW {CLOCKS_VIEW} AS\n{clocks_sql(dialect)}"))
    conn.execute(sa.text(f"CREATE VIEW {CASES_VIEW} AS\n{cases_sql(dialect)}"))


def drop(conn: sa.Connection) -> None:
    """Drop both views if they are there (before a table they read is rebuilt or dropped)."""
    for name in VIEWS:
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))


@sa.event.listens_for(db.metadata, "before_drop")
def _drop_before_tables(target, connection, **_kw) -> None:
    """``metadata.drop_all`` (tests start databases afresh so) drops the views first: PostgreSQL
    refuses to drop a table a view depends on."""
    drop(connection)
