"""The ``ehcp`` command line: a thin layer that parses options, calls the library, renders results.

Results go to stdout and nothing else does (messages and progress go to stderr), so
``ehcp due --format csv > due.csv`` works from cron. Exit codes: 0 success, 1 bad input or a failed
check, 2 usage error.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path

import click

from . import __version__, db
from .dates import today
from .errors import EhcpError, ImportRejected
from .listings import Filters
from .output import FORMATS, emit
from .rules import default_rules_dir, load_rule_book
from .schema import COHORTS, KINDS


class Context:
    """What every command shares: the database, the rule book and the as-of date (loaded lazily)."""

    def __init__(self, db_url: str | None, as_of: dt.date | None, rules_dir: str | None):
        self.db_url = db.resolve_url(db_url)
        self.as_of = as_of or today()
        self.rules_dir = Path(rules_dir) if rules_dir else default_rules_dir()

    @functools.cached_property
    def book(self):
        return load_rule_book(self.rules_dir)

    @functools.cached_property
    def raw_engine(self):
        return db.connect(self.db_url)

    @functools.cached_property
    def engine(self):
        db.require_schema(self.raw_engine)
        return self.raw_engine


class EhcpGroup(click.Group):
    """Maps user errors to one line on stderr and an exit code; bugs keep their traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EhcpError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def _parse_as_of(ctx, param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD") from None


@click.group(cls=EhcpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_url", envvar="EHCP_DB", metavar="URL",
              help="Database URL (env EHCP_DB). Default: sqlite:///ehcp.db in the working directory. "
                   "PostgreSQL: postgresql+psycopg://user:pass@host/dbname")
@click.option("--as-of", callback=_parse_as_of, metavar="YYYY-MM-DD",
              help="The 'today' of the command (default: today in Europe/London). Events dated after it "
                   "are treated as not yet happened.")
@click.option("--rules", "rules_dir", envvar="EHCP_RULES", metavar="DIR",
              help="Rule book folder (env EHCP_RULES; default: the shipped rules/).")
@click.version_option(__version__, prog_name="ehcp")
@click.pass_context
def cli(ctx, db_url, as_of, rules_dir):
    """Track EHC needs assessments and EHC plan reviews against the statutory clocks
    of the SEND Regulations 2014: what is due, what is late, and why.

    \b
    Typical night:   ehcp import extract.csv
    Typical morning: ehcp due --caseworker CW001
    """
    ctx.obj = Context(db_url, as_of, rules_dir)


def listing_options(func):
    """--format and --output for every listing command (sqlite-utils' output_options pattern)."""
    func = click.option("--output", "-o", metavar="PATH", help="Write to PATH instead of stdout.")(func)
    func = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="table for people; csv/json for scripts; xlsx for Excel (needs --output).")(func)
    return func


def filter_options(func):
    """The same filters on every listing: whose cases, which kind, which priority cohort."""
    func = click.option("--cohort", type=click.Choice(COHORTS), help="Only children in this priority cohort.")(func)
    func = click.option("--kind", type=click.Choice(list(KINDS)), help="Only assessments or only reviews.")(func)
    func = click.option("--team", metavar="T", help="Only this team's cases.")(func)
    func = click.option("--caseworker", metavar="X", help="Only this caseworker's cases.")(func)
    func = click.option("--include-missing", is_flag=True,
                        help="Also list cases missing from the latest extract (kept, not deleted).")(func)
    return func


def _filters(**kwargs) -> Filters:
    return Filters(**{k: v for k, v in kwargs.items() if k in Filters.__dataclass_fields__})


# What fits on a screen; csv, json and xlsx carry every column.
TABLE_COLUMNS = ["case_id", "kind", "caseworker", "clock", "started", "due", "stopped", "status",
                 "days_overdue", "exception", "statutory"]


def _emit(frame, fmt, output, title):
    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx needs --output FILE.xlsx")
    if fmt == "table" and set(TABLE_COLUMNS) <= set(frame.columns):
        frame = frame[TABLE_COLUMNS]
    emit(frame, fmt, output, title)
    if output:
        click.echo(f"{len(frame)} rows written to {output}", err=True)


