"""The ``ehcp`` command line: a thin layer that parses options, calls the library, renders results.

Results go to stdout and nothing else does (messages and progress go to stderr), so
``ehcp due --format csv > due.csv`` works from cron. Exit codes: 0 success, 1 bad input or a failed
check, 2 usage error.

Start-up is cheap: this module imports click and the shared vocabulary only; pandas, numpy,
SQLAlchemy and the rule book are imported by the commands that use them (``ehcp --version`` or a
usage error answers in a tenth of a second, and ``tests/test_startup.py`` keeps it so).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__
from .errors import BadOptionDate, EhcpError, ImportRejected, environment_fault, grouped_problems
from .files import atomic_write, check_folder, check_writable
from .output import FORMATS, counted
from .schema import COHORTS, KINDS
from .sen2.commands import sen2 as _sen2

if TYPE_CHECKING:
    from .listings import Filters


class Context:
    """What every command shares: the database, the rule book and the as-of date (loaded lazily)."""

    def __init__(self, db_url: str | None, as_of: dt.date | None, rules_dir: str | None, quiet: bool = False):
        self._db_url, self._rules_dir = db_url, rules_dir
        self._as_of = check_option_date(as_of, "--as-of") if as_of else None  # today() is always in range
        self.quiet = quiet
        self.creating = False  # only `ehcp init` may create the SQLite file (db.connect)

    @functools.cached_property
    def db_url(self) -> str:
        from .store import db

        return db.resolve_url(self._db_url)

    @functools.cached_property
    def as_of(self) -> dt.date:
        if self._as_of:
            return self._as_of
        from .clocks.dates import today

        return today()

    @functools.cached_property
    def rules_dir(self) -> Path:
        if self._rules_dir:
            return Path(self._rules_dir)
        from .clocks.rules import default_rules_dir

        return default_rules_dir()

    def say(self, text: str) -> None:
        """A message for people on stderr; --quiet (for cron) keeps only errors."""
        if not self.quiet:
            click.echo(text, err=True)

    def close(self) -> None:
        if "raw_engine" in self.__dict__:
            self.raw_engine.dispose()

    @functools.cached_property
    def book(self):
        from .clocks.rules import load_rule_book

        return load_rule_book(self.rules_dir)

    @functools.cached_property
    def raw_engine(self):
        from .store import db

        return db.connect(self.db_url, create=self.creating)

    @functools.cached_property
    def engine(self):
        from .store import db

        db.require_schema(self.raw_engine)
        return self.raw_engine


class EhcpGroup(click.Group):
    """The one place errors become exit codes: user errors and faults of the machine (disk full,
    read-only, locked, server gone, unwritable path, not a database) are one line on stderr and
    exit 1 (2 for usage); anything else is a bug and keeps its traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:  # noqa: BLE001 - classified here, re-raised when it is a bug
            error = environment_fault(exc)
            if error is None:
                raise
            click.echo(f"error: {error}", err=True)
            ctx.exit(error.exit_code)


# `ehcp import`'s exit code when every file was imported but some rows were rejected (--skip-bad-rows):
# not 1, so that a nightly `import; rc=$?; [ $rc -eq 0 ] || [ $rc -eq 3 ] && alerts` still sends the alerts
# (docs/nightly-run.md's script, which tests/test_docs.py runs with each exit code).
IMPORTED_WITH_REJECTS = 3

# Dates the tool can count with: a clock due 104 weeks after 2199 is still a date pandas can hold.
OPTION_DATES = (dt.date(1990, 1, 1), dt.date(2199, 12, 31))


def check_option_date(value: dt.date, option: str) -> dt.date:
    low, high = OPTION_DATES
    if not low <= value <= high:
        raise BadOptionDate(f"{option} {value.isoformat()}: give a date from {low.isoformat()} to {high.isoformat()}")
    return value


def _parse_as_of(ctx, param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD") from None


def _output_file(ctx, param, value):
    """An output path checked before anything is read or written (a folder, a missing folder)."""
    return None if value is None else check_writable(value, f"--{param.name.replace('_', '-')}")


@click.group(cls=EhcpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_url", envvar="EHCP_DB", metavar="URL",
              help="Database URL (env EHCP_DB). Default: sqlite:///ehcp.db in the working directory. "
                   "PostgreSQL: postgresql+psycopg://user:pass@host/dbname")
@click.option("--as-of", callback=_parse_as_of, metavar="YYYY-MM-DD",
              help="The 'today' of the command (default: today in Europe/London). Events dated after it "
                   "are treated as not yet happened.")
@click.option("--rules", "rules_dir", envvar="EHCP_RULES", metavar="DIR",
              help="Rule book folder (env EHCP_RULES; default: the shipped rules/).")
@click.option("--quiet", "-q", is_flag=True, envvar="EHCP_QUIET",
              help="For cron: no progress, warnings or summaries on stderr, only errors (env EHCP_QUIET).")
@click.version_option(__version__, prog_name="ehcp")
@click.pass_context
def cli(ctx, db_url, as_of, rules_dir, quiet):
    """Track EHC needs assessments and EHC plan reviews against the statutory clocks
    of the SEND Regulations 2014: what is due, what is late, and why.

    \b
    Typical night:   ehcp import extract.csv
    Typical morning: ehcp due --caseworker CW001
    """
    ctx.obj = Context(db_url, as_of, rules_dir, quiet)
    ctx.call_on_close(ctx.obj.close)


def _remember_wide(ctx, param, value):
    ctx.meta["ehcp.wide"] = value
    return value


def listing_options(func):
    """--format and --output for every listing command (sqlite-utils' output_options pattern)."""
    func = click.option("--wide", is_flag=True, expose_value=False, callback=_remember_wide,
                        help="table: the fuller set of columns (the table otherwise fits the terminal).")(func)
    func = click.option("--output", "-o", metavar="PATH", callback=_output_file,
                        help="Write to PATH instead of stdout.")(func)
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
                        help="Also list cases missing from the latest extract (kept, not deleted), with a "
                             "missing_since column (the as-of date of the import that first missed them).")(func)
    return func


def _filters(**kwargs) -> Filters:
    from .listings import Filters

    return Filters(**{k: v for k, v in kwargs.items() if k in Filters.__dataclass_fields__})


