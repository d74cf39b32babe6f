"""Docs kept honest by tests (style.md item 14): the docs site names every command, clock, column,
query code and KPI, compared against the code, and builds with ``mkdocs build --strict``.

The reference pages under docs/reference/ are generated (``python -m ehcp_tracker.docs_gen``); the
guides by role are written by hand, and must still mention every command and every clock.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ehcp_tracker import docs_gen
from ehcp_tracker.listings import query_codes
from ehcp_tracker.schema import KINDS

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
QUICK_START = [
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/ehcp demo",
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest",
]


def _guides() -> str:
    """Every hand-written page (not the generated reference, not the copied notes)."""
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.rglob("*.md"))
                     if REFERENCE not in p.parents and p.parent.name != "law" and p.name != "design.md")


def _quick_start(text: str) -> list[str]:
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", text, re.S)
    assert block, "a Quick start code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_command_lines_in_one_block():
    assert _quick_start(README) == QUICK_START
    assert _quick_start((DOCS / "index.md").read_text(encoding="utf-8")) == QUICK_START, "docs/index.md too"
    ci = (ROOT / ".ci" / "run").read_text()
    assert QUICK_START[1] in ci, ".ci/run runs exactly the README's test command"


def test_readme_is_short_and_its_links_resolve():
    assert README.startswith("# ehcp-tracker")
    assert len(README.splitlines()) <= 150, "README.md: at most ~150 lines; the rest belongs in docs/"
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    assert links, "the README links into docs/"
    for link in links:
        if "://" not in link:
            assert (ROOT / link).is_file(), f"README links to {link}, which does not exist"


def test_reference_pages_are_generated_from_the_code():
    stale = docs_gen.stale(ROOT)
    assert not stale, (f"{', '.join(map(str, stale))} out of date with the code: "
                       f"run `{docs_gen.REGENERATE}` and commit the pages")


def test_every_command_and_subcommand_is_in_the_reference():
    page = (REFERENCE / "commands.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"(?m)^#+ (ehcp [\w -]+?)\s*$", page))
    names = [full for full, _, _ in docs_gen.walk_commands()]
    assert names, "the walk finds the commands"
    missing = [n for n in names if n not in headings]
    assert not missing, f"{missing} not in docs/reference/commands.md: run `{docs_gen.REGENERATE}`"
    for full, command, ctx in docs_gen.walk_commands():
        section = page.split(f" {full}\n", 1)[1].split("\n#", 1)[0]
        for param in command.get_params(ctx):
            for opt in param.opts if param.param_type_name == "option" else ():
                assert f"`{opt}`" in section, f"{full} {opt} is not documented: run `{docs_gen.REGENERATE}`"


def test_every_command_and_subcommand_is_in_a_guide():
    guides = _guides()
    from ehcp_tracker.cli import cli

    for name, command in cli.commands.items():
        assert f"ehcp {name}" in guides, f"`ehcp {name}` is in no guide under docs/ (only the generated reference)"
        for sub in getattr(command, "commands", {}):
            assert re.search(rf"ehcp {name}[^\n]*{sub}", guides), f"`ehcp {name} {sub}` is in no guide under docs/"


def test_every_clock_is_documented(book):
    guides, reference = _guides(), (REFERENCE / "clocks.md").read_text(encoding="utf-8")
    for clock in book.clocks:
        assert f"`{clock.id}`" in guides, f"clock {clock.id} is in no guide under docs/"
        assert f"### `{clock.id}`" in reference, f"clock {clock.id} not in docs/reference/clocks.md"
        for version in clock.versions:
            assert docs_gen._cell(version.reference) in reference, f"{clock.id}: its reference is not on the page"


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_canonical_column_is_documented(kind):
    page = (REFERENCE / "columns.md").read_text(encoding="utf-8")
    section = page.split(f"## {kind} ", 1)[1].split("\n## ", 1)[0]
    for column in KINDS[kind].columns:
        row = next((line for line in section.splitlines() if line.startswith(f"| `{column.name}` |")), None)
        assert row, f"{kind} column {column.name} not in docs/reference/columns.md"
        assert docs_gen._cell(column.doc) in row


def test_every_query_code_is_documented():
    page = (REFERENCE / "queries.md").read_text(encoding="utf-8")
    codes = query_codes()
    assert len(codes) >= 5
    for code in codes:
        assert f"| `{code}` |" in page, f"query {code} not in docs/reference/queries.md"


def test_rule_files_cite_notes_that_ship_in_the_repo():
    """The rule book's comments cite the law notes by a path inside the repository."""
    for path in sorted((ROOT / "rules").rglob("*.toml")):
        text = path.read_text(encoding="utf-8")
        assert "shared/" not in text, f"{path.name} cites notes outside the repository"
        for cited in re.findall(r"docs/[\w/.-]+\.md", text):
            assert (ROOT / cited).is_file(), f"{path.name} cites {cited}, which does not exist"
    assert (DOCS / "law" / "statutory-rules.md").is_file()


