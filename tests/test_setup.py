"""First-run setup (issue 23 point 3): `ehcp setup` writes a council's own rules/local/ files, drafts a
profile from a sample header, and never replaces a council file without --force; until it has run,
the example council's local targets stay out of caseworkers' digests and the board pack labels the
example KPI targets "example target, not this council's".

Every test works on a copy of the shipped rule book in ``tmp_path`` (a fresh clone's rules/), on
SQLite: the behaviour is the rule book's, not the database's.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib

import pytest
from click.testing import CliRunner

from ehcp_tracker.alerts.people import read_people
from ehcp_tracker.alerts.run import plan
from ehcp_tracker.cli import cli
from ehcp_tracker.clocks.rules import load_rule_book
from ehcp_tracker.ingest.draft_profile import LEFT, draft
from ehcp_tracker.ingest.extract import load_profile, read_extract
from ehcp_tracker.ingest.importer import import_extract
from ehcp_tracker.measures.catalogue import catalogue_dir, load_catalogue
from ehcp_tracker.report import write
from ehcp_tracker.report.data import EXAMPLE_TARGET, gather
from ehcp_tracker.report.html import esc, render
from ehcp_tracker.store import db

from .conftest import ROOT, write_csv

AS_OF = dt.date(2026, 3, 2)
HEADER = ["request_id", "person_id", "request_received", "caseworker", "team", "request_outcome",
          "request_outcome_date"]
# R1: received 1 Sep 2025, decided to assess 1 Oct: its final plan (20 weeks, 19 Jan 2026) and the
# example's local targets (draft by week 14; EP advice requested within 5 working days) are overdue.
ROWS = [["R1", "P1", "2025-09-01", "CW1", "North", "assess", "2025-10-01"],
        ["R2", "P2", "2026-01-12", "CW1", "North", "", ""]]
PEOPLE = [["CW1", "Alex Example", "alex@example.org", "North", "caseworker"]]
SETUP = ["setup", "--yes", "--council-name", "Example Borough Council", "--la-code", "340"]
# A council-shaped header: a title line, the system's own names, some canonical, some known from a
# shipped profile, some nobody can be sure of.
COUNCIL_HEADER = ["Request Ref", "Child ID", "Date Request Received", "Officer", "Locality Team",
                  "Decision To Assess", "RequestOutcomeDate", "Final Plan Issued", "Plan Issued", "Notes",
                  "EP Advice Requested"]


@pytest.fixture
def rules(tmp_path):
    """A fresh clone's rule book (the shipped one, copied)."""
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    return folder


@pytest.fixture
def sqlite(tmp_path):
    engine = db.connect(f"sqlite:///{tmp_path / 'setup.db'}", create=True)
    db.init_db(engine)
    yield engine
    engine.dispose()


def invoke(*args, input=None):
    result = CliRunner().invoke(cli, ["--as-of", AS_OF.isoformat(), *map(str, args)], input=input)
    assert "Traceback" not in result.output
    return result


def council_csv(tmp_path):
    path = tmp_path / "tonight.csv"
    lines = ["SEND assessments report,,,", ",".join(COUNCIL_HEADER),
             "R1,P1,01/09/2025,CW1,North,Agreed,01/10/2025,,,a note,"]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    return path