def _emit(frame, fmt, output, title, **xlsx):
    from .output import emit

    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx needs --output FILE.xlsx")
    ctx = click.get_current_context()
    if fmt == "table":
        from .listings import table_view

        frame = table_view(frame, ctx.obj.book, ctx.obj.as_of, wide=ctx.meta.get("ehcp.wide", False))
    emit(frame, fmt, output, title, **xlsx)
    if output:
        ctx.obj.say(f"{counted(len(frame), 'row')} written to {output}")


@cli.command()
@click.pass_obj
def init(obj: Context):
    """Create or upgrade the database schema.

    Example: ehcp --db sqlite:///send.db init
    """
    from .store import db

    obj.creating = True  # the one command that may create an SQLite file
    before, after = db.init_db(obj.raw_engine)
    change = ("created" if before is None else "up to date" if before == after
              else f"upgraded from {before}")
    obj.say(f"database ready ({change}, schema {after}): "
            f"{obj.raw_engine.url.render_as_string(hide_password=True)}")
    from .errors import RuleBookError
    from .ingest.refresh import refresh_if_stale

    try:
        book = obj.book
    except RuleBookError:  # the schema is ready; `ehcp evaluate` stores the clocks once the rules are fixed
        obj.say("note: the rule book has problems (`ehcp rules check`): clocks not worked out")
        return
    done = refresh_if_stale(obj.raw_engine, book)
    if done:
        obj.say(f"clocks stored: {done}")


def _prompt_la_code(value: str) -> str:
    from .clocks.council import check_la_code

    code = check_la_code(value)
    if code is None:
        raise click.BadParameter("an LA code is old (3 digits, e.g. 340) or new (E and 8 digits, e.g. E08000011)")
    return code


def _prompt_file_or(*words: str):
    """A prompt's answer: blank, one of ``words``, or a file that exists (asked again otherwise)."""
    def check(value: str) -> str:
        value = value.strip()
        if value and value not in words and not Path(value).is_file():
            raise click.BadParameter(f"no file {value}" + (f" (or give {' or '.join(words)})" if words else ""))
        return value

    return check


@cli.command()
@click.option("--council-name", metavar="NAME", help="The council's name, as its staff and board know it.")
@click.option("--la-code", metavar="CODE", help="The council's LA code, old (340) or new (E08000011): the default "
              "of `ehcp report --council` for benchmarks.")
@click.option("--local-targets/--no-local-targets", default=None,
              help="Keep local targets (the example's copied as this council's, to edit), or none "
                   "(default with --yes: none).")
@click.option("--kpi-targets", metavar="example|none|FILE",
              help="The council's KPI targets: 'example' adopts the example trajectory as its own, 'none' sets no "
                   "targets, or a targets file (the format of rules/kpi/targets.toml). Not given: the board pack "
                   "shows the example trajectory labelled \"example target, not this council's\".")
@click.option("--term-dates", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The council's school closure periods: CSV (name,closed_from,reopens) or TOML, as "
                   "rules/local/term-dates.example.toml.")
@click.option("--sample-extract", multiple=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="A sample extract (CSV or XLSX) to draft a profile from its header (repeatable).")
@click.option("--profiles-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("profiles"),
              show_default=True, metavar="DIR", help="Where draft profiles go (./profiles is searched by `ehcp import`).")
