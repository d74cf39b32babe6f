"""The rule book: statutory and local clocks as effective-dated, cited data (``rules/**/*.toml``).

Loaded strictly, in the manner of openfisca's parameters: an unknown key, a missing reference, a
non-ISO date or two versions in force on the same day is an error naming the file and the key, and
no command runs on a rule book with errors (``ehcp rules check`` lists them all).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RuleBookError
from ..schema import BY_CASE, REVIEWS, TRANSFER_TYPES
from .council import LOCAL_FOLDER, NOT_RULE_SETS, Council, load_council
from .term_dates import PREFIX as TERM_DATES_PREFIX, TermDates, load_term_dates
from .dates import Counting, DatePolicy, Days, FixedDate, Months, MonthsBefore, Weeks, WeeksBefore, WorkingDays

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # ehcp_tracker/, beside which rules/ stands in a checkout

LIMIT_KEYS = ("weeks", "days", "months", "months_before", "weeks_before", "working_days", "fixed_date")
# Folders of rules/ that hold other data, each read strictly by its own loader rather than as rule
# sets: kpi/ is the KPI catalogue and targets (measures/catalogue.py; `ehcp rules check` checks both).
OTHER_DATA_FOLDERS = ("kpi", "sen2")  # not rule files: the KPI catalogue, the SEN2 measures

SCOPES = ("la", "advice", "review", "tribunal", "all")

# What a clock's limit is in law (design.md section 6): "yes" a duty in law, "guidance" the Code of
# Practice's expectation, "no" a local target. A rule set's `statutory = true` makes its clocks "yes"
# unless a clock says otherwise; `statutory = false` (a council's own file) makes them "no".
BASES = ("yes", "guidance", "no")
BASIS_WORDS = {"yes": "statutory", "guidance": "guidance (Code of Practice), not statutory",
               "no": "local target (not statutory)"}

# Sanity bounds on every limit, so an absurd one is refused by `ehcp rules check` instead of wrapping
# the date arithmetic (a due date before the start). Not law: the longest statutory period in the
# book is 12 months (CFA 2014 s44(1)); these leave room for any local target a council sets.
LIMIT_BOUNDS = {"weeks": (1, 104), "days": (1, 730), "months": (1, 24), "months_before": (1, 24), "weeks_before": (1, 104),
                "working_days": (1, 520)}
WARNING_DAYS_MAX = 365
RULE_DATES = (dt.date(1990, 1, 1), dt.date(2199, 12, 31))  # as the --as-of option's range
RULE_FILE_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Version:
    """One value of a clock's limit, in force for cases that start on ``start_from``..``until``."""

    start_from: dt.date
    until: dt.date | None
    policy: DatePolicy
    reference: str
    note: str = ""

    def in_force(self, day: dt.date) -> bool:
        return self.start_from <= day and (self.until is None or day <= self.until)

    @property
    def label(self) -> str:
        until = f" to {self.until.isoformat()}" if self.until else ""
        return f"from {self.start_from.isoformat()}{until}"


@dataclass(frozen=True)
class ExceptionReason:
    code: str
    title: str
    scopes: tuple[str, ...]
    reference: str
    due_from: dt.date | None = None  # the coronavirus exception is only for due dates in its window
    due_until: dt.date | None = None
    ruleset: str = ""
    effect: str = ""
    # per clock id: the duty that replaces the disapplied time limit, as the amending regulation words
    # it (SI 2020/471: "as soon as reasonably practicable" under reg 2A; "as soon as practicable" where
    # a coronavirus limb was added to an existing list of exceptions, as reg 4(3))
    fallbacks: dict[str, str] = field(default_factory=dict)

    def fallback_for(self, clock_id: str) -> str:
        return self.fallbacks.get(clock_id, self.effect)


@dataclass(frozen=True)
class LaterOf:
    """A second start that can only push the due date later: the due date is the later of the
    clock's own and ``policy`` from ``start`` (when ``start`` is recorded on or after the clock's
    start). Reg 15(5): after a transfer between councils, the first review is due by the later of
    the usual date and 3 months from the transfer."""

    start: str
    policy: DatePolicy
    reference: str