def test_glossary_defines_the_domain_words():
    glossary = (ROOT / "GLOSSARY.md").read_text(encoding="utf-8")
    for word in ["EHC needs assessment", "EHC plan", "Exception", "Annual review", "Phase transfer",
                 "Clock", "As-of date", "Rule version", "Local target", "Extract", "Profile"]:
        assert f"**{word}**" in glossary, word


def test_docs_site_builds_strict(tmp_path):
    """``mkdocs build --strict``: a broken link, a missing anchor or a page left out of the nav fails."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "commands" / "index.html").is_file()
    assert (tmp_path / "site" / "board-pack.png").is_file(), "the screenshots are served with the site"


def _block(page: str, first_line: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    block = next((b for b in re.findall(r"```\w*\n(.*?)```", text, re.S) if b.startswith(first_line)), None)
    assert block, f"{page} has a code block starting {first_line!r}"
    return block


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell script")
@pytest.mark.parametrize("import_exit, alerts_sent, job_exit", [(0, True, 0), (3, True, 3), (1, False, 1), (2, False, 2)])
def test_the_nightly_script_sends_alerts_after_0_or_3(tmp_path, import_exit, alerts_sent, job_exit):
    """The documented script, run as written, with an `ehcp` that exits as the import would."""
    script = _block("nightly-run.md", "#!/bin/sh").replace("/srv/send", str(tmp_path))
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / "logs").mkdir()
    (tmp_path / "ehcp.env").write_text("EHCP_DB=sqlite:///x.db\nEHCP_SMTP_PASSWORD=x\n")
    ehcp = tmp_path / ".venv" / "bin" / "ehcp"
    ehcp.write_text(f'#!/bin/sh\necho "$2" >> {tmp_path}/calls\n[ "$2" = import ] && exit {import_exit}\nexit 0\n')
    ehcp.chmod(0o755)
    (tmp_path / "nightly.sh").write_text(script)
    done = subprocess.run(["sh", str(tmp_path / "nightly.sh")], capture_output=True, text=True, timeout=30)
    calls = (tmp_path / "calls").read_text().split()
    assert calls == (["import", "alerts"] if alerts_sent else ["import"]), done.stderr
    assert done.returncode == job_exit


def test_the_windows_job_sends_alerts_after_0_or_3():
    batch = _block("nightly-run.md", "@echo off")
    assert "if %status% EQU 0 goto alerts" in batch and "if %status% EQU 3 goto alerts" in batch
    assert batch.index("import") < batch.index(":alerts") < batch.index(" alerts --people")


def test_sample_data_readme_commands_exist():
    """Every command sample_data/README.md gives runs: a module with a main, or an ehcp command."""
    import importlib

    text = (ROOT / "sample_data" / "README.md").read_text(encoding="utf-8")
    modules = re.findall(r"(?m)^python -m ([\w.]+)", text)
    assert modules
    for name in modules:
        assert callable(getattr(importlib.import_module(name), "main", None)), f"python -m {name} does not run"
    from ehcp_tracker.cli import cli

    lines = re.findall(r"(?m)^ehcp (.+)$", text)
    assert lines
    for line in lines:
        words = [w for w in line.split() if not w.startswith("-") and not re.fullmatch(r"[\d-]+", w)]
        assert words[0] in cli.commands, line


@pytest.mark.parametrize("n, noun, expected", [(0, "clock", "0 clocks"), (1, "clock", "1 clock"), (2, "row", "2 rows"),
                                               (1, "query", "1 query"), (3, "query", "3 queries"), (2, "day", "2 days"),
                                               (1, "field change", "1 field change")])
def test_counts_are_written_as_people_write_them(n, noun, expected):
    from ehcp_tracker.output import counted

    assert counted(n, noun) == expected
