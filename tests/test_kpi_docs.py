"""The KPI reference page is the catalogue's (regenerate: python -m ehcp_tracker.docs_gen), and the
team lead's guide documents the `ehcp kpi` command."""

from __future__ import annotations

from .conftest import ROOT
from ehcp_tracker.measures.catalogue import load_catalogue
from ehcp_tracker.measures.kpi import catalogue_markdown


def test_kpi_reference_matches_the_catalogue():
    page = (ROOT / "docs" / "reference" / "kpis.md").read_text(encoding="utf-8")
    catalogue = load_catalogue()
    assert catalogue_markdown(catalogue) in page, "run python -m ehcp_tracker.docs_gen"
    for kpi in catalogue.kpis:
        assert f"| `{kpi.id}` |" in page


def test_team_lead_guide_documents_the_kpi_command():
    text = (ROOT / "docs" / "team-lead.md").read_text(encoding="utf-8")
    assert "## KPIs" in text and "## Board pack" in text
    for option in ("--month", "--year", "--tracker", "--list", "--year-start"):
        assert option in text
    assert "](reference/kpis.md)" in text, "the guide links to the KPI reference"
