"""``ehcp sen2 export | check | reconcile``: the click layer over sen2/ (cli.py registers ``sen2``).

Only click is imported at module level, so ``ehcp --help`` stays quick (tests/test_startup.py).
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def sen2():
    """SEN2 returns: check one before you submit it, export one from the tracker, reconcile with DfE.

    Import a return with `ehcp import return.xml` (requests and active plans, keyed so that next
    year's return finds the same cases).
    """


@sen2.command("export")
@click.option("--year", required=True, type=click.IntRange(2014, 2100), metavar="YYYY",
              help="The collection year (the year of the January census: 2026 covers calendar 2025).")
@click.option("--la", required=True, metavar="CODE", help="The council's 3-digit LA code (the return's LEA).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.xml",
              help="Where to write the return.")
@click.pass_obj
def export(obj, year, la, output):
    """Write the timeliness modules of the SEN2 return (Person, Requests, Assessment, NamedPlan,
    ActivePlans' review items) from the tracked cases, as at the year's census date, and check it.

    Items the tracker does not hold are left out and listed ("not held: add to your extract"); the
    file is not ready to submit until they are added.

    Example: ehcp sen2 export --year 2026 --la 340 -o SEN2_2026.xml
    """
    import datetime as dt

    from ..files import atomic_write
    from .check import check_return
    from .export import export_cases
    from .write import header_node, return_xml

    if not (la.isdigit() and len(la) == 3):
        raise click.BadParameter("a 3-digit LA code (the return's LEA), e.g. 340", param_hint="--la")
    result = export_cases(obj.engine, obj.book, year)
    header = header_node(year, result.reference.isoformat(), la, dt.datetime.now().replace(microsecond=0))
    atomic_write(output, return_xml(year, header, result.persons))
    counts = ", ".join(f"{n} {what}" for what, n in result.counts.items())
    click.echo(f"SEN2 {year} return (as at {result.reference}) written to {output}: {counts}", err=True)
    for line in result.not_held:
        click.echo(f"not held: add to your extract: {line}", err=True)
    _, findings = check_return(output)
    grouped: dict[str, int] = {}
    for finding in findings:
        text = str(finding).replace(f"person {finding.person}, ", "") if finding.person else str(finding)
        grouped[text] = grouped.get(text, 0) + 1
    for text, n in grouped.items():
        click.echo(f"check: {text} ({n} person{'s' if n != 1 else ''})", err=True)
    if not findings:
        click.echo("check: no problems", err=True)


@sen2.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--year", type=click.IntRange(2014, 2100), metavar="YYYY",
              help="The collection year of a pre-submission workbook (it has no header; the XML and the Blade "
                   "export carry theirs).")
def check(file, year):
    """Check a return against its collection year's structure (XSD) and the cross-field rules: the
    XML, a COLLECT Blade export (any one of its module files) or the pre-submission workbook (.xlsx,
    with --year).

    One line per problem on stdout: label (DfE structure / ehcp-tracker rule), module, person position
    (never a name), item, reason. Exit 1 when there is any error.

    \b
    Example: ehcp sen2 check SEN2_2026.xml
             ehcp sen2 check Blade-Export_20-01-2026_person.csv
             ehcp sen2 check SEN2_presubmission.xlsx --year 2026
    """
    from .check import check_return

    ret, findings = check_return(file, year)
    for finding in findings:
        click.echo(str(finding))
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    click.echo(f"{ret.file}: SEN2 {ret.header.year} (LA {ret.header.la or '?'}), {len(ret.persons)} persons: "
               f"{errors} error(s), {warnings} warning(s)", err=True)
    if errors:
        raise click.exceptions.Exit(1)


@sen2.command("reconcile")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dfe", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.csv", multiple=True,
              help="DfE's timeliness_20_week.csv, requests.csv, annual_reviews.csv or phase_transfers.csv as "
                   "downloaded (any edition; repeatable): the published column.")
@click.option("--year", type=click.IntRange(2014, 2100), metavar="YYYY",
              help="The calendar year (default: the one the return's collection covers, its Year - 1).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="FILE.html, FILE.xlsx or FILE.csv (default: tables on stdout).")
@click.pass_obj
def reconcile(obj, file, dfe, year, output):
    """The 20-week figures side by side (the tracker, the return by DfE's method, DfE's published
    row), then each case that differs: in one and not the other, dates differ, exception flag differs,
    with the tracker's case ID and what to correct; then the 6-week and 4-week decisions and the
    phase transfers. FILE is the XML or any one file of a COLLECT Blade export.

    Example: ehcp sen2 reconcile SEN2_2026.xml --dfe timeliness_20_week.csv -o reconcile.html
    """
    from ..output import render_table
    from .reconcile import reconcile as run, write

    result = run(obj.engine, obj.book, obj.as_of, file, obj.rules_dir, dfe=dfe, year=year)
    for note in result.notes:
        obj.say(f"note: {note}")
    if output:
        write(result, output)
        click.echo(f"reconciliation for {result.year} written to {output}", err=True)
        return
    click.echo(render_table(result.table, f"20-week timeliness {result.year}: LA {result.la}"))
    click.echo(render_table(result.differences, f"cases that differ ({len(result.differences)})"))
