"""The import's guards: what tonight's extract may not do to the record without being told to.

An extract is the whole truth about the cases it holds, but a broken one (a renamed column, a file
cut short, a filtered report) looks like a truthful one that blanked a column or closed most cases.
These checks compare tonight's file with what is stored, before anything is written, and refuse
the file (exit 1, nothing stored) with the counts and the option that accepts it on purpose:

- a column the stored cases hold, absent from the file, would blank every case: refused, unless
  named in ``keep_absent`` (the stored values are then kept);
- a file that would mark more than ``max_missing`` per cent of the cases present in the last
  extract as missing: refused;
- a column changed or cleared on more than ``MASS_CHANGE_SHARE`` of the stored cases is imported,
  but said on stderr even under ``--quiet`` (it may be real: a caseworker reallocation).
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from ..errors import EhcpError, UsageError
from ..schema import Kind
from .extract import RawExtract
from .keys import member

DEFAULT_MAX_MISSING = 10.0  # per cent of the cases present in the last extract
MASS_CHANGE_SHARE = 0.05  # a column changed on more than 5 % of the stored cases is worth a word
MASS_CHANGE_MIN_CASES = 10  # ... but three changes in a trial caseload of twenty are not "mass"
ALL_COLUMNS = "all"


class ImportRefused(EhcpError):
    """A guard refused a file: nothing from it was stored (exit 1)."""


def absent_columns(raw: RawExtract, kind: Kind, held, keep_absent) -> list[str]:
    """The stored columns tonight's file lacks, checked against ``keep_absent``.

    ``held(column)``: how many stored cases hold a value in it (``stored.StoredCases.held``).
    Returns the absent columns to fill from the stored values; raises ``ImportRefused`` naming each
    absent column that is not accepted, with the unknown header that looks like it, if any."""
    # a column the import fills itself when another is in the file (ncy_academic_year from ncy) is not absent
    absent = [c.name for c in kind.columns
              if c.name != kind.key and c.name not in raw.cells and not (c.filled_with and c.filled_with in raw.cells)]
    counts = {name: held(name) for name in absent}
    held = [name for name in absent if counts[name]]
    keep = set(keep_absent or ())
    unknown = sorted(keep - set(kind.names) - {ALL_COLUMNS})
    if unknown:
        raise UsageError(f"--keep-absent: {', '.join(map(repr, unknown))} is not a column of a {kind.name} extract "
                         f"(columns: {', '.join(kind.names)}; or 'all')")
    accepted = held if ALL_COLUMNS in keep else [c for c in held if c in keep]
    refused = [c for c in held if c not in accepted]
    if not refused:
        return accepted
    parts = []
    for name in refused:
        count = counts[name]
        text = f"column {_expected_header(raw, name)} is not in the file, but {count} stored cases hold it"
        guess = _likely_misspelling(raw, name)
        if guess:
            text += f" ({guess!r} looks like {_expected_header(raw, name, quoted=True)})"
        parts.append(text)
    names = ",".join(refused)
    raise ImportRefused(f"{raw.file}: {'; '.join(parts)}; refused, nothing was imported (a blank cell means "
                        f"'not happened yet', so importing would blank them all); if the column was dropped on "
                        f"purpose, give --keep-absent {names} and the stored values are kept")


def _expected_header(raw: RawExtract, name: str, quoted: bool = False) -> str:
    """The canonical name, or the profile's header for it (the file's language)."""
    sources = [s for s, c in (raw.profile.columns.items() if raw.profile else ()) if c == name]
    if sources:
        return f"{sources[0]!r} ({name})" if not quoted else repr(sources[0])
    return repr(name) if quoted else name


def _likely_misspelling(raw: RawExtract, name: str) -> str | None:
    """The unrecognised header closest to the column (or to its profile header), if close enough."""
    wanted = [name] + [s for s, c in (raw.profile.columns.items() if raw.profile else ()) if c == name]
    by_lower = {u.strip().lower(): u for u in raw.unknown}
    for target in wanted:
        close = difflib.get_close_matches(target.lower(), list(by_lower), n=1, cutoff=0.8)
        if close:
            return by_lower[close[0]]
    return None


def keep_stored(incoming: pd.DataFrame, existing: pd.DataFrame, key: str, columns: list[str]) -> pd.DataFrame:
    """``incoming`` with the accepted absent columns taken from the stored cases (blank for new ones)."""
    if not columns or not len(incoming):
        return incoming
    stored = existing.set_index(key)
    out = incoming.copy()
    for name in columns:
        values = incoming[key].map(stored[name])
        if incoming[name].dtype.kind == "M":
            out[name] = values.astype(incoming[name].dtype)
        else:  # a new case has no stored value: blank (None), not a float NaN column
            out[name] = values.astype(object).where(values.notna(), None)
    return out


def check_shrink(file: str, existing: pd.DataFrame, in_file: np.ndarray, key: str, max_missing: float) -> None:
    """Refuse a file that would mark more than ``max_missing`` % of the present cases as missing."""
    present = existing.loc[existing["missing_since_run_id"].isna(), key]
    if not len(present):
        return
    leaving = int((~member(present, in_file)).sum())
    share = 100.0 * leaving / len(present)
    if share > max_missing:
        raise ImportRefused(
            f"{file}: tonight's extract would mark {leaving:,} of the {len(present):,} cases present in the last "
            f"extract ({share:.1f} %) as missing, more than --max-missing {max_missing:g} %: is it truncated or "
            f"filtered? refused, nothing was imported; if those cases really left the system, give "
            f"--max-missing {min(100, int(np.ceil(share))):d}")


def mass_changes(file: str, names, differs: np.ndarray, after: np.ndarray, stored: int) -> list[str]:
    """One line per column changed (or cleared) on more than ``MASS_CHANGE_SHARE`` of the stored cases."""
    lines = []
    if not stored or not differs.size:
        return lines
    changed = differs.sum(axis=0)
    cleared = (differs & (after == "")).sum(axis=0)
    for c, name in enumerate(names):
        if changed[c] >= MASS_CHANGE_MIN_CASES and changed[c] > MASS_CHANGE_SHARE * stored:
            lines.append(f"{file}: mass change: {name} changed on {int(changed[c]):,} of {stored:,} stored cases "
                         f"({100.0 * changed[c] / stored:.1f} %), cleared on {int(cleared[c]):,}; "
                         "check the extract (ehcp changes --fields lists them)")
    return lines
