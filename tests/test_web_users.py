"""`ehcp users` and `ehcp serve`'s start-up, through the CLI on SQLite and PostgreSQL: accounts
bound to what they may see, the password rules, the people file as the source of accounts, and
user errors as one line with no traceback."""

from __future__ import annotations

import json

import pytest

from ehcp_tracker.web import accounts, passwords
from ehcp_tracker.web.serve import beyond_loopback, start_warnings

from .conftest import write_csv

GOOD = "a-long-enough-passphrase"


def users(run):
    result = run("users", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return {u["user"]: u for u in json.loads(result.stdout)}


def test_add_list_disable_enable_reset(run, db_url):
    assert run("users", "add", "Admin", "--role", "admin", "--password-stdin", input=GOOD + "\n").exit_code == 0
    assert run("users", "add", "cw1", "--role", "caseworker", "--caseworker", "CW001", "--password-stdin",
               input=GOOD + "\n").exit_code == 0
    assert run("users", "add", "lead", "--role", "team_lead", "--team", " North ", "--no-password").exit_code == 0
    listed = users(run)
    assert listed["admin"]["role"] == "admin" and listed["admin"]["password"] == "set", "names are case-folded"
    assert listed["cw1"]["caseworker"] == "CW001" and listed["lead"]["team"] == "North"
    assert listed["lead"]["password"] == "none"
    assert run("users", "disable", "CW1").exit_code == 0
    assert users(run)["cw1"]["enabled"] == "no"
    assert run("users", "enable", "cw1").exit_code == 0
    assert run("users", "reset-password", "lead", "--password-stdin", input="another-long-passphrase\n").exit_code == 0
    assert users(run)["lead"]["password"] == "set"
    from ehcp_tracker.store import db

    engine = db.connect(db_url)
    assert accounts.sign_in(engine, "LEAD", "another-long-passphrase").reason == "ok"
    assert accounts.sign_in(engine, "lead", GOOD).reason == "wrong_password"
    engine.dispose()


@pytest.mark.parametrize("args, stdin, message", [
    (["users", "add", "x", "--role", "caseworker"], None, "needs --caseworker"),
    (["users", "add", "x", "--role", "team_lead"], None, "needs --team"),
    (["users", "add", "x", "--role", "admin", "--team", "North", "--no-password"], None, "give no --caseworker or --team"),
    (["users", "add", "x", "--role", "admin", "--password-stdin"], "short\n", "at least 12 characters"),
    (["users", "add", "x", "--role", "admin", "--password-stdin"], "Password123!\n", "commonly used"),
    (["users", "add", "x", "--role", "admin", "--password-stdin"], "qwertyuiop123\n", "commonly used"),
    (["users", "add", "bob smith", "--role", "admin", "--no-password"], None, "only letters, digits"),
    (["users", "add", "x", "--role", "admin", "--password-stdin"], "", "no password on standard input"),
    (["users", "disable", "nobody"], None, "no user 'nobody'"),
])
def test_bad_accounts_are_one_line_errors(run, args, stdin, message):
    result = run(*args, input=stdin)
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert users(run) == {}, "nothing stored"


def test_a_name_is_added_once(run):
    assert run("users", "add", "a1", "--role", "admin", "--no-password").exit_code == 0
    result = run("users", "add", "A1", "--role", "admin", "--no-password")
    assert result.exit_code == 1 and "exists already" in result.stderr


def test_users_import_reads_the_alerts_people_file(run, tmp_path):
    people = write_csv(tmp_path / "people.csv", ["id", "name", "email", "team", "role"], [
        ["CW001", "Jo Bloggs", "jo@council.gov.uk", "North", "caseworker"],
        ["Lead1", "Sam Lead", "sam@council.gov.uk", "North", "team_lead"],
    ])
    result = run("users", "import", people)
    assert result.exit_code == 0 and "2 users added, 0 updated" in result.stderr
    listed = users(run)
    assert listed["cw001"]["caseworker"] == "CW001" and listed["cw001"]["password"] == "none"
    assert listed["lead1"]["role"] == "team_lead" and listed["lead1"]["team"] == "North"
    assert "Jo Bloggs" not in result.output, "names are not echoed"
    again = run("users", "import", people)
    assert again.exit_code == 0 and "0 users added, 2 updated" in again.stderr
    bad = write_csv(tmp_path / "bad.csv", ["id", "name", "email", "team", "role"], [["CW9", "X", "x@y.org", "", "boss"]])
    refused = run("users", "import", bad)
    assert refused.exit_code == 1 and "bad.csv, row 2" in refused.stderr and "Traceback" not in refused.output
    assert "cw9" not in users(run)


def test_access_log_of_an_empty_database(run):
    result = run("access-log", "--format", "csv")
    assert result.exit_code == 0 and result.stdout.strip() == "at,user,event,case_id,detail,address"
    assert run("access-log", "--since", "yesterday").exit_code == 2


@pytest.mark.parametrize("host, base_url, warned", [
    ("127.0.0.1", None, False), ("localhost", None, False), ("::1", None, False),
    ("0.0.0.0", None, True), ("10.1.2.3", None, True), ("tray.council.local", None, True),
    ("0.0.0.0", "https://tray.council.gov.uk/", False), ("0.0.0.0", "http://tray.council.gov.uk/", True),
])
def test_start_up_says_when_it_serves_beyond_loopback_without_tls(host, base_url, warned):
    notes = start_warnings(host, base_url, "local")
    assert any("without TLS" in n for n in notes) == warned
    assert beyond_loopback(host) == (host not in ("127.0.0.1", "localhost", "::1"))


def test_serve_refuses_header_auth_without_proxy_and_header(run):
    result = run("serve", "--auth", "header")
    assert result.exit_code == 1 and "--user-header" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("password, ok", [
    ("twelve-chars", True), ("eleven-char", False), ("aaaaaaaaaaaaaaaa", False), ("Letmein2024!!", False),
    ("correct horse battery staple", True), ("x" * 300, False),
])
def test_password_rules(password, ok):
    assert (passwords.problem(password, "someone") is None) == ok