@click.option("--rules-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="The rule book to set up (default: the one the commands use, --rules / EHCP_RULES / the "
                   "shipped rules/). A new or empty folder gets a copy of the shipped rule book first.")
@click.option("--force", is_flag=True, help="Replace the council's own files if they exist (never without it).")
@click.option("--yes", "-y", "--non-interactive", "yes", is_flag=True,
              help="Ask nothing: take every choice from the options (for scripts).")
@click.pass_obj
def setup(obj: Context, council_name, la_code, local_targets, kpi_targets, term_dates, sample_extract, profiles_dir,
          rules_dir, force, yes):
    """First-run setup: write the council's own rules/local/ files (council.toml, local targets, KPI
    targets, term dates) and draft profiles from sample extracts. Until it has run, the example
    council's local targets never reach a digest and the board pack labels the example KPI targets.
    Asks for whatever the options do not give (nothing with --yes); shows what it will write, and
    never replaces an existing council file without --force.

    \b
    Example: ehcp setup
             ehcp setup --yes --council-name "Example Borough Council" --la-code 340 --no-local-targets \\
                 --kpi-targets example --term-dates term-dates.csv --sample-extract tonight.csv
    """
    from .ingest.draft_profile import side_by_side
    from .setup.first_run import Choices, plan_setup, write_setup

    ask = not yes
    if not ask and (not council_name or not la_code):
        raise click.UsageError("--yes needs --council-name and --la-code")
    if ask:
        council_name = council_name or click.prompt("Council name", err=True)
        la_code = la_code or click.prompt("LA code (old 340 or new E08000011)", value_proc=_prompt_la_code, err=True)
        if local_targets is None:
            local_targets = click.confirm("Keep local targets (the example's copied as yours, to edit)?",
                                          default=False, err=True)
        if kpi_targets is None:
            kpi_targets = click.prompt("KPI targets: 'example' (adopt the example trajectory), 'none', a targets "
                                       "file, or blank to decide later", default="", show_default=False,
                                       value_proc=_prompt_file_or("example", "none"), err=True) or None
        if term_dates is None:
            given = click.prompt("Term dates file (CSV or TOML), or blank to skip", default="", show_default=False,
                                 value_proc=_prompt_file_or(), err=True)
            term_dates = Path(given) if given else None
        if not sample_extract:
            given = click.prompt("A sample extract to draft a profile from, or blank to skip", default="",
                                 show_default=False, value_proc=_prompt_file_or(), err=True)
            sample_extract = (Path(given),) if given else ()
    from .clocks.rules import PACKAGE_DIR

    target = Path(rules_dir or obj.rules_dir)
    if not rules_dir and (PACKAGE_DIR / "_data") in target.resolve().parents:
        target = Path("rules")  # the rule book inside an installed package is replaced at every upgrade
        click.echo("note: the rule book in use is the installed package's; setting up ./rules instead", err=True)
    choices = Choices(council_name=council_name, la_code=la_code, rules_dir=target,
                      local_targets=bool(local_targets), kpi_targets=kpi_targets, term_dates=term_dates,
                      sample_extracts=tuple(sample_extract), profiles_dir=profiles_dir, force=force,
                      today=obj.as_of)
    plan = plan_setup(choices)
    for d, path, _ in plan.drafts:
        click.echo(f"{d.file} ({d.kind or 'kind not known: left for you'}): draft profile {path}", err=True)
        for line in side_by_side(d):
            click.echo(f"  {line}", err=True)
        if d.missing_required:
            click.echo(f"  required, no header gives it yet: {', '.join(d.missing_required)} (left for you)", err=True)
    if plan.copy_book_from is not None:
        click.echo(f"{choices.rules_dir}: no rule book yet; the shipped one ({plan.copy_book_from}) is copied in first",
                   err=True)
    if plan.existing and not force:
        write_setup(plan)  # refuses, naming the files
    click.echo("setup will write:", err=True)
    for f in plan.files:
        click.echo(f"  {f.path}{' (replaced)' if f.path.exists() else ''}: {f.what}", err=True)
    for p in plan.remove:
        click.echo(f"  {p}: removed (the term dates are given in one file only)", err=True)
    if ask and not click.confirm("Write these files?", default=True, err=True):
        click.echo("nothing written", err=True)
        raise click.exceptions.Exit(1)
    written = write_setup(plan)
    click.echo(f"{choices.council_name} (LA {choices.la_code}) is set up: {counted(len(written), 'file')} written. "
               "The example's local targets are no longer read.", err=True)
    click.echo("next:", err=True)
    for number, step in enumerate(plan.next_steps(), start=1):
        click.echo(f"  {number}. {step}", err=True)


@cli.command("evaluate")
@click.option("--wait", type=click.FloatRange(0, 7 * 24 * 3600), metavar="SECONDS",
              help="Give up after waiting SECONDS for an import to finish (default: wait as long as it takes).")
@click.pass_obj
def evaluate_(obj: Context, wait):
    """Work out every clock of every case again and store it, under the write lock.

    Imports keep the stored clocks up to date for the cases they change; a command run with
    another rule book (--rules, or edited rule files) evaluates in memory and says so, until this
    stores the clocks under that rule book.

    Example: ehcp --rules ./our-rules evaluate
    """
    import time

    from .ingest.refresh import refresh_everything

    started = time.perf_counter()
    count = refresh_everything(obj.engine, obj.book, wait=wait, on_wait=_waiting(obj, Path("evaluate")))
    obj.say(f"{count:,} clocks worked out and stored in {time.perf_counter() - started:.1f} s "
            f"(rule book {obj.book.fingerprint})")


def _say_if_in_memory(obj: Context) -> None:
    """One line on stderr when a listing cannot read the stored clocks (another rule book, never
    stored): it is then worked out in memory, as exact but slower. A past --as-of is not news."""
    from .listings import stored_reason

    why = stored_reason(obj.engine, obj.book, obj.as_of)
    if why and not why.startswith("--as-of"):
        obj.say(f"note: evaluating in memory: {why}")


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(list(KINDS)), help="Kind of extract (default: detected from the columns).")
@click.option("--profile", metavar="NAME", help="Column mapping profile: a name (ehcp_tracker/ingest/profiles, ./profiles, "
              "$EHCP_PROFILES) or a path to a .toml file.")
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows; write every bad row to a rejects file.")
@click.option("--rejects", type=click.Path(path_type=Path), callback=_output_file,
              help="Where to write rejected rows (default: FILE.rejects.csv beside the extract).")
@click.option("--summary-json", type=click.Path(path_type=Path), callback=_output_file,
              help="Also write the import summary as JSON to this path.")
@click.option("--max-missing", type=click.FloatRange(0, 100), default=10, show_default=True, metavar="PERCENT",
              help="Refuse a file that would mark more than PERCENT of the cases present in the last extract "
                   "as missing (a truncated or filtered extract).")
@click.option("--keep-absent", multiple=True, metavar="COLUMN",
              help="Accept a file without COLUMN although stored cases hold it: the stored values are kept "
                   "(repeatable, or comma-separated; 'all' for every absent column).")
@click.option("--wait", type=click.FloatRange(0, 7 * 24 * 3600), metavar="SECONDS",
              help="Give up after waiting SECONDS for another import to finish "
                   "(default: wait as long as it takes).")
@click.option("--la", metavar="CODE",
              help="The council's 3-digit LA code, for an SEN2 pre-submission workbook (it has no header): the "
                   "keys of children with neither UPN nor ULN include it, as they do from the XML.")
