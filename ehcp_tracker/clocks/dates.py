"""Named date policies, the counting conventions of the law, and the one place that reads the clock.

Each policy exists twice on purpose: ``due_dates`` is the vectorised form the engine runs over a whole
caseload (numpy ``datetime64[D]``), ``due_date`` is the scalar form ``explain`` shows its working with
(pendulum). They are written independently, and a property test checks they agree, so a mistake in
either shows up as a disagreement rather than as a wrong deadline in both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import holidays
import numpy as np
import pendulum

LONDON = "Europe/London"
NAT = np.datetime64("NaT", "D")


def today() -> dt.date:
    """Today in England, whatever the machine's time zone: the only place the clock is read.

    Late on a summer evening the UTC date is already tomorrow in some zones and still today in
    others; a council's "today" is the London date.
    """
    now = pendulum.now(LONDON)
    return dt.date(now.year, now.month, now.day)


@dataclass(frozen=True)
class Counting:
    """How the words of a time limit become a last compliant day (statutory-rules.md section 1.10).

    - ``event_day``: "within N weeks of <event>" excludes the event day by the general rule of
      English law (Marren v Dawson Bentley [1961] 2 QB 135), so the last day is event + 7N days.
      ``"included"`` counts the event day as day 1, one day earlier, as some advisers do.
    - ``period_end``: "a period of 12 months starting with <date>" (CFA 2014 s44(1)) includes the
      start date, so it ends the day before the anniversary; ``"anniversary"`` is IPSEA's reading.
    - ``before_date``: "before 15 February" (reg 18(1)) means the last compliant day is 14 February;
      ``"on_the_day"`` is the common "by 15 February" reading.
    - ``months_before``: "at least five months before" a transfer (reg 18(2)): ``"corresponding_day"``
      (default) lets the period of five months end on the transfer day itself (1 September -> 1
      April); ``"clear_months"`` wants five whole months clear of both days (1 September -> 31 March).
    - ``weeks_before``: "at least two weeks' notice of the date of the meeting" and advice circulated
      "at least two weeks in advance of the meeting" (regs 20(3)-(4), 21(3)-(4)):
      ``"corresponding_day"`` (default) excludes the day the notice is given and counts the meeting
      day, the usual rule for "not less than" a period before an event, so notice on the meeting day
      less 14 days is on time; ``"clear_days"`` wants 14 clear days between the two, both days
      excluded, as "not less than 21 days' notice" was read in Re Hector Whaling Ltd [1936] Ch 208
      (notice on the meeting day less 15 days at the latest).

    Each choice is named in ``explain``'s working beside the limit it shapes, with the other reading.
    """

    event_day: str = "excluded"
    period_end: str = "day_before_anniversary"
    before_date: str = "day_before"
    months_before: str = "corresponding_day"
    weeks_before: str = "corresponding_day"

    CHOICES = {
        "event_day": ("excluded", "included"),
        "period_end": ("day_before_anniversary", "anniversary"),
        "before_date": ("day_before", "on_the_day"),
        "months_before": ("corresponding_day", "clear_months"),
        "weeks_before": ("corresponding_day", "clear_days"),
    }

    @property
    def event_offset(self) -> int:
        return 0 if self.event_day == "excluded" else -1

    @property
    def period_offset(self) -> int:
        return -1 if self.period_end == "day_before_anniversary" else 0

    @property
    def before_offset(self) -> int:
        return -1 if self.before_date == "day_before" else 0

    @property
    def months_before_offset(self) -> int:
        return -1 if self.months_before == "clear_months" else 0

    @property
    def weeks_before_offset(self) -> int:
        return -1 if self.weeks_before == "clear_days" else 0

    def other(self, name: str) -> str:
        """The reading of ``name`` not in force (each choice has two), for explain to name."""
        return next(c for c in self.CHOICES[name] if c != getattr(self, name))


class DatePolicy:
    """A rule for turning a start date into a due date."""

    def due_date(self, start: dt.date, counting: Counting) -> dt.date:  # pragma: no cover - abstract
        raise NotImplementedError

    def due_dates(self, start: np.ndarray, counting: Counting) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def describe(self, counting: Counting) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Days(DatePolicy):
    """N calendar days after the event."""

    days: int

    def due_date(self, start, counting):
        return _plain(pendulum.date(start.year, start.month, start.day).add(days=self.days + counting.event_offset))

    def due_dates(self, start, counting):
        return start + np.timedelta64(self.days + counting.event_offset, "D")

    def describe(self, counting):
        return f"{self.days} days after the start (start day {counting.event_day})"


@dataclass(frozen=True)
class Weeks(DatePolicy):
    """N calendar weeks after the event: the statutory limits are calendar weeks, not school weeks."""

    weeks: int

    def due_date(self, start, counting):
        due = pendulum.date(start.year, start.month, start.day).add(weeks=self.weeks)
        return _plain(due.add(days=counting.event_offset))

    def due_dates(self, start, counting):
        return start + np.timedelta64(7 * self.weeks + counting.event_offset, "D")

    def describe(self, counting):
        return f"{self.weeks} weeks = {7 * self.weeks} days after the start (start day {counting.event_day})"


@dataclass(frozen=True)
class Months(DatePolicy):
    """A period of N calendar months starting with the start date.

    "The period of 12 months starting with D" (CFA 2014 s44(1)) includes D, so it ends the day before
    the corresponding date N months on; where that month has no corresponding day (29 February in a
    common year) it ends on the last day of that month (the corresponding-date rule of Dodds v Walker
    [1981] 1 WLR 1027). So 15 March 2023 gives 14 March 2024, 1 March 2023 gives 29 February 2024
    (the day before 1 March 2024), and 29 February 2024 gives 28 February 2025 (no 29 February 2025:
    the month's last day). ``period_end = "anniversary"`` gives the corresponding date itself.
    """

    months: int

    def due_date(self, start, counting):
        return period_end(start, self.months, counting)

    def due_dates(self, start, counting):
        return period_ends(start, self.months, counting)

    def describe(self, counting):
        end = "the day before the corresponding date" if counting.period_offset else "the corresponding date"
        return f"{self.months} months starting with the start date, ending {end}"


def period_end(start: dt.date, months: int, counting: Counting) -> dt.date:
    """Scalar: the last day of "the period of N months starting with" ``start`` (see ``Months``)."""
    target_year, target_month = divmod(start.year * 12 + start.month - 1 + months, 12)
    target_month += 1
    last_day = pendulum.date(target_year, target_month, 1).days_in_month
    if start.day > last_day:  # no corresponding day: the period ends on the month's last day
        return dt.date(target_year, target_month, last_day)
    corresponding = dt.date(target_year, target_month, start.day)
    return corresponding + dt.timedelta(days=counting.period_offset)


def period_ends(start: np.ndarray, months: int, counting: Counting) -> np.ndarray:
    """Vectorised ``period_end``: the corresponding date less the offset, or the month end when clamped."""
    start = np.asarray(start, dtype="datetime64[D]")
    corresponding = add_months(start, months)
    day_of_month = (start - start.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    landed = (corresponding - corresponding.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    clamped = landed < day_of_month
    out = np.where(clamped, corresponding, corresponding + np.timedelta64(counting.period_offset, "D"))
    out[np.isnat(start)] = NAT
    return out


@dataclass(frozen=True)
class FixedDate(DatePolicy):
    """A fixed calendar date in the year of the start date, e.g. "before 15 February" (reg 18(1))."""

    month: int
    day: int

    def due_date(self, start, counting):
        fixed = pendulum.date(start.year, self.month, self.day)
        return _plain(fixed.add(days=counting.before_offset))

    def due_dates(self, start, counting):
        years = start.astype("datetime64[Y]")
        month_starts = years.astype("datetime64[M]") + np.timedelta64(self.month - 1, "M")
        return month_starts.astype("datetime64[D]") + np.timedelta64(self.day - 1 + counting.before_offset, "D")

    def describe(self, counting):
        when = "the day before" if counting.before_offset else "on"
        return f"{when} {dt.date(2000, self.month, self.day):%d %B} of the year"


@dataclass(frozen=True)
class MonthsBefore(DatePolicy):
    """At least N calendar months before the start date (a planned event), e.g. reg 18(2): review and
    amend "at least five months before" a post-16 to post-16 transfer.

    The last compliant day is the corresponding date N months earlier, or the last day of a shorter
    month: from that day a period of N months (Dodds v Walker) ends exactly on the transfer date, and
    from the next day it would end after it. So 1 September 2025 gives 1 April 2025, and 31 July 2025
    gives 28 February 2025. ``[counting] months_before = "clear_months"`` reads it as N whole months
    clear of both days, one day earlier (1 September 2025 -> 31 March 2025).
    """

    months: int

    def due_date(self, start, counting):
        earlier = pendulum.date(start.year, start.month, start.day).subtract(months=self.months)
        return _plain(earlier.add(days=counting.months_before_offset))

    def due_dates(self, start, counting):
        return add_months(start, -self.months) + np.timedelta64(counting.months_before_offset, "D")

    def describe(self, counting):
        if counting.months_before_offset:
            said = f"at least {self.months} clear months before the start date (the day before the corresponding day)"
        else:
            said = f"at least {self.months} months before the start date (the corresponding day {self.months} months earlier)"
        return (f'{said}; [counting] months_before = "{counting.months_before}" in force '
                f'(the other reading: "{counting.other("months_before")}")')


@dataclass(frozen=True)
class WeeksBefore(DatePolicy):
    """At least N weeks before the start date (a meeting): "at least two weeks' notice of the date of
    the meeting" (regs 20(3), 21(3)) is met by notice given on the meeting day less 7N days or earlier."""

    weeks: int

    def due_date(self, start, counting):
        before = pendulum.date(start.year, start.month, start.day).subtract(weeks=self.weeks)
        return _plain(before.add(days=counting.weeks_before_offset))

    def due_dates(self, start, counting):
        return start - np.timedelta64(7 * self.weeks - counting.weeks_before_offset, "D")

    def describe(self, counting):
        if counting.weeks_before_offset:
            said = (f"at least {self.weeks} clear weeks before the start date: {7 * self.weeks} clear days, "
                    f"both days excluded, so at the latest {7 * self.weeks + 1} days before")
        else:
            said = (f"at least {self.weeks} weeks = {7 * self.weeks} days before the start date (the day it is "
                    "given excluded, the start day counted)")
        return (f'{said}; [counting] weeks_before = "{counting.weeks_before}" in force '
                f'(the other reading: "{counting.other("weeks_before")}", Re Hector Whaling Ltd [1936] Ch 208)')


@dataclass(frozen=True)
class WorkingDays(DatePolicy):
    """N working days after the event, skipping weekends and England and Wales bank holidays.

    Statutory clocks are calendar periods; working days are for local targets only (design.md s2).
    """

    days: int

    def due_date(self, start, counting):
        day = start
        counted = 0 if counting.event_offset == 0 else 1  # "included" makes the event day day 1
        if counted and not _is_working_day(day):
            counted = 0
        while counted < self.days:
            day = day + dt.timedelta(days=1)
            if _is_working_day(day):
                counted += 1
        return day

    def due_dates(self, start, counting):
        result = np.full(start.shape, NAT)
        known = ~np.isnat(start)
        offset = self.days if counting.event_offset == 0 else self.days - 1
        hols = bank_holidays_array()
        working = np.is_busday(start[known], holidays=hols)
        base = np.busday_offset(start[known], 0, roll="backward", holidays=hols)
        shifted = np.busday_offset(base, offset, roll="backward", holidays=hols)
        if counting.event_offset != 0:
            # counting the event day as day 1 only works when the event day is itself a working day
            shifted = np.where(working, shifted, np.busday_offset(base, offset + 1, holidays=hols))
        result[known] = shifted
        return result

    def describe(self, counting):
        return f"{self.days} working days after the start (England and Wales bank holidays excluded)"


def _plain(day) -> dt.date:
    return dt.date(day.year, day.month, day.day)


def add_months(start: np.ndarray, months: int) -> np.ndarray:
    """Calendar-month addition over an array, clamping to the month end (NaT stays NaT)."""
    start = np.asarray(start, dtype="datetime64[D]")
    month = start.astype("datetime64[M]")
    day_index = (start - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.timedelta64(months, "M")
    length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    with np.errstate(invalid="ignore"):
        clamped = np.minimum(day_index, length - 1)
    result = target.astype("datetime64[D]") + clamped.astype("timedelta64[D]")
    result[np.isnat(start)] = NAT
    return result


@lru_cache(maxsize=1)
def _bank_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG", years=range(2010, 2041))


@lru_cache(maxsize=1)
def bank_holidays_array() -> np.ndarray:
    return np.array(sorted(_bank_holidays().keys()), dtype="datetime64[D]")


def _is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays()


def to_day_array(values) -> np.ndarray:
    """Any column of dates (datetime64, date objects, None) as ``datetime64[D]``."""
    import pandas as pd

    series = pd.Series(values)
    if series.dtype == object:
        series = pd.to_datetime(series, errors="coerce")
    return series.to_numpy(dtype="datetime64[D]", na_value=NAT)


def as_date(value) -> dt.date | None:
    """One ``datetime64``/pandas/``date`` value as a ``datetime.date`` (None for blank)."""
    import pandas as pd

    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        return value.astype("datetime64[D]").item()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if pd.isna(value):
        return None
    return pd.Timestamp(value).date()
