"""The rule book: every shipped file passes its checks, and malformed files fail with file, key, reason."""

import textwrap

import pytest

from ehcp_tracker.clocks.dates import WorkingDays
from ehcp_tracker.errors import RuleBookError
from ehcp_tracker.clocks.rules import load_rule_book

STATUTORY_IDS = {"decision_to_assess", "advice_ep", "advice_health", "advice_social_care", "advice_education",
                 "no_plan_notice", "final_plan"}


def test_shipped_rule_book_loads(book):
    ids = {c.id for c in book.clocks}
    assert STATUTORY_IDS <= ids
    assert any(c.statutory == "no" for c in book.clocks), "the example local file has a non-statutory target"


def test_every_version_cites_its_law_and_statutory_limits_are_calendar_periods(book):
    for clock in book.clocks:
        for version in clock.versions:
            assert version.reference.strip(), clock.id
            if clock.statutory != "no":
                assert not isinstance(version.policy, WorkingDays), clock.id
                assert "Regulations" in version.reference or "Act" in version.reference or "s44" in version.reference


def test_exception_scopes_follow_the_regulations(book):
    advice = book.exceptions_for(book.clock("advice_health"))
    la = book.exceptions_for(book.clock("final_plan"))
    codes = lambda reasons: {r.code for r in reasons}  # noqa: E731
    # reg 8(2) has no school-closure exemption; missed appointments are for advice only
    assert "school_closure" not in codes(advice) and "missed_appointment" in codes(advice)
    assert {"school_closure", "early_years_closure", "personal_circumstances", "absence_from_area",
            "coronavirus"} <= codes(la)
    assert "missed_appointment" not in codes(la)
    corona = book.exceptions["coronavirus"]
    assert (corona.due_from.isoformat(), corona.due_until.isoformat()) == ("2020-05-01", "2020-09-25")


def _write(tmp_path, text):
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "bad.toml").write_text(textwrap.dedent(text))
    return folder


def rule_file(clock="", version='weeks = 3\nreference = "local"', statutory="false", start="request_received"):
    """A one-clock rule file with the given extra clock keys and version keys."""
    return f"""
[ruleset]
id = "x"
title = "x"
statutory = {statutory}
[[clocks]]
id = "c"
title = "c"
case = "assessment"
start = "{start}"
stop = "final_plan_issued"
{clock}
[[clocks.versions]]
from = "2014-09-01"
{version}
"""


BAD_FILES = [
    ("unknown key", rule_file(clock='colour = "red"'), "colour: unknown key"),
    ("missing reference", rule_file(version="weeks = 3"), "reference: missing"),
    ("non-ISO date", rule_file(version='weeks = 3\nreference = "local"').replace('"2014-09-01"', '"01/09/2014"'),
     "not an ISO date"),
    ("overlapping versions", rule_file(version='weeks = 3\nreference = "local"\n[[clocks.versions]]\n'
                                               'from = "2016-01-01"\nweeks = 4\nreference = "local"'), "overlap"),
    ("unknown field", rule_file(start="date_of_request"), "'date_of_request' is not a field"),
    ("working days in a statutory clock", rule_file(version='working_days = 3\nreference = "reg 99"', statutory="true"),
     "working days are for local rules only"),
    ("two limits", rule_file(version='weeks = 3\ndays = 4\nreference = "local"'), "give exactly one limit"),
    ("broken TOML", "[ruleset\nid=", "not valid TOML"),
]


@pytest.mark.parametrize("name,text,expected", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_malformed_rule_file_is_reported_with_file_key_and_reason(tmp_path, name, text, expected):
    with pytest.raises(RuleBookError) as caught:
        load_rule_book(_write(tmp_path, text))
    message = str(caught.value)
    assert "bad.toml" in message and expected in message


def test_duplicate_clock_ids_across_files(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "one.toml").write_text(rule_file())
    (folder / "two.toml").write_text(rule_file().replace('id = "x"', 'id = "y"'))
    with pytest.raises(RuleBookError, match="'c' is also defined in"):
        load_rule_book(folder)


def test_rules_check_cli_refuses_a_bad_rule_book(tmp_path, run):
    folder = _write(tmp_path, BAD_FILES[0][1])
    result = run("--rules", folder, "rules", "check")
    assert result.exit_code == 1
    assert "bad.toml" in result.stderr and "Traceback" not in result.output
    # and no other command runs on it
    result = run("--rules", folder, "due")
    assert result.exit_code == 1 and "rule book has problems" in result.stderr


def test_rules_list_show_check(run):
    result = run("rules", "check")
    assert result.exit_code == 0 and "rule book OK" in result.stderr
    listing = run("rules", "list", "--format", "csv")
    assert "final_plan" in listing.stdout and "reg 13(2)" in listing.stdout
    shown = run("rules", "show", "local_draft_plan")
    assert "LOCAL TARGET (not statutory)" in shown.stdout
    missing = run("rules", "show", "nope")
    assert missing.exit_code == 1 and "no clock 'nope'" in missing.stderr
