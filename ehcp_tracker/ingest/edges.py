"""The edges of a real export: title lines above the header, totals and notes below the data.

Case-management reports put a title ("EHC needs assessments, run 02/11/2026") and a blank line above
the header, and a footer ("Total records: 3000", "End of report") below the last row. Neither is a
case: they are skipped and said once, never reported as bad rows. The two functions work on the
first rows and the last rows of a file only, as plain lists of cells, so any reader (the csv module,
pyarrow, openpyxl, or a streaming reader that sees the file in batches) can use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# How far down a header may be looked for: reports put a few title lines above it, never a page.
HEADER_SEARCH_ROWS = 20
# A footer is a few lines; a longer run of short rows at the end is data to be reported, not skipped.
FOOTER_MAX_ROWS = 10

# The words a report's footer starts with. Matched at the start of a row's first cells, as words.
_FOOTER_WORDS = re.compile(
    r"^\s*(grand\s+)?(total|totals|sub-?total|count|sum)\b"
    r"|^\s*(number\s+of|no\.?\s+of)\s+(records|rows|cases|requests|reviews|plans)\b"
    r"|^\s*(records|rows)\s*(:|=|\d)"
    r"|^\s*end\s+of\s+(report|data|file|extract)\b"
    r"|^\s*(report\s+)?(run|generated|produced|printed|exported|created)\s+(on|at|by)\b"
    r"|^\s*(source|filters?|parameters?|notes?)\s*:",
    re.IGNORECASE)


def _filled(row) -> list[str]:
    return [str(c).strip() for c in row if c is not None and str(c).strip()]


def header_index(rows, known_headers: set[str], *, search: int = HEADER_SEARCH_ROWS) -> int | None:
    """The position in ``rows`` (the file's first rows) of the header: the first row naming at least
    two known column names (canonical, or a profile's); failing that, the first row with anything
    in it (a file without a recognisable header is then refused by the column checks, which name
    what they found). None when every row is blank."""
    first = None
    for i, row in enumerate(rows[:search]):
        cells = _filled(row)
        if not cells:
            continue
        if first is None:
            first = i
        if len({c.lower() for c in cells} & known_headers) >= 2:
            return i
    return first


def is_footer(row, width: int) -> bool:
    """A row below the data that is not a case: blank, starting with a total or report word, or one
    cell of words in an extract of several columns (a note; a case row has at least its ID, its
    person and a date)."""
    cells = _filled(row)
    if not cells:
        return True
    if any(_FOOTER_WORDS.search(c) for c in cells[:2]):
        return True
    return width >= 3 and len(cells) == 1 and bool(re.search(r"\s|:", cells[0]))


def footer_count(last_rows, width: int) -> int:
    """How many of ``last_rows`` (the file's last data rows, in order) form its footer: the trailing
    run of footer rows, at most ``FOOTER_MAX_ROWS``."""
    count = 0
    for row in reversed(last_rows[-FOOTER_MAX_ROWS:]):
        if not is_footer(row, width):
            break
        count += 1
    return count


@dataclass
class Skipped:
    """The rows an extract's reader left out as not being cases, by spreadsheet row number."""

    title: list[int] = field(default_factory=list)
    footer: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.title or self.footer)

    def describe(self, file: str) -> str:
        parts = []
        if self.title:
            parts.append(f"{_rows(self.title)} above the header (title lines)")
        if self.footer:
            parts.append(f"{_rows(self.footer)} below the data (totals or notes)")
        return f"{file}: skipped " + " and ".join(parts) + "; they are not cases"

    def as_dict(self) -> dict:
        return {"title": self.title, "footer": self.footer}


def _rows(numbers: list[int]) -> str:
    noun = "row" if len(numbers) == 1 else "rows"
    if len(numbers) > 1 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{len(numbers)} {noun} ({numbers[0]}-{numbers[-1]})"
    return f"{len(numbers)} {noun} ({', '.join(map(str, numbers))})"
