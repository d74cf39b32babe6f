"""How an error message names a bad value: quoted when it is a code, described when it may be a person.

A message about a bad cell is read by the night's operator, mailed by cron and kept in logs, so it
must not carry what a child's record holds. One rule serves both needs (issue 28 point 4, issue 23):

- a value is **quoted** when it is one of the column's known codes, or has the column's shape: for
  a coded column (an outcome, a yes/no flag, an exception) lower-case letters, digits and
  underscores, no spaces, at most 24 characters (``assesss``, ``maybe``, ``n_a``); for a number
  column a small number or a year group (``15``, ``year 15``). A code is not personal data, and
  seeing the typo is what lets the operator fix it;
- any other value (``Jane Smith``, ``SMITH``, ``PX93817``, ``2012-03-10``, anything with four digits
  together or a date's shape, anything in a personal column) is **described**: its length and the
  kinds of character in it, never the characters themselves.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from ..output import CONTROL

SHORT_CODE = 24
CODE_SHAPE = re.compile(r"[a-z0-9_]{1,24}")
# Number columns: a small whole (or decimal) number, or a year group as the extracts spell them.
NUMBER_SHAPE = re.compile(r"-?\d{1,3}(?:\.\d{1,2})?|(?:year|yr|y|r|n)\s?-?\d{0,2}", re.IGNORECASE)
# Digits that could be an ID or a date of birth: never quoted, whatever the column.
DATA_LIKE = re.compile(r"\d{4}|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value).strip()


def describe(value, *, known: Iterable[str] = (), column_type: str = "choice", personal: bool = False) -> str:
    """``value`` as a message may show it: ``'maybe'`` (quoted), or ``a value of 10 characters
    (letters and spaces; not shown)``.

    ``known`` are the column's codes (compared as the validation compares them: case-insensitive,
    spaces as underscores); ``column_type`` is the schema's (``choice``, ``flag``, ``int``,
    ``date``...); a ``personal`` column's values are never quoted.
    """
    text = cell_text(value)
    if not personal and _quotable(text, known, column_type):
        return repr(text)
    return f"a value of {len(text)} character{'' if len(text) == 1 else 's'} ({kinds(text)}; not shown)"


def _quotable(text: str, known: Iterable[str], column_type: str) -> bool:
    if not text or len(text) > SHORT_CODE or CONTROL.search(text) or DATA_LIKE.search(text):
        return False
    if text.lower().replace(" ", "_") in {str(k).lower() for k in known}:
        return True
    if column_type == "int":
        return bool(NUMBER_SHAPE.fullmatch(text))
    if column_type in ("choice", "flag", "date"):
        return bool(CODE_SHAPE.fullmatch(text))
    return False  # ids and free text are never quoted


def kinds(text: str) -> str:
    """The kinds of character in ``text``, in a fixed order: "letters and spaces"."""
    found = []
    checks = (("letters", str.isalpha), ("digits", str.isdigit), ("spaces", lambda c: c == " "),
              ("control characters", lambda c: bool(CONTROL.match(c)) or (c.isspace() and c != " ")))
    for name, test in checks:
        if any(test(c) for c in text):
            found.append(name)
    if any(not (c.isalnum() or c.isspace() or CONTROL.match(c)) for c in text):
        found.append("punctuation or symbols")
    if not found:
        return "blank"
    return found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]
