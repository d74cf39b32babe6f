"""The team page's figures counted in SQL (``web.team_figures.sql_figures``) equal the pandas path
that judged every stored clock of the team (``pandas_figures``, the first implementation), on
SQLite and PostgreSQL: per caseworker overdue, due this week, queries and breaches this month, and
both backlog ageing tables, for every team of a generated caseload (several caseworkers and teams)
and of the sample data, on several days of a month. And the values kept per import run
(``access.run_cached``: stored spellings, teams, query counts) are worked out again once a new
import run commits."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.ingest.refresh import refresh_everything
from ehcp_tracker.listings import Filters
from ehcp_tracker.store import db
from ehcp_tracker.web.access import snapshot, stored_spellings, teams_of
from ehcp_tracker.web.team_figures import pandas_figures, sql_figures, team_figures

from .conftest import ROOT
from .web_fixtures import make_database

AS_OF = dt.date(2026, 10, 14)  # a Wednesday: the generated caseload's import day
SAMPLE_AS_OF = dt.date(2026, 11, 2)  # the sample data's (a Monday)
# the import day, a Monday and a Sunday (the week's ends), the last day of the month, the first of
# the next (breaches this month start again) and a month on
DAYS = {"generated": [AS_OF, dt.date(2026, 10, 19), dt.date(2026, 10, 25), dt.date(2026, 10, 31),
                      dt.date(2026, 11, 1), dt.date(2026, 11, 16)],
        "sample": [SAMPLE_AS_OF, dt.date(2026, 11, 8), dt.date(2026, 11, 30), dt.date(2026, 12, 1)]}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def caseloads(request, tmp_path_factory, book):
    """{name: engine}: a generated caseload (2,000 requests, 1,500 reviews) and the sample data,
    imported with their clocks stored."""
    from ehcp_tracker.demo.synthetic import write_extracts

    folder = tmp_path_factory.mktemp("team")
    made = {}
    sources = {"generated": write_extracts(folder / "generated", 2000, 1500, 11, AS_OF),
               "sample": {k: ROOT / "sample_data" / f"{k}.csv" for k in ("assessments", "reviews")}}
    for name, paths in sources.items():
        engine = db.connect(make_database(request, tmp_path_factory, f"team-{name}"))
        db.init_db(engine)
        for path in paths.values():
            import_extract(engine, path, book, DAYS[name][0])
        refresh_everything(engine, book)
        made[name] = engine
    made["extracts"] = sources["generated"]
    yield made
    for name in ("generated", "sample"):
        made[name].dispose()


def _every_team(engine):
    with snapshot(engine) as snap:
        return {team: stored_spellings(snap._conn, "team", team) for team in teams_of(snap._conn)}


@pytest.mark.parametrize("caseload", ["generated", "sample"])
def test_the_sql_counts_equal_the_pandas_judging(caseloads, book, caseload):
    engine = caseloads[caseload]
    teams = _every_team(engine)
    assert len(teams) >= 2
    busy = 0
    for as_of in DAYS[caseload]:
        for team, spellings in teams.items():
            filters = Filters(team=spellings)
            with snapshot(engine) as snap:
                counted = sql_figures(snap._conn, book, as_of, filters)
                judged = pandas_figures(snap, book, as_of, filters)
                chosen = team_figures(snap, book, as_of, filters)
            where = f"{caseload}, team {team}, {as_of}"
            assert counted.rows == judged.rows, where
            assert counted.ageing == judged.ageing, where
            assert counted.review_ageing == judged.review_ageing, where
            assert chosen.counted_in == "sql" and chosen.rows == judged.rows
            busy += sum(r["overdue"] + r["week"] + r["queries"] + r["breaches"] for r in counted.rows)
    if caseload == "generated":  # the comparison is about something: many caseworkers, every figure
        with snapshot(engine) as snap:
            rows = sql_figures(snap._conn, book, AS_OF, Filters()).rows
        assert len(rows) >= 5
        assert all(sum(r[k] for r in rows) > 0 for k in ("overdue", "week", "queries", "breaches"))
    assert busy > 0


def test_a_lead_bound_to_several_spellings_and_the_whole_caseload(caseloads, book):
    engine = caseloads["generated"]
    teams = sorted(_every_team(engine))
    for filters in (Filters(team=(teams[0], teams[0].lower() + " ", "No such team")), Filters(),
                    Filters(team=("No such team",))):
        with snapshot(engine) as snap:
            counted, judged = sql_figures(snap._conn, book, AS_OF, filters), pandas_figures(snap, book, AS_OF, filters)
        assert (counted.rows, counted.ageing, counted.review_ageing) == (judged.rows, judged.ageing,
                                                                        judged.review_ageing), filters


def test_stored_clocks_that_do_not_answer_are_judged_in_pandas(caseloads, book):
    """A day before the latest stored stage date (a past --as-of) is not what the stored rows say:
    the page judges the clocks as the listings do."""
    engine = caseloads["generated"]
    team, spellings = next(iter(_every_team(engine).items()))
    with snapshot(engine) as snap:
        past = team_figures(snap, book, AS_OF - dt.timedelta(days=200), Filters(team=spellings))
    assert past.counted_in == "pandas"


def test_values_kept_per_import_run_are_made_again_when_a_run_commits(caseloads, book, tmp_path):
    engine = caseloads["generated"]
    source = caseloads["extracts"]["assessments"]
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    team = rows[0]["team"]
    with snapshot(engine) as snap:
        before_spellings = stored_spellings(snap._conn, "caseworker", "cw new one")
        before_teams = teams_of(snap._conn)
        before = sql_figures(snap._conn, book, AS_OF, Filters(team=(team,))).rows
    assert before_spellings == ("cw new one",) and "Team New" not in before_teams
    added = dict(rows[0], request_id="NEW-0001", caseworker="CW New One", team="Team New")
    again = dict(rows[1], caseworker="CW New One")  # a case of the old team moves to the new caseworker
    changed = tmp_path / "assessments.csv"
    with changed.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([added, again, *rows[2:]] if rows[1]["team"] == team else [added, *rows[1:]])
    import_extract(engine, changed, book, AS_OF)
    with snapshot(engine) as snap:
        assert stored_spellings(snap._conn, "caseworker", "cw new one") == ("CW New One", "cw new one")
        assert "Team New" in teams_of(snap._conn)
        after = sql_figures(snap._conn, book, AS_OF, Filters(team=(team,)))
        assert after.rows == pandas_figures(snap, book, AS_OF, Filters(team=(team,))).rows
    if rows[1]["team"] == team:
        assert after.rows != before