@dataclass(frozen=True)
class ExceptionLimit:
    """Cases where a clock's exemptions are narrower than its scope: on rows matching ``when`` only
    the codes in ``allowed`` apply. A refusal to assess (reg 4(1)) has its own 6 weeks, which reg 5(4)
    does not reach: only the 2020 coronavirus limb (reg 4(3)) applies to it."""

    when: dict[str, tuple[str, ...]]
    allowed: tuple[str, ...]
    reference: str


@dataclass(frozen=True)
class Clock:
    id: str
    title: str
    case: str  # "assessment" | "review"
    start: str
    stop: str
    versions: tuple[Version, ...]
    statutory: str  # "yes" | "guidance" | "no" (BASES)
    ruleset: str
    source_file: str
    counting: Counting
    warning_days: int = 14
    applies_when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    applies_unless: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stop_when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    closed_by: tuple[str, ...] = ()
    exception_field: str | None = None
    exception_scope: str | None = None
    description: str = ""
    # A clock with variants (phase_transfer: school / post16 / post16_move) is loaded as one Clock per
    # variant, all with the same public id; ``applies_when`` holds ``{variant_field: (variant,)}``, so
    # a case matches at most one of them.
    variant: str | None = None
    variant_field: str | None = None
    family_title: str = ""  # the clock's own title when the variants have theirs
    # The clock applies only where the extract holds these dates (the review procedure clocks of
    # regs 20/21: a system that does not record the notice date must not show every meeting late).
    needs: tuple[str, ...] = ()
    # The clock applies only where its start falls on or after this field: reg 15(4)'s notice belongs
    # to the cycle the plan transferred in (a transferred_in carried forward onto a later review row
    # of the child is that earlier cycle's event, as for later_of's reg 15(5)).
    not_before: str | None = None
    later_of: LaterOf | None = None
    basis_note: str = ""  # why the clock has the basis it has (who the duty binds)
    exception_limits: tuple[ExceptionLimit, ...] = ()

    @property
    def basis_words(self) -> str:
        """The basis in words, as explain shows it beside the clock id."""
        return BASIS_WORDS[self.statutory]

    @property
    def qualified_id(self) -> str:
        """The id as rule versions name it: ``phase_transfer/post16`` for a variant."""
        return self.id if self.variant is None else f"{self.id}/{self.variant}"

    def version_for(self, start: dt.date) -> Version | None:
        for v in self.versions:
            if v.in_force(start):
                return v
        return None


# Which national curriculum year is the last before a September phase transfer, by transfer type
# (reg 2(1), reg 18(1)). A council with infant/junior or middle schools sets its own in a rule file's
# [transfers] table, e.g. school = [2, 6] or school = [4, 8].
# Year -1 (N2, the year before Reception) is the move from relevant early years education to school
# (reg 2(1)(a)); a recorded phase_transfer = none overrides the default for a child who is not moving.
DEFAULT_TRANSFERS: dict[int, str] = {-1: "school", 6: "school", 11: "post16"}
TRANSFER_TABLE_KEYS = ("school", "post16")


