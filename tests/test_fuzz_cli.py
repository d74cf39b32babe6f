"""Fuzzing the command line (issue 12, point 8): hostile CSV, XLSX, profiles and options.

Every example is one ``ehcp import`` through click's runner, on SQLite and PostgreSQL, of a random
extract (CSV in any encoding, cut short, with unclosed quotes or control characters; an XLSX
written by openpyxl, with its sheet's bytes mutated, or one of the hostile workbooks), with a
random profile (valid, broken or junk TOML) and random options (dates the tool cannot count with,
outputs that are folders or missing folders, ``--wait``). For each:

- the exit code is 0, 1 or 2, and nothing escapes as an exception (a crash);
- no example runs longer than ``HANG_SECONDS`` (a hang);
- stderr never holds a person ID or a date of birth written into the file;
- after a refusal the stored tables are exactly as before (a rejected file's audit row aside).

The seed is fixed and the example count small, so CI stays fast and repeatable; a longer run:
``EHCP_FUZZ_CLI_EXAMPLES=2000 EHCP_FUZZ_REPORT=1 pytest -s tests/test_fuzz_cli.py``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import resource
import signal
import zipfile

from hypothesis import HealthCheck, given, seed, settings, strategies as st

from ehcp_tracker.schema import ASSESSMENTS, REVIEWS

from .conftest import snapshot
from .hostile import hostile_workbooks

HANG_SECONDS = 60
PEOPLE = [f"PX{n}" for n in range(40210, 40222)]
BIRTHS = [dt.date(2009, 2, 28), dt.date(2011, 11, 23), dt.date(2013, 7, 4), dt.date(2007, 12, 31)]
BIRTH_TEXTS = [s for d in BIRTHS for s in (d.isoformat(), d.strftime("%d/%m/%Y"))]
COLUMNS = {"assessments": [c.name for c in ASSESSMENTS.columns], "reviews": [c.name for c in REVIEWS.columns]}

stage_dates = st.dates(dt.date(2019, 1, 1), dt.date(2024, 6, 30))
date_text = st.one_of(stage_dates.map(dt.date.isoformat), stage_dates.map(lambda d: d.strftime("%d/%m/%Y")),
                      stage_dates.map(lambda d: d.strftime("%m/%d/%Y")),
                      st.sampled_from(["31/02/2024", "2024-13-01", "yesterday", "44927", "1/1/1", "99999-01-01"]))
junk = st.one_of(st.text(max_size=15), st.sampled_from(["=cmd()", " =1+1", "\u00a0@SUM(1)", "North\x0bEast",
                                                         "\x1b[2J", "a\nb", "\u202egnp.exe", "x" * 300]))
codes = st.sampled_from(["assess", "not_assess", "issue", "maintain", "amend", "cease", "school", "Y", "n", "1",
                         "R", "Year 6", "15", "personal_circumstances", "coronavirus", "maybe"])
cell = st.one_of(st.just(""), date_text, codes, junk, st.integers(-5, 10**9).map(str))
ids = st.sampled_from([f"AR{i}" for i in range(1, 12)] + [f"R{i:04d}" for i in range(1, 12)] + ["", " "])


def one_in(draw, n: int) -> bool:
    """True about once in ``n`` draws. The rare (hostile) case is the largest value: Hypothesis
    favours small ones, so "== 0" would make it the usual case."""
    return draw(st.integers(1, n)) == n


@st.composite
def extract_rows(draw, kind: str):
    """(header, rows, secrets): a random table; secrets are the person IDs and births it holds."""
    key = "request_id" if kind == "assessments" else "review_id"
    required = [key, "person_id", "request_received" if kind == "assessments" else "plan_issued"]
    header = [] if one_in(draw, 5) else required
    extra = st.one_of(st.sampled_from(COLUMNS[kind]), st.text(max_size=8))
    header = header + draw(st.lists(extra, max_size=6, unique=not one_in(draw, 4)))
    if kind == "reviews" and draw(st.booleans()):
        header.append("date_of_birth")
    header = draw(st.permutations(header))
    rows, secrets = [], set()
    clean = not one_in(draw, 2)  # half the tables hold only well-formed rows, so imports succeed too
    for _ in range(draw(st.integers(0, 6))):
        row = []
        for name in header:
            if name == key:
                row.append(draw(ids.filter(str.strip)) if clean else draw(ids))
            elif name == "person_id":
                person = draw(st.sampled_from(PEOPLE))
                secrets.add(person)
                row.append(person)
            elif name == "date_of_birth":
                born = draw(st.sampled_from(BIRTHS))
                text = draw(st.sampled_from([born.isoformat(), born.strftime("%d/%m/%Y")]))
                secrets.add(text)
                row.append(text)
            elif name in ("request_received", "plan_issued") and (clean or not one_in(draw, 4)):
                row.append(draw(stage_dates).isoformat())
            else:
                row.append(draw(cell) if not clean and one_in(draw, 3) else "")
        rows.append(row)
    return header, rows, secrets


def _csv(draw, header, rows) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(
        rows if one_in(draw, 9) else [header, *rows])  # sometimes no header row at all
    data = text.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])), errors="replace")
    mutation = draw(st.integers(1, 12))
    if mutation == 12 and data:  # an unclosed quote: one cell swallows the rows after it
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + b'"' + data[at:]
    elif mutation == 11:  # cut short in transfer
        data = data[: len(data) * draw(st.integers(0, 99)) // 100]
    elif mutation == 10 and data:  # a control byte anywhere
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.sampled_from([0, 7, 11, 12, 27, 127]))]) + data[at:]
    return data


def _xlsx(draw, header, rows) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def clean(value):
        return ILLEGAL_CHARACTERS_RE.sub("", value)

    book = Workbook()
    if draw(st.booleans()):
        book.active.append(["Title row"])
    for row in [header, *rows]:
        book.active.append([clean(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    if one_in(draw, 3):  # the sheet's XML with random bytes changed, zipped again
        data = _mutate_member(draw, data, "xl/worksheets/sheet1.xml")
    return data


def _mutate_member(draw, data: bytes, member: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == member and content:
                content = bytearray(content)
                for _ in range(draw(st.integers(1, 4))):
                    content[draw(st.integers(0, len(content) - 1))] = draw(st.integers(0, 255))
                content = bytes(content)
            target.writestr(info.filename, content)
    return out.getvalue()


@st.composite
def profiles(draw, kind: str):
    """The text of a random profile: a fitting one, a broken one, or junk."""
    choice = draw(st.integers(1, 6))
    if choice <= 4:
        return None
    if choice == 5:
        return draw(st.text(max_size=60))
    mapping = draw(st.dictionaries(st.sampled_from(["Ref", "Who", "When", "Team", "DOB"]),
                                   st.one_of(st.sampled_from(COLUMNS[kind]), st.text(max_size=6)), max_size=5))
    columns = "\n".join(f'{toml_string(k)} = {toml_string(v)}' for k, v in mapping.items())
    name = draw(st.one_of(st.just("fuzz"), st.text(max_size=130)))
    meta = draw(st.sampled_from(['kind = "assessments"', 'kind = "reviews"', 'kind = "plans"', ""]))
    extra = draw(st.sampled_from(["", "columns = 5", "[values.team]\nNorth = 3", "[values]\nteam = []"]))
    return f"[profile]\nname = {toml_string(name)}\n{meta}\n{extra}\n[columns]\n{columns}\n"


def toml_string(text: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text) + '"'


@st.composite
def commands(draw):
    kind = draw(st.sampled_from(["assessments", "reviews"]))
    header, rows, secrets = draw(extract_rows(kind))
    form = draw(st.sampled_from(["csv", "csv", "csv", "xlsx", "xlsx", "hostile", "bytes"]))
    if form == "csv":
        data, suffix = _csv(draw, header, rows), ".csv"
    elif form == "xlsx":
        data, suffix = _xlsx(draw, header, rows), ".xlsx"
    elif form == "hostile":
        hostile = hostile_workbooks()
        data, suffix = hostile[draw(st.sampled_from(sorted(n for n in hostile if "bomb" not in n)))], ".xlsx"
    else:
        data, suffix = draw(st.binary(max_size=200)), draw(st.sampled_from([".csv", ".xlsx", ".txt"]))
    def rarely(good, bad):  # a hostile option in about one example in six, so most reach the import
        return draw(st.sampled_from(bad)) if one_in(draw, 6) else good

    options = {
        "as_of": rarely("2024-07-01", [draw(st.dates()).isoformat(), "9999-12-31", "0001-01-01", "2024-02-30",
                                       "tomorrow"]),
        "skip": draw(st.booleans()),
        "kind": rarely(None, ["assessments", "reviews", "plans"]),
        "wait": rarely(None, ["0", "2.5", "-1", "soon"]),
        "rejects": rarely(draw(st.sampled_from([None, "ok"])), ["folder", "missing", "link"]),
        "summary": rarely(draw(st.sampled_from([None, "ok"])), ["folder", "missing", "link"]),
        "guards": not one_in(draw, 4),  # accept shrinking files and absent columns (the database fills up)
    }
    return data, suffix, draw(profiles(kind)), options, secrets


STATS = {"examples": 0, "crashes": 0, "hangs": 0, "exit": {0: 0, 1: 0, 2: 0}}


def teardown_module():
    if os.environ.get("EHCP_FUZZ_REPORT"):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"\nfuzz cli: {STATS}, peak memory {peak} MB (ru_maxrss of the test process)")


class Hang(Exception):
    pass


@contextlib.contextmanager
def watchdog(seconds: float):
    def alarm(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _path_option(tmp_path, choice, name):
    if choice is None:
        return []
    target = {"ok": tmp_path / name, "folder": tmp_path, "missing": tmp_path / "missing" / name,
              "link": tmp_path / f"{name}.link"}[choice]
    if choice == "link" and not target.is_symlink():  # again: the last import replaced it with a file
        (tmp_path / "victim").write_text("not to be overwritten\n")
        target.unlink(missing_ok=True)
        target.symlink_to(tmp_path / "victim")
    return [f"--{'rejects' if 'rejects' in name else 'summary-json'}", target]


def _stored(snap: dict) -> dict:
    return {name: rows for name, rows in snap.items() if name != "import_run"} | {
        "import_run": [r for r in snap.get("import_run", []) if "rejected" not in r]}


@seed(20261201)
@settings(max_examples=int(os.environ.get("EHCP_FUZZ_CLI_EXAMPLES", "25")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(command=commands())
def test_fuzzed_commands_never_crash_leak_or_half_write(run, db_url, tmp_path, command):
    data, suffix, profile, options, secrets = command
    path = tmp_path / f"extract{suffix}"
    path.write_bytes(data)
    args = ["--as-of", options["as_of"], "import", path]
    if profile is not None:
        (tmp_path / "fuzz-profile.toml").write_text(profile, encoding="utf-8")
        args += ["--profile", tmp_path / "fuzz-profile.toml"]
    if options["skip"]:
        args.append("--skip-bad-rows")
    if options["kind"]:
        args += ["--kind", options["kind"]]
    if options["guards"]:
        args += ["--max-missing", "100", "--keep-absent", "all"]
    if options["wait"]:
        args += ["--wait", options["wait"]]
    args += _path_option(tmp_path, options["rejects"], "rejects.csv")
    args += _path_option(tmp_path, options["summary"], "summary.json")
    before = snapshot(db_url, reflect=False)
    STATS["examples"] += 1
    try:
        with watchdog(HANG_SECONDS):
            result = run(*args)
    except Hang:
        STATS["hangs"] += 1
        raise
    except Exception:
        STATS["crashes"] += 1
        raise
    STATS["exit"][result.exit_code] = STATS["exit"].get(result.exit_code, 0) + 1
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    for secret in secrets - {options["as_of"]}:
        assert secret not in result.stderr, (secret, result.stderr)
    if (tmp_path / "victim").exists():
        assert (tmp_path / "victim").read_text() == "not to be overwritten\n"
    if result.exit_code != 0 and not (options["skip"] and result.exit_code == 1):
        assert _stored(snapshot(db_url, reflect=False)) == _stored(before)
