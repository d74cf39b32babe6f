"""Whether what a row shows supports the exemption recorded on one of its clocks.

Why: an exemption is a claim the law allows only in defined circumstances ("need not comply with
the time limit ... if it is impractical to do so because ..."), so a claim the row's own dates
contradict is not applied (the clock is judged without it) and is listed as a query. The checks,
each from the text of the regulation:

- ``school_closure`` (reg 10(4)(a), applied by regs 5(4), 13(3) and 27(3)): the LA requested advice
  from the head teacher or principal (``education_advice_requested``) "during a period beginning one
  week before any date on which that school or institution was closed for a continuous period of not
  less than 4 weeks from that date and ending one week before the date on which it re-opens". No
  request date: not supported. With term dates configured (``term_dates.py``), a request date
  outside every window: not supported.
- ``early_years_closure`` (reg 10(4)(b)): the same request to the early-years provider; no request
  date, not supported (the council's school term dates are not an early-years provider's).
- ``personal_circumstances``, ``missed_appointment`` (reg 8(2)(a), (c): "during that 6 week
  period"; reg 10(4)(c): "during that time period") and ``absence_from_area`` (reg 8(2)(b), reg
  10(4)(d): "a continuous period of not less than 4 weeks during that ... period"): checked only
  where the row gives ``exception_from`` (and ``exception_to``; blank means it lasted to the due
  date). The clock's period is the day after its start event to its due date ("within N weeks of"
  excludes the event day). The circumstance must fall in it; an absence must overlap it by at least
  28 days.

The vectorised form (``unsupported``) serves the engine and the queries; ``why_unsupported`` is the
same reasoning for one record, for ``explain``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .dates import NAT

CLOSURE_CODES = ("school_closure", "early_years_closure")
EVIDENCE_CODES = ("personal_circumstances", "absence_from_area", "missed_appointment")
ABSENCE_DAYS = 28  # "a continuous period of not less than 4 weeks" (reg 8(2)(b), reg 10(4)(d))

NO_REQUEST = ("no education_advice_requested: the {code} exemption (reg 10(4)(a)/(b)) needs advice requested "
              "from the head teacher, principal or early-years provider")
OUTSIDE_TERM = ("education_advice_requested falls outside every closure window of the term dates "
                "({source}): reg 10(4)(a) needs the request in the period beginning one week before a closure "
                "of at least 4 weeks and ending one week before the re-opening")
OUTSIDE_PERIOD = ("the circumstance (exception_from to exception_to) falls outside the clock's period (the day "
                  "after its start to its due date): reg 8(2) and reg 10(4)(c) need it during that period")
SHORT_ABSENCE = ("the absence (exception_from to exception_to) covers fewer than 28 days of the clock's period: "
                 "reg 8(2)(b) and reg 10(4)(d) need a continuous period of not less than 4 weeks during it")


def unsupported(code: str, start: np.ndarray, due: np.ndarray, columns: dict[str, np.ndarray], rows: np.ndarray,
                term_dates) -> tuple[np.ndarray, np.ndarray]:
    """(mask, why) over ``rows``: where the recorded ``code`` is not supported, and the sentence why."""
    n = len(rows)
    why = np.full(n, None, dtype=object)
    mask = np.zeros(n, dtype=bool)
    if code in CLOSURE_CODES:
        asked = columns["education_advice_requested"][rows]
        missing = np.isnat(asked)
        why[missing] = NO_REQUEST.format(code=code)
        mask |= missing
        if code == "school_closure" and term_dates is not None:
            outside = ~missing & ~term_dates.in_window(asked)
            why[outside] = OUTSIDE_TERM.format(source=term_dates.source)
            mask |= outside
    elif code in EVIDENCE_CODES and "exception_from" in columns:
        first_day = columns["exception_from"][rows]
        given = ~np.isnat(first_day) & ~np.isnat(due)
        last_day = columns["exception_to"][rows]
        last_day = np.where(np.isnat(last_day), due, last_day)
        begins = np.maximum(first_day, start + np.timedelta64(1, "D"))
        ends = np.minimum(last_day, due)
        overlap = np.where(given, (ends - begins).astype("timedelta64[D]").astype(np.int64) + 1, 0)
        if code == "absence_from_area":
            short = given & (overlap < ABSENCE_DAYS) & (overlap > 0)
            why[short] = SHORT_ABSENCE
            mask |= short
        outside = given & (overlap <= 0)
        why[outside] = OUTSIDE_PERIOD
        mask |= outside
    return mask, why


def why_unsupported(code: str, start: dt.date, due: dt.date, record: dict, term_dates) -> str | None:
    """The same judgement for one prepared record: the reason the claim is not supported, or None."""
    if code in CLOSURE_CODES:
        asked = record.get("education_advice_requested")
        if asked is None:
            return NO_REQUEST.format(code=code)
        if code == "school_closure" and term_dates is not None and term_dates.window_for(asked) is None:
            return OUTSIDE_TERM.format(source=term_dates.source)
        return None
    if code in EVIDENCE_CODES and record.get("exception_from") is not None:
        first_day, last_day = record["exception_from"], record.get("exception_to") or due
        begins, ends = max(first_day, start + dt.timedelta(days=1)), min(last_day, due)
        overlap = (ends - begins).days + 1
        if overlap <= 0:
            return OUTSIDE_PERIOD
        if code == "absence_from_area" and overlap < ABSENCE_DAYS:
            return SHORT_ABSENCE
    return None


__all__ = ["unsupported", "why_unsupported", "CLOSURE_CODES", "EVIDENCE_CODES", "NAT"]