def test_setup_on_a_fresh_folder_non_interactively(rules, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    term = write_csv(tmp_path / "closures.csv", ["name", "closed_from", "reopens"],
                     [["Summer holiday 2026", "2026-07-22", "2026-09-02"]])
    result = invoke(*SETUP, "--local-targets", "--kpi-targets", "example", "--term-dates", term,
                    "--rules-dir", rules)
    assert result.exit_code == 0, result.output
    local = rules / "local"
    council = tomllib.loads((local / "council.toml").read_text())["council"]
    assert council == {"name": "Example Borough Council", "la_code": "340", "local_targets": True,
                       "set_up": AS_OF}
    assert (local / "term-dates.csv").read_bytes() == term.read_bytes()
    assert "(Example Borough Council service standard)" in (local / "local-targets.toml").read_text()
    assert "example = true" not in (local / "local-targets.toml").read_text()
    # it says what it wrote and what to do next
    for path in ("council.toml", "local-targets.toml", "kpi-targets.toml", "term-dates.csv"):
        assert f"{local / path}" in result.stderr
    assert "is set up: 4 files written" in result.stderr and "next:" in result.stderr
    assert "ehcp evaluate" in result.stderr and f"EHCP_RULES={rules}" in result.stderr
    # the rule book loads set up: the example file is no longer read, the council's targets are
    book = load_rule_book(rules)
    assert book.set_up and book.council.la_code == "340" and book.example_clocks == frozenset()
    assert local / "example.toml" not in book.files and local / "local-targets.toml" in book.files
    assert {c.ruleset for c in book.clocks if c.id == "local_draft_plan"} == {"local-council"}
    assert book.term_dates is not None and len(book.term_dates.windows) == 1
    catalogue = load_catalogue(catalogue_dir(rules), book)
    assert not catalogue.targets_example and catalogue.targets
    assert invoke("--rules", rules, "rules", "check").exit_code == 0


def test_setup_into_a_new_folder_copies_the_shipped_book_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*SETUP, "--no-local-targets", "--rules-dir", tmp_path / "our-rules")
    assert result.exit_code == 0, result.output
    assert "no rule book yet" in result.stderr
    book = load_rule_book(tmp_path / "our-rules")
    assert book.set_up and not book.council.local_targets
    assert not [c for c in book.clocks if c.statutory == "no"]  # local targets off: none at all
    assert {"final_plan", "annual_review"} <= {c.id for c in book.clocks}  # the law is there


