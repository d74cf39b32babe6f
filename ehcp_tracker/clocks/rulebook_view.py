"""The rule book as people read it: a table of clocks, and one clock in full."""

from __future__ import annotations

import pandas as pd

from ..errors import EhcpError
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
                "ruleset": clock.ruleset, "variant": clock.variant or "",
            })
    return pd.DataFrame(rows)


def describe_clock(book: RuleBook, clock_id: str) -> str:
    try:
        variants = book.variants(clock_id)
    except KeyError:
        known = ", ".join(dict.fromkeys(c.id for c in book.clocks))
        raise EhcpError(f"no clock {clock_id!r}; known: {known}") from None
    clock = variants[0]
    title = clock.title if clock.variant is None else clock.family_title
    basis = {"yes": "yes, a duty in law", "guidance": "guidance, the Code of Practice's expectation (not a duty in law)",
             "no": "no, LOCAL TARGET (not statutory)"}[clock.statutory]
    lines = [f"{clock.id}: {title}",
             f"  basis: {basis}; rule set {clock.ruleset} ({clock.source_file})"]
    if clock.basis_note:
        lines.append(f"  why: {clock.basis_note}")
    lines.append(f"  applies to: {clock.case} cases")
    if clock.variant is None:
        lines.append(f"  starts: {clock.start}")
    lines.append(f"  stops: {clock.stop}")
    if clock.variant is None and clock.description:
        lines.append(f"  {clock.description}")
    applies_when = {k: v for k, v in clock.applies_when.items() if k != clock.variant_field}
    for label, conditions in (("only when", applies_when), ("not when any of", clock.applies_unless),
                              ("stop counts only when", clock.stop_when)):
        if conditions:
            lines.append(f"  {label}: " + "; ".join(f"{k} in {', '.join(v)}" for k, v in conditions.items()))
    if clock.needs:
        lines.append("  judged only where the extract holds: " + ", ".join(clock.needs))
    if clock.later_of is not None:
        lines.append(f"  or later: {clock.later_of.policy.describe(clock.counting)} from {clock.later_of.start}, "
                     f"when that falls in the period; {clock.later_of.reference}")
    lines.append(f"  due soon: within {clock.warning_days} days of the due date")
    for variant in variants:
        indent = "  "
        if variant.variant is not None:
            lines.append(f"  when {variant.variant_field} is {variant.variant}: {variant.title}")
            lines.append(f"    starts: {variant.start}")
            if variant.description:
                lines.append(f"    {variant.description}")
            indent = "    "
        lines.append(f"{indent}versions (a case is judged by the version in force on its start date):")
        for v in variant.versions:
            lines.append(f"{indent}  {v.label}: {v.policy.describe(variant.counting)}; {v.reference}")
    reasons = book.exceptions_for(clock)
    if reasons:
        lines.append(f"  exceptions (recorded in {clock.exception_field}; they never move the due date):")
        for r in reasons:
            window = f" (only for due dates {r.due_from} to {r.due_until})" if r.due_from else ""
            lines.append(f"    {r.code}: {r.title}{window}; {r.reference}")
            if r.fallback_for(clock.id):
                lines.append(f"      the limit gives way to: {r.fallback_for(clock.id)}")
        for limit in clock.exception_limits:
            when = "; ".join(f"{k} in {', '.join(v)}" for k, v in limit.when.items())
            lines.append(f"    when {when}: only {', '.join(limit.allowed) or 'none'}; {limit.reference}")
    if clock.case == "review" and clock.variant_field == "transfer_type":
        lines.append("  transfer years (last national curriculum year before a September transfer): "
                     + ", ".join(f"year {y} -> {t}" for y, t in sorted(book.transfers.items())))
    return "\n".join(lines)
