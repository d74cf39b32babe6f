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
- ``personal_circumstances`` (reg 8(2)(a): "during that 6 week period"; reg 10(4)(c): "during that
  time period") and ``absence_from_area`` (reg 8(2)(b), reg 10(4)(d): "a continuous period of not
  less than 4 weeks during that ... period"): checked only where the row gives ``exception_from``
  (and ``exception_to``; blank means the circumstance is still going on, so it lasts to the due
  date). The clock's period is the day after its start event to its due date ("within N weeks of"
  excludes the event day). The circumstance must overlap it; an absence by at least 28 days.
- ``missed_appointment`` (reg 8(2)(c): the child or young person "fails to keep an appointment for an
  examination or test made by the body during that 6 week period") is an event of one day, not a
  state that lasts: the appointment is ``exception_from`` and nothing else, whatever
  ``exception_to`` says, and it must fall inside the period. "Blank end = to the due date" would
  let an appointment missed before the advice was even requested exempt the clock. (Of the other
  dated codes, a blank end is right: exceptional circumstances and an absence are states that
  may still be going on; the closure codes are judged by the request date, not these columns.)
- Reg 44(3) (tribunal orders, ``tribunal`` scope): the same two states, but an absence of "not less
  than 2 weeks" (HMCTS SEND18; the legislation.gov.uk text of reg 44 unverified): 14 days.

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
# per exception scope where the law sets another length: reg 44(3)(b) / reg 45's exemptions, "a
# continuous period of not less than 2 weeks" (HMCTS SEND18, SEND Advice Surrey; reg 44 text unverified)
ABSENCE_DAYS_BY_SCOPE = {"tribunal": 14}
ONE_DAY_CODES = ("missed_appointment",)  # events of one day (reg 8(2)(c)): exception_to is not read


def absence_days(scope: str | None) -> int:
    return ABSENCE_DAYS_BY_SCOPE.get(scope or "", ABSENCE_DAYS)

NO_REQUEST = ("no education_advice_requested: the {code} exemption (reg 10(4)(a)/(b)) needs advice requested "
              "from the head teacher, principal or early-years provider")
OUTSIDE_TERM = ("education_advice_requested falls outside every closure window of the term dates "
                "({source}): reg 10(4)(a) needs the request in the period beginning one week before a closure "
                "of at least 4 weeks and ending one week before the re-opening")
OUTSIDE_PERIOD = ("the circumstance (exception_from to exception_to) falls outside the clock's period (the day "
                  "after its start to its due date): reg 8(2) and reg 10(4)(c) need it during that period")
SHORT_ABSENCE = ("the absence (exception_from to exception_to) covers fewer than 28 days of the clock's period: "
                 "reg 8(2)(b) and reg 10(4)(d) need a continuous period of not less than 4 weeks during it")
SHORT_ABSENCE_TRIBUNAL = ("the absence (exception_from to exception_to) covers fewer than 14 days of the clock's "
                          "period: reg 44(3) and reg 45 need a continuous period of not less than 2 weeks during it")
APPOINTMENT_OUTSIDE = ("the missed appointment (exception_from, an event of one day) is not in the clock's period "
                       "(the day after the request was received to the due date): reg 8(2)(c) needs an appointment "
                       "made by the body during that 6 week period")


def unsupported(code: str, start: np.ndarray, due: np.ndarray, columns: dict[str, np.ndarray], rows: np.ndarray,
                term_dates, scope: str | None = None) -> tuple[np.ndarray, np.ndarray]:
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
        if code in ONE_DAY_CODES:
            last_day = first_day
        else:
            last_day = columns["exception_to"][rows]
            last_day = np.where(np.isnat(last_day), due, last_day)
        begins = np.maximum(first_day, start + np.timedelta64(1, "D"))
        ends = np.minimum(last_day, due)
        overlap = np.where(given, (ends - begins).astype("timedelta64[D]").astype(np.int64) + 1, 0)
        if code == "absence_from_area":
            short = given & (overlap < absence_days(scope)) & (overlap > 0)
            why[short] = SHORT_ABSENCE_TRIBUNAL if scope == "tribunal" else SHORT_ABSENCE
            mask |= short
        outside = given & (overlap <= 0)
        why[outside] = APPOINTMENT_OUTSIDE if code in ONE_DAY_CODES else OUTSIDE_PERIOD
        mask |= outside
    return mask, why


def why_unsupported(code: str, start: dt.date, due: dt.date, record: dict, term_dates,
                    scope: str | None = None) -> str | None:
    """The same judgement for one prepared record: the reason the claim is not supported, or None."""
    if code in CLOSURE_CODES:
        asked = record.get("education_advice_requested")
        if asked is None:
            return NO_REQUEST.format(code=code)
        if code == "school_closure" and term_dates is not None and term_dates.window_for(asked) is None:
            return OUTSIDE_TERM.format(source=term_dates.source)
        return None
    if code in EVIDENCE_CODES and record.get("exception_from") is not None:
        first_day = record["exception_from"]
        # an appointment is kept or missed on one day; a circumstance with no end is still going on
        last_day = first_day if code in ONE_DAY_CODES else record.get("exception_to") or due
        begins, ends = max(first_day, start + dt.timedelta(days=1)), min(last_day, due)
        overlap = (ends - begins).days + 1
        if overlap <= 0:
            return APPOINTMENT_OUTSIDE if code in ONE_DAY_CODES else OUTSIDE_PERIOD
        if code == "absence_from_area" and overlap < absence_days(scope):
            return SHORT_ABSENCE_TRIBUNAL if scope == "tribunal" else SHORT_ABSENCE
    return None


__all__ = ["unsupported", "why_unsupported", "CLOSURE_CODES", "EVIDENCE_CODES", "NAT"]
