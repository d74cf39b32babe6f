"""Fuzzing the people file (issue 28): random rows of names, addresses, ids, teams and roles, with
line breaks, Unicode separators, bidi overrides and header tricks, as CSV or XLSX.

For every example only an ``EhcpError`` may come out; every person kept holds no forbidden
character and a plain address; every row is either kept or listed (never silently lost); and the
digest built for each kept person has a ``To:`` header that parses back to exactly that one address.
The seed is fixed and the count small (a longer run: ``EHCP_FUZZ_PEOPLE_EXAMPLES=2000``).
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import email.utils
import io
import os

from hypothesis import HealthCheck, given, seed, settings, strategies as st

from ehcp_tracker.alerts.digest import Digest
from ehcp_tracker.alerts.people import FORBIDDEN, read_people
from ehcp_tracker.errors import EhcpError, ImportRejected

TRICKS = ["\n", "\r\n", "\u2028", "\u2029", "\u0085", "\u202e", "\u2066", "\x1b[2J", "\x00", "\x0b", ",", '"',
          "<eve@evil.example>", "Bcc: eve@evil.example", "=HYPERLINK(\"x\")", "\u00e9", " ", "@", ";"]
text = st.one_of(st.text(max_size=20), st.sampled_from(["Alex Example", "Kim O'Lead", "Zoë Brontë", "", "  "]),
                 st.lists(st.sampled_from(TRICKS + ["Alex", "Lead", "x"]), max_size=5).map("".join))
address = st.one_of(st.sampled_from(["alex@example.org", "kim.lead+alerts@council.gov.uk", "a@b", "not-an-address",
                                     "a@b.org, c@d.org", "a@b.org\nBcc: e@f.org", "A <a@b.org>", ""]),
                    st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=8), st.text(max_size=8)))
role = st.sampled_from(["caseworker", "team_lead", "Team_Lead", "boss", "", "caseworker\u2028"])
row = st.tuples(st.one_of(st.sampled_from(["CW1", "cw1", "CW2", "TL", ""]), st.text(max_size=6)), text, address,
                st.sampled_from(["North", "South", "", "No\u202erth"]), role)


@st.composite
def people_files(draw):
    """(bytes, suffix, number of data rows) of a random people file."""
    header = ["id", "name", "email", "team", "role"]
    if draw(st.integers(0, 9)) == 0:
        header = draw(st.permutations(header))[: draw(st.integers(3, 5))]
    rows = [list(r)[: len(header)] for r in draw(st.lists(row, max_size=8))]
    if draw(st.booleans()):
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        book = Workbook()
        for values in [header, *rows]:
            book.active.append([ILLEGAL_CHARACTERS_RE.sub("", v) for v in values])
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue(), ".xlsx", header, rows
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])), errors="replace"), ".csv", \
        header, rows


def _rows_written(data: bytes, suffix: str) -> list[list]:
    """The non-blank data rows as a spreadsheet would show them (read back independently)."""
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        rows = [["" if v is None else str(v) for v in r]
                for r in load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True)]
    else:
        try:
            decoded = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            decoded = data.decode("cp1252")
        rows = list(csv.reader(io.StringIO(decoded, newline="")))
    rows = [r for r in rows if any(c.strip() for c in r)]
    return rows[1:]


@seed(20261203)
@settings(max_examples=int(os.environ.get("EHCP_FUZZ_PEOPLE_EXAMPLES", "150")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(example=people_files())
def test_fuzzed_people_files_never_crash_and_never_forge_a_recipient(tmp_path, example):
    data, suffix, header, rows = example
    path = tmp_path / f"people{suffix}"
    path.write_bytes(data)
    try:
        people = read_people(path)
    except ImportRejected as exc:
        assert exc.problems and all(p.file == path.name for p in exc.problems)
        return
    except EhcpError:
        return
    listed = {p.row for p in people.problems}
    assert len(people.everyone) + len(listed) == len(_rows_written(data, suffix))  # every row kept or listed
    for person in people.everyone:
        for value in (person.id, person.name, person.email, person.team, person.role):
            assert not FORBIDDEN.search(value)
        message = Digest(person, [], dt.date(2024, 5, 1)).message("send-alerts@council.example")
        raw = email.message_from_bytes(message.as_bytes(), policy=email.policy.compat32)
        assert email.utils.getaddresses([str(raw["To"])])[0][1] == person.email
        assert len(email.utils.getaddresses([str(raw["To"])])) == 1
        parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        assert [a.addr_spec for a in parsed["To"].addresses] == [person.email]
