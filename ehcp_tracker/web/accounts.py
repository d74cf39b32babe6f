"""Accounts of the web work tray (``ehcp users ...``) and signing in with a password.

A role is bound to what it may see: a ``caseworker`` to a caseworker ID (the value the extracts put
in their ``caseworker`` column), a ``team_lead`` to a team, an ``admin`` to everything. Names are
matched without regard to case. Five failed sign-ins in a row lock the account for 15 minutes
(NCSC password guidance: throttle rather than lock for ever, so a guesser cannot lock people out
for a day); a disable or a new password ends every session signed before it (``session_epoch``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import EhcpError
from ..store import db
from ..store.accounts import web_user
from . import passwords

ROLES = ("caseworker", "team_lead", "admin")
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class User:
    id: str
    role: str
    caseworker: str | None
    team: str | None
    enabled: bool
    session_epoch: int
    has_password: bool = False
    locked_until: dt.datetime | None = None

    @property
    def bound_to(self) -> str:
        return {"caseworker": f"caseworker {self.caseworker}", "team_lead": f"team {self.team}"}.get(self.role, "all cases")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def user_key(name: str) -> str:
    key = " ".join(str(name).split()).casefold()
    if not key or len(key) > 64:
        raise EhcpError(f"a user name needs 1 to 64 characters (got {len(key)})")
    if any(not (c.isalnum() or c in "._-@") for c in key):
        raise EhcpError("a user name may have only letters, digits and . _ - @")
    return key


def _user(row) -> User:
    return User(row.id, row.role, row.caseworker, row.team, bool(row.enabled), int(row.session_epoch),
                row.password_hash is not None, row.locked_until)


def _binding(role: str, caseworker: str | None, team: str | None) -> tuple[str | None, str | None]:
    if role not in ROLES:
        raise EhcpError(f"--role: {role!r} is not one of {', '.join(ROLES)}")
    caseworker = (caseworker or "").strip() or None
    team = " ".join((team or "").split()) or None
    if role == "caseworker" and not caseworker:
        raise EhcpError("a caseworker account needs --caseworker ID (the caseworker value the extracts use)")
    if role == "team_lead" and not team:
        raise EhcpError("a team lead account needs --team T (the team value the extracts use)")
    if role == "admin" and (caseworker or team):
        raise EhcpError("an admin sees every case: give no --caseworker or --team")
    return (caseworker if role == "caseworker" else None), (team if role == "team_lead" else None)


def get(conn: sa.Connection, name: str) -> User | None:
    try:
        key = user_key(name)
    except EhcpError:
        return None
    row = conn.execute(sa.select(web_user).where(web_user.c.id == key)).first()
    return _user(row) if row else None


def add(engine: Engine, name: str, role: str, *, caseworker: str | None = None, team: str | None = None,
        password: str | None = None) -> User:
    """A new account; ``password`` None makes one that can sign in only through the proxy's header
    (``--auth header``) until ``reset-password`` gives it one."""
    key = user_key(name)
    caseworker, team = _binding(role, caseworker, team)
    hashed = passwords.hash_password(passwords.check_new(password, key)) if password is not None else None
    now = utcnow()
    with db.write_transaction(engine) as conn:
        if conn.execute(sa.select(web_user.c.id).where(web_user.c.id == key)).first():
            raise EhcpError(f"user {key!r} exists already (ehcp users list)")
        conn.execute(web_user.insert().values(
            id=key, role=role, caseworker=caseworker, team=team, password_hash=hashed, enabled=True,
            failed_signins=0, locked_until=None, session_epoch=0, created_at=now,
            password_changed_at=now if hashed else None))
        return get(conn, key)


def _existing(conn: sa.Connection, name: str) -> str:
    key = user_key(name)
    if not conn.execute(sa.select(web_user.c.id).where(web_user.c.id == key)).first():
        raise EhcpError(f"no user {key!r} (ehcp users list)")
    return key


def set_enabled(engine: Engine, name: str, enabled: bool) -> None:
    with db.write_transaction(engine) as conn:
        key = _existing(conn, name)
        conn.execute(web_user.update().where(web_user.c.id == key).values(
            enabled=enabled, failed_signins=0, locked_until=None, session_epoch=web_user.c.session_epoch + 1))


def reset_password(engine: Engine, name: str, password: str) -> None:
    """A new password (and the lockout lifted); every session of the account ends."""
    with db.write_transaction(engine) as conn:
        key = _existing(conn, name)
        hashed = passwords.hash_password(passwords.check_new(password, key))
        conn.execute(web_user.update().where(web_user.c.id == key).values(
            password_hash=hashed, failed_signins=0, locked_until=None, password_changed_at=utcnow(),
            session_epoch=web_user.c.session_epoch + 1))


def list_users(engine: Engine):
    import pandas as pd

    with engine.connect() as conn:
        rows = conn.execute(sa.select(web_user).order_by(web_user.c.id)).all()
    return pd.DataFrame([{"user": r.id, "role": r.role, "caseworker": r.caseworker, "team": r.team,
                          "enabled": bool(r.enabled), "password": "set" if r.password_hash else "none",
                          "locked_until": r.locked_until} for r in rows],
                        columns=["user", "role", "caseworker", "team", "enabled", "password", "locked_until"])


def import_people(engine: Engine, path: Path) -> tuple[int, int]:
    """Accounts for everyone in the alerts' people file (same IDs, teams and roles), in one
    transaction: a caseworker bound to their ID, a team lead to their team. Existing accounts get
    the file's role and binding (password, enabled and lockout kept). Returns (added, updated).
    Imported accounts have no password: ``reset-password`` (or the proxy's header) lets them in."""
    from ..alerts.people import read_people

    people = read_people(path)
    added = updated = 0
    now = utcnow()
    with db.write_transaction(engine) as conn:
        for person in people.everyone:
            key = user_key(person.id)
            caseworker, team = _binding(person.role, person.id, person.team)
            values = {"role": person.role, "caseworker": caseworker, "team": team}
            if conn.execute(sa.select(web_user.c.id).where(web_user.c.id == key)).first():
                conn.execute(web_user.update().where(web_user.c.id == key).values(
                    **values, session_epoch=web_user.c.session_epoch + 1))
                updated += 1
            else:
                conn.execute(web_user.insert().values(
                    id=key, **values, password_hash=None, enabled=True, failed_signins=0, locked_until=None,
                    session_epoch=0, created_at=now, password_changed_at=None))
                added += 1
    return added, updated


@dataclass(frozen=True)
class SignIn:
    user: User | None
    reason: str  # ok | unknown | wrong_password | locked | disabled | no_password


def sign_in(engine: Engine, name: str, password: str, now: dt.datetime | None = None) -> SignIn:
    """Check a name and password, counting failures. The caller shows one generic message
    whatever the reason; the reason goes to the access log only."""
    now = now or utcnow()
    try:
        key = user_key(name)
    except EhcpError:
        passwords.verify(passwords.dummy_hash(), password)
        return SignIn(None, "unknown")
    with engine.connect() as conn:
        row = conn.execute(sa.select(web_user).where(web_user.c.id == key)).first()
    if row is None:
        passwords.verify(passwords.dummy_hash(), password)
        return SignIn(None, "unknown")
    user = _user(row)
    if row.locked_until is not None and row.locked_until > now:
        passwords.verify(passwords.dummy_hash(), password)
        return SignIn(user, "locked")
    good = passwords.verify(row.password_hash, password) if row.password_hash else (
        passwords.verify(passwords.dummy_hash(), password) and False)
    if good and row.enabled:
        with db.write_transaction(engine) as conn:
            conn.execute(web_user.update().where(web_user.c.id == key).values(failed_signins=0, locked_until=None))
        if passwords.hasher().check_needs_rehash(row.password_hash):
            with db.write_transaction(engine) as conn:
                conn.execute(web_user.update().where(web_user.c.id == key).values(
                    password_hash=passwords.hash_password(password)))
        return SignIn(user, "ok")
    if not row.enabled:
        return SignIn(user, "disabled")
    failures = int(row.failed_signins or 0) + 1
    locked = now + LOCKOUT if failures >= MAX_FAILURES else None
    with db.write_transaction(engine) as conn:
        conn.execute(web_user.update().where(web_user.c.id == key).values(
            failed_signins=0 if locked else failures, locked_until=locked))
    return SignIn(user, "wrong_password" if row.password_hash else "no_password")
