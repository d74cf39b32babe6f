"""The rule book as people read it: a table of clocks, and one clock in full."""

from __future__ import annotations

import pandas as pd

from .errors import EhcpError
from .rules import RuleBook


def rule_table(book: RuleBook) -> pd.DataFrame:
    rows = []
    for clock in book.clocks:
        for version in clock.versions:
            rows.append({
                "clock": clock.id, "title": clock.title, "case": clock.case,
                "statutory": clock.statutory, "start": clock.start, "stop": clock.stop,
                "limit": version.policy.describe(clock.counting), "in_force": version.label,
                "reference": version.reference, "exceptions": ", ".join(r.code for r in book.exceptions_for(clock)),
                "ruleset": clock.ruleset,
            })
    return pd.DataFrame(rows)


def describe_clock(book: RuleBook, clock_id: str) -> str:
    try:
        clock = book.clock(clock_id)
    except KeyError:
        raise EhcpError(f"no clock {clock_id!r}; known: {', '.join(c.id for c in book.clocks)}") from None
    lines = [f"{clock.id}: {clock.title}",
             f"  {'statutory' if clock.statutory else 'LOCAL TARGET (not statutory)'}; rule set {clock.ruleset} "
             f"({clock.source_file})",
             f"  applies to: {clock.case} cases",
             f"  starts: {clock.start}", f"  stops: {clock.stop}"]
    if clock.description:
        lines.append(f"  {clock.description}")
    for label, conditions in (("only when", clock.applies_when), ("not when any of", clock.applies_unless),
                              ("stop counts only when", clock.stop_when)):
        if conditions:
            lines.append(f"  {label}: " + "; ".join(f"{k} in {', '.join(v)}" for k, v in conditions.items()))
    lines.append(f"  due soon: within {clock.warning_days} days of the due date")
    lines.append("  versions (a case is judged by the version in force on its start date):")
    for v in clock.versions:
        lines.append(f"    {v.label}: {v.policy.describe(clock.counting)}; {v.reference}")
    reasons = book.exceptions_for(clock)
    if reasons:
        lines.append(f"  exceptions (recorded in {clock.exception_field}; they never move the due date):")
        for r in reasons:
            window = f" (only for due dates {r.due_from} to {r.due_until})" if r.due_from else ""
            lines.append(f"    {r.code}: {r.title}{window}; {r.reference}")
    return "\n".join(lines)