@click.pass_obj
def import_(obj: Context, files, kind, profile, skip_bad_rows, rejects, summary_json, max_missing, keep_absent,
            wait, la):
    """Import tonight's extract(s): validate, then update the database in one transaction per file.

    Every problem in a file is reported at once (file, row, column, reason; many of one kind in a
    column as one group with its count and first rows) and, unless --skip-bad-rows is given, nothing
    from that file is stored. Re-importing the same file changes nothing; cases missing from the
    extract are kept and marked; every changed field is logged. Title lines above the header and
    totals or notes below the data are skipped, and said once.

    Exit codes: 0 every file imported; 3 imported, with bad rows rejected (--skip-bad-rows: see the
    rejects file); 1 a file was refused (nothing from it stored); 2 the command was called wrongly.
    A nightly job runs the alerts after 0 or 3.

    Example: ehcp import assessments.csv reviews.xlsx --profile example-system
    """
    from .ingest.extract import load_profile
    from .ingest.importer import import_file, new_batch, rejects_path_for
    from .progress import import_progress

    if skip_bad_rows and not rejects:
        for path in files:  # every path is checked before the database is touched
            check_writable(rejects_path_for(path, None, False), "--skip-bad-rows (rejects file)")
    book = obj.book
    chosen = load_profile(profile) if profile else None
    engine = obj.engine
    keep = [c.strip() for given in keep_absent for c in given.split(",") if c.strip()]
    columns = {c for k in KINDS.values() for c in k.names}
    if set(keep) - columns - {"all"}:
        raise click.UsageError(f"--keep-absent: no column {', '.join(map(repr, sorted(set(keep) - columns - {'all'})))} "
                               "in the canonical extract (see docs/reference/columns.md; or 'all')")
    from .sen2.importing import one_per_return

    if la is not None and not (la.isdigit() and len(la) == 3):
        raise click.BadParameter("a 3-digit LA code (the return's LEA), e.g. 340", param_hint="--la")

    batch = new_batch()
    summaries, failed, partial = [], False, False
    for path in one_per_return(list(files)):  # a Blade export's module files are one return
        try:
            with import_progress(path, quiet=obj.quiet) as progress:
                results = import_file(engine, path, book, obj.as_of, kind=kind, profile=chosen,
                                      skip_bad_rows=skip_bad_rows, progress=progress,
                                      rejects_path=rejects_path_for(path, rejects, len(files) > 1) if rejects else None,
                                      max_missing=max_missing, keep_absent=keep, batch=batch,
                                      wait=wait, on_wait=_waiting(obj, path), la=la)
        except ImportRejected as exc:
            click.echo(f"error: {exc}", err=True)
            summaries.append({"file": exc.file, "status": "rejected", "problems": [p.__dict__ for p in exc.problems]})
            failed = True
            continue
        except Exception as exc:  # noqa: BLE001 - a user error or a fault of the machine; a bug is re-raised
            error = environment_fault(exc)
            if error is None:
                raise
            click.echo(f"error: {error}", err=True)
            summaries.append({"file": str(path), "status": "failed", "message": str(error)})
            failed = True
            continue
        for summary in results:  # one per kind: an SEN2 return holds requests and plans
            partial |= _say_imported(obj, summary, summaries)
    if summary_json:
        try:
            atomic_write(summary_json, json.dumps(summaries, indent=1, default=str))
        except EhcpError as exc:
            # the imports are committed: the exit code says how they went, not how the summary did
            click.echo(f"warning: the summary could not be written ({exc}); the imports above stand", err=True)
    if failed or partial:  # 1 refused (nothing stored from that file); 3 imported, with rows rejected
        raise click.exceptions.Exit(1 if failed else IMPORTED_WITH_REJECTS)


def _say_imported(obj: Context, summary, summaries: list) -> bool:
    """One file's (or one kind's of a return) summary on stderr; True when rows were rejected."""
    for note in summary.notes:
        obj.say(f"note: {note}")
    for warning in summary.warnings:
        obj.say(f"warning: {warning}")
    for warning in summary.mass_changes:  # even under --quiet: a cron job must mail this
        click.echo(f"warning: {warning}", err=True)
    for line in grouped_problems(summary.problems):
        click.echo(f"rejected: {line}", err=True)
    obj.say(summary.describe())
    for line in describe_moves(summary.deadline_changes, summary.run_id):
        obj.say(line)
    for line in describe_statuses(summary.status_changes, summary.run_id):
        obj.say(line)
    obj.say(f"{summary.file}: {describe_new_queries(summary.new_queries, summary.new_queries_by_code)}")
    summaries.append(summary.as_dict())
    return summary.rejected > 0


def _waiting(obj: Context, path: Path):
    """on_wait for an import behind another: one line, then a count on a terminal every 10 s."""
    import sys

    said = {"at": None}

    def on_wait(seconds: float) -> None:
        if obj.quiet:
            return
        if said["at"] is None or (sys.stderr.isatty() and seconds - said["at"] >= 10):
            click.echo(f"{path.name}: waiting for another import to finish ({seconds:.0f} s)", err=True)
            said["at"] = seconds

    return on_wait


def describe_moves(changes: list[dict], run_id, limit: int = 20) -> list[str]:
    lines = [f"  moved: {c['case_id']} {c['clock']} {c['old_due'] or '(none)'} -> {c['new_due'] or '(none)'} "
             f"({c['why']})" for c in changes[:limit]]
    if len(changes) > limit:
        lines.append(f"  ... and {len(changes) - limit} more: ehcp changes --run {run_id}")
    return lines


def describe_new_queries(count: int, by_code: dict[str, int]) -> str:
    """'3 new queries (ehcp queries to list them): 2 maintain_on_transfer, 1 ...'; '0 new queries'."""
    text = f"{count} new quer{'y' if count == 1 else 'ies'}"
    if count:
        text += " (ehcp queries to list them): " + ", ".join(f"{n} {code}" for code, n in by_code.items())
    return text


def describe_statuses(changes: list[dict], run_id, limit: int = 20) -> list[str]:
    """The clocks whose status the import changed with their due date unchanged (met -> overdue)."""
    lines = [f"  status: {c['case_id']} {c['clock']} {c['old_status']} -> {c['new_status']} ({c['why']})"
             for c in changes[:limit]]
    if len(changes) > limit:
        lines.append(f"  ... and {len(changes) - limit} more: ehcp changes --run {run_id}")
    return lines


@cli.command()
@click.option("--run", "run_id", type=int, metavar="N", help="This import run (default: every file of the latest import command).")
@click.option("--all", "all_runs", is_flag=True, help="Every import run, oldest first.")
@click.option("--fields", is_flag=True, help="The fields changed instead: case, field, old value, new value.")
@listing_options
@click.pass_obj
def changes(obj: Context, run_id, all_runs, fields, fmt, output):
    """What an import changed: the deadlines it moved (case, clock, old due, new due, and why) and the
    clocks whose status it changed (change = moved | status); with --fields, every changed field.
    The default is the latest import command, every file in it.

    Example: ehcp changes --run 12 --format csv -o moved.csv; ehcp changes --fields
    """
    from .store.changes import deadline_changes, field_changes

    runs_text = lambda runs: (f"import run{'s' if len(runs) != 1 else ''} "  # noqa: E731
                              f"{', '.join(map(str, runs)) or '(none yet)'}")
    if fields:
        frame, runs = field_changes(obj.engine, run_id=run_id, all_runs=all_runs)
        obj.say(f"{runs_text(runs)}: {counted(len(frame), 'field change')}")
        _emit(frame, fmt, output, "fields")
        return
    frame, runs = deadline_changes(obj.engine, run_id=run_id, all_runs=all_runs)
    moved = int((frame["change"] == "moved").sum())
    obj.say(f"{runs_text(runs)}: {counted(moved, 'deadline')} moved, {counted(len(frame) - moved, 'clock')} changed status")
    _emit(frame, fmt, output, "changes")


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

    _say_if_in_memory(obj)
    _emit(clock_results(obj.engine, obj.book, obj.as_of, _filters(**filters)), fmt, output, "clocks")


