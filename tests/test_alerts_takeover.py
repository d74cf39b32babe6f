"""Alerts after a crash (issue 28 point 5), on SQLite and PostgreSQL.

A real ``ehcp alerts`` process is killed with SIGKILL by the SMTP server itself (aiosmtpd on
loopback), at the worst instants: while the second digest's recipient is being given (the server
does not have the message), and once the server holds the whole message but before its "250"
reaches the sender (the server has it, the ledger cannot know). The next run must take the dead
run over without waiting or an override (its process is gone from this host), deliver what the dead
run had not, and send nothing twice except, in the second case, that one digest again with its
original Message-ID (the at-least-once guarantee, docs/alerts.md). The lease rules are a table.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from ehcp_tracker.alerts import ledger
from ehcp_tracker.store import db

from .test_alerts import AS_OF, PEOPLE, free_port, ledger_rows, night  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent


class Killer:
    """An aiosmtpd handler that keeps every message and SIGKILLs the sender at a chosen instant of
    its ``nth`` message: "rcpt" (before the server has it) or "data" (the server has it, the
    sender has not heard so)."""

    def __init__(self, when: str | None = None, nth: int = 2):
        self.when, self.nth, self.victim = when, nth, None
        self.messages: list[email.message.EmailMessage] = []
        self.seen = 0

    def _kill(self) -> None:
        os.kill(self.victim.pid, signal.SIGKILL)
        self.victim.wait(timeout=30)
        self.when = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.when == "rcpt" and self.seen + 1 == self.nth:
            self._kill()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        if self.when == "data" and self.seen == self.nth:
            self._kill()
        return "250 Message accepted for delivery"


@pytest.fixture
def killer():
    from aiosmtpd.controller import Controller

    handler = Killer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.address = f"127.0.0.1:{controller.port}"
    yield handler
    controller.stop()
    asyncio.set_event_loop(None)


def runs(db_url) -> list[tuple]:
    engine = db.connect(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(db.alert_run.c.id, db.alert_run.c.status)
                                                   .order_by(db.alert_run.c.id))]
    finally:
        engine.dispose()


def by_recipient(messages) -> dict[str, list[str]]:
    out = collections.defaultdict(list)
    for m in messages:
        out[m["To"].addresses[0].addr_spec].append(m["Message-ID"])
    return dict(out)


@pytest.mark.parametrize("when, repeats", [("rcpt", 0), ("data", 1)])
def test_a_killed_run_is_taken_over_and_nothing_is_lost(night, killer, db_url, tmp_path, when, repeats):
    # what a clean night sends, for comparison (a second database would be slower: dry run)
    dry = night("--as-of", AS_OF, "alerts", "--people", night.people, "--outbox", tmp_path / "o", "--dry-run")
    assert dry.exit_code == 0
    expected = sorted(line.split("<")[1].rstrip(">") for line in dry.stdout.splitlines() if line.startswith("To: "))
    assert len(expected) == 4

    killer.when = when
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    killer.victim = subprocess.Popen(
        [sys.executable, "-m", "ehcp_tracker", "--db", db_url, "--as-of", AS_OF, "alerts", "--people",
         str(night.people), "--smtp", killer.address, "--from", "send-alerts@council.example"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killer.victim.wait(timeout=120)
    assert killer.victim.returncode == -signal.SIGKILL
    assert runs(db_url) == [(1, "running")]  # the dead run's row says it is still sending
    before = by_recipient(killer.messages)
    assert sum(map(len, before.values())) == (2 if when == "data" else 1)

    result = night.alerts(killer.address)  # no override: the dead process is gone from this host
    assert result.exit_code == 0, result.output
    assert "took over alert run 1" in result.stderr and "its process" in result.stderr
    assert runs(db_url) == [(1, "abandoned"), (2, "sent")]
    got = by_recipient(killer.messages)
    assert sorted(got) == expected  # everyone has their digest
    repeated = {address: ids for address, ids in got.items() if len(ids) > 1}
    assert len(repeated) == repeats
    for ids in repeated.values():  # a repeat is the same message, recognisable by its Message-ID
        assert len(ids) == 2 and ids[0] == ids[1]
    if repeats:
        assert "sent again with its original Message-ID" in result.stderr
    assert len({i for ids in got.values() for i in ids}) == 4

    # and the ledger is as a clean night's: the next run sends nothing
    recorded = ledger_rows(db_url)
    again = night.alerts(killer.address)
    assert again.exit_code == 0 and "0 of 0 digests" in again.stderr
    assert ledger_rows(db_url) == recorded and sum(map(len, by_recipient(killer.messages).values())) == 4 + repeats


def test_an_outbox_digest_written_before_the_crash_is_not_written_again(night, tmp_path, db_url, monkeypatch):
    """The outbox can be asked: a digest whose file was written (renamed into place) just before the
    run died is found by its Message-ID and only recorded, never written twice."""
    outbox = tmp_path / "outbox"
    real = ledger.delivered
    calls = []

    def crash_on_the_second(engine, message_id):
        calls.append(message_id)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the file is written; the run dies before recording it
        real(engine, message_id)

    monkeypatch.setattr(ledger, "delivered", crash_on_the_second)
    died = night("--as-of", AS_OF, "alerts", "--people", night.people, "--outbox", outbox)
    assert died.exit_code != 0
    monkeypatch.setattr(ledger, "delivered", real)
    assert len(list(outbox.glob("*.eml"))) == 2
    result = night("--as-of", AS_OF, "alerts", "--people", night.people, "--outbox", outbox)
    assert result.exit_code == 0, result.output
    assert "was found already delivered" in result.stderr
    files = sorted(outbox.glob("*.eml"))
    ids = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["Message-ID"] for f in files]
    assert len(files) == 4 and len(set(ids)) == 4


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


NOW = "now"


@pytest.mark.parametrize("host, pid, heartbeat_age, started_age, force, taken", [
    ("here", "dead", 5, 5, False, True),  # this host, process gone: taken over at once
    ("here", "alive", 5, 5, False, False),  # this host, process alive, heartbeat fresh: refused
    ("here", "alive", 5, 5, True, True),  # ... unless the operator forces it
    ("elsewhere", 4242, 5, 5, False, False),  # another host, fresh heartbeat: cannot be checked, refused
    ("elsewhere", 4242, 121, 200, False, True),  # another host, silent past the lease: taken over
    ("here", "alive", 121, 200, False, True),  # alive PID but silent past the lease (a reused PID): taken
    (None, None, None, 3600, False, False),  # a run from before the lease, an hour old: refused
    (None, None, None, 7 * 3600, False, True),  # ... 7 hours old: ignored as before
])
def test_the_lease(engine, host, pid, heartbeat_age, started_age, force, taken):
    now = db.now()
    values = {"here": ledger.this_host(), "elsewhere": "another-host.example", None: None}
    pids = {"dead": _dead_pid(), "alive": os.getpid()}
    with engine.begin() as conn:
        conn.execute(db.alert_run.insert().values(
            started_at=now - dt.timedelta(seconds=started_age), as_of=dt.date(2020, 3, 2), delivery="smtp",
            status="running", host=values[host], pid=pids.get(pid, pid),
            heartbeat_at=None if heartbeat_age is None else now - dt.timedelta(seconds=heartbeat_age)))
    if taken:
        claim = ledger.start_run(engine, dt.date(2020, 3, 2), "smtp", force_takeover=force)
        assert [t[0] for t in claim.taken_over] == [1]
        with engine.connect() as conn:
            assert conn.execute(sa.select(db.alert_run.c.status).where(db.alert_run.c.id == 1)).scalar() == "abandoned"
    else:
        from ehcp_tracker.errors import EhcpError

        with pytest.raises(EhcpError, match="alert run 1.*is still sending; nothing was sent"):
            ledger.start_run(engine, dt.date(2020, 3, 2), "smtp", force_takeover=force)


def test_the_heartbeat_renews_the_lease(engine, monkeypatch):
    claim = ledger.start_run(engine, dt.date(2020, 3, 2), "smtp")
    with engine.connect() as conn:
        first = conn.execute(sa.select(db.alert_run.c.heartbeat_at)).scalar()
    with ledger.Heartbeat(engine, claim.run_id, every=dt.timedelta(seconds=0.05)):
        time.sleep(0.5)
    with engine.connect() as conn:
        assert conn.execute(sa.select(db.alert_run.c.heartbeat_at)).scalar() > first


def test_force_takeover_through_the_cli(night, tmp_path, db_url):
    engine = db.connect(db_url)
    with engine.begin() as conn:
        now = db.now()
        conn.execute(db.alert_run.insert().values(started_at=now, as_of=dt.date(2020, 3, 2), delivery="outbox",
                                                  status="running", host=ledger.this_host(), pid=os.getpid(),
                                                  heartbeat_at=now))
    engine.dispose()
    args = ("--as-of", AS_OF, "alerts", "--people", night.people, "--outbox", tmp_path / "o")
    refused = night(*args)
    assert refused.exit_code == 1 and "--force-takeover if you know it is dead" in refused.output
    assert not any((tmp_path / "o").glob("*.eml"))
    forced = night(*args, "--force-takeover")
    assert forced.exit_code == 0 and "took over alert run 1" in forced.stderr
    assert len(list((tmp_path / "o").glob("*.eml"))) == 4