@dataclass
class RuleBook:
    clocks: list[Clock]
    exceptions: dict[str, ExceptionReason]
    files: list[Path]
    fingerprint: str
    transfers: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_TRANSFERS))
    # blake2b of every rule file's parsed content in canonical form (sorted keys, its path inside the
    # book): a comment or a reordered table changes nothing, a changed limit or a file renamed does.
    # The stored clock table is keyed by it (``store.clock_table``): every command compares it.
    # The term dates are part of it: they decide which school-closure exemptions apply.
    content_digest: str = ""
    term_dates: "TermDates | None" = None  # the council's school closure periods (term_dates.py), if given
    # The council's own settings (rules/local/council.toml, written by `ehcp setup`); None: not set up,
    # and the shipped example's choices are still in the book (council.py says why that matters).
    council: Council | None = None
    # Clocks of a rule set marked `example = true` (the shipped example council's local targets):
    # in the book until the council sets up, so `explain` and the demo show them, but never alerted.
    example_clocks: frozenset[str] = frozenset()
    directory: Path | None = None  # the rules folder the book was read from

    @property
    def set_up(self) -> bool:
        """True once the council has run `ehcp setup` (its council.toml is in the book's folder)."""
        return self.council is not None

    def clock(self, clock_id: str) -> Clock:
        for c in self.clocks:
            if c.id == clock_id:
                return c
        raise KeyError(clock_id)

    def variants(self, clock_id: str) -> list[Clock]:
        """Every variant of a clock (a single-element list for a clock without variants)."""
        found = [c for c in self.clocks if c.id == clock_id]
        if not found:
            raise KeyError(clock_id)
        return found

    def clocks_for(self, case: str) -> list[Clock]:
        return [c for c in self.clocks if c.case == case]

    def exceptions_for(self, clock: Clock) -> list[ExceptionReason]:
        if clock.exception_scope is None:
            return []
        return [e for e in self.exceptions.values() if clock.exception_scope in e.scopes or "all" in e.scopes]

    def exception_codes_for_field(self, case: str, field_name: str) -> dict[str, list[Clock]]:
        """The codes a given exception column may hold, each with the clocks it would apply to."""
        codes: dict[str, list[Clock]] = {}
        for clock in self.clocks_for(case):
            if clock.exception_field == field_name:
                for reason in self.exceptions_for(clock):
                    codes.setdefault(reason.code, []).append(clock)
        return codes


def default_rules_dir() -> Path:
    """``$EHCP_RULES``, else the rules shipped in a wheel, else the checkout's ``rules/``."""
    if os.environ.get("EHCP_RULES"):
        return Path(os.environ["EHCP_RULES"])
    shipped = PACKAGE_DIR / "_data" / "rules"
    if shipped.is_dir():
        return shipped
    return PACKAGE_DIR.parent / "rules"