_EXPORT_SUFFIXES = {".parquet": "parquet", ".csv": "csv"}


@cli.command("export")
@click.option("--what", type=click.Choice(["clocks", "cases"]), default="clocks", show_default=True,
              help="clocks: one row per clock (the analyst_clocks view); cases: one row per case (analyst_cases).")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]),
              help="parquet (typed, for Power BI and Excel Power Query; needs the parquet extra) or csv "
                   "(formula-safe). Default: from the file name's ending.")
@click.option("--output", "-o", required=True, metavar="FILE", callback=_output_file,
              help="The file to write (replaced whole, or not at all).")
@click.pass_obj
def export_(obj: Context, what, fmt, output):
    """The analysts' views written to a file: every stored clock or case, in readable columns and real
    dates, judged on --as-of (the column dictionary: docs/reference/analyst-views.md).

    \b
    Example: ehcp export --what clocks -o clocks.parquet
             ehcp export --what cases --format csv -o cases.csv
    """
    from .report.analysts import export

    if fmt is None:
        fmt = _EXPORT_SUFFIXES.get(Path(output).suffix.lower())
        if fmt is None:
            raise click.UsageError("--format: give parquet or csv (or a file name ending .parquet or .csv)")
    rows = export(obj.engine, obj.book, obj.as_of, what, fmt, Path(output))
    obj.say(f"{counted(rows, 'row')} ({what}, judged on {obj.as_of:%a %d %b %Y}) written to {output}")


@cli.command()
@click.option("--week", "window", flag_value="week", default=True, help="This week, Monday to Sunday (default).")
@click.option("--days", type=click.IntRange(0, 3660), metavar="N", help="From today to N days ahead instead.")
@filter_options
@listing_options
@click.pass_obj
def due(obj: Context, window, days, fmt, output, **filters):
    """A caseworker's list: clocks still running that are overdue, then those due in the window
    (default: this week, Monday to Sunday), each by due date, with the days overdue or left.

    Example: ehcp due --caseworker CW001 --days 14
    """
    from .listings import due as due_listing

    _say_if_in_memory(obj)
    frame, (start, end) = due_listing(obj.engine, obj.book, obj.as_of, _filters(**filters), days=days)
    overdue = int((frame["status"] == "overdue").sum())
    obj.say(f"due {start:%a %d %b %Y} to {end:%a %d %b %Y}: {counted(len(frame) - overdue, 'clock')}; "
            f"{overdue} already overdue (listed first)")
    _emit(frame, fmt, output, "due")


@cli.command()
@click.option("--open", "open_only", is_flag=True, help="Only clocks still running past their due date.")
@click.option("--include-exempt", is_flag=True,
              help="Also list clocks whose exemption applies (left out by default: the law lifts their time "
                   "limit, so they are no breach), marked 'exempt: as soon as practicable' in an exempt column.")
@filter_options
@listing_options
@click.pass_obj
def breaches(obj: Context, open_only, include_exempt, fmt, output, **filters):
    """Clocks past their due date and still running (overdue), and clocks that stopped late.
    Clocks whose exemption applies (school closure, exceptional personal circumstances, ...) are
    not breaches and are left out unless --include-exempt.

    \b
    Example: ehcp breaches --open --team North --format xlsx -o breaches.xlsx
             ehcp breaches --include-exempt --format csv -o breaches.csv
    """
    from .listings import breaches as breach_listing

    _say_if_in_memory(obj)
    frame = breach_listing(obj.engine, obj.book, obj.as_of, _filters(**filters), open_only=open_only,
                           include_exempt=include_exempt)
    exempt = frame.attrs.get("exempt", 0)
    real = frame[frame["exempt"].isna()] if include_exempt else frame
    overdue = int((real["status"] == "overdue").sum())
    said = (f"breaches as of {obj.as_of:%a %d %b %Y}: {len(real)} in total, {overdue} still overdue"
            + ("" if open_only else f", {len(real) - overdue} stopped late"))
    if exempt:
        said += (f"; {exempt} exempt clocks listed too, not breaches (exempt column)" if include_exempt
                 else f"; {exempt} exempt clocks left out (--include-exempt lists them)")
    obj.say(said)
    _emit(frame, fmt, output, "breaches")


@cli.command()
@click.option("--code", metavar="CODE", help="Only this finding, e.g. maintain_on_transfer (the README's Queries "
              "section lists the codes; an unknown one is answered with the known ones).")
@filter_options
@listing_options
@click.pass_obj
def queries(obj: Context, code, fmt, output, **filters):
    """Queries: what the law or the data makes doubtful but that is not a clock (a maintain decision
    on a phase-transfer review, a stored exemption that is not applied, ...), like the data-quality
    queries of the DfE's validators. One row per finding: code, case, clock, message, what to do.
    A query is not a breach: nothing is late; a caseworker should look and act.

    \b
    Example: ehcp queries --caseworker CW001
             ehcp queries --code maintain_on_transfer --format csv -o transfers.csv
    """
    from .listings import queries as query_listing, query_table_view

    frame = query_listing(obj.engine, obj.book, obj.as_of, _filters(**filters), code=code)
    if not len(frame):
        obj.say(f"no queries as of {obj.as_of:%a %d %b %Y}" + (f" with code {code.strip()}" if code else ""))
        if fmt == "table" and not output:
            return
    else:
        obj.say(f"queries as of {obj.as_of:%a %d %b %Y}: {len(frame)} "
                f"({', '.join(f'{n} {c}' for c, n in frame['code'].value_counts().sort_index().items())})")
    if fmt == "table":
        frame = query_table_view(frame, wide=click.get_current_context().meta.get("ehcp.wide", False))
    _emit(frame, fmt, output, "queries")


