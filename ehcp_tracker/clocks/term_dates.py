"""A council's school closure periods (``rules/local/term-dates.toml`` or ``term-dates.csv``).

Why: the school-closure exemption (SEND Regulations 2014 reg 10(4)(a), applied by regs 5(4), 13(3)
and 27(3)) reaches only advice requested from a head teacher or principal "during a period beginning
one week before any date on which that school or institution was closed for a continuous period of
not less than 4 weeks from that date and ending one week before the date on which it re-opens". With
the council's published closure periods the tool can check a claim's request date against that
window; without them it cannot, and trusts the recorded claim.

Each closure gives ``closed_from`` (the first day the schools are closed) and ``reopens`` (the day
they open again). Only a closure of at least 4 weeks (``reopens - closed_from >= 28 days``) opens a
window; the shorter ones (half terms, Christmas, Easter) are kept in the file as published and never
ground the exemption. Loaded strictly: every problem names the file and the closure.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE_NAMES = ("term-dates.toml", "term-dates.csv")
PREFIX = "term-dates"  # files starting so are never read as rule sets (the shipped example too)
MIN_CLOSURE_DAYS = 28  # "closed for a continuous period of not less than 4 weeks" (reg 10(4)(a))
WINDOW_OFFSET_DAYS = 7  # "beginning one week before ... and ending one week before the date on which it re-opens"
_CLOSURE_KEYS = {"name", "closed_from", "reopens"}


@dataclass(frozen=True)
class Closure:
    name: str
    closed_from: dt.date
    reopens: dt.date

    @property
    def long_enough(self) -> bool:
        return (self.reopens - self.closed_from).days >= MIN_CLOSURE_DAYS

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        """The first and last day (both included) on which a request for advice falls in the window."""
        return (self.closed_from - dt.timedelta(days=WINDOW_OFFSET_DAYS),
                self.reopens - dt.timedelta(days=WINDOW_OFFSET_DAYS))


@dataclass(frozen=True)
class TermDates:
    source: str
    closures: tuple[Closure, ...]

    @property
    def windows(self) -> list[tuple[dt.date, dt.date]]:
        return [c.window for c in self.closures if c.long_enough]

    def window_for(self, day: dt.date) -> Closure | None:
        """The qualifying closure whose window holds ``day``, if any."""
        for closure in self.closures:
            first, last = closure.window
            if closure.long_enough and first <= day <= last:
                return closure
        return None

    def in_window(self, days: np.ndarray) -> np.ndarray:
        """Per day (datetime64[D], NaT allowed): inside some qualifying window."""
        out = np.zeros(len(days), dtype=bool)
        for first, last in self.windows:
            out |= (days >= np.datetime64(first, "D")) & (days <= np.datetime64(last, "D"))
        return out


def find_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.name in FILE_NAMES)


def load_term_dates(directory: Path, fail) -> TermDates | None:
    """The term-dates file under ``directory`` (at most one), or None; ``fail(where, message)`` collects problems."""
    files = find_files(directory)
    if not files:
        return None
    if len(files) > 1:
        fail(", ".join(str(f) for f in files), "give the term dates in one file only")
        return None
    path = files[0]
    where = str(path.relative_to(directory.parent) if directory.parent in path.parents else path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        fail(where, f"cannot be read: {exc}")
        return None
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            fail(where, f"not valid TOML: {exc}")
            return None
        for key in data:
            if key not in ("term_dates", "closures"):
                fail(f"{where}.{key}", "unknown key (allowed: term_dates, closures)")
        raw = data.get("closures", [])
        if not isinstance(raw, list):
            fail(f"{where}.closures", "must be a list of [[closures]] tables")
            raw = []
        rows = [(f"{where} [[closures]] #{i + 1}", r) for i, r in enumerate(raw)]
    else:
        reader = csv.DictReader(io.StringIO(text))
        header = {h.strip().lower() for h in reader.fieldnames or []}
        missing = {"closed_from", "reopens"} - header
        if missing:
            fail(where, "missing column(s): " + ", ".join(sorted(missing)) + " (columns: name, closed_from, reopens)")
            return None
        rows = [(f"{where} row {i + 2}", {k.strip().lower(): (v or "").strip() for k, v in r.items() if k})
                for i, r in enumerate(reader)]
    closures = []
    for cwhere, row in rows:
        closure = _closure(cwhere, row, fail)
        if closure is not None:
            closures.append(closure)
    if not closures:
        fail(where, "no closure periods given")
        return None
    return TermDates(where, tuple(sorted(closures, key=lambda c: c.closed_from)))


def _closure(where: str, row, fail) -> Closure | None:
    if not isinstance(row, dict):
        fail(where, "must be a table with name, closed_from and reopens")
        return None
    for key in row:
        if key not in _CLOSURE_KEYS:
            fail(f"{where}.{key}", "unknown key (allowed: name, closed_from, reopens)")
    days = {}
    for key in ("closed_from", "reopens"):
        value = row.get(key)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            days[key] = value
            continue
        try:
            days[key] = dt.date.fromisoformat(str(value))
        except ValueError:
            fail(f"{where}.{key}", f"not an ISO date (YYYY-MM-DD): {value!r}")
    if len(days) < 2:
        return None
    if days["reopens"] <= days["closed_from"]:
        fail(f"{where}.reopens", "must be after closed_from")
        return None
    return Closure(str(row.get("name") or ""), days["closed_from"], days["reopens"])
