"""The council's own settings (``rules/local/council.toml``), written by ``ehcp setup``: the marker
that this rule book belongs to a council that has set up, not to the shipped example.

Why a marker file: the shipped rule book carries an *example* council's choices (local targets in
``rules/local/example.toml``, a KPI trajectory in ``rules/kpi/targets.toml``). Until a council says
which are its own, none of them may be shown to its caseworkers or its board as if they were:
example clocks stay out of the digests, and the pack labels example targets. Once ``council.toml``
is there, every rule set marked ``example = true`` is no longer read (the council's own files,
written by the setup, replace it), and the LA code is the default of ``ehcp report --council``.

Loaded strictly, like the rule files: an unknown key or a malformed LA code names the file and key.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

COUNCIL_FILE = "council.toml"          # in <rules>/local/
LOCAL_TARGETS_FILE = "local-targets.toml"  # the council's local clocks, when it keeps local targets
KPI_TARGETS_FILE = "kpi-targets.toml"  # the council's own KPI trajectories (replace rules/kpi/targets.toml)
LOCAL_FOLDER = "local"
# Files of rules/local/ that are data, not rule sets (each read by its own loader).
NOT_RULE_SETS = (COUNCIL_FILE, KPI_TARGETS_FILE)

# Old (3-digit, e.g. 340) or new (E + 8 digits, e.g. E08000011) LA codes, as the DfE publishes both.
LA_CODE = re.compile(r"^(\d{3}|E\d{8})$")
_KEYS = {"name", "la_code", "local_targets", "set_up"}


@dataclass(frozen=True)
class Council:
    name: str
    la_code: str
    local_targets: bool
    set_up: dt.date | None
    source: str


def check_la_code(code: str) -> str | None:
    """The code, normalised (upper case), or None when it is neither an old nor a new LA code."""
    text = str(code).strip().upper()
    return text if LA_CODE.match(text) else None


def council_path(rules_dir: Path) -> Path:
    return Path(rules_dir) / LOCAL_FOLDER / COUNCIL_FILE


def load_council(rules_dir: Path, fail) -> Council | None:
    """``<rules>/local/council.toml`` if present (``fail(where, message)`` for each problem)."""
    path = council_path(rules_dir)
    if not path.is_file():
        return None
    where = f"{LOCAL_FOLDER}/{COUNCIL_FILE}"
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        fail(where, f"not a readable council file (TOML, UTF-8): {exc}")
        return None
    for key in data:
        if key != "council":
            fail(f"{where}.{key}", "unknown key (allowed: [council])")
    table = data.get("council")
    if not isinstance(table, dict):
        fail(f"{where} [council]", "missing: the table written by `ehcp setup`")
        return None
    for key in table:
        if key not in _KEYS:
            fail(f"{where} [council].{key}", "unknown key (allowed: " + ", ".join(sorted(_KEYS)) + ")")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        fail(f"{where} [council].name", "must be the council's name")
        name = ""
    code = check_la_code(table.get("la_code", "")) if isinstance(table.get("la_code"), str) else None
    if code is None:
        fail(f"{where} [council].la_code", f"must be an old (340) or new (E08000011) LA code, got {table.get('la_code')!r}")
    local = table.get("local_targets", False)
    if not isinstance(local, bool):
        fail(f"{where} [council].local_targets", "must be true or false")
        local = False
    set_up = table.get("set_up")
    if set_up is not None and not (isinstance(set_up, dt.date) and not isinstance(set_up, dt.datetime)):
        fail(f"{where} [council].set_up", "must be a date (YYYY-MM-DD)")
        set_up = None
    return Council(name, code or "", local, set_up, str(path))
