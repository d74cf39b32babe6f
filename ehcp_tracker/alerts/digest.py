"""One digest per recipient per run: plain text and HTML alternatives of the same alerts.

The plain text lists every alert (never "and 40 more"); the HTML comes from
``templates/digest.html`` (or the file ``EHCP_ALERT_TEMPLATE`` names), in the board pack's style;
a long digest also carries the list as an XLSX attachment. A digest holds case IDs, clock titles,
dates, days and regulations: no names of children (none are held), no dates of birth.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import os
import string
from dataclasses import dataclass
from email.message import EmailMessage
from email.headerregistry import Address
from email.utils import formatdate
from pathlib import Path

import pandas as pd

from ..output import to_xlsx
from .events import Alert
from .people import Person, mailbox, parse_sender

TEMPLATE = Path(__file__).resolve().parent / "templates" / "digest.html"
# (section heading, the events it holds): the digest's order
SECTIONS = (("Overdue", ("overdue", "escalated")), ("Due this week", ("due_soon",)),
            ("Stopped late", ("stopped_late",)), ("Moved", ("moved",)))
ATTACH_OVER = 25  # alerts: a digest longer than this also carries them as a spreadsheet
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass
class Digest:
    recipient: Person
    alerts: list[Alert]
    as_of: dt.date
    base_url: str | None = None  # the work tray's address (`ehcp alerts --base-url`): links to cases and lists

    def link(self, path: str) -> str | None:
        return f"{self.base_url.rstrip('/')}{path}" if self.base_url else None

    def case_link(self, case_id: str) -> str | None:
        from urllib.parse import quote

        return self.link("/case/" + quote(str(case_id), safe=""))

    @property
    def footer(self) -> str:
        if not self.base_url:
            return FOOTER
        where = self.link("/team" if self.recipient.role == "team_lead" else "/cases")
        return (f"Sent by ehcp-tracker after the nightly import. Each alert is sent once; your list: {where} "
                "(each case links to its working).")

    def section(self, events: tuple[str, ...]) -> list[Alert]:
        chosen = [a for a in self.alerts if a.event in events]
        return sorted(chosen, key=lambda a: (a.due, a.case_id, a.clock))

    @property
    def counts(self) -> dict[str, int]:
        return {heading: len(self.section(events)) for heading, events in SECTIONS}

    @property
    def subject(self) -> str:
        counts = self.counts
        parts = [f"{counts['Overdue']} overdue", f"{counts['Due this week']} due this week"]
        parts += [f"{counts[h]} {h.lower()}" for h in ("Stopped late", "Moved") if counts[h]]
        return f"EHC deadlines: {', '.join(parts)} ({self.recipient.id})"

    def text(self) -> str:
        lines = [f"EHC deadlines for {self.recipient.name} ({self.recipient.id}), as of {self.as_of:%a %d %b %Y}", ""]
        for heading, events in SECTIONS:
            alerts = self.section(events)
            if not alerts:
                continue
            lines.append(f"{heading} ({len(alerts)})")
            lines.append("-" * len(lines[-1]))
            for alert in alerts:
                lines.append(f"{alert.case_id}  {alert.title}")
                lines.append(f"    {_when(alert)}")
                lines += [f"    {extra}" for extra in _extras(alert)]
                lines.append(f"    {alert.reference}")
                if self.base_url:
                    lines.append(f"    {self.case_link(alert.case_id)}")
            lines.append("")
        lines.append(self.footer)
        return "\n".join(lines) + "\n"

    def html(self, template: str | None = None) -> str:
        summary = "".join(f'<li class="{events[0]}">{n} {html.escape(heading.lower())}</li>'
                          for heading, events in SECTIONS if (n := len(self.section(events))) or events[0] in
                          ("overdue", "due_soon"))
        sections = "\n".join(_html_section(heading, self.section(events), self.case_link if self.base_url else None)
                             for heading, events in SECTIONS if self.section(events))
        return string.Template(template or read_template()).safe_substitute(
            title=html.escape(self.subject),
            heading=html.escape(f"EHC deadlines for {self.recipient.name} ({self.recipient.id})"),
            meta=html.escape(f"As of {self.as_of:%A %d %B %Y}; {len(self.alerts)} "
                             f"{'alert' if len(self.alerts) == 1 else 'alerts'}, each sent once."),
            summary=f'<ul class="summary">{summary}</ul>', sections=sections, footer=self._html_footer())

    def _html_footer(self) -> str:
        if not self.base_url:
            return html.escape(FOOTER)
        where = self.link("/team" if self.recipient.role == "team_lead" else "/cases")
        return (html.escape("Sent by ehcp-tracker after the nightly import. Each alert is sent once; ")
                + f'<a href="{html.escape(where)}">your list in the work tray</a>.')

    def message_id(self, domain: str) -> str:
        """The same digest (day, recipient, alerts) always has the same Message-ID, so a digest sent
        again after a crash (see ``run``) is recognisable as the same message, by a person or by a
        mail system that drops repeats."""
        keys = sorted(repr(a.key(self.recipient.key)) for a in self.alerts)
        digest = hashlib.sha256("\n".join([self.as_of.isoformat(), self.recipient.key, *keys]).encode()).hexdigest()
        return f"<ehcp-alerts.{self.as_of:%Y%m%d}.{digest[:32]}@{domain or 'localhost'}>"

    def message(self, sender: str | Address, template: str | None = None) -> EmailMessage:
        """The digest as a message; headers from structured addresses (``people.mailbox``), never
        from pasted strings, so no name can add a recipient or a header."""
        if not isinstance(sender, Address):
            sender = parse_sender(sender)
        message = EmailMessage()
        message["Subject"] = self.subject
        message["From"] = sender
        message["To"] = mailbox(self.recipient.name, self.recipient.email)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = self.message_id(sender.domain)
        message.set_content(self.text())
        message.add_alternative(self.html(template), subtype="html")
        if len(self.alerts) > ATTACH_OVER:
            message.add_attachment(self.spreadsheet(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1],
                                   filename=f"ehc-deadlines-{self.recipient.id}-{self.as_of:%Y-%m-%d}.xlsx")
        return message

    def spreadsheet(self) -> bytes:
        rows = [{"section": heading, "case_id": a.case_id, "kind": a.kind, "clock": a.clock, "title": a.title,
                 "due": pd.Timestamp(a.due), "days": a.days, "stopped": pd.Timestamp(a.stopped) if a.stopped else pd.NaT,
                 "old_due": pd.Timestamp(a.old_due) if a.old_due else pd.NaT, "why": a.why or "",
                 "note": a.note or "", "reference": a.reference}
                for heading, events in SECTIONS for a in self.section(events)]
        frame = pd.DataFrame(rows)
        for name in ("due", "stopped", "old_due"):
            frame[name] = pd.to_datetime(frame[name]).astype("datetime64[s]")
        buffer = io.BytesIO()
        to_xlsx(frame, buffer, sheet="alerts")
        return buffer.getvalue()


FOOTER = ("Sent by ehcp-tracker after the nightly import. Each alert is sent once; "
          "`ehcp due` and `ehcp explain CASE` show the working.")


def read_template() -> str:
    """The HTML template: ``EHCP_ALERT_TEMPLATE`` when set (a council's own), else the shipped one."""
    path = Path(os.environ.get("EHCP_ALERT_TEMPLATE") or TEMPLATE)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        from ..errors import EhcpError

        raise EhcpError(f"EHCP_ALERT_TEMPLATE: cannot read {path}: {exc.strerror}") from exc


def _when(alert: Alert) -> str:
    if alert.event == "stopped_late":
        return f"due {alert.due:%a %d %b %Y}, stopped {alert.stopped:%a %d %b %Y}: {_spelt(f'{alert.days_overdue} late')}"
    return f"due {alert.due:%a %d %b %Y}: {_spelt(alert.days)}"


def _spelt(days: str) -> str:
    """"3 overdue" -> "3 days overdue", "1 left" -> "1 day left" (the listings' short form, in full)."""
    number, _, rest = days.partition(" ")
    if not number.isdigit() or rest not in ("overdue", "left", "late"):
        return days
    return f"{number} {'day' if number == '1' else 'days'} {rest}"


def _extras(alert: Alert) -> list[str]:
    extras = []
    if alert.event == "moved":
        extras.append(f"moved from {alert.old_due:%a %d %b %Y}" + (f" ({alert.why})" if alert.why else ""))
    if alert.note:
        extras.append(alert.note)
    return extras


def _html_section(heading: str, alerts: list[Alert], case_link=None) -> str:
    head = "<tr><th>Case</th><th>Clock</th><th>Due</th><th>Days</th><th>Regulation</th></tr>"
    rows = []
    for a in alerts:
        days = (f"stopped {a.stopped:%d %b %Y}, {_spelt(a.days)}" if a.event == "stopped_late"
                else _spelt(a.days))
        extras = "".join(f'<br><span class="note">{html.escape(e)}</span>' for e in _extras(a))
        case = (f'<a href="{html.escape(case_link(a.case_id))}">{html.escape(a.case_id)}</a>' if case_link
                else html.escape(a.case_id))
        rows.append(f'<tr class="{html.escape(a.event)}"><td class="id">{case}</td>'
                    f"<td>{html.escape(a.title)}{extras}</td><td class=\"date\">{a.due:%a %d %b %Y}</td>"
                    f'<td class="days">{html.escape(days)}</td><td>{html.escape(a.reference)}</td></tr>')
    return (f"<h2>{html.escape(heading)} ({len(alerts)})</h2>\n<table><thead>{head}</thead><tbody>\n"
            + "\n".join(rows) + "\n</tbody></table>")
