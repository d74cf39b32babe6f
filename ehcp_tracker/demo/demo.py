"""``ehcp demo``: the whole job on the synthetic sample data, in a throwaway SQLite database."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import click

from ..ingest.extract import load_profile
from ..ingest.importer import import_extract
from ..store import db
from ..listings import (Filters, backlog, backlog_summary, breaches, clock_results, due, explain, render_working,
                        review_backlog)
from ..clocks.rules import PACKAGE_DIR
from ..output import render_table

# The sample extracts run to Friday 30 October 2026; the demo looks at them from the Monday after.
SAMPLE_AS_OF = dt.date(2026, 11, 2)


def sample_dir() -> Path:
    shipped = PACKAGE_DIR / "_data" / "sample_data"
    return shipped if shipped.is_dir() else PACKAGE_DIR.parent / "sample_data"


def run_demo(obj, as_of: dt.date | None = None) -> Path:
    """Import the samples, then show due, breaches, backlog and one explanation. Returns the work folder."""

    as_of = as_of or (obj.as_of if obj.as_of != _today_default(obj) else SAMPLE_AS_OF)
    work = Path(tempfile.mkdtemp(prefix="ehcp-demo-"))
    engine = db.connect(f"sqlite:///{work / 'demo.db'}")
    db.init_db(engine)
    book = obj.book
    samples = sample_dir()
    say = lambda text: click.echo(text, err=True)  # noqa: E731 - progress goes to stderr
    say(f"ehcp demo: throwaway database {work / 'demo.db'}; as of {as_of:%a %d %b %Y}")
    for name, profile in (("assessments.csv", None), ("assessments_council.xlsx", "example-system"),
                          ("reviews.csv", None)):
        path = samples / name
        if not path.exists() or (name.startswith("reviews") and not book.clocks_for("review")):
            continue
        summary = import_extract(engine, path, book, as_of, profile=load_profile(profile) if profile else None)
        say(summary.describe())

    frame, (start, end) = due(engine, book, as_of)
    click.echo(f"\n== Due {start:%a %d %b} to {end:%a %d %b %Y}: {len(frame)} clock{'' if len(frame) == 1 else 's'} ==")
    click.echo(render_table(frame[["case_id", "caseworker", "clock", "due", "status", "exception"]].head(15)))
    late = breaches(engine, book, as_of)
    click.echo(f"== Breaches: {len(late)} ({(late['status'] == 'overdue').sum()} still open, "
               f"{(late['status'] == 'late').sum()} stopped late); worst 10 ==")
    click.echo(render_table(late[["case_id", "clock", "due", "stopped", "status", "days_overdue",
                                  "exception"]].head(10)))
    pending = backlog(engine, book, as_of, Filters())
    click.echo(f"== Backlog: {len(pending)} open assessments past 20 weeks, by the month the 20 weeks ran out ==")
    click.echo(render_table(backlog_summary(pending)))
    example = late[late["clock"] == "final_plan"].head(1)
    if len(example):
        case_id = example["case_id"].iloc[0]
        click.echo(f"== Why? ehcp explain {case_id} ==")
        click.echo(render_working(explain(engine, book, as_of, case_id)))
    _review_section(engine, book, as_of, late)
    _board_pack(engine, book, as_of, work)
    say(f"\ndemo database kept at {work / 'demo.db'}: try  ehcp --db sqlite:///{work / 'demo.db'} "
        f"--as-of {as_of} due --days 14")
    return work


def _review_section(engine, book, as_of: dt.date, late) -> None:
    """Annual reviews overdue by band, phase transfers at risk, and one phase transfer explained."""

    reviews = review_backlog(engine, book, as_of, Filters(kind="reviews"))
    if not len(clock_results(engine, book, as_of, Filters(kind="reviews", clock="annual_review"))):
        return
    overdue = reviews[reviews["clock"] == "annual_review"]
    transfers = reviews[reviews["clock"] == "phase_transfer"]
    click.echo(f"== Annual reviews overdue (not concluded within 12 months): {len(overdue)}; "
               f"phase transfers at risk (overdue or due within 8 weeks): {len(transfers)} ==")
    click.echo(render_table(backlog_summary(reviews)))
    if len(transfers):
        click.echo(render_table(transfers[["case_id", "caseworker", "due", "weeks_overdue", "band"]].head(10)))
    example = late[(late["kind"] == "review") & (late["clock"] == "phase_transfer")].head(1)
    if len(example):
        case_id = example["case_id"].iloc[0]
        click.echo(f"== Why? ehcp explain {case_id} ==")
        click.echo(render_working(explain(engine, book, as_of, case_id)))


def _board_pack(engine, book, as_of: dt.date, work: Path) -> None:
    """The board pack (HTML and XLSX) for the last whole month before ``as_of``, in the work folder."""
    from ..report import write
    from ..report.data import gather

    month = f"{(as_of.replace(day=1) - dt.timedelta(days=1)):%Y-%m}"
    pack = gather(engine, book, month, as_of)
    paths = [write(pack, work / f"board-pack-{month}.{fmt}", fmt) for fmt in ("html", "xlsx")]
    click.echo(f"== Board pack for {pack.month_label} ==\n" + "\n".join(map(str, paths)))


def _today_default(obj) -> dt.date:
    from ..clocks.dates import today

    return today()