@cli.command()
@click.option("--people", "people_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Who gets alerts: CSV or XLSX with columns id,name,email,team,role (caseworker | team_lead).")
@click.option("--smtp", "server", metavar="HOST:PORT", help="Send through this SMTP server (needs --from).")
@click.option("--from", "sender", metavar="ADDRESS", help="The From address of the digests.")
@click.option("--outbox", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write one .eml file per digest to DIR instead of sending.")
@click.option("--dry-run", is_flag=True, help="Print the digests; send and record nothing.")
@click.option("--escalate-after", type=click.IntRange(0, 3660), default=14, show_default=True, metavar="DAYS",
              help="A clock still overdue this many days after its due date also goes to the team leads.")
@click.option("--starttls", is_flag=True, help="Upgrade the SMTP connection with STARTTLS.")
@click.option("--smtp-user", metavar="USER", help="Log in to the SMTP server as USER (password from EHCP_SMTP_PASSWORD).")
@click.option("--base-url", envvar="EHCP_BASE_URL", metavar="URL",
              help="The work tray's address (ehcp serve; env EHCP_BASE_URL): digests link to each case and list.")
@click.option("--force-takeover", is_flag=True, help="Take over an alerts run still marked running even though its "
              "lease has not run out (only when you know its process is dead: a live one could then send twice).")
@click.pass_obj
def alerts(obj: Context, people_file, server, sender, outbox, dry_run, escalate_after, starttls, smtp_user,
           force_takeover, base_url):
    """Breach alerts after the nightly import: one digest per person (plain text and HTML) of the
    clocks that became overdue or due soon, stopped late or moved since the last run; each alert
    once (a ledger in the database). Escalations and cases whose caseworker is not in the people
    file go to the team leads. A refused or unreachable server: exit 1, retried next run.

    \b
    Example: ehcp alerts --people people.csv --smtp mail.council.gov.uk:25 --from send-alerts@council.gov.uk
             ehcp alerts --people people.xlsx --outbox /srv/send/outbox --dry-run
    """
    from .alerts.delivery import OutboxDelivery, SmtpDelivery
    from .alerts.people import parse_sender, read_people
    from .alerts.run import send_alerts

    if bool(server) == bool(outbox):
        raise click.UsageError("give --smtp HOST:PORT --from ADDRESS, or --outbox DIR (one of them)")
    if server and not sender:
        raise click.UsageError("--smtp needs --from ADDRESS")
    if outbox and (starttls or smtp_user):
        raise click.UsageError("--starttls and --smtp-user go with --smtp, not --outbox")
    if base_url and not base_url.startswith(("https://", "http://")):
        raise click.BadParameter("give the address people open, e.g. https://send-tray.council.gov.uk/",
                                 param_hint="--base-url")
    sender = parse_sender(sender or "ehcp-tracker@localhost")
    people = read_people(people_file)
    for problem in people.problems:
        click.echo(f"error: skipped: {problem}", err=True)
    engine = obj.engine  # a missing or refused database stops the run before the outbox is made
    delivery = (SmtpDelivery(server, starttls=starttls, user=smtp_user) if server
                else OutboxDelivery(outbox, obj.as_of))
    outcome = send_alerts(engine, obj.book, obj.as_of, people, delivery, sender=sender, dry_run=dry_run,
                          escalate_after=escalate_after, force_takeover=force_takeover, base_url=base_url)
    for run_id, host, pid, why in outcome.taken_over:
        obj.say(f"warning: took over alert run {run_id} (host {host}, process {pid}): {why}")
    for recipient, how in outcome.resumed:
        obj.say(f"warning: a digest to {recipient} that an earlier run left in doubt was {how}")
    for recipient, reason in outcome.resume_failed:
        click.echo(f"error: a digest to {recipient} left in doubt by an earlier run is still not delivered: {reason}", err=True)
    if outcome.unknown_caseworker_cases:
        obj.say(f"warning: {counted(outcome.unknown_caseworker_cases, 'case')} "
                f"{'has' if outcome.unknown_caseworker_cases == 1 else 'have'} a caseworker who is not in "
                f"{people_file.name}: their alerts go to the team leads")
    if outcome.nobody:
        teams = sorted({a.team or "(no team)" for a in outcome.nobody})
        obj.say(f"warning: {counted(len(outcome.nobody), 'alert')} {'has' if len(outcome.nobody) == 1 else 'have'} nobody to go to (no team lead in "
                f"{people_file.name} for {', '.join(teams)})")
    total = sum(len(d.alerts) for d in outcome.digests)
    if dry_run:
        for digest in outcome.digests:
            click.echo(f"To: {digest.recipient.id} <{digest.recipient.email}>\nSubject: {digest.subject}\n")
            click.echo(digest.text())
        obj.say(f"alerts as of {obj.as_of:%a %d %b %Y} (dry run, nothing sent or recorded): "
                f"{counted(len(outcome.digests), 'digest')}, {counted(total, 'alert')}")
        _skipped_rows(people, people_file)
        return
    for person, reason in outcome.failed:
        click.echo(f"error: not delivered to {person.id} <{person.email}>: {reason}", err=True)
    sent = sum(len(d.alerts) for d in outcome.delivered)
    where = f"written to {outbox}" if outbox else f"sent through {server}"
    obj.say(f"alerts as of {obj.as_of:%a %d %b %Y}{' (first run)' if outcome.first_run else ''}: "
            f"{len(outcome.delivered)} of {counted(len(outcome.digests), 'digest')} {where} ({sent} of {counted(total, 'alert')}); "
            f"alert run {outcome.run_id}")
    _skipped_rows(people, people_file)
    if outcome.failed or outcome.resume_failed:
        raise click.exceptions.Exit(1)


def _skipped_rows(people, people_file: Path) -> None:
    """Bad rows of the people file: everyone else was alerted, but the run still fails (exit 1) so
    the rows get fixed."""
    rows = len({p.row for p in people.problems})
    if rows:
        click.echo(f"error: {rows} {'row' if rows == 1 else 'rows'} of {people_file.name} skipped (listed above); "
                   "their cases' alerts went to the team leads; everyone else was alerted", err=True)
        raise click.exceptions.Exit(1)


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

    _say_if_in_memory(obj)
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
    from .listings import explain as explain_case, render_working, working_rows

    working = explain_case(obj.engine, obj.book, obj.as_of, case_id)
    if fmt == "table" and not output:
        click.echo(render_working(working))
        return
    _emit(working_rows(working), fmt, output, "explain")


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
    from .clocks.rulebook_view import rule_table

    _emit(rule_table(obj.book), fmt, output, "rules")


@rules.command("show")
@click.argument("clock_id")
@click.pass_obj
def rules_show(obj: Context, clock_id):
    """One clock in full: start, stop, conditions, versions, exceptions.

    Example: ehcp rules show final_plan
    """
    from .clocks.rulebook_view import describe_clock

    click.echo(describe_clock(obj.book, clock_id))


@rules.command("check")
@click.pass_obj
def rules_check(obj: Context):
    """Check every rule file; exit 1 and list every problem if any.

    Example: EHCP_RULES=./my-rules ehcp rules check
    """
    from .measures.catalogue import catalogue_dir, load_catalogue

    book = obj.book
    click.echo(f"rule book OK: {len({c.id for c in book.clocks})} clocks, {len(book.exceptions)} exception reasons, "
               f"{len(book.files)} files, fingerprint {book.fingerprint}", err=True)
    catalogue = load_catalogue(catalogue_dir(obj.rules_dir), book)
    click.echo(f"KPI catalogue OK: {len(catalogue.kpis)} KPIs, targets for {len(catalogue.targets)}, "
               f"{len(catalogue.files)} files", err=True)
    if book.council is not None:
        click.echo(f"council: {book.council.name} (LA {book.council.la_code}), set up; KPI targets: "
                   f"{'the example trajectory (labelled so in the pack)' if catalogue.targets_example else 'its own'}",
                   err=True)
    else:
        click.echo(f"council: not set up (`ehcp setup`): the example's local targets "
                   f"({counted(len(book.example_clocks), 'clock')}) are never alerted, and the pack labels the "
                   "example KPI targets", err=True)


def _parse_month(ctx, param, value):
    try:
        return f"{dt.datetime.strptime(value, '%Y-%m'):%Y-%m}"
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a month in the form YYYY-MM") from None


def _la_codes(ctx, param, value):
    if not value:
        return ()
    codes = tuple(c.strip() for c in value.split(",") if c.strip())
    bad = [c for c in codes if not (c.isdigit() or (c[:1].upper() == "E" and c[1:].isdigit()))]
    if bad:
        raise click.BadParameter(f"{', '.join(bad)}: an LA code is old (340) or new (E08000011)")
    return codes


@cli.command()
@click.option("--month", required=True, metavar="YYYY-MM", callback=_parse_month, help="The month the pack reports on.")
@click.option("--output", "-o", required=True, metavar="PATH", callback=_output_file, help="FILE.html or FILE.xlsx.")
@click.option("--format", "fmt", type=click.Choice(["html", "xlsx"]),
              help="html or xlsx (default: from the --output suffix).")
@click.option("--team", metavar="T", help="A pack for this team's cases only.")
@click.option("--public", is_flag=True, help="A public pack: counts under 5 suppressed, no case listed.")
@click.option("--commentary", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="CSV of kpi, month, commentary, action, owner: printed beside each red KPI.")
@click.option("--benchmark", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE", multiple=True,
              help="A DfE file as downloaded (any edition; repeatable): timeliness_20_week.csv, requests.csv, "
                   "annual_reviews.csv, phase_transfers.csv. England, region and comparators beside the council.")
@click.option("--council", metavar="CODE", callback=_la_codes,
              help="This council's LA code (old 340 or new E08000011): its region and published row "
                   "(default: the LA code `ehcp setup` recorded in rules/local/council.toml).")
@click.option("--compare-with", metavar="CODES", callback=_la_codes,
              help="Comparator councils' LA codes, comma-separated (old or new codes).")
@click.pass_obj
def report(obj: Context, month, output, fmt, team, public, commentary, benchmark, council, compare_with):
    """The board pack for a month: headline KPIs with direction of travel and RAG against target (month,
    year to date, rolling 12 months, same month last year), twelve-month trends, benchmarks, the monthly
    tracker, ageing, the backlog (IDs only), data-quality notes and the rule book version. HTML (one
    self-contained file with charts; prints well) or XLSX.

    \b
    Example: ehcp --as-of 2026-11-02 report --month 2026-10 --output pack.html
             ehcp report --month 2026-10 --team North --commentary notes.csv -o north.html
             ehcp report --month 2026-10 --public --benchmark timeliness_20_week.csv --council 340 -o public.html
             ehcp report --month 2026-10 --benchmark requests.csv --benchmark annual_reviews.csv --council 340 -o p.html
    """
    from .report import PackOptions, write_pack

    fmt = fmt or Path(output).suffix.lower().lstrip(".")
    if fmt not in ("html", "xlsx"):
        raise click.UsageError("--output must end .html or .xlsx (or give --format html|xlsx)")
    if len(council) > 1:
        raise click.BadParameter("one council", param_hint="--council")
    if not council and benchmark and obj.book.council is not None:  # the LA code `ehcp setup` recorded
        council = (obj.book.council.la_code,)
    from .report.benchmark import split_benchmarks

    timeliness, others = split_benchmarks(benchmark)
    options = PackOptions(team=team, public=public, commentary=commentary, benchmark=timeliness,
                          council=council[0] if council else None, compare_with=compare_with, kpi_benchmarks=others)
    path = write_pack(obj.engine, obj.book, month, obj.as_of, Path(output), fmt, options)
    click.echo(f"board pack for {month} written to {path}", err=True)
    if benchmark:  # the pack's notes say it too
        from .report.benchmark import benchmark_gaps, kpi_benchmark_gaps

        gaps = benchmark_gaps(timeliness, options.council) if timeliness else []
        for gap in gaps + kpi_benchmark_gaps(others, options.council):
            click.echo(f"note: {gap}", err=True)


@cli.group(invoke_without_command=True)
@click.pass_context
def demo(ctx):
    """Everything on the synthetic sample data, in a throwaway database.

    Example: ehcp demo
    """
    if ctx.invoked_subcommand is None:
        from .demo.demo import run_demo

        run_demo(ctx.obj)


@demo.command("generate")
@click.option("--requests", type=click.IntRange(0), default=1000, show_default=True,
              help="Assessment requests (rows of assessments.csv).")
@click.option("--reviews", type=click.IntRange(0), default=700, show_default=True,
              help="Annual reviews (rows of reviews.csv).")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same extracts, byte for byte.")
@click.option("--end", callback=_parse_as_of, metavar="YYYY-MM-DD",
              help="The last day the extracts cover (default: --as-of, i.e. today).")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path),
              callback=lambda ctx, param, value: check_folder(value, "--output"),
              help="Folder for assessments.csv and reviews.csv (created if missing).")