@cli.command()
@click.pass_obj
def init(obj: Context):
    """Create or upgrade the database schema.

    Example: ehcp --db sqlite:///send.db init
    """
    db.init_db(obj.raw_engine)
    click.echo(f"database ready: {obj.raw_engine.url.render_as_string(hide_password=True)}", err=True)


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(list(KINDS)), help="Kind of extract (default: detected from the columns).")
@click.option("--profile", metavar="NAME", help="Column mapping profile: a name (ehcp_tracker/profiles, ./profiles, "
              "$EHCP_PROFILES) or a path to a .toml file.")
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows; write every bad row to a rejects file.")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write rejected rows (default: FILE.rejects.csv beside the extract).")
@click.option("--summary-json", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the import summary as JSON to this path.")
@click.pass_obj
def import_(obj: Context, files, kind, profile, skip_bad_rows, rejects, summary_json):
    """Import tonight's extract(s): validate, then update the database in one transaction per file.

    Every problem in a file is reported at once (file, row, column, reason) and, unless
    --skip-bad-rows is given, nothing from that file is stored. Re-importing the same file changes
    nothing; cases missing from the extract are kept and marked; every changed field is logged.

    Example: ehcp import assessments.csv reviews.xlsx --profile example-system
    """
    from .extract import load_profile
    from .importer import import_extract

    book = obj.book
    engine = obj.engine
    chosen = load_profile(profile) if profile else None
    summaries, failed = [], False
    for path in files:
        try:
            summary = import_extract(engine, path, book, obj.as_of, kind=kind, profile=chosen,
                                     skip_bad_rows=skip_bad_rows, rejects_path=rejects)
        except ImportRejected as exc:
            click.echo(f"error: {exc}", err=True)
            summaries.append({"file": exc.file, "status": "rejected", "problems": [p.__dict__ for p in exc.problems]})
            failed = True
            continue
        except EhcpError as exc:
            click.echo(f"error: {exc}", err=True)
            summaries.append({"file": str(path), "status": "failed", "message": str(exc)})
            failed = True
            continue
        for warning in summary.warnings:
            click.echo(f"warning: {warning}", err=True)
        for problem in summary.problems:
            click.echo(f"rejected: {problem}", err=True)
        click.echo(summary.describe(), err=True)
        summaries.append(summary.as_dict())
        failed |= summary.rejected > 0
    if summary_json:
        summary_json.write_text(json.dumps(summaries, indent=1, default=str), encoding="utf-8")
    if failed:
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--clock", metavar="ID", help="Only this clock (see `ehcp rules list`).")
@click.option("--status", type=click.Choice(["open", "due_soon", "overdue", "met", "late"]), help="Only this status.")
@filter_options
@listing_options
@click.pass_obj
def clocks(obj: Context, fmt, output, **filters):
    """Every clock of every case: the whole table, for analysts and exports.

    Example: ehcp clocks --clock final_plan --status late --format csv -o late.csv
    """
    from .listings import clock_results

    _emit(clock_results(obj.engine, obj.book, obj.as_of, _filters(**filters)), fmt, output, "clocks")


@cli.command()
@click.option("--week", "window", flag_value="week", default=True, help="This week, Monday to Sunday (default).")
@click.option("--days", type=click.IntRange(0, 3660), metavar="N", help="From today to N days ahead instead.")
@filter_options
@listing_options
@click.pass_obj
def due(obj: Context, window, days, fmt, output, **filters):
    """Clocks still running that are due in the window (default: this week, Monday to Sunday).

    Example: ehcp due --caseworker CW001 --days 14
    """
    from .listings import due as due_listing

    frame, (start, end) = due_listing(obj.engine, obj.book, obj.as_of, _filters(**filters), days=days)
    click.echo(f"due {start:%a %d %b %Y} to {end:%a %d %b %Y}: {len(frame)} clocks", err=True)
    _emit(frame, fmt, output, "due")


@cli.command()
@filter_options
@listing_options
@click.pass_obj
def breaches(obj: Context, fmt, output, **filters):
    """Clocks past their due date and still running (overdue), and clocks that stopped late.

    Example: ehcp breaches --team North --format xlsx -o breaches.xlsx
    """
    from .listings import breaches as breach_listing

    _emit(breach_listing(obj.engine, obj.book, obj.as_of, _filters(**filters)), fmt, output, "breaches")


@cli.command()
@click.option("--summary", is_flag=True, help="Count the backlog by the month the 20 weeks ran out "
              "(with --kind reviews: by clock and band).")
@filter_options
@listing_options
@click.pass_obj
def backlog(obj: Context, summary, fmt, output, **filters):
    """Open assessments past their 20 weeks, aged in weeks overdue, by the month the 20 weeks ran out.

    With --kind reviews: annual reviews not concluded past their due date, banded by months
    overdue (0-6, 6-12, 12-24, 24+ months), and phase-transfer reviews at risk (overdue, or due
    within 8 weeks), in the same columns plus `band`.

    Example: ehcp backlog --summary; ehcp backlog --kind reviews --summary
    """
    from .listings import backlog as backlog_listing, backlog_summary

    frame = backlog_listing(obj.engine, obj.book, obj.as_of, _filters(**filters))
    _emit(backlog_summary(frame) if summary else frame, fmt, output, "backlog")


@cli.command()
@click.argument("case_id")
@listing_options
@click.pass_obj
def explain(obj: Context, case_id, fmt, output):
    """The working for one case: every clock, its start, limit, rule version and reference,
    exceptions, due date and status.

    Example: ehcp explain R0000123
    """
    from .listings import explain as explain_case, working_rows

    working = explain_case(obj.engine, obj.book, obj.as_of, case_id)
    if fmt == "table" and not output:
        click.echo(render_working(working))
        return
    _emit(working_rows(working), fmt, output, "explain")


def render_working(working) -> str:
    lines = [f"{working.case} {working.case_id} (person {working.record.get('person_id')}), "
             f"caseworker {working.record.get('caseworker') or '-'}, team {working.record.get('team') or '-'}",
             f"as of {working.as_of:%a %d %b %Y}"]
    flags = [f for f, on in working.flags.items() if on]
    lines.append("priority cohorts: " + (", ".join(flags) if flags else "none"))
    lines += [f"note: {n}" for n in working.notes]
    for clock in working.clocks:
        lines.append("")
        lines.append(f"  {clock.steps[0]}")
        lines += [f"    {step}" for step in clock.steps[1:]]
        if clock.applies:
            lines.append(f"    => due {clock.due:%d %b %Y}, status {clock.status}"
                         + (f", exception {clock.exception}" if clock.exception else ""))
    return "\n".join(lines)


@cli.group()
def rules():
    """The rule book: statutory and local clocks with their legal references."""


@rules.command("list")
@listing_options
@click.pass_obj
def rules_list(obj: Context, fmt, output):
    """Every clock with its limit, kind and reference.

    Example: ehcp rules list --format csv
    """
    from .rulebook_view import rule_table

    _emit(rule_table(obj.book), fmt, output, "rules")


@rules.command("show")
@click.argument("clock_id")
@click.pass_obj
def rules_show(obj: Context, clock_id):
    """One clock in full: start, stop, conditions, versions, exceptions.

    Example: ehcp rules show final_plan
    """
    from .rulebook_view import describe_clock

    click.echo(describe_clock(obj.book, clock_id))


@rules.command("check")
@click.pass_obj
def rules_check(obj: Context):
    """Check every rule file; exit 1 and list every problem if any.

    Example: EHCP_RULES=./my-rules ehcp rules check
    """
    book = obj.book
    click.echo(f"rule book OK: {len({c.id for c in book.clocks})} clocks, {len(book.exceptions)} exception reasons, "
               f"{len(book.files)} files, fingerprint {book.fingerprint}", err=True)


def _parse_month(ctx, param, value):
    try:
        return f"{dt.datetime.strptime(value, '%Y-%m'):%Y-%m}"
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a month in the form YYYY-MM") from None


@cli.command()
@click.option("--month", required=True, metavar="YYYY-MM", callback=_parse_month, help="The month the pack reports on.")
@click.option("--output", "-o", required=True, metavar="PATH", help="FILE.html or FILE.xlsx.")
@click.option("--format", "fmt", type=click.Choice(["html", "xlsx"]),
              help="html or xlsx (default: from the --output suffix).")
@click.pass_obj
def report(obj: Context, month, output, fmt):
    """The board pack for a month: headline KPIs with direction of travel and RAG against target,
    twelve-month trends, the monthly tracker, ageing, the backlog (IDs only), data-quality notes and
    the rule book version. HTML (one self-contained file with charts; prints well) or XLSX.

    Example: ehcp --as-of 2026-11-02 report --month 2026-10 --output pack.html
    """
    from .report import write_pack

    fmt = fmt or Path(output).suffix.lower().lstrip(".")
    if fmt not in ("html", "xlsx"):
        raise click.UsageError("--output must end .html or .xlsx (or give --format html|xlsx)")
    path = write_pack(obj.engine, obj.book, month, obj.as_of, Path(output), fmt)
    click.echo(f"board pack for {month} written to {path}", err=True)


@cli.group(invoke_without_command=True)
@click.pass_context
def demo(ctx):
    """Everything on the synthetic sample data, in a throwaway database.

    Example: ehcp demo
    """
    if ctx.invoked_subcommand is None:
        from .demo import run_demo

        run_demo(ctx.obj)


def main():  # pragma: no cover - console script entry
    cli(prog_name="ehcp")
