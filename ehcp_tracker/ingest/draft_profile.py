"""Draft a profile from a sample extract's header (``ehcp setup --sample-extract``).

Why only suggestions it is sure of: a wrong mapping is worse than none. A header mapped to the
wrong canonical column imports cleanly and computes wrong deadlines; a header left unmapped is
ignored with a warning, or stops the import when the column is required, and either way a person
looks at it. So a header is matched only when it *is* a canonical column (exactly, or after
normalising case, spaces, punctuation and CamelCase), or when a shipped profile already maps that
very header (a known synonym, agreed by every profile that names it). Everything else is "left for
you", written as a commented line the data officer completes.

Only the header is read for the mapping: a child's data is never shown (a headerless file's first
row is refused, not echoed), and the draft holds header names only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EhcpError
from ..schema import KINDS
from .extract import (CONTROL, PROFILE_DIR, _looks_like_data, _read_csv, _read_xlsx, load_profile,
                      shown_header)

LEFT = "left for you"
# A few spellings that are certainly these columns (beyond what the shipped profiles map).
SYNONYMS = {"case worker": "caseworker", "team name": "team", "dob": "date_of_birth"}


@dataclass(frozen=True)
class Suggestion:
    header: str               # the file's own header, as written
    canonical: str | None     # the suggested canonical column; None: left for the user
    how: str                  # "same name", "same name, normalised", "known synonym (profile X)", LEFT, why not


@dataclass
class Draft:
    file: str
    kind: str | None
    rows: list[Suggestion]
    missing_required: list[str] = field(default_factory=list)  # required columns no header gives yet

    @property
    def mapped(self) -> list[Suggestion]:
        return [s for s in self.rows if s.canonical]

    @property
    def left(self) -> list[Suggestion]:
        return [s for s in self.rows if not s.canonical]


def normalise(header: str) -> str:
    """'Request Received', 'request-received', 'RequestReceived' -> 'request_received'."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(header).strip())
    text = text.lower().replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def known_synonyms() -> dict[str, tuple[str, str]]:
    """Lower-cased header -> (canonical column, where it is known from), from the shipped profiles;
    a header two shipped profiles map differently is not known (not sure)."""
    found: dict[str, tuple[str, str]] = {h: (c, "known synonym") for h, c in SYNONYMS.items()}
    clash: set[str] = set()
    for path in sorted(PROFILE_DIR.glob("*.toml")):
        profile = load_profile(str(path))
        for header, canonical in profile.columns.items():
            if header in found and found[header][0] != canonical:
                clash.add(header)
            found.setdefault(header, (canonical, f"known synonym (profile {profile.name})"))
    return {h: v for h, v in found.items() if h not in clash}


def read_header(path: Path) -> list[str]:
    """The header row of a sample extract (title lines above it skipped, as the import does)."""
    path = Path(path)
    if not path.is_file():
        raise EhcpError(f"--sample-extract {path}: no such file")
    canonical = {c for k in KINDS.values() for c in k.names}
    known = canonical | set(known_synonyms())
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        header = _read_xlsx(path, path.name, known)[0]
    elif suffix in (".csv", ".txt"):
        header = _read_csv(path, path.name, known)[0]
    else:
        raise EhcpError(f"--sample-extract {path.name}: unsupported file type {suffix or '(none)'}; give a .csv or .xlsx")
    cells = [str(h).strip() for h in header if str(h).strip()]
    if sum(_looks_like_data(c) for c in cells) >= 2:
        raise EhcpError(f"--sample-extract {path.name}: the first row looks like data, not column names "
                        "(is the header row missing?); nothing drafted")
    return [str(h).strip() for h in header]


