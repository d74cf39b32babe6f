"""Handing digests over: to an SMTP server (stdlib ``smtplib``), or as ``.eml`` files in an outbox.

A message counts as delivered when the server accepts it (or its file is written); anything else is
a ``DeliveryFailed`` with a one-line reason, and the caller records nothing for that recipient, so
the next run tries again.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from ..errors import EhcpError, EnvironmentFault
from ..files import atomic_open

PASSWORD_VARIABLE = "EHCP_SMTP_PASSWORD"  # never a command-line flag: flags show in `ps` and shell history


class DeliveryFailed(Exception):
    """One message was not accepted; the reason is one line for the run's output."""


def parse_server(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:25`` for an IPv6 address) -> (host, port)."""
    match = re.fullmatch(r"\[(?P<v6>[^\]]+)\]:(?P<p1>\d+)|(?P<host>[^:\s]+):(?P<p2>\d+)", value or "")
    if not match or not 0 < int(match["p1"] or match["p2"]) < 65536:
        raise EhcpError(f"--smtp: {value!r} is not HOST:PORT (e.g. smtp.council.gov.uk:25)")
    return match["v6"] or match["host"], int(match["p1"] or match["p2"])


class SmtpDelivery:
    """One connection for the run, opened on the first message; optional STARTTLS and login."""

    name = "smtp"

    def __init__(self, server: str, *, starttls: bool = False, user: str | None = None, timeout: float = 30):
        self.host, self.port = parse_server(server)
        self.starttls, self.user, self.timeout = starttls, user, timeout
        self.password = os.environ.get(PASSWORD_VARIABLE) if user else None
        if user and not self.password:
            raise EhcpError(f"--smtp-user {user}: set the password in the environment variable {PASSWORD_VARIABLE}")
        self._smtp: smtplib.SMTP | None = None
        self._down: str | None = None  # a server that could not be reached is not tried again this run

    def send(self, message: EmailMessage, recipient: str = "message") -> None:
        smtp = self._connect()
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed("refused by the server: " + "; ".join(
                f"{code} {_text(reply)}" for code, reply in exc.recipients.values())) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"refused by the server: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise DeliveryFailed(f"the connection to {self.host}:{self.port} failed: {exc}") from exc
        if refused:  # only some recipients refused: never the case with one recipient a message
            raise DeliveryFailed("refused by the server: " + "; ".join(
                f"{code} {_text(reply)}" for code, reply in refused.values()))

    def holds(self, message_id: str, recipient: str) -> bool:
        """An SMTP server cannot be asked whether it accepted a message: a digest left in doubt by a
        run that died is always sent again (at least once)."""
        return False

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        if self._down:
            raise DeliveryFailed(self._down)
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            self._down = f"{self.host}:{self.port} refused the login for {self.user}: {exc.smtp_code}"
            raise DeliveryFailed(self._down) from exc
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            self._down = f"cannot reach the SMTP server {self.host}:{self.port}: {exc}"
            raise DeliveryFailed(self._down) from exc
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()


class OutboxDelivery:
    """One ``.eml`` file per message in a folder, for a relay reached another way."""

    name = "outbox"

    def __init__(self, folder: Path | str, as_of: dt.date):
        self.folder = Path(folder)
        self.as_of = as_of
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EhcpError(f"--outbox: cannot create {self.folder}: {exc.strerror}") from exc

    def _stem(self, recipient: str) -> str:
        return f"{self.as_of:%Y-%m-%d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', recipient)}"

    def holds(self, message_id: str, recipient: str) -> bool:
        """Whether a file of this recipient in the outbox already carries ``message_id`` (a run
        killed after writing it but before recording it); a file a relay has taken away is not
        seen, and the digest is written again."""
        from email.parser import BytesHeaderParser

        for path in self.folder.glob(f"*-{re.sub(r'[^A-Za-z0-9_.-]+', '_', recipient)}*.eml"):
            try:
                with open(path, "rb") as handle:
                    if BytesHeaderParser().parse(handle).get("Message-ID", "").strip() == message_id:
                        return True
            except OSError:
                continue
        return False

    def send(self, message: EmailMessage, recipient: str = "message") -> None:
        stem = self._stem(recipient)
        path, n = self.folder / f"{stem}.eml", 1
        while path.exists():
            n += 1
            path = self.folder / f"{stem}-{n}.eml"
        try:  # whole messages only (files.atomic_open): a relay picking up *.eml never sees half a file
            with atomic_open(path, "wb") as handle:
                handle.write(message.as_bytes())
        except (OSError, EnvironmentFault) as exc:
            raise DeliveryFailed(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from exc

    def close(self) -> None:
        pass


def _text(reply) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)).replace("\n", " ")