def test_setup_interactively(rules, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sample = council_csv(tmp_path)
    answers = "\n".join(["Example Borough Council",  # council name
                         "34",                       # not an LA code: asked again
                         "E08000011",                # LA code
                         "y",                        # keep local targets
                         "ours.toml",                # no such file: asked again
                         "none",                     # KPI targets: none
                         "",                         # no term dates
                         str(sample),                # a sample extract
                         "y"]) + "\n"                # write these files?
    result = invoke("setup", "--rules-dir", rules, input=answers)
    assert result.exit_code == 0, result.output
    assert "an LA code is old" in result.output and "no file ours.toml (or give example or none)" in result.output
    council = tomllib.loads((rules / "local" / "council.toml").read_text())["council"]
    assert council["la_code"] == "E08000011" and council["local_targets"] is True
    assert tomllib.loads((rules / "local" / "kpi-targets.toml").read_text()) == {"targets": {}}
    assert (tmp_path / "profiles" / "example-borough-council-assessments.toml").is_file()
    assert "their header" in result.stderr and "suggested canonical column" in result.stderr
    catalogue = load_catalogue(catalogue_dir(rules), load_rule_book(rules))
    assert catalogue.targets == {} and not catalogue.targets_example


def test_setup_asked_and_declined_writes_nothing(rules, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("setup", "--rules-dir", rules, "--council-name", "X Council", "--la-code", "340",
                    "--no-local-targets", "--kpi-targets", "none", input="\n\nn\n")
    assert result.exit_code == 1
    assert "nothing written" in result.stderr
    assert not (rules / "local" / "council.toml").exists()


def test_setup_refuses_to_overwrite_a_council_file(rules, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke(*SETUP, "--rules-dir", rules).exit_code == 0
    council = (rules / "local" / "council.toml").read_bytes()
    result = invoke("setup", "--yes", "--council-name", "Another Council", "--la-code", "341",
                    "--local-targets", "--rules-dir", rules)
    assert result.exit_code == 1
    assert "nothing written" in result.stderr and "council.toml already exists" in result.stderr
    assert "--force" in result.stderr
    assert (rules / "local" / "council.toml").read_bytes() == council
    assert not (rules / "local" / "local-targets.toml").exists()  # nothing half-written
    result = invoke("setup", "--yes", "--council-name", "Another Council", "--la-code", "341",
                    "--local-targets", "--rules-dir", rules, "--force")
    assert result.exit_code == 0, result.output
    assert load_rule_book(rules).council.la_code == "341"


def test_setup_refuses_bad_input_before_writing(rules, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "targets.toml"
    bad.write_text('[targets.no_such_kpi]\nsource = "x"\ntrajectory = [{ from = "2026-01-01", target = 50.0 }]\n')
    result = invoke(*SETUP, "--kpi-targets", bad, "--rules-dir", rules)
    assert result.exit_code == 1
    assert "nothing written" in result.stderr and "no_such_kpi" in result.stderr
    assert not (rules / "local" / "council.toml").exists()
    result = invoke("setup", "--yes", "--council-name", "X", "--la-code", "12345", "--rules-dir", rules)
    assert result.exit_code == 1 and "an LA code is old" in result.stderr
    result = invoke("setup", "--yes", "--council-name", "X", "--rules-dir", rules)
    assert result.exit_code == 2 and "--yes needs --council-name and --la-code" in result.output


def test_the_drafted_profile_for_a_council_shaped_header(tmp_path, monkeypatch):
    sample = council_csv(tmp_path)
    d = draft(sample)
    assert d.kind == "assessments"
    got = {s.header: (s.canonical, s.how) for s in d.rows}
    # sure: a shipped profile maps the very header, or it is a canonical name (normalised)
    assert got["Request Ref"] == ("request_id", "known synonym (profile example-system)")
    assert got["Date Request Received"][0] == "request_received"
    assert got["Locality Team"][0] == "team"
    assert got["RequestOutcomeDate"] == ("request_outcome_date", "same name, normalised")
    assert got["EP Advice Requested"] == ("ep_advice_requested", "same name, normalised")
    # not sure: left for the user
    assert got["Officer"] == (None, LEFT) and got["Notes"] == (None, LEFT)
    assert got["Plan Issued"][0] is None and "not a column of assessments" in got["Plan Issued"][1]
    assert d.missing_required == []
    monkeypatch.chdir(tmp_path)
    result = invoke(*SETUP, "--rules-dir", tmp_path / "rules", "--sample-extract", sample)
    assert result.exit_code == 0, result.output
    table = [line.strip() for line in result.stderr.splitlines() if " | " in line]
    assert table[0].split(" | ")[0].strip() == "their header"
    assert "'Officer'" in table[4] and table[4].endswith(f"| {LEFT}")
    path = tmp_path / "profiles" / "example-borough-council-assessments.toml"
    text = path.read_text()
    assert '# "Officer"' in text and '"Request Ref"' in text
    # the draft is a profile as it stands, and once completed imports the sample
    profile = load_profile(str(path))
    assert profile.kind == "assessments" and profile.columns["request ref"] == "request_id"
    path.write_text(text.replace('# "Officer"', '"Officer"').replace('"Officer"               = ""',
                                                                      '"Officer" = "caseworker"'))
    assert load_profile(str(path)).columns["officer"] == "caseworker"
    raw = read_extract(sample, profile=load_profile("example-borough-council-assessments"))
    assert raw.kind == "assessments" and "caseworker" in raw.cells and "request_outcome" in raw.cells


def test_a_draft_never_shows_a_headerless_files_data(tmp_path):
    from ehcp_tracker.errors import EhcpError

    path = write_csv(tmp_path / "x.csv", ["R0001", "P0001", "01/09/2025", "CW1"], [["R2", "P2", "02/09/2025", "CW1"]])
    with pytest.raises(EhcpError) as caught:
        draft(path)
    assert "looks like data" in str(caught.value) and "R0001" not in str(caught.value)


def _digest_clocks(engine, book, tmp_path):
    people = read_people(write_csv(tmp_path / "people.csv", ["id", "name", "email", "team", "role"], PEOPLE))
    outcome, _ = plan(engine, book, AS_OF, people)
    (digest,) = outcome.digests
    return {a.clock for a in digest.alerts}, digest.text()


def test_digests_leave_out_the_example_targets_until_set_up(rules, sqlite, tmp_path, monkeypatch):
    book = load_rule_book(rules)
    assert not book.set_up and book.example_clocks == {"local_draft_plan", "local_ep_request"}
    extract = write_csv(tmp_path / "a.csv", HEADER, ROWS)
    import_extract(sqlite, extract, book, AS_OF)
    clocks, text = _digest_clocks(sqlite, book, tmp_path)
    assert "final_plan" in clocks and not clocks & book.example_clocks
    assert "example council service standard" not in text
    # the council sets up and keeps local targets: its own reach the digest, cited as its own
    monkeypatch.chdir(tmp_path)
    assert invoke(*SETUP, "--local-targets", "--rules-dir", rules).exit_code == 0
    council_book = load_rule_book(rules)
    clocks, text = _digest_clocks(sqlite, council_book, tmp_path)
    assert {"final_plan", "local_draft_plan", "local_ep_request"} <= clocks
    assert "(Example Borough Council service standard)" in text
    assert "example council service standard" not in text


def test_the_pack_labels_example_targets_until_the_council_has_its_own(rules, sqlite, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    book = load_rule_book(rules)
    import_extract(sqlite, write_csv(tmp_path / "a.csv", HEADER, ROWS), book, AS_OF)
    pack = gather(sqlite, book, "2026-02", AS_OF)
    assert pack.example_targets and pack.headline["target"].notna().any()
    html = render(pack)
    with_target = int(pack.headline["target"].notna().sum())
    assert html.count(f'<small class="example-target">{esc(EXAMPLE_TARGET)}</small>') == with_target
    assert "every target shown is the shipped example trajectory" in html
    sheet = load_workbook(write(pack, tmp_path / "pack.xlsx", "xlsx")).worksheets[0]
    header = [c.value for c in sheet[1]]
    column = header.index("Target set by")
    assert {r[column] for r in sheet.iter_rows(min_row=2, values_only=True) if r[column]} == {EXAMPLE_TARGET}
    # the council adopts the trajectory as its own: no label, the same targets
    monkeypatch.chdir(tmp_path)
    assert invoke(*SETUP, "--kpi-targets", "example", "--rules-dir", rules).exit_code == 0
    own = gather(sqlite, load_rule_book(rules), "2026-02", AS_OF)
    assert not own.example_targets
    assert own.headline["target"].fillna(-1).tolist() == pack.headline["target"].fillna(-1).tolist()
    html = render(own)
    assert "example-target" not in html and "example target" not in html


def test_the_la_code_of_setup_is_the_reports_council(rules, sqlite, tmp_path, monkeypatch):
    """`ehcp report --benchmark` without --council takes the LA code setup recorded; --council wins."""
    import ehcp_tracker.report as report
    import ehcp_tracker.report.benchmark as benchmark

    given = []
    monkeypatch.setattr(report, "write_pack", lambda engine, book, month, as_of, path, fmt, options:
                        given.append(options.council) or path)
    monkeypatch.setattr(benchmark, "benchmark_gaps", lambda path, council: [])
    monkeypatch.chdir(tmp_path)
    dfe = write_csv(tmp_path / "timeliness_20_week.csv", ["time_period"], [["2019"]])
    url = sqlite.url.render_as_string(hide_password=False)
    report_args = ["--db", url, "--rules", rules, "report", "--month", "2026-02", "--benchmark", dfe,
                   "-o", tmp_path / "p.html"]
    assert invoke(*report_args).exit_code == 0 and given == [None]  # not set up: no council
    assert invoke(*SETUP, "--rules-dir", rules).exit_code == 0
    assert invoke(*report_args).exit_code == 0 and given[-1] == "340"
    assert invoke(*report_args, "--council", "E08000011").exit_code == 0 and given[-1] == "E08000011"
    check = invoke("--rules", rules, "rules", "check")
    assert check.exit_code == 0 and "council: Example Borough Council (LA 340), set up" in check.stderr
