"""Stable keys for a return that has none: the person from UPN, else ULN, else a keyed hash.

Why: the XML links modules by nesting only. Next January's return must find this year's cases
(so the import guards, missing and changed, work), so every key is a function of what the child's
records hold that does not change: the UPN or ULN, else the LA, names and birth date. Each goes
through HMAC-SHA256 with the database's own secret (``store.db.secret``), so a key reveals nothing
and cannot be recomputed from a name and birth date without the database; the key is never printed
beside the person's details, and the names are read for this only, never stored.
"""

from __future__ import annotations

import hashlib
import hmac

SECRET_NAME = "sen2-person-key"
HEX = 16  # 64 bits: collisions need ~4 billion persons


def _digest(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()[:HEX]


def person_key(secret: bytes, la: str, fields: dict[str, str], position: int) -> tuple[str, str]:
    """(key, basis): basis is upn, uln, details (LA, names, birth date) or position (nothing else)."""
    upn = fields.get("UPN", "").strip().upper()
    if upn:
        return "S2U-" + _digest(secret, "upn", upn), "upn"
    uln = fields.get("UniqueLearnerNumber", "").strip()
    if uln:
        return "S2L-" + _digest(secret, "uln", uln), "uln"
    details = [" ".join(fields.get(name, "").split()).casefold() for name in ("Surname", "Forename", "PersonBirthDate")]
    if any(details):
        return "S2H-" + _digest(secret, "details", la.strip(), *details), "details"
    return "S2X-" + _digest(secret, "position", la.strip(), str(position)), "position"


def request_key(person: str, received: str, seen: dict[str, int]) -> str:
    """The person's key and the request's ReceivedDate; an undated (historical) request or a second
    request received the same day is numbered in file order."""
    base = f"{person}-{received.replace('-', '')}" if received else f"{person}-H"
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 and received else f"{base}{seen[base]}"
