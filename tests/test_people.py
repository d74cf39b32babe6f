"""The people file is typed by hand and not trusted (issue 28, point 1): every hostile value is a
listed, skipped row; everyone else is still alerted; headers come from structured addresses, so a
name can never become a second recipient; ``--from`` is checked the same way. On SQLite and PostgreSQL
through the CLI and a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy

import pytest

from ehcp_tracker.alerts.people import parse_sender, read_people
from ehcp_tracker.errors import EhcpError, ImportRejected

from .conftest import write_csv
from .test_alerts import PEOPLE, night, smtp  # noqa: F401 - fixtures

COLUMNS = ["id", "name", "email", "team", "role"]
GOOD = ["CW1", "Alex Example", "alex@example.org", "North", "caseworker"]


@pytest.mark.parametrize("column, value, reason", [
    ("name", "Alex\nExample", "contains the character U+000A"),
    ("name", "Alex\r\nBcc: all@example.org", "contains the character U+000D"),
    ("name", "Alex\u2028Example", "contains the character U+2028"),
    ("name", "Alex\u2029Example", "contains the character U+2029"),
    ("name", "Alex\u0085Example", "contains the character U+0085"),
    ("name", "Alex \u202eelpmaxE", "contains the character U+202E"),
    ("name", "Alex\u2066x\u2069", "contains the character U+2066"),
    ("name", "Alex\u200fExample", "contains the character U+200F"),
    ("name", "Alex\x1b[31mExample", "contains the character U+001B"),
    ("name", "Alex\x00", "contains the character U+0000"),
    ("name", "", "a name is required"),
    ("name", "A" * 201, "a value of 201 characters (at most 200)"),
    ("id", "CW\u20281", "contains the character U+2028"),
    ("team", "North\x0b", "contains the character U+000B"),
    ("email", "alex@example.org, eve@evil.example", "not an email address"),
    ("email", "Alex <alex@example.org>", "not an email address"),
    ("email", "alex@example.org\nBcc: eve@evil.example", "contains the character U+000A"),
    ("email", "alex@@example.org", "not an email address"),
    ("email", "alex@", "not an email address"),
    ("email", "alex@-example.org", "not an email address"),
    ("email", "alex..x@example.org", "not an email address"),
    ("email", "al\u00e9x@example.org", "not an email address"),
    ("email", "\"a b\"@example.org", "not an email address"),
    ("email", "a" * 65 + "@example.org", "the part before @ is longer than 64 characters"),
    ("role", "boss", "'boss' is not one of caseworker, team_lead"),
    ("role", "Jane Smith", "a value of 10 characters is not one of"),
])
def test_a_hostile_value_is_one_listed_skipped_row(tmp_path, column, value, reason):
    bad = dict(zip(COLUMNS, ["CW2", "Sam Example", "sam@example.org", "North", "caseworker"], strict=True))
    bad[column] = value
    path = write_csv(tmp_path / "people.csv", COLUMNS, [GOOD, list(bad.values()), PEOPLE[2]])
    people = read_people(path)
    assert [p.id for p in people.everyone] == ["CW1", "TLN"]
    listing = [str(p) for p in people.problems]
    assert len(listing) == 1 and listing[0].startswith(f"people.csv, row 3, column {column}: ")
    assert reason in listing[0]
    if column in ("name", "email") and value:
        assert value not in listing[0]  # a name (or address) is never echoed back
    with pytest.raises(ImportRejected, match="row 3"):
        read_people(path, strict=True)


def test_every_problem_of_the_file_is_listed_and_a_file_of_nobody_is_refused(tmp_path):
    rows = [["CW1", "A\u2028B", "x", "", "boss"], ["", "B", "b@example.org", "North", "caseworker"]]
    path = write_csv(tmp_path / "people.csv", COLUMNS, rows)
    with pytest.raises(ImportRejected) as caught:
        read_people(path)
    text = str(caught.value)
    assert "row 2, column name: contains the character U+2028" in text
    assert "row 3, column id: an id is required" in text


@pytest.mark.parametrize("value, expected", [
    ("send-alerts@council.example", ("", "send-alerts@council.example")),
    ("SEND alerts <send@council.example>", ("SEND alerts", "send@council.example")),
])
def test_from_is_parsed_into_one_address(value, expected):
    sender = parse_sender(value)
    assert (sender.display_name, sender.addr_spec) == expected


@pytest.mark.parametrize("value, reason", [
    ("send@council.example\nBcc: eve@evil.example", "contains the character U+000A"),
    ("send@council.example\u2028", "contains the character U+2028"),
    ("a@b.example, c@d.example", "not an email address"),
    ("A <a@b.example>, C <c@d.example>", "not one email address"),
    ("nobody", "not an email address"),
])
def test_a_bad_from_is_refused(value, reason):
    with pytest.raises(EhcpError) as caught:
        parse_sender(value)
    assert reason in str(caught.value)


def test_a_bad_row_is_skipped_and_everyone_after_it_alerted(night, smtp, tmp_path, db_url):
    """The row before the bad one and every row after it get their digests; one recipient each."""
    rows = [PEOPLE[0], ["CW2", "Sam\u2028Example <eve@evil.example>", "sam@example.org", "North", "caseworker"],
            PEOPLE[2], ["TLS", "Kim \u202eLead", "kim@example.org", "South", "team_lead"],
            ["TLS2", "Kim O'Lead, \"Chief\"", "kim2@example.org", "South", "team_lead"]]
    people = write_csv(tmp_path / "people.csv", COLUMNS, rows)
    result = night("--as-of", "2020-03-02", "alerts", "--people", people, "--smtp", smtp.address,
                   "--from", "SEND alerts <send-alerts@council.example>")
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors[:2] == ["error: skipped: people.csv, row 3, column name: contains the character U+2028 (line breaks, "
                          "control characters and bidirectional overrides are not allowed)",
                          "error: skipped: people.csv, row 5, column name: contains the character U+202E (line breaks, "
                          "control characters and bidirectional overrides are not allowed)"]
    assert "2 rows of people.csv skipped" in errors[-1]
    assert "eve@evil.example" not in result.output and "Sam" not in result.output
    to = sorted(tuple((a.display_name, a.addr_spec) for a in m["To"].addresses) for m in smtp.messages)
    assert to == [(("Alex Example", "alex@example.org"),), (("Kim O'Lead, \"Chief\"", "kim2@example.org"),),
                  (("Pat Lead", "pat@example.org"),)]
    for message in smtp.messages:
        assert message["From"].addresses[0].addr_spec == "send-alerts@council.example"
        raw = email.message_from_bytes(message.as_bytes(), policy=email.policy.compat32)
        assert len(email.utils.getaddresses([raw["To"]])) == 1
    # CW2's cases went to North's lead, saying why
    pat = next(m for m in smtp.messages if m["To"].addresses[0].addr_spec == "pat@example.org")
    assert "caseworker CW2 is on row 3 of the people file, which was skipped" in pat.get_body(("plain",)).get_content()


def test_a_bad_from_on_the_command_line_is_one_line(night, smtp):
    result = night("--as-of", "2020-03-02", "alerts", "--people", night.people, "--smtp", smtp.address,
                   "--from", "a@b.example\r\nBcc: eve@evil.example")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--from: contains the character U+000D" in result.output
    assert smtp.messages == []