@click.option("--format", "fmt", type=click.Choice(["csv", "sen2"]), default="csv", show_default=True,
              help="csv: the two extracts; sen2: the same caseload as an SEN2 return, sen2_YEAR.xml.")
@click.pass_obj
def demo_generate(obj: Context, requests, reviews, seed, end, output, fmt):
    """Write realistic synthetic extracts (entirely invented children) for trials and benchmarks.

    Example: ehcp demo generate --requests 100000 --reviews 70000 --seed 1 --output extracts/
             ehcp demo generate --format sen2 --end 2026-01-20 --output extracts/
    """
    if fmt == "sen2":
        from .demo.sen2_return import write_return

        last = check_option_date(end, "--end") if end else obj.as_of
        path = write_return(output, requests, reviews, seed, last, obj.book)
        click.echo(f"wrote sen2: {path}", err=True)
        return
    from .demo.synthetic import write_extracts

    paths = write_extracts(output, requests, reviews, seed, check_option_date(end, "--end") if end else obj.as_of)
    for name, path in paths.items():
        click.echo(f"wrote {name}: {path}", err=True)


def _parse_month_option(ctx, param, value):
    if value is None:
        return None
    from .measures.kpi import parse_month

    try:
        parse_month(value)
    except EhcpError as exc:
        raise click.BadParameter(str(exc).removeprefix("--month: ")) from None
    return value


