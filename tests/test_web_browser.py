"""The work tray in a real browser: a real waitress server on a free loopback port, Debian's
Chromium driven by Playwright (never `playwright install`), as the board-pack test does: skipped
with the reason outside CI when Chromium or playwright is missing, a failure in CI.

One browser for the module; each test a fresh context (its own cookies). axe-core (vendored under
tests/vendor/axe-core) runs on every page visited, with zero violations allowed; it is evaluated
through the DevTools protocol, so the page's CSP (no inline script) stays on and is exercised too:
a CSP violation or any console error fails the test."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from ehcp_tracker.cli import cli
from ehcp_tracker.web.app import Settings, make_app

from .test_report_browser import CHROMIUM, _require_browser
from .conftest import ROOT
from .web_fixtures import AS_OF, PASSWORD, sample_tray

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, book):
    """(base URL, database URL, app): the sample tray served by waitress on 127.0.0.1, a free port."""
    _require_browser()
    import waitress

    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'web.db'}"
    engine = sample_tray(url, book)
    app = make_app(engine, book, Settings(as_of=AS_OF))
    httpd = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=httpd.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.effective_port}", url, app
    httpd.close()
    app.access_log.flush()
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    base = server[0]
    context = browser.new_context(base_url=base, accept_downloads=True, viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    tab.problems = []
    # a 404 the test asks for is logged by Chromium as "Failed to load resource"; a sub-resource that
    # fails (a stylesheet, the icon) is caught by the response listener below instead
    tab.on("console", lambda m: tab.problems.append(f"console {m.type}: {m.text}")
           if m.type in ("error", "warning") and not m.text.startswith("Failed to load resource") else None)
    tab.on("response", lambda r: tab.problems.append(f"{r.status} for {r.url}")
           if r.status >= 400 and r.request.resource_type != "document" else None)
    tab.on("pageerror", lambda e: tab.problems.append(f"page error: {e}"))
    tab.on("request", lambda r: None if r.url.startswith((base, "data:", "about:"))
           else tab.problems.append(f"request off the server: {r.url}"))
    yield tab
    assert tab.problems == []
    context.close()


def axe_clean(page) -> None:
    """axe-core's WCAG 2.0/2.1/2.2 A and AA rules (and best practice) on the page: zero violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text("utf-8"))
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']});
        return r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}));
    }""")
    assert found == [], f"{page.url}: {json.dumps(found, indent=1)}"


def sign_in(page, name: str) -> None:
    page.goto("/sign-in")
    axe_clean(page)
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state("load")


def cli_csv(url: str, *args) -> str:
    result = CliRunner().invoke(cli, ["--db", url, "--as-of", AS_OF.isoformat(), *args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_caseworker_by_keyboard_sees_ehcp_due_and_downloads_it(page, server):
    base, url, app = server
    page.goto("/cases")
    assert page.url.startswith(base + "/sign-in"), "signed out: to the sign-in page"
    axe_clean(page)
    # keyboard only: skip link, the service name, then the form
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("cw1")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/cases")
    assert page.title() == "My cases - EHC work tray"
    axe_clean(page)
    expected = list(csv.DictReader(io.StringIO(cli_csv(url, "due", "--caseworker", "CW001"))))
    shown = page.eval_on_selector_all("#clocks tbody tr[data-case]", "rows => rows.map(r => [r.dataset.case, r.dataset.clock, r.dataset.due])")
    assert shown == [[e["case_id"], e["clock"], e["due"]] for e in expected] and shown
    with page.expect_download() as download:
        page.click("a:has-text('CSV')")
    assert Path(download.value.path()).read_text("utf-8") == cli_csv(url, "due", "--caseworker", "CW001")
    # the 14-day filter, submitted from the form
    page.select_option("#window", "14")
    page.click("button:has-text('Filter')")
    page.wait_for_load_state("load")
    axe_clean(page)
    longer = list(csv.DictReader(io.StringIO(cli_csv(url, "due", "--caseworker", "CW001", "--days", "14"))))
    assert page.locator("#clocks tbody tr[data-case]").count() == len(longer)
    page.click("a:has-text('Queries on my cases')")
    page.wait_for_load_state("load")
    assert page.title() == "Queries - EHC work tray"
    axe_clean(page)
    page.go_back()
    # a case of theirs, opened from the list by keyboard
    first = page.locator("#clocks tbody tr[data-case] a").first
    first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.startswith(base + "/case/")
    page.click(".govuk-details__summary >> nth=0")
    axe_clean(page)
    # another caseworker's case, guessed: the same page as a case that does not exist
    theirs = cli_csv(url, "clocks", "--caseworker", "CW004").splitlines()[1].split(",")[0]
    guessed = page.goto(f"/case/{theirs}")
    guessed_text = page.inner_text("main")
    axe_clean(page)
    missing = page.goto("/case/R9999999")
    assert guessed.status == missing.status == 404 and page.inner_text("main") == guessed_text
    page.goto("/search")
    axe_clean(page)
    page.fill("#case_id", theirs)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "No case with that ID" in page.inner_text("main")
    axe_clean(page)
    # sign out
    page.goto("/cases")
    page.click("button:has-text('Sign out')")
    page.wait_for_load_state("load")
    assert page.url.startswith(base + "/sign-in")
    assert page.goto("/cases").url.startswith(base + "/sign-in")
    app.access_log.flush()
    result = CliRunner().invoke(cli, ["--db", url, "access-log", "--user", "cw1", "--format", "json"])
    events = [e["event"] for e in json.loads(result.stdout)]
    assert {"sign_in", "list_view", "download", "case_view", "search", "sign_out"} <= set(events)


def test_a_team_lead_sees_their_team_and_clicks_through(page, server):
    base, url, _ = server
    sign_in(page, "lead.north")
    assert page.url == base + "/team"
    axe_clean(page)
    caseworkers = page.eval_on_selector_all("#caseworkers tbody tr[data-caseworker]", "rows => rows.map(r => r.dataset.caseworker)")
    north = {r.split(",")[3] for r in cli_csv(url, "clocks", "--team", "North").splitlines()[1:]}
    assert set(caseworkers) == north
    page.click("#caseworkers a:has-text('CW001')")
    page.wait_for_load_state("load")
    assert page.title() == "Cases of CW001 - EHC work tray"
    axe_clean(page)
    page.click("a:has-text('KPIs')")
    page.wait_for_load_state("load")
    assert page.locator("#kpis tbody tr[data-kpi]").count() > 0
    axe_clean(page)
    assert page.goto("/team?team=West").status == 404
    axe_clean(page)


def test_an_admin_sees_imports_and_every_team(page, server, book, tmp_path):
    base, url, _ = server
    sign_in(page, "admin")
    axe_clean(page)
    page.click("a:has-text('West')")
    page.wait_for_load_state("load")
    axe_clean(page)
    page.click("a:has-text('Imports')")
    page.wait_for_load_state("load")
    assert page.locator("#runs tbody tr").count() == 2
    assert page.locator("p#refused").inner_text() == "No file among these runs was refused."
    axe_clean(page)
    # a file refused tonight: the page says which and why (counts by column, never the cells)
    rows = (ROOT / "sample_data" / "reviews.csv").read_text("utf-8").splitlines()
    header = rows[0].split(",")
    cells = rows[1].split(",")
    cells[header.index("review_meeting")] = "Dana Evans"
    bad = tmp_path / "reviews-tonight.csv"
    bad.write_text("\n".join([rows[0], ",".join(cells), *rows[2:]]) + "\n", "utf-8")
    from ehcp_tracker.errors import ImportRejected
    from ehcp_tracker.ingest.importer import import_extract
    from ehcp_tracker.store import db

    engine = db.connect(url)
    with pytest.raises(ImportRejected):
        import_extract(engine, bad, book, AS_OF)
    engine.dispose()
    page.reload()
    page.wait_for_load_state("load")
    assert page.locator("#runs tbody tr").count() == 3
    refused = page.locator("#refused tbody tr")
    assert refused.count() == 1
    text = refused.inner_text()
    assert "reviews-tonight.csv" in text and "1 problem in 1 row" in text and "column review_meeting, bad date: 1 row" in text
    assert "Dana" not in page.content()
    axe_clean(page)


def test_a_failed_sign_in_shows_the_error_summary(page, server):
    page.goto("/sign-in")
    page.fill("#username", "cw1")
    page.fill("#password", "not the password at all")
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state("load")
    assert page.title() == "Error: Sign in - EHC work tray"
    assert page.locator(".govuk-error-summary").count() == 1
    axe_clean(page)
