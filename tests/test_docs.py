"""Docs kept honest by tests (style.md item 14): the README names every command and every clock."""

import re

from ehcp_tracker.cli import cli

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quick_start_is_two_command_lines_in_one_block():
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", README, re.S)
    assert block, "README opens with a Quick start code block"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert lines == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/ehcp demo",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert lines[1] in ci, ".ci/run runs exactly the README's test command"


def test_every_command_is_documented():
    for name, command in cli.commands.items():
        assert f"ehcp {name}" in README, f"`ehcp {name}` is not in the README"
        for sub in getattr(command, "commands", {}):
            assert re.search(rf"ehcp {name}[^\n]*{sub}", README), f"`ehcp {name} {sub}` is not in the README"


def test_every_clock_is_documented(book):
    for clock in book.clocks:
        assert f"`{clock.id}`" in README, f"clock {clock.id} is not in the README"


def test_glossary_defines_the_domain_words():
    glossary = (ROOT / "GLOSSARY.md").read_text(encoding="utf-8")
    for word in ["EHC needs assessment", "EHC plan", "Exception", "Annual review", "Phase transfer",
                 "Clock", "As-of date", "Rule version", "Local target", "Extract", "Profile"]:
        assert f"**{word}**" in glossary, word