class _Reader:
    """Collects every problem in every file before failing, each naming file and key."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(self, where: str, table: dict, allowed: set[str], required: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.fail(f"{where}.{key}", "unknown key (allowed: " + ", ".join(sorted(allowed)) + ")")
        for key in sorted(required - table.keys()):
            self.fail(f"{where}.{key}", "missing")

    def date(self, where: str, value) -> dt.date | None:
        day = None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            day = value
        elif isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                pass
        if day is None:
            self.fail(where, f"not an ISO date (YYYY-MM-DD): {value!r}")
            return None
        if not RULE_DATES[0] <= day <= RULE_DATES[1]:
            self.fail(where, f"{day.isoformat()} is outside {RULE_DATES[0].isoformat()}..{RULE_DATES[1].isoformat()}")
            return None
        return day

    def read(self, where: str, path: Path) -> bytes | None:
        """A rule file's bytes: a regular file of at most 1 MB (a FIFO in the folder would hang)."""
        import stat

        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                self.fail(where, "not a regular file (a pipe or device?): rule files must be plain .toml files")
                return None
            if info.st_size > RULE_FILE_MAX_BYTES:
                self.fail(where, f"{info.st_size:,} bytes: too large for a rule file (at most {RULE_FILE_MAX_BYTES:,})")
                return None
            return path.read_bytes()
        except OSError as exc:
            self.fail(where, f"cannot be read: {exc.strerror}")
            return None

    def text(self, where: str, value, *, empty_ok: bool = False) -> str:
        if not isinstance(value, str) or (not empty_ok and not value.strip()):
            self.fail(where, f"must be a non-empty string, got {value!r}")
            return ""
        return value

    def conditions(self, where: str, value, case: str) -> dict[str, tuple[str, ...]]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(where, "must be a table of field = [values]")
            return {}
        out = {}
        for name, allowed in value.items():
            self.field(f"{where}.{name}", name, case)
            if isinstance(allowed, str):
                allowed = [allowed]
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                self.fail(f"{where}.{name}", "must be a list of values")
                continue
            out[name] = tuple(allowed)
        return out

    def field(self, where: str, name, case: str) -> None:
        kind = BY_CASE.get(case)
        if kind is None:
            return
        if name not in kind.names and name not in DERIVED_FIELDS.get(case, ()):
            self.fail(where, f"{name!r} is not a field of a {case} (see docs/reference/columns.md)")

    def field_list(self, where: str, value, case: str) -> list[str]:
        """A list of the case's date fields (``closed_by``, ``needs``); [] after reporting a bad one."""
        if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
            self.fail(where, "must be a list of date fields")
            return []
        for name in value:
            self.field(where, name, case)
        return value

    def policy(self, where: str, table: dict) -> DatePolicy | None:
        given = [k for k in LIMIT_KEYS if k in table]
        if len(given) != 1:
            self.fail(where, "give exactly one limit of " + ", ".join(LIMIT_KEYS))
            return None
        key = given[0]
        value = table[key]
        if key == "fixed_date":
            try:
                month, day = (int(x) for x in str(value).split("-"))
                dt.date(2001, month, day)
            except ValueError:
                self.fail(f"{where}.fixed_date", f"must be MM-DD, got {value!r}")
                return None
            return FixedDate(month, day)
        low, high = LIMIT_BOUNDS[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail(f"{where}.{key}", f"must be a whole number from {low} to {high}, got {value!r}")
            return None
        return {"weeks": Weeks, "days": Days, "months": Months, "months_before": MonthsBefore,
                "weeks_before": WeeksBefore, "working_days": WorkingDays}[key](value)


# Fields the engine derives from the canonical record, usable as rule starts and stops
# (engine.derived_fields, vectorised; explain.record_as_of, scalar):
# - review_anchor: the later of plan_issued and last_review (CFA 2014 s44(1): the 12 months start
#   with the plan's making or the previous review's conclusion);
# - transfer_type: phase_transfer as recorded, else derived from the national curriculum year;
# - transfer_year_start: 1 January of the calendar year of a September school or post-16 transfer
#   (reg 18(1): "before 15 February in the calendar year of the transfer");
# - review_completed: the review and any amendment completed: amended_plan_issued when the decision
#   is amend, else decision_notified.
# - decision_with_amendments: the review decision notified as the law reads it: decision_notified,
#   or for an amend decision the later of decision_notified and amendment_notice_sent (Devon [2022]
#   EWHC 493 (Admin): the notice of the proposed amendments goes with the decision).
# - The phase transfer belongs to the child (reg 18(1)), not to one review row: transfer_type,
#   transfer_year_start, transfer_move_date and transfer_review_completed are set only on the row
#   that carries the child's transfer (engine.phase_transfers): the row whose meeting falls in the
#   12 months before the transfer, else the child's latest row.
DERIVED_FIELDS: dict[str, tuple[str, ...]] = {
    "assessment": ("closure_date",),
    "review": ("review_anchor", "transfer_year_start", "transfer_type", "review_completed",
               "decision_with_amendments", "transfer_move_date", "transfer_review_completed"),
}
DERIVED_CHOICES: dict[str, tuple[str, ...]] = {"transfer_type": TRANSFER_TYPES}

_RULESET_KEYS = {"id", "title", "statutory", "source", "description", "example"}
_CLOCK_KEYS = {"id", "title", "case", "start", "stop", "versions", "warning_days", "applies_when",
               "applies_unless", "stop_when", "closed_by", "exception_field", "exception_scope", "description", "statutory",
               "variant_field", "variants", "needs", "not_before", "later_of", "basis_note", "exception_limits"}
_VARIANT_KEYS = {"when", "title", "start", "description", "versions"}
_VERSION_KEYS = {"from", "until", "reference", "note", *LIMIT_KEYS}
_EXCEPTION_KEYS = {"title", "scopes", "reference", "due_from", "due_until", "effect", "fallbacks"}


def load_rule_book(directory: Path | None = None) -> RuleBook:
    """Read and check every rule file; raise ``RuleBookError`` listing every problem found."""
    directory = Path(directory) if directory else default_rules_dir()
    reader = _Reader()
    if not directory.is_dir():
        raise RuleBookError([f"{directory}: rules folder not found (set EHCP_RULES or --rules)"])
    files = sorted(p for p in directory.rglob("*.toml")
                   if p.relative_to(directory).parts[0] not in OTHER_DATA_FOLDERS
                   and not p.name.startswith(TERM_DATES_PREFIX)
                   and not (p.parent == directory / LOCAL_FOLDER and p.name in NOT_RULE_SETS))
    if not files:
        raise RuleBookError([f"{directory}: no rule files (*.toml) found"])
    council = load_council(directory, reader.fail)
    example_sets: set[str] = set()
    read_files: list[Path] = []
    clocks: list[Clock] = []
    exceptions: dict[str, ExceptionReason] = {}
    transfers: dict[str, dict[int, str]] = {}  # file name -> year -> type
    digest = hashlib.sha256()
    canonical = hashlib.blake2b(digest_size=16, person=b"ehcp-rules-v1")
    for path in files:
        name = str(path.relative_to(directory.parent) if directory.parent in path.parents else path)
        raw = reader.read(name, path)
        if raw is None:
            continue
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            reader.fail(name, f"not valid TOML: {exc}")
            continue
        ruleset = data.get("ruleset") if isinstance(data.get("ruleset"), dict) else {}
        example = ruleset.get("example", False)
        if not isinstance(example, bool) or (example and ruleset.get("statutory") is not False):
            reader.fail(f"{name} [ruleset].example", "must be true or false, and true only in a local "
                        "(statutory = false) rule set")
        elif example:
            if council is not None:  # set up: the council's own files replace the example's
                continue
            example_sets.add(ruleset.get("id", name))
        read_files.append(path)
        digest.update(path.name.encode() + raw)
        canonical.update(json.dumps([path.relative_to(directory).as_posix(), data], sort_keys=True,
                                    default=str, ensure_ascii=False).encode("utf-8") + b"\x1e")
        _read_file(reader, name, data, clocks, exceptions)
        if "transfers" in data:
            transfers[name] = _read_transfers(reader, name, data["transfers"])
    _check_book(reader, clocks, exceptions)
    term_dates = load_term_dates(directory, reader.fail)
    if len(transfers) > 1:
        reader.fail(", ".join(transfers), "[transfers] is given in more than one rule file; give it once")
    if reader.problems:
        raise RuleBookError(reader.problems)
    chosen = next(iter(transfers.values())) if transfers else dict(DEFAULT_TRANSFERS)
    if term_dates is not None:
        digest.update(repr(term_dates.closures).encode())
        canonical.update(repr(term_dates.closures).encode())
    examples = frozenset(c.id for c in clocks if c.ruleset in example_sets)
    return RuleBook(clocks, exceptions, read_files, digest.hexdigest()[:12], chosen, canonical.hexdigest(), term_dates,
                    council=council, example_clocks=examples, directory=directory)


def _read_transfers(reader: _Reader, name: str, table) -> dict[int, str]:
    """``[transfers]``: the last national curriculum year before each kind of September transfer."""
    where = f"{name} [transfers]"
    if not isinstance(table, dict):
        reader.fail(where, "must be a table such as school = [6] and post16 = [11]")
        return {}
    reader.keys(where, table, set(TRANSFER_TABLE_KEYS), set())
    low, high = REVIEWS.column("ncy").bounds
    years: dict[int, str] = {}
    for kind in TRANSFER_TABLE_KEYS:
        values = table.get(kind, [])
        if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            reader.fail(f"{where}.{kind}", f"must be a list of national curriculum years, got {values!r}")
            continue
        for year in values:
            if not low <= year <= high:
                reader.fail(f"{where}.{kind}", f"year {year} is outside {low}..{high}")
            elif year in years:
                reader.fail(f"{where}.{kind}", f"year {year} is already a {years[year]} transfer year")
            else:
                years[year] = kind
    return years


def _read_file(reader: _Reader, name: str, data: dict, clocks: list[Clock],
               exceptions: dict[str, ExceptionReason]) -> None:
    reader.keys(name, data, {"ruleset", "counting", "clocks", "exceptions", "transfers"}, {"ruleset"})
    ruleset = data.get("ruleset", {})
    reader.keys(f"{name} [ruleset]", ruleset, _RULESET_KEYS, {"id", "title", "statutory"})
    ruleset_id = ruleset.get("id", name)
    statutory = ruleset.get("statutory")
    if not isinstance(statutory, bool):
        reader.fail(f"{name} [ruleset].statutory", "must be true or false")
        statutory = False
    counting_table = data.get("counting", {})
    reader.keys(f"{name} [counting]", counting_table, set(Counting.CHOICES), set())
    for key, value in counting_table.items():
        if key in Counting.CHOICES and value not in Counting.CHOICES[key]:
            reader.fail(f"{name} [counting].{key}", f"must be one of {', '.join(Counting.CHOICES[key])}")
    counting = Counting(**{k: v for k, v in counting_table.items() if k in Counting.CHOICES})

    for code, table in data.get("exceptions", {}).items():
        where = f"{name} [exceptions.{code}]"
        reader.keys(where, table, _EXCEPTION_KEYS, {"title", "scopes", "reference"})
        scopes = table.get("scopes", [])
        if not isinstance(scopes, list) or any(s not in SCOPES for s in scopes):
            reader.fail(f"{where}.scopes", f"must be a list drawn from {', '.join(SCOPES)}")
            scopes = []
        if code in exceptions:
            reader.fail(where, f"exception code {code!r} is already defined in {exceptions[code].ruleset}")
        due_from = reader.date(f"{where}.due_from", table["due_from"]) if "due_from" in table else None
        due_until = reader.date(f"{where}.due_until", table["due_until"]) if "due_until" in table else None
        fallbacks = table.get("fallbacks", {})
        if not isinstance(fallbacks, dict) or not all(isinstance(v, str) and v.strip() for v in fallbacks.values()):
            reader.fail(f"{where}.fallbacks", "must be a table of clock_id = \"the duty that replaces the limit\"")
            fallbacks = {}
        exceptions[code] = ExceptionReason(
            code, reader.text(f"{where}.title", table.get("title", "")), tuple(scopes),
            reader.text(f"{where}.reference", table.get("reference", "")), due_from, due_until,
            ruleset_id, table.get("effect", ""), dict(fallbacks))

    for index, table in enumerate(data.get("clocks", [])):
        clocks.extend(_read_clock(reader, f"{name} [[clocks]] #{index + 1}", table, ruleset_id, statutory,
                                  counting, name))


def _read_versions(reader: _Reader, where: str, raw_versions, clock_statutory: bool) -> tuple[Version, ...]:
    versions = []
    if not isinstance(raw_versions, list) or not raw_versions:
        reader.fail(f"{where}.versions", "needs at least one [[clocks.versions]] entry")
        raw_versions = []
    for v_index, v in enumerate(raw_versions):
        vwhere = f"{where}.versions #{v_index + 1}"
        reader.keys(vwhere, v, _VERSION_KEYS, {"from", "reference"})
        start_from = reader.date(f"{vwhere}.from", v.get("from"))
        until = reader.date(f"{vwhere}.until", v["until"]) if "until" in v else None
        policy = reader.policy(vwhere, v)
        reference = reader.text(f"{vwhere}.reference", v.get("reference", ""))
        if policy and isinstance(policy, WorkingDays) and clock_statutory:
            reader.fail(vwhere, "statutory limits are calendar periods; working days are for local rules only")
        if start_from and until and until < start_from:
            reader.fail(f"{vwhere}.until", "is before 'from'")
        if start_from and policy:
            versions.append(Version(start_from, until, policy, reference, v.get("note", "")))
    ordered = sorted(versions, key=lambda v: v.start_from)
    for earlier, later in zip(ordered, ordered[1:]):
        if earlier.until is None or earlier.until >= later.start_from:
            reader.fail(f"{where}.versions", f"versions {earlier.label} and {later.label} overlap")
    return tuple(ordered)


def _read_variants(reader: _Reader, where: str, table: dict, case, clock_statutory: bool) -> list[dict]:
    """``[[clocks.variants]]``: one rule per value of ``variant_field``, each with its own start and versions."""
    variant_field = table.get("variant_field")
    reader.field(f"{where}.variant_field", variant_field, case)
    choices = DERIVED_CHOICES.get(variant_field)
    if choices is None and case in BY_CASE and variant_field in BY_CASE[case].names:
        choices = BY_CASE[case].column(variant_field).choices or None
    for key in ("start", "versions"):
        if key in table:
            reader.fail(f"{where}.{key}", "a clock with variants gives start and versions in each variant")
    raw = table.get("variants")
    if not isinstance(raw, list) or not raw:
        reader.fail(f"{where}.variants", "needs at least one [[clocks.variants]] entry")
        return []
    out, seen = [], set()
    for index, variant in enumerate(raw):
        vwhere = f"{where}.variants #{index + 1}"
        reader.keys(vwhere, variant, _VARIANT_KEYS, {"when", "start", "versions"})
        when = variant.get("when")
        if not isinstance(when, str) or (choices and when not in choices):
            reader.fail(f"{vwhere}.when", f"must be one of {', '.join(choices or ['a value'])}, got {when!r}")
            continue
        if when in seen:
            reader.fail(f"{vwhere}.when", f"variant {when!r} is given twice")
        seen.add(when)
        if "start" in variant:
            reader.field(f"{vwhere}.start", variant["start"], case)
        out.append({"when": when, "start": variant.get("start", ""), "title": variant.get("title"),
                    "description": variant.get("description"),
                    "versions": _read_versions(reader, vwhere, variant.get("versions", []), clock_statutory)})
    return out


def _read_clock(reader, where, table, ruleset_id, statutory, counting, file_name) -> list[Clock]:
    clock_id = table.get("id")
    if isinstance(clock_id, str):
        where = f"{where} ({clock_id})"
    has_variants = "variants" in table or "variant_field" in table
    required = {"id", "title", "case", "stop"} | ({"variant_field", "variants"} if has_variants else {"start", "versions"})
    reader.keys(where, table, _CLOCK_KEYS, required)
    case = table.get("case")
    if case not in BY_CASE:
        reader.fail(f"{where}.case", f"must be one of {', '.join(BY_CASE)}, got {case!r}")
    for key in ("start", "stop"):
        if key in table:
            reader.field(f"{where}.{key}", table[key], case)
    scope = table.get("exception_scope")
    if scope is not None and scope not in SCOPES:
        reader.fail(f"{where}.exception_scope", f"must be one of {', '.join(SCOPES)}")
    exception_field = table.get("exception_field")
    if exception_field is not None:
        reader.field(f"{where}.exception_field", exception_field, case)
        if scope is None:
            reader.fail(f"{where}.exception_scope", "needed with exception_field")
    closed_by = reader.field_list(f"{where}.closed_by", table.get("closed_by", []), case)
    clock_statutory = _read_basis(reader, f"{where}.statutory", table.get("statutory", statutory))
    if clock_statutory != "no" and statutory is False:
        reader.fail(f"{where}.statutory", "a clock in a local (non-statutory) rule set cannot be statutory or guidance")
    if has_variants:
        variants = _read_variants(reader, where, table, case, clock_statutory != "no")
    else:
        variants = [{"when": None, "start": table.get("start", ""), "title": None, "description": None,
                     "versions": _read_versions(reader, where, table.get("versions", []), clock_statutory != "no")}]
    warning = table.get("warning_days", 14)
    if not isinstance(warning, int) or isinstance(warning, bool) or not 0 <= warning <= WARNING_DAYS_MAX:
        reader.fail(f"{where}.warning_days", f"must be a whole number of days from 0 to {WARNING_DAYS_MAX}")
        warning = 14
    if not isinstance(clock_id, str) or not clock_id.isidentifier():
        reader.fail(f"{where}.id", "must be a lower_case identifier")
        return []
    if case not in BY_CASE:
        return []
    title = reader.text(f"{where}.title", table.get("title", ""))
    applies_when = reader.conditions(f"{where}.applies_when", table.get("applies_when"), case)
    variant_field = table.get("variant_field") if has_variants else None
    if variant_field in applies_when:
        reader.fail(f"{where}.applies_when", f"{variant_field} is the variant field; give the value in each variant")
    applies_unless = reader.conditions(f"{where}.applies_unless", table.get("applies_unless"), case)
    stop_when = reader.conditions(f"{where}.stop_when", table.get("stop_when"), case)
    needs = reader.field_list(f"{where}.needs", table.get("needs", []), case)
    not_before = table.get("not_before")
    if not_before is not None:
        reader.field(f"{where}.not_before", not_before, case)
    later_of = _read_later_of(reader, f"{where}.later_of", table["later_of"], case) if "later_of" in table else None
    limits = _read_exception_limits(reader, f"{where}.exception_limits", table.get("exception_limits", []), case)
    basis_note = reader.text(f"{where}.basis_note", table["basis_note"]) if "basis_note" in table else ""
    return [Clock(
        id=clock_id, title=v["title"] or title, case=case,
        start=v["start"], stop=table.get("stop", ""), versions=v["versions"],
        statutory=clock_statutory, ruleset=ruleset_id, source_file=file_name, counting=counting,
        warning_days=warning,
        applies_when=applies_when | ({variant_field: (v["when"],)} if has_variants else {}),
        applies_unless=applies_unless, stop_when=stop_when, closed_by=tuple(closed_by),
        exception_field=exception_field, exception_scope=scope,
        description=v["description"] or table.get("description", ""),
        variant=v["when"], variant_field=variant_field, family_title=title,
        needs=tuple(needs), not_before=not_before if isinstance(not_before, str) else None, later_of=later_of, basis_note=basis_note, exception_limits=limits,
    ) for v in variants]


def _read_basis(reader: _Reader, where: str, value) -> str:
    """``statutory``: "yes", "guidance" or "no" (true and false are read as "yes" and "no")."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value not in BASES:
        reader.fail(where, f"must be one of {', '.join(BASES)} (or true / false), got {value!r}")
        return "no"
    return value


def _read_exception_limits(reader: _Reader, where: str, raw, case) -> tuple[ExceptionLimit, ...]:
    """``[[clocks.exception_limits]]``: ``when`` (conditions), ``allowed`` (codes) and ``reference``."""
    if not isinstance(raw, list):
        reader.fail(where, "must be a list of [[clocks.exception_limits]] tables")
        return ()
    out = []
    for index, table in enumerate(raw):
        lwhere = f"{where} #{index + 1}"
        if not isinstance(table, dict):
            reader.fail(lwhere, "must be a table with when, allowed and reference")
            continue
        reader.keys(lwhere, table, {"when", "allowed", "reference"}, {"when", "allowed", "reference"})
        when = reader.conditions(f"{lwhere}.when", table.get("when"), case)
        allowed = table.get("allowed", [])
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            reader.fail(f"{lwhere}.allowed", "must be a list of exception codes")
            allowed = []
        reference = reader.text(f"{lwhere}.reference", table.get("reference", ""))
        if when:
            out.append(ExceptionLimit(when, tuple(allowed), reference))
    return tuple(out)


def _read_later_of(reader: _Reader, where: str, table, case) -> LaterOf | None:
    """``[clocks.later_of]``: ``start``, one limit and its ``reference`` (reg 15(5))."""
    if not isinstance(table, dict):
        reader.fail(where, "must be a table with start, a limit and reference")
        return None
    reader.keys(where, table, {"start", "reference", *LIMIT_KEYS}, {"start", "reference"})
    reader.field(f"{where}.start", table.get("start"), case)
    policy = reader.policy(where, table)
    reference = reader.text(f"{where}.reference", table.get("reference", ""))
    if policy is None or not isinstance(table.get("start"), str):
        return None
    return LaterOf(table["start"], policy, reference)


def _check_book(reader: _Reader, clocks: list[Clock], exceptions: dict[str, ExceptionReason]) -> None:
    seen: dict[str, Clock] = {}
    for clock in clocks:
        first = seen.get(clock.id)
        if first is not None and (first.variant is None or first.source_file != clock.source_file):
            reader.fail(clock.source_file, f"clock id {clock.id!r} is also defined in {first.source_file}")
        seen.setdefault(clock.id, clock)
    for clock in clocks:
        for limit in clock.exception_limits:
            for code in limit.allowed:
                if code not in exceptions:
                    reader.fail(clock.source_file, f"clock {clock.id!r}: exception_limits names {code!r}, "
                                "which no [exceptions] table defines")
    ids = {c.id for c in clocks}
    for reason in exceptions.values():
        for clock_id in reason.fallbacks:
            if clock_id not in ids:
                reader.fail(f"[exceptions.{reason.code}].fallbacks.{clock_id}", "is not a clock of the rule book")
    for reason in exceptions.values():
        if (reason.due_from is None) != (reason.due_until is None):
            reader.fail(f"[exceptions.{reason.code}]", "give both due_from and due_until, or neither")