@cli.command()
@click.option("--month", metavar="YYYY-MM", callback=_parse_month_option,
              help="That month's KPIs, on both bases (default: the as-of month, to date).")
@click.option("--year", type=click.IntRange(2014, 2100), metavar="YYYY",
              help="Every month of the reporting year starting in YYYY (to the as-of date).")
@click.option("--year-start", type=click.Choice(["january", "april", "september"]),
              help="When the reporting year starts (default: the catalogue's, january).")
@click.option("--tracker", is_flag=True,
              help="The monthly tracker table of a calendar year instead (needs --year; default the as-of year).")
@click.option("--list", "list_kpis", is_flag=True, help="List every KPI and its definition, and stop.")
@click.option("--kpi", "kpi_ids", multiple=True, metavar="ID", help="Only this KPI (repeatable).")
@click.option("--basis", "bases", multiple=True, metavar="BASIS",
              help="month, year_to_date (the default pair), rolling_12_months, or any of them with "
                   "_last_year (the same period a year earlier); repeatable; 'all' for every basis.")
@filter_options
@listing_options
@click.pass_obj
def kpi(obj: Context, month, year, year_start, tracker, list_kpis, kpi_ids, bases, fmt, output, **filters):
    """Monthly and year-to-date KPIs, to the DfE's definitions, with targets.

    Each KPI comes for the month (basis "month") and from the start of the reporting year (basis
    "year_to_date"): columns kpi, period, basis, numerator, denominator, value (%, one decimal;
    blank when nothing to divide by) and target. Definitions: rules/kpi/catalogue.toml
    (`ehcp kpi --list`); targets: rules/kpi/targets.toml.

    \b
    Example: ehcp kpi --month 2026-03 --format csv -o kpi-2026-03.csv
             ehcp kpi --tracker --year 2026
    """
    from .measures.kpi import ALL_BASES, BASES, catalogue_table, compute_kpis, tracker as tracker_table
    from .measures.catalogue import YEAR_STARTS, catalogue_dir, load_catalogue

    if month and year:
        raise click.UsageError("give --month or --year, not both")
    book = obj.book
    catalogue = load_catalogue(catalogue_dir(obj.rules_dir), book)
    unknown = [k for k in kpi_ids if k not in {c.id for c in catalogue.kpis}]
    if unknown:
        raise EhcpError(f"--kpi: no KPI {', '.join(map(repr, unknown))} (see `ehcp kpi --list`)")
    if kpi_ids:
        catalogue = catalogue.only(kpi_ids)
    if list_kpis:
        _emit(catalogue_table(catalogue), fmt, output, "kpis")
        return
    if tracker:
        if month:
            raise click.UsageError("--tracker reports a calendar year: give --year, not --month")
        frame = tracker_table(obj.engine, book, year or obj.as_of.year, obj.as_of, catalogue, _filters(**filters))
    else:
        chosen = ALL_BASES if "all" in bases else tuple(dict.fromkeys(bases)) or BASES
        frame = compute_kpis(obj.engine, book, catalogue, month=month, year=year, as_of=obj.as_of,
                             filters=_filters(**filters),
                             year_start=YEAR_STARTS[year_start] if year_start else None, bases=chosen)
        if frame.attrs.get("skipped"):
            click.echo("note: left out (their clocks are not in the rule book): "
                       + ", ".join(frame.attrs["skipped"]), err=True)
        if fmt == "table":
            frame = frame.drop(columns=["title", "period_start", "period_end"])
    for warning in frame.attrs.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    if tracker:
        rates = {"percent_rows": [True] * len(frame), "percent_columns": ("pct_within_20_weeks",)}
    else:  # a ratio's value and target are percentages: Excel shows 90.8%, not 90.8
        ratios = {k.id for k in catalogue.kpis if k.type == "ratio"}
        rates = {"percent_rows": frame["kpi"].isin(ratios).tolist(), "percent_columns": ("value", "target")}
    _emit(frame, fmt, output, "tracker" if tracker else "kpi", **(rates if fmt == "xlsx" else {}))


from .web.commands import COMMANDS as _WEB_COMMANDS  # noqa: E402 - serve, users, access-log (issue 25)

for _command in _WEB_COMMANDS:
    cli.add_command(_command)
cli.add_command(_sen2)  # `ehcp sen2 export|check|reconcile` (issue 26): its own module


def main():  # pragma: no cover - console script entry
    cli(prog_name="ehcp")