def draft(path: Path, kind: str | None = None) -> Draft:
    """Suggest a canonical column for each header of ``path`` where it is sure; leave the rest."""
    header = read_header(path)
    canonical = {c for k in KINDS.values() for c in k.names}
    synonyms = known_synonyms()
    first: list[tuple[str, str | None, str]] = []
    for name in header:
        if not name:
            continue
        lower = name.lower()
        if CONTROL.search(name) or len(name) > 200 or _looks_like_data(name):
            first.append((name, None, f"{LEFT} (not a usable header name)"))
        elif lower in canonical:
            first.append((name, lower, "same name"))
        elif normalise(name) in canonical:
            first.append((name, normalise(name), "same name, normalised"))
        elif lower in synonyms:
            first.append((name, *synonyms[lower]))
        else:
            first.append((name, None, LEFT))
    if kind is None:
        given = {c for _, c, _ in first if c}
        hits = {k: len(given & set(KINDS[k].names)) for k in KINDS}
        keyed = [k for k in KINDS if KINDS[k].key in given]
        kind = keyed[0] if len(keyed) == 1 else (max(hits, key=hits.get) if len(set(hits.values())) > 1 else None)
    rows, taken = [], {}
    for name, column, how in first:
        if column and kind and column not in KINDS[kind].names:
            rows.append(Suggestion(name, None, f"{LEFT} ({column} is not a column of {kind})"))
        elif column and column in taken:
            rows.append(Suggestion(name, None, f"{LEFT} ({taken[column]!r} already gives {column})"))
        else:
            if column:
                taken[column] = name
            rows.append(Suggestion(name, column, how))
    missing = [c.name for c in KINDS[kind].columns if c.required and c.name not in taken] if kind else []
    return Draft(Path(path).name, kind, rows, missing)


def side_by_side(d: Draft) -> list[str]:
    """The draft as a table for people: their header | suggested canonical column | how."""
    shown = [(shown_header(s.header), s.canonical or "", s.how) for s in d.rows]
    width = max([len("their header")] + [len(a) for a, _, _ in shown])
    middle = max([len("suggested canonical column")] + [len(b) for _, b, _ in shown])
    lines = [f"{'their header':<{width}} | {'suggested canonical column':<{middle}} | how",
             f"{'-' * width}-+-{'-' * middle}-+-{'-' * 12}"]
    lines += [f"{a:<{width}} | {b:<{middle}} | {c}" for a, b, c in shown]
    return lines


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def profile_text(d: Draft, name: str, council: str, today: dt.date) -> str:
    """The draft in the profile format ``ehcp import --profile`` reads: sure mappings as lines, the
    rest as commented lines to complete (or delete)."""
    kind_line = f"kind = {_toml(d.kind)}" if d.kind else "# kind = \"assessments\"   # left for you: assessments or reviews"
    lines = [
        f"# Draft profile for {council}'s extract, written by `ehcp setup` on {today.isoformat()} from the",
        f"# header of {d.file}. Lines starting '# \"...\" = \"\"' are {LEFT}: give the canonical column",
        "# (docs/reference/columns.md) and remove the '#', or leave them: unmapped columns are ignored.",
        f"# Then: ehcp import {d.file} --profile {name}",
        "",
        "[profile]",
        f"name = {_toml(name)}",
        kind_line,
        f"description = {_toml(f'{council}: drafted from the header of {d.file}')}",
        "",
        "[columns]   # their header = canonical column",
    ]
    width = max([len(_toml(s.header)) for s in d.rows] + [1])
    for s in d.rows:
        if s.canonical:
            lines.append(f"{_toml(s.header):<{width}} = {_toml(s.canonical)}   # {s.how}")
    for s in d.rows:
        if not s.canonical and not CONTROL.search(s.header):
            lines.append(f"# {_toml(s.header):<{width}} = \"\"   # {s.how}")
    for column in d.missing_required:
        lines.append(f"# (no header gives {column} yet: it is required)")
    choices = [s.canonical for s in d.mapped if d.kind and KINDS[d.kind].column(s.canonical).choices]
    if choices:
        lines += ["", "# Value spellings: if the system writes a coded column its own way, map each spelling",
                  "# (matched case-insensitively) to the canonical value, e.g. \"Agreed\" = \"assess\"."]
        for column in choices:
            allowed = ", ".join(KINDS[d.kind].column(column).choices)
            lines += [f"# [values.{column}]   # canonical: {allowed}", "# \"their spelling\" = \"\""]
    return "\n".join(lines) + "\n"
