"""Profiles and rule books are checked like extracts (issue 12, point 7).

Each problem names the file, the key and the reason; one broken profile in ./profiles never stops
an import that does not use it; ``rules check`` bounds every limit and refuses special files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from ehcp_tracker.clocks.rules import load_rule_book
from ehcp_tracker.errors import EhcpError, RuleBookError
from ehcp_tracker.ingest.extract import load_profile

from .conftest import ASSESSMENT_HEADER, ROOT, assessment_rows, write_csv
from .test_rules import rule_file

AS_OF = "2024-05-01"

BAD_PROFILES = [
    ("broken TOML", "[profile\nname=", "not a valid profile"),
    ("columns not a table", 'columns = 5', "columns: must be a table"),
    ("profile not a table", 'profile = "x"', "profile: must be a table"),
    ("values not tables", '[values]\nrequest_outcome = 3', "values.request_outcome: must be a table"),
    ("unknown canonical column", '[columns]\n"Ref" = "reference_number"', "maps to no canonical column"),
    ("mapping to a number", '[columns]\n"Ref" = 7', "maps to no canonical column"),
    ("name too long", f'[profile]\nname = "{"n" * 101}"', "profile.name: must be a name of 1 to 100"),
    ("name with an escape", '[profile]\nname = "a\\u001b[2Jb"', "profile.name"),
    ("unknown kind", '[profile]\nkind = "plans"', "profile.kind: must be one of"),
    ("unknown key", 'colour = "red"', "colour: unknown key"),
    ("not UTF-8", b"[profile]\nname = \"\xff\xfe\"", "not a valid profile"),
    ("a value map named but not defined", '[values]\nexception_reason = "exceptions"',
     "values.exception_reason: names the value map 'exceptions', which no [value_maps] table defines (defined: none)"),
    ("value maps not tables", '[value_maps]\nexceptions = "x"', "value_maps: must hold tables"),
]


@pytest.mark.parametrize("name, text, expected", BAD_PROFILES, ids=[b[0] for b in BAD_PROFILES])
def test_a_bad_profile_names_file_key_and_reason(tmp_path, name, text, expected):
    path = tmp_path / "mine.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(EhcpError) as caught:
        load_profile(str(path))
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_one_bad_profile_in_the_folder_never_stops_an_import_not_using_it(run, tmp_path, monkeypatch):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for i, (_, text, _) in enumerate(BAD_PROFILES):
        (profiles / f"bad{i}.toml").write_bytes(text if isinstance(text, bytes) else text.encode())
    os.mkfifo(profiles / "pipe.toml")  # would hang the read
    monkeypatch.chdir(tmp_path)
    canonical = write_csv(tmp_path / "a.csv", ASSESSMENT_HEADER, assessment_rows(3))
    result = run("--as-of", AS_OF, "import", canonical)
    assert result.exit_code == 0, result.output
    # a system's own headers: the shipped profile that fits is still found, the broken ones skipped
    header = ["Request ID", "Person ID", "Date Request Received"]
    result = run("--as-of", AS_OF, "import", write_csv(tmp_path / "s.csv", header, [["9", "P9", "01/03/2024"]]),
                 "--keep-absent", "all", "--max-missing", "100")
    assert result.exit_code == 0 and "system-a-assessments" in result.stderr, result.output
    assert "Traceback" not in result.output
    # and the broken one, asked for, is one line naming its file and key
    result = run("--as-of", AS_OF, "import", canonical, "--profile", "bad1")
    assert result.exit_code == 1 and "bad1.toml: columns: must be a table" in result.stderr
    result = run("--as-of", AS_OF, "import", canonical, "--profile", "pipe")
    assert result.exit_code == 1 and "not a regular file" in result.stderr


def test_a_profile_named_at_the_limit_imports_on_both_databases(run, tmp_path):
    name = "p" * 100
    path = tmp_path / f"{'q' * 120}.toml"  # no [profile] name: the file name stands in, cut to fit
    path.write_text('[profile]\nkind = "assessments"\n[columns]\n"Ref" = "request_id"\n"Who" = "person_id"\n'
                    '"When" = "request_received"\n')
    extract = write_csv(tmp_path / "a.csv", ["Ref", "Who", "When"], [["R1", "P1", "2024-03-01"]])
    assert run("--as-of", AS_OF, "import", extract, "--profile", path).exit_code == 0
    path.write_text(f'[profile]\nname = "{name}"\n' + path.read_text().split("\n", 1)[1])
    assert run("--as-of", AS_OF, "import", extract, "--profile", path).exit_code == 0


EXCEPTION_COLUMNS = ["exception_reason", "decision_exception", "ep_advice_exception", "health_advice_exception",
                     "social_care_advice_exception", "education_advice_exception"]


def test_one_value_map_serves_every_exception_column(run, db_url, tmp_path):
    """Issue 23: a value map written once and named by the six exception columns, not repeated six times."""
    from ehcp_tracker.store import db

    path = tmp_path / "ours.toml"
    path.write_text(textwrap.dedent("""\
        [profile]
        kind = "assessments"
        [columns]
        "Ref" = "request_id"
        "Who" = "person_id"
        "When" = "request_received"
        "Decision" = "request_outcome"
        "Decided" = "request_outcome_date"
        """) + "".join(f'"Exc {i}" = "{c}"\n' for i, c in enumerate(EXCEPTION_COLUMNS)) + "[values]\n"
        + "".join(f'{c} = "exceptions"\n' for c in EXCEPTION_COLUMNS)
        + '[value_maps.exceptions]\n"Exceptional Personal Circumstances" = "personal_circumstances"\n')
    profile = load_profile(str(path))
    assert all(profile.values[c] == {"exceptional personal circumstances": "personal_circumstances"}
               for c in EXCEPTION_COLUMNS)
    header = ["Ref", "Who", "When", "Decision", "Decided", *(f"Exc {i}" for i in range(6))]
    extract = write_csv(tmp_path / "a.csv", header,
                        [["R1", "P1", "2024-03-01", "assess", "2024-04-01", *["Exceptional Personal Circumstances"] * 6]])
    result = run("--as-of", AS_OF, "import", extract, "--profile", path)
    assert result.exit_code == 0, result.output
    engine = db.connect(db_url)
    with engine.connect() as conn:
        row = conn.execute(db.assessment_table.select()).mappings().one()
    engine.dispose()
    assert {c: row[c] for c in EXCEPTION_COLUMNS} == {c: "personal_circumstances" for c in EXCEPTION_COLUMNS}


@pytest.mark.parametrize("version, expected", [
    ('weeks = 100000\nreference = "local"', "must be a whole number from 1 to 104"),
    ('days = 0\nreference = "local"', "from 1 to 730"),
    ('months = 9223372036854775807\nreference = "local"', "from 1 to 24"),
    ('working_days = 100000\nreference = "local"', "from 1 to 520"),
    ('weeks = 6\nreference = "local"\nuntil = "9999-12-31"', "outside 1990-01-01..2199-12-31"),
])
def test_rules_check_bounds_every_limit(tmp_path, version, expected):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "bad.toml").write_text(textwrap.dedent(rule_file(version=version)))
    with pytest.raises(RuleBookError, match=expected):
        load_rule_book(folder)


def test_warning_days_are_bounded(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "bad.toml").write_text(rule_file(clock="warning_days = 100000"))
    with pytest.raises(RuleBookError, match="warning_days: must be a whole number of days from 0 to 365"):
        load_rule_book(folder)


def test_rules_check_refuses_a_fifo_without_hanging(tmp_path):
    folder = tmp_path / "rules"
    (folder / "local").mkdir(parents=True)
    (folder / "ok.toml").write_text(rule_file())
    os.mkfifo(folder / "local" / "pipe.toml")
    result = subprocess.run([sys.executable, "-m", "ehcp_tracker", "--rules", str(folder), "rules", "check"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 1 and "pipe.toml: not a regular file" in result.stderr
    assert "Traceback" not in result.stderr
