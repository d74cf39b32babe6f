"""Work tray benchmark (issue 25): `ehcp serve` over N synthetic cases on SQLite, on loopback.

    python benchmarks/bench_web.py --requests 60000 --reviews 40000          # 100,000 cases
    python benchmarks/bench_web.py --requests 600000 --reviews 400000 --users 20 --seconds 60

Builds (or, with --keep DIR, reuses) a database of the synthetic caseload with stored clocks and
one account per role, starts the real server (`ehcp serve`, waitress, 8 threads) in a process of
its own, and then, from this process:

1. **Single user**: each page type (a caseworker's list, a case page, the team page) requested
   --samples times in turn; server time (the app's own ``Server-Timing`` figure: routing, the
   database reads and the rendering, no network) and client time, p50 and p95.
2. **Under load**: --users concurrent signed-in users (caseworkers, team leads, an admin) for
   --seconds, each clicking without pause through their pages, while `ehcp import` re-imports the
   extracts with the next day's as-of date in a loop (each a real nightly import: one write
   transaction over every case). Counts every answer that is not the page expected (an error),
   and p50/p95 of server and client time per page type.

The script stops by itself (every loop is bounded by --seconds, every request by a timeout) and
kills the server and the import it started. Nothing is asserted: performance is measured, never
tested. Other work on the machine shows in the figures: the script prints the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2026, 10, 30)
PASSWORD = "bench-password-for-the-tray"
EHCP = [sys.executable, "-m", "ehcp_tracker"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "EHCP_QUIET": "1"}


def ehcp(db_url: str, *args, as_of: dt.date = AS_OF, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([*EHCP, "--db", db_url, "--as-of", as_of.isoformat(), *map(str, args)],
                          env=ENV, capture_output=True, text=True)
    if check and done.returncode not in (0, 3):
        raise SystemExit(f"ehcp {' '.join(map(str, args))} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def build(work: Path, requests: int, reviews: int) -> tuple[str, dict]:
    """The database, its extracts and who to sign in as (a busy caseworker, their team's lead)."""
    import sqlalchemy as sa

    from ehcp_tracker.store import db
    from ehcp_tracker.web import accounts

    url = f"sqlite:///{work / 'tray.db'}"
    extracts = work / "extracts"
    if not (work / "tray.db").exists():
        started = time.perf_counter()
        ehcp(url, "demo", "generate", "--requests", requests, "--reviews", reviews, "--end", AS_OF, "-o", extracts)
        ehcp(url, "init")
        ehcp(url, "import", extracts / "assessments.csv", extracts / "reviews.csv")
        ehcp(url, "evaluate")
        print(f"built {requests + reviews:,} cases in {time.perf_counter() - started:.0f} s", flush=True)
    engine = db.connect(url)
    with engine.connect() as conn:
        busiest = conn.execute(sa.text(
            "SELECT caseworker, team, COUNT(*) AS n FROM assessment GROUP BY caseworker, team ORDER BY n DESC")).all()
        cases = conn.execute(sa.text("SELECT COUNT(*) FROM assessment")).scalar() + conn.execute(
            sa.text("SELECT COUNT(*) FROM review")).scalar()
        clocks = conn.execute(sa.text("SELECT COUNT(*) FROM clock_result")).scalar()
    people = {"caseworkers": [], "leads": [], "admin": "bench.admin"}
    existing = set(accounts.list_users(engine)["user"])
    for i, (caseworker, team, _) in enumerate(busiest[:14]):
        name = f"bench.cw{i}"
        if name not in existing:
            accounts.add(engine, name, "caseworker", caseworker=caseworker, password=PASSWORD)
        people["caseworkers"].append((name, caseworker))
    for i, team in enumerate(sorted({t for _, t, _ in busiest})[:4]):
        name = f"bench.lead{i}"
        if name not in existing:
            accounts.add(engine, name, "team_lead", team=team, password=PASSWORD)
        people["leads"].append((name, team))
    if "bench.admin" not in existing:
        accounts.add(engine, "bench.admin", "admin", password=PASSWORD)
    with engine.connect() as conn:
        for name, caseworker in people["caseworkers"]:
            ids = conn.execute(sa.text("SELECT request_id FROM assessment WHERE caseworker = :c LIMIT 50"),
                               {"c": caseworker}).scalars().all()
            people.setdefault("cases", {})[name] = ids
    engine.dispose()
    people["size"] = {"cases": cases, "clocks": clocks, "busiest_caseworker_requests": busiest[0][2]}
    return url, people


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One signed-in user: cookies, and a timed GET returning (status, server ms, client ms)."""

    def __init__(self, port: int):
        self.port, self.cookies = port, {}

    def _request(self, method: str, path: str, body: str | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        client_ms = (time.perf_counter() - started) * 1000
        for value in response.headers.get_all("Set-Cookie") or []:
            for key, morsel in SimpleCookie(value).items():
                self.cookies[key] = morsel.value
        timing = re.search(r"dur=([0-9.]+)", response.headers.get("Server-Timing", ""))
        conn.close()
        return response.status, float(timing.group(1)) if timing else float("nan"), client_ms, data

    def sign_in(self, name: str) -> None:
        status, _, _, page = self._request("GET", "/sign-in")
        token = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
        status, *_ = self._request("POST", "/sign-in", urlencode({"csrf": token, "username": name,
                                                                  "password": PASSWORD, "next": "/"}))
        if status != 303:
            raise SystemExit(f"sign-in of {name} failed: {status}")

    def get(self, path: str):
        status, server, client, _ = self._request("GET", path)
        return status, server, client


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary(name: str, samples: list[tuple[float, float]]) -> str:
    servers, clients = [s for s, _ in samples], [c for _, c in samples]
    return (f"| {name} | {len(samples)} | {statistics.median(servers):.0f} | {percentile(servers, 95):.0f} | "
            f"{statistics.median(clients):.0f} | {percentile(clients, 95):.0f} |")


def single_user(port: int, people: dict, samples: int) -> dict[str, list]:
    cw_name, caseworker = people["caseworkers"][0]
    lead_name, team = people["leads"][0]
    worker, lead = Browser(port), Browser(port)
    worker.sign_in(cw_name)
    lead.sign_in(lead_name)
    cases = people["cases"][cw_name]
    out = {"caseworker list": [], "case page": [], "team page": []}
    for i in range(samples):
        for page, (who, path) in {"caseworker list": (worker, "/cases"),
                                  "case page": (worker, f"/case/{quote(cases[i % len(cases)])}"),
                                  "team page": (lead, "/team")}.items():
            status, server, client = who.get(path)
            if status != 200:
                raise SystemExit(f"{path}: {status}")
            out[page].append((server, client))
    return out


def under_load(port: int, people: dict, users: int, seconds: float, db_url: str, extracts: Path) -> dict:
    roles = [("caseworker", name) for name, _ in people["caseworkers"]]
    roles += [("team_lead", name) for name, _ in people["leads"]]
    roles.append(("admin", people["admin"]))
    chosen = [roles[i % len(roles)] for i in range(users)]
    browsers = []
    for role, name in chosen:
        browser = Browser(port)
        browser.sign_in(name)
        browsers.append((role, name, browser))
    results = {"caseworker list": [], "case page": [], "team page": [], "errors": [], "requests": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    lead_teams = dict(people["leads"])
    caseworker_of = dict(people["caseworkers"])

    def clicks(role: str, name: str, browser: Browser) -> None:
        rng = random.Random(name)
        while time.monotonic() < stop_at:
            if role == "caseworker":
                ids = people["cases"][name]
                page, path = rng.choice([("caseworker list", "/cases"), ("caseworker list", "/cases?window=14"),
                                         ("case page", f"/case/{quote(rng.choice(ids))}")])
            elif role == "team_lead":
                page, path = rng.choice([("team page", "/team"), ("caseworker list", "/cases?" + urlencode(
                    {"caseworker": rng.choice([cw for cw in caseworker_of.values()])}))])
            else:
                page, path = ("team page", "/team?" + urlencode({"team": rng.choice(list(lead_teams.values()))}))
            try:
                status, server, client = browser.get(path)
            except (OSError, http.client.HTTPException) as exc:
                status, server, client = f"{type(exc).__name__}", 0.0, 0.0
            expected = (200, 404) if role == "team_lead" and page == "caseworker list" else (200,)
            with lock:
                results["requests"] += 1
                if status in expected:
                    if status == 200:
                        results[page].append((server, client))
                else:
                    results["errors"].append(f"{path}: {status}")

    imports = {"done": 0, "seconds": []}

    def nightly() -> None:
        day = AS_OF
        while time.monotonic() < stop_at:
            day += dt.timedelta(days=1)
            started = time.perf_counter()
            process = subprocess.Popen([*EHCP, "--db", db_url, "--as-of", day.isoformat(), "import",
                                        extracts / "assessments.csv", extracts / "reviews.csv"],
                                       env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                _, err = process.communicate(timeout=max(stop_at - time.monotonic(), 0) + 600)
            except subprocess.TimeoutExpired:
                process.kill()
                break
            if process.returncode in (0, 3):
                imports["done"] += 1
                imports["seconds"].append(time.perf_counter() - started)
            else:
                imports.setdefault("failed", []).append(err[-300:])

    threads = [threading.Thread(target=clicks, args=b, daemon=True) for b in browsers]
    importer = threading.Thread(target=nightly, daemon=True)
    importer.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    importer.join(900)
    results["imports"] = imports
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60000)
    parser.add_argument("--reviews", type=int, default=40000)
    parser.add_argument("--samples", type=int, default=50, help="requests per page type, single user")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--keep", type=Path, help="build the database here and keep it (reused when present)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-web-"))
    work.mkdir(parents=True, exist_ok=True)
    url, people = build(work, args.requests, args.reviews)
    print(f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; {people['size']['cases']:,} cases, {people['size']['clocks']:,} stored clocks; "
          f"busiest caseworker {people['size']['busiest_caseworker_requests']:,} requests", flush=True)
    port = free_port()
    server = subprocess.Popen([*EHCP, "--db", url, "--as-of", AS_OF.isoformat(), "serve", "--port", str(port),
                               "--threads", "8"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        head = "| page | requests | server p50 ms | server p95 ms | client p50 ms | client p95 ms |\n| --- | --- | --- | --- | --- | --- |"
        alone = single_user(port, people, args.samples)
        print("\nsingle user\n" + head)
        for page, samples in alone.items():
            print(summary(page, samples))
        print(f"\n{args.users} users for {args.seconds:.0f} s while the nightly import runs in a loop", flush=True)
        loaded = under_load(port, people, args.users, args.seconds, url, work / "extracts")
        print(head)
        for page in ("caseworker list", "case page", "team page"):
            if loaded[page]:
                print(summary(page, loaded[page]))
        imports = loaded["imports"]
        print(f"\n{loaded['requests']:,} requests, {len(loaded['errors'])} errors; {imports['done']} imports "
              f"completed during the run ({', '.join(f'{s:.0f} s' for s in imports['seconds'])})"
              + (f"; {len(imports.get('failed', []))} imports failed" if imports.get("failed") else ""))
        for error in loaded["errors"][:10]:
            print("  error:", error)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
