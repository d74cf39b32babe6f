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


@sen2.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check(file):
    """Check FILE.xml against its collection year's structure (XSD) and the cross-field rules.

    One line per problem on stdout: label (DfE structure / ehcp-tracker rule), module, person position
    (never a name), item, reason. Exit 1 when there is any error.

    Example: ehcp sen2 check SEN2_2026.xml
    """
    from .check import check_return

    ret, findings = check_return(file)
    for finding in findings:
        click.echo(str(finding))
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    click.echo(f"{ret.file}: SEN2 {ret.header.year} (LA {ret.header.la or '?'}), {len(ret.persons)} persons: "
               f"{errors} error(s), {warnings} warning(s)", err=True)
    if errors:
        raise click.exceptions.Exit(1)
