"""What a password must be, and how it is kept: argon2id (argon2-cffi's defaults, RFC 9106's
second recommended profile), at least 12 characters, not one of the commonly used ones.

NCSC and NIST SP 800-63B both advise length and a block list over composition rules; the list is
short on purpose (the passwords breach corpora show first) and is checked case-insensitively, with
digits and symbols at the ends stripped (``Password123!`` is ``password``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import EhcpError

MIN_LENGTH = 12
MAX_LENGTH = 256  # hashing a megabyte on every sign-in attempt would be a way to tie the server up


@lru_cache(maxsize=1)
def hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = (Path(__file__).parent / "common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def problem(password: str, user_id: str = "") -> str | None:
    """Why ``password`` may not be used, in one line; None when it may."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    folded = password.casefold()
    core = folded.strip("0123456789!@#$%^&*()_+-=.,?;:'\" ")
    common = common_passwords()
    if folded in common or core in common:
        return "that password is one of the most commonly used: choose another"
    if user_id and user_id.casefold() in folded:
        return "a password may not contain the sign-in name"
    if len(set(password)) < 4:
        return "a password needs more than three different characters"
    return None


def check_new(password: str, user_id: str = "") -> str:
    reason = problem(password, user_id)
    if reason:
        raise EhcpError(reason)
    return password


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    if not stored_hash or len(password) > MAX_LENGTH:
        return False
    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against when the name is unknown, so a wrong name takes as long as a wrong
    password (the time taken must not say which names exist)."""
    return hasher().hash("not a password anyone has: timing only")
