"""Calendar edge cases, settled in writing (style.md item 8).

Each row is a worked date; the comments argue the choice and cite the law.
"""

import datetime as dt

import numpy as np
import pytest

from ehcp_tracker.clocks.dates import Counting, Days, FixedDate, Months, Weeks, WorkingDays, today

D = dt.date.fromisoformat
DEFAULT = Counting()

CASES = [
    # "within 6 weeks of" excludes the day of the event (Marren v Dawson Bentley [1961] 2 QB 135):
    # a request received on Monday 2 September 2019 must be decided by Monday 14 October 2019.
    (Weeks(6), "2019-09-02", DEFAULT, "2019-10-14"),
    # 20 weeks = 140 days: the final plan for the same request is due Monday 20 January 2020 (reg 13(2)).
    (Weeks(20), "2019-09-02", DEFAULT, "2020-01-20"),
    # weeks run straight through a leap day: 140 days after 1 February 2024 is 20 June 2024.
    (Weeks(20), "2024-02-01", DEFAULT, "2024-06-20"),
    # across a year end
    (Weeks(16), "2025-11-20", DEFAULT, "2026-03-12"),
    # counting the event day as day 1 (a parameter some advisers use) gives a date one day earlier
    (Weeks(6), "2019-09-02", Counting(event_day="included"), "2019-10-13"),
    # "period of 12 months starting with" (CFA 2014 s44(1)) includes the start day, so it ends the day
    # before the anniversary: plan made 15 March 2023 -> review by 14 March 2024; 1 Jan -> 31 Dec.
    (Months(12), "2023-03-15", DEFAULT, "2024-03-14"),
    (Months(12), "2019-01-01", DEFAULT, "2019-12-31"),
    # 29 February: the 12 months starting with it are the 12 months after 28 February, ending on
    # the corresponding date 28 February 2025 (Dodds v Walker [1981] 1 WLR 1027): a full 366 days.
    (Months(12), "2024-02-29", DEFAULT, "2025-02-28"),
    # a month end clamps: one month starting with 31 January 2025 is the month after 30 January,
    # whose corresponding date (30 February) does not exist, so it ends on 28 February 2025.
    (Months(1), "2025-01-31", DEFAULT, "2025-02-28"),
    # IPSEA's reading (the anniversary itself) is available as a parameter
    (Months(12), "2023-03-15", Counting(period_end="anniversary"), "2024-03-15"),
    # "before 15 February" (reg 18(1)(b)): the last compliant day is 14 February; "by" reading on the day.
    (FixedDate(2, 15), "2024-01-01", DEFAULT, "2024-02-14"),
    (FixedDate(3, 31), "2025-09-01", DEFAULT, "2025-03-30"),
    (FixedDate(2, 15), "2024-01-01", Counting(before_date="on_the_day"), "2024-02-15"),
    # "at least 15 days" is calendar days (reg 13(1); CoP 9.77)
    (Days(15), "2024-03-01", DEFAULT, "2024-03-16"),
    # working days (local targets only) skip weekends and England bank holidays:
    # Friday 19 Dec 2025 + 5 working days skips Christmas Day and Boxing Day -> Tuesday 30 Dec 2025.
    (WorkingDays(5), "2025-12-19", DEFAULT, "2025-12-30"),
    # a Saturday start: the first working day after it is Monday (day 1) -> Friday
    (WorkingDays(5), "2026-04-04", DEFAULT, "2026-04-13"),  # Easter Monday 6 April 2026 skipped
    (WorkingDays(1), "2024-05-03", DEFAULT, "2024-05-07"),  # Friday; Monday 6 May 2024 is a bank holiday
]


@pytest.mark.parametrize("policy,start,counting,expected", CASES)
def test_due_date_scalar_and_vectorised(policy, start, counting, expected):
    assert policy.due_date(D(start), counting) == D(expected)
    vector = policy.due_dates(np.array([start, "NaT"], dtype="datetime64[D]"), counting)
    assert vector[0] == np.datetime64(expected)
    assert np.isnat(vector[1])


@pytest.mark.parametrize("policy", [Weeks(6), Weeks(20), Months(12), Months(1), FixedDate(2, 15),
                                    WorkingDays(5), WorkingDays(15), Days(15)])
@pytest.mark.parametrize("counting", [Counting(), Counting("included", "anniversary", "on_the_day")])
def test_scalar_and_vectorised_agree_over_three_years(policy, counting):
    starts = np.arange(np.datetime64("2023-01-01"), np.datetime64("2026-01-01"))
    vector = policy.due_dates(starts, counting)
    scalar = [policy.due_date(s.item(), counting) for s in starts]
    assert [v.item() for v in vector] == scalar


def test_today_is_the_london_date(monkeypatch):
    """Late on a summer evening the UTC date is still today but London is already tomorrow."""
    from freezegun import freeze_time

    with freeze_time("2026-06-30T23:30:00+00:00"):  # 00:30 on 1 July in British Summer Time
        assert today() == D("2026-07-01")
    with freeze_time("2026-12-31T23:30:00+00:00"):  # GMT in winter: still 31 December
        assert today() == D("2026-12-31")
