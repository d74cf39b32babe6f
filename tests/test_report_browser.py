"""The board pack in a real browser: Debian's headless Chromium, driven by Playwright.

Checks that the page loads with no console errors and no network requests, that every chart drew
(its series has a non-empty bounding box), that the headline figures on the page are the KPI
library's for the same month, and that it prints; saves a screenshot under the test's tmp_path.

Never `playwright install`: the test launches the system Chromium. In CI (CI=true) it must run;
elsewhere it is skipped, with the reason, when Chromium or the playwright package is missing.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ehcp_tracker.report import data as report_data
from ehcp_tracker.cli import cli
from ehcp_tracker.report.data import value_text

from .test_report import MONTH, SAMPLE_AS_OF, sample_db  # noqa: F401 - the shared sample database fixture

CHROMIUM = os.environ.get("EHCP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _require_browser():
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium ({CHROMIUM}; Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        reason = "board pack browser test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: in CI the browser test must run")
        pytest.skip(reason)


@pytest.fixture
def browser_page():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.problems = []
        page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "about:"))
                else page.problems.append(f"network request: {r.url}"))
        yield page
        browser.close()


def kpi_figures(db_url: str, engine, book) -> dict[str, dict]:
    """The month's KPIs as `ehcp kpi` gives them once the command exists; until then, the library itself."""
    if "kpi" in cli.commands:
        result = CliRunner().invoke(cli, ["--db", db_url, "--as-of", str(SAMPLE_AS_OF), "kpi", "--month", MONTH,
                                          "--format", "json"])
        assert result.exit_code == 0, result.output
        rows = [r for r in json.loads(result.stdout)
                if r["period"] == MONTH and r.get("basis", "month") == "month"]
    else:
        frame = report_data.kpi_source().month(engine, book, MONTH, SAMPLE_AS_OF)
        rows = frame[frame["basis"] == "month"].to_dict(orient="records")
    # a count KPI's count is the value the pack shows
    return {r["kpi"]: {**r, "value": r["numerator"]} if r.get("denominator") in (None, "") and
            r.get("value") in (None, "") else r for r in rows}


def _number(value) -> float:
    return math.nan if value in (None, "") or (isinstance(value, float) and math.isnan(value)) else float(value)


def test_board_pack_in_chromium(browser_page, sample_db, book, tmp_path):  # noqa: F811
    db_url, engine = sample_db
    pack = tmp_path / "pack.html"
    result = CliRunner().invoke(cli, ["--db", db_url, "--as-of", str(SAMPLE_AS_OF), "report", "--month", MONTH,
                                      "--output", str(pack)])
    assert result.exit_code == 0, result.output
    page = browser_page
    page.goto(pack.as_uri())
    page.wait_for_load_state("load")

    assert page.title() == "EHC board pack: October 2026"
    assert page.evaluate("document.documentElement.lang") == "en-GB"

    charts = page.evaluate("""() => [...document.querySelectorAll('svg.chart')].map(svg => {
        // the marks drawn (line, dots, bars), not their labels: their union must cover an area
        const marks = [...svg.querySelectorAll('.series path, .series polyline, .series circle, .series rect')]
            .map(m => m.getBBox()).filter(b => b.width > 0 || b.height > 0);
        const left = Math.min(...marks.map(b => b.x)), right = Math.max(...marks.map(b => b.x + b.width));
        const top = Math.min(...marks.map(b => b.y)), bottom = Math.max(...marks.map(b => b.y + b.height));
        const box = marks.length ? {width: right - left, height: bottom - top} : {width: 0, height: 0};
        return {id: svg.id, points: Number(svg.dataset.points), lines: svg.querySelectorAll('.series path').length,
                bars: svg.querySelectorAll('.series rect').length, width: box.width, height: box.height,
                title: svg.querySelector(':scope > title')?.textContent || '',
                desc: svg.querySelector(':scope > desc')?.textContent || '',
                shown: svg.getBoundingClientRect().width};
    })""")
    trends = [c for c in charts if c["id"] not in ("chart-ageing-assessments", "chart-ageing-reviews")
              and not c["bars"]]
    assert len(trends) == len(pack_kpis := kpi_figures(db_url, engine, book)), "a trend chart per KPI"
    assert all(c["lines"] for c in trends if c["points"]), "every trend with data draws its line"
    assert sum(1 for c in trends if c["lines"]) >= len(trends) // 2
    assert len([c for c in charts if c["bars"]]) == 2, "the two ageing charts"
    for chart in charts:
        assert chart["title"] and chart["desc"], chart["id"]
        assert chart["shown"] > 200, f"{chart['id']} is laid out on the page"
        if chart["points"]:
            assert chart["width"] > 0 and chart["height"] > 0, f"{chart['id']} drew nothing"

    cells = page.evaluate("""() => [...document.querySelectorAll('table.headline tr[data-kpi]')].map(tr => {
        const cell = name => tr.querySelector(`[data-field="${name}"]`);
        return {kpi: tr.dataset.kpi, raw: cell('value').dataset.raw, text: cell('value').textContent.trim(),
                numerator: cell('counted').dataset.numerator, denominator: cell('counted').dataset.denominator,
                target: cell('target').dataset.raw, rag: cell('rag').textContent.trim()};
    })""")
    assert [c["kpi"] for c in cells] == list(pack_kpis)
    for cell in cells:
        expected = pack_kpis[cell["kpi"]]
        unit = report_data.presentation(cell["kpi"])[1]
        for field, key in (("raw", "value"), ("numerator", "numerator"), ("denominator", "denominator"),
                           ("target", "target")):
            got, want = _number(cell[field]), _number(expected[key])
            assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want), (cell["kpi"], field)
        partial = " partial" if expected.get("complete") == "no" else ""  # marked as `ehcp kpi` marks it
        assert cell["text"] == value_text(_number(expected["value"]), unit) + partial, cell["kpi"]
        assert cell["rag"].split()[-1] in {"Green", "Amber", "Red", "target", "data"}, cell  # a word, not only a colour

    shot = tmp_path / "board-pack.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000

    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", landscape=True, print_background=True)
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pdf[:4] == b"%PDF" and 3 < pages <= 12, pages  # issue 16: it printed 30 pages, mostly backlog IDs

    assert page.problems == []


def test_team_lead_guide_shows_the_board_pack_screenshot():
    """docs/board-pack.png is a PNG the team lead's guide shows (regenerate: python docs/board_pack_screenshot.py)."""
    root = Path(__file__).resolve().parent.parent
    assert (root / "docs" / "board-pack.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](board-pack.png)" in (root / "docs" / "team-lead.md").read_text(encoding="utf-8")
