"""The README's KPI table is the catalogue's (regenerate: EHCP_UPDATE_SNAPSHOTS=1 pytest tests/test_kpi_docs.py)."""

from __future__ import annotations

import os
import re

from .conftest import ROOT
from ehcp_tracker.measures.kpi import catalogue_markdown
from ehcp_tracker.measures.catalogue import load_catalogue

PATTERN = re.compile(r"(<!-- kpi-table:start -->\n)(.*?)(<!-- kpi-table:end -->)", re.S)


def test_readme_kpi_table_matches_the_catalogue():
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    match = PATTERN.search(text)
    assert match, "README.md has no KPI table markers"
    expected = catalogue_markdown(load_catalogue())
    if os.environ.get("EHCP_UPDATE_SNAPSHOTS") and match.group(2) != expected:
        readme.write_text(PATTERN.sub(lambda m: m.group(1) + expected + m.group(3), text), encoding="utf-8")
        return
    assert match.group(2) == expected


def test_readme_documents_the_kpi_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("# ehcp-tracker")
    assert "## Quick start" in text.split("## KPIs")[0]
    for option in ("--month", "--year", "--tracker", "--list", "--year-start"):
        assert option in text
