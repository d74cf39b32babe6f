"""The KPI catalogue and targets as data (``rules/kpi/catalogue.toml``, ``rules/kpi/targets.toml``).

Loaded strictly, like the rule book: an unknown key, an unknown clock, a filter on a column the clock
results do not have, a non-ISO date or a target for a KPI that does not exist is an error naming the
file and the key, and every problem is reported at once (``ehcp rules check``).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..clocks.engine import STATUSES
from ..clocks.council import KPI_TARGETS_FILE, LOCAL_FOLDER
from ..clocks.rules import RuleBook, _Reader, default_rules_dir
from ..errors import RuleBookError
from ..schema import ASSESSMENTS

KPI_FOLDER = "kpi"
CATALOGUE_FILE = "catalogue.toml"
TARGETS_FILE = "targets.toml"

# count: a number of events; ratio: numerator / denominator as a percentage; average: the mean weeks
# from start to stop (numerator = total days, denominator = results); per_caseworker: a statistic
# (median or max) of the open cases each caseworker holds at the period end (snapshot only).
TYPES = ("count", "ratio", "average", "per_caseworker")
STATISTICS = ("median", "max")
# Which way is better: the only source of the pack's direction words and RAG (issue 16).
BETTER = ("higher", "lower", "neither")
COUNTS_BY = ("started", "stopped", "due")
WINDOWS = ("period", "cohort", "snapshot")
EXCEPTIONS = ("include", "exclude")
YEAR_STARTS = {"january": 1, "april": 4, "september": 9}

# The statutory clock ids of design.md section 4: stable, so the catalogue may name one before the
# rule book in use defines it (the review clocks); `ehcp kpi` leaves such KPIs out with a note.
STATUTORY_CLOCKS = ("decision_to_assess", "advice_ep", "advice_health", "advice_social_care",
                    "advice_education", "no_plan_notice", "final_plan", "annual_review",
                    "phase_transfer", "review_decision", "amended_plan")

# Result columns a KPI may filter on, with the values they can hold ("" = blank).
FILTER_VALUES: dict[str, tuple[str, ...]] = {
    "status": STATUSES,
    "stop_reason": ("event", "closed", ""),
    "request_outcome": ASSESSMENTS.column("request_outcome").choices,
    "assessment_outcome": ASSESSMENTS.column("assessment_outcome").choices,
    "transfer_type": ("school", "post16", "post16_move"),
    "decision": ("maintain", "amend", "cease", ""),
}
RANGE_KEYS = ("weeks_taken_over", "weeks_taken_at_most", "age_weeks_over", "age_weeks_at_most")


class KpiCatalogueError(RuleBookError):
    """The KPI catalogue or targets file is malformed (exit code 1, every problem listed)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        Exception.__init__(self, "the KPI catalogue has problems:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Filter:
    """Which clock results count: column values (all must match) and week ranges."""

    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    weeks_taken: tuple[int | None, int | None] = (None, None)  # (over, at_most), stopped - started
    age_weeks: tuple[int | None, int | None] = (None, None)    # (over, at_most), period end - started

    @property
    def empty(self) -> bool:
        return not self.values and self.weeks_taken == (None, None) and self.age_weeks == (None, None)

    def describe(self) -> str:
        parts = [f"{k} in ({', '.join(repr(v) for v in vs)})" for k, vs in self.values.items()]
        for name, (over, at_most) in (("weeks taken", self.weeks_taken), ("age in weeks", self.age_weeks)):
            if over is not None:
                parts.append(f"{name} > {over}")
            if at_most is not None:
                parts.append(f"{name} <= {at_most}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Kpi:
    id: str
    title: str
    type: str        # count | ratio
    clock: str
    counts_by: str   # started | stopped | due
    window: str      # period | cohort | snapshot
    where: Filter
    numerator: Filter
    exceptions: str  # include | exclude
    definition: str
    source: str
    better: str = "neither"        # higher | lower | neither
    statistic: str | None = None   # median | max (per_caseworker only)

    @property
    def direction(self) -> int:
        """+1 higher is better, -1 lower is better, 0 neither (a volume, not a performance)."""
        return {"higher": 1, "lower": -1}.get(self.better, 0)

    @property
    def unit(self) -> str:
        """How the value reads: percent (a ratio), weeks (an average), number (a median, which may be
        a half) or count."""
        return {"ratio": "percent", "average": "weeks", "per_caseworker": "number"}.get(self.type, "count")


@dataclass(frozen=True)
class TargetStep:
    start_from: dt.date
    target: float


@dataclass(frozen=True)
class Settings:
    year_start: int = 1  # month the reporting year starts in
    cohort_start: dt.date | None = None
    exception_share_warning: float = 25.0
    exception_share_min_plans: int = 20
    exception_share_kpi: str = "plans_issued"


@dataclass
class Catalogue:
    kpis: list[Kpi]
    settings: Settings
    targets: dict[str, tuple[TargetStep, ...]]
    target_sources: dict[str, str]
    files: list[Path]
    # True while the targets are the shipped example trajectory (rules/kpi/targets.toml): the board
    # pack then labels each one "example target, not this council's". The council's own targets
    # (rules/local/kpi-targets.toml, written by `ehcp setup --kpi-targets`) replace it.
    targets_example: bool = False

    def kpi(self, kpi_id: str) -> Kpi:
        for k in self.kpis:
            if k.id == kpi_id:
                return k
        raise KeyError(kpi_id)

    def target_for(self, kpi_id: str, day: dt.date) -> float | None:
        """The target in force on ``day`` (the last step whose ``from`` is on or before it)."""
        found = None
        for step in self.targets.get(kpi_id, ()):
            if step.start_from <= day:
                found = step.target
        return found

    def only(self, kpi_ids) -> Catalogue:
        wanted = set(kpi_ids)
        return Catalogue([k for k in self.kpis if k.id in wanted], self.settings, self.targets,
                         self.target_sources, self.files, self.targets_example)


def catalogue_dir(rules_dir: Path | None = None) -> Path:
    """``<rules>/kpi``, or the shipped catalogue when a custom rules folder has none."""
    if rules_dir is not None and (Path(rules_dir) / KPI_FOLDER / CATALOGUE_FILE).is_file():
        return Path(rules_dir) / KPI_FOLDER
    return default_rules_dir() / KPI_FOLDER


def load_catalogue(directory: Path | None = None, book: RuleBook | None = None) -> Catalogue:
    """Read and check the KPI catalogue (and targets, if present) in ``directory``.

    With ``book``, every clock a KPI names must be a clock of the book or a statutory clock id of
    design.md section 4. Raises ``KpiCatalogueError`` listing every problem.
    """
    directory = Path(directory) if directory else catalogue_dir()
    reader = _Reader()
    path = directory / CATALOGUE_FILE
    data = _read_toml(reader, path)
    files = [path]
    kpis: list[Kpi] = []
    settings = Settings()
    if data is not None:
        name = _name(path)
        reader.keys(name, data, {"catalogue", "settings", "kpis"}, {"catalogue", "kpis"})
        reader.keys(f"{name} [catalogue]", data.get("catalogue", {}), {"id", "title", "description"}, {"id", "title"})
        settings = _read_settings(reader, f"{name} [settings]", data.get("settings", {}))
        known_clocks = set(STATUTORY_CLOCKS) | ({c.id for c in book.clocks} if book else set())
        raw = data.get("kpis", [])
        if not isinstance(raw, list) or not raw:
            reader.fail(f"{name} [[kpis]]", "needs at least one [[kpis]] entry")
            raw = []
        seen: set[str] = set()
        for index, table in enumerate(raw):
            kpi = _read_kpi(reader, f"{name} [[kpis]] #{index + 1}", table, known_clocks if book else None)
            if kpi is None:
                continue
            if kpi.id in seen:
                reader.fail(f"{name} [[kpis]] #{index + 1} ({kpi.id})", "duplicate KPI id")
            seen.add(kpi.id)
            kpis.append(kpi)
        if settings.exception_share_kpi not in seen:
            reader.fail(f"{name} [settings].exception_share_kpi", f"no KPI {settings.exception_share_kpi!r}")
        if settings.cohort_start is None and any(k.window == "cohort" for k in kpis):
            reader.fail(f"{name} [settings].cohort_start", "needed by the cohort KPIs")
    targets: dict[str, tuple[TargetStep, ...]] = {}
    sources: dict[str, str] = {}
    target_path = council_targets_path(book)
    example = target_path is None
    if example:
        target_path = directory / TARGETS_FILE
    if target_path.is_file():
        files.append(target_path)
        target_data = _read_toml(reader, target_path)
        if target_data is not None:
            _read_targets(reader, _name(target_path), target_data, {k.id: k for k in kpis}, targets, sources)
    if reader.problems:
        raise KpiCatalogueError(reader.problems)
    return Catalogue(kpis, settings, targets, sources, files, example and bool(targets))


def council_targets_path(book: RuleBook | None) -> Path | None:
    """The council's own KPI targets (``<rules>/local/kpi-targets.toml``), when the book's folder has them."""
    if book is None or book.directory is None:
        return None
    path = Path(book.directory) / LOCAL_FOLDER / KPI_TARGETS_FILE
    return path if path.is_file() else None


MAX_WEEKS = 1040  # an ageing band of 20 years is already past any case's life: a sanity bound, not law


def _name(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[-3:]) if len(parts) >= 3 else str(path)


def _read_toml(reader: _Reader, path: Path) -> dict | None:
    if not path.exists():
        reader.fail(str(path), "KPI catalogue not found")
        return None
    raw = reader.read(_name(path), path)
    if raw is None:
        return None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        reader.fail(_name(path), f"not valid TOML: {exc}")
        return None


_SETTINGS_KEYS = {"year_start", "cohort_start", "exception_share_warning", "exception_share_min_plans",
                  "exception_share_kpi"}


def _read_settings(reader: _Reader, where: str, table: dict) -> Settings:
    reader.keys(where, table, _SETTINGS_KEYS, set())
    defaults = Settings()
    year_start = defaults.year_start
    if "year_start" in table:
        value = table["year_start"]
        if value not in YEAR_STARTS:
            reader.fail(f"{where}.year_start", f"must be one of {', '.join(YEAR_STARTS)}, got {value!r}")
        else:
            year_start = YEAR_STARTS[value]
    cohort = reader.date(f"{where}.cohort_start", table["cohort_start"]) if "cohort_start" in table else None
    share = table.get("exception_share_warning", defaults.exception_share_warning)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 100:
        reader.fail(f"{where}.exception_share_warning", f"must be a percentage 0-100, got {share!r}")
        share = defaults.exception_share_warning
    minimum = table.get("exception_share_min_plans", defaults.exception_share_min_plans)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 0:
        reader.fail(f"{where}.exception_share_min_plans", f"must be a whole number, 0 or more, got {minimum!r}")
        minimum = defaults.exception_share_min_plans
    share_kpi = table.get("exception_share_kpi", defaults.exception_share_kpi)
    if not isinstance(share_kpi, str):
        reader.fail(f"{where}.exception_share_kpi", "must be a KPI id")
        share_kpi = defaults.exception_share_kpi
    return Settings(year_start, cohort, float(share), minimum, share_kpi)


_KPI_KEYS = {"id", "title", "type", "clock", "counts_by", "window", "where", "numerator", "exceptions",
             "definition", "source", "better", "statistic"}


def _choice(reader: _Reader, where: str, table: dict, key: str, choices, default=None):
    value = table.get(key, default)
    if value not in choices:
        reader.fail(f"{where}.{key}", f"must be one of {', '.join(choices)}, got {value!r}")
        return None
    return value


def _read_kpi(reader: _Reader, where: str, table, known_clocks: set[str] | None) -> Kpi | None:
    if not isinstance(table, dict):
        reader.fail(where, "must be a table")
        return None
    kpi_id = table.get("id")
    if isinstance(kpi_id, str):
        where = f"{where} ({kpi_id})"
    reader.keys(where, table, _KPI_KEYS, {"id", "title", "type", "clock", "counts_by", "definition", "source"})
    kind = _choice(reader, where, table, "type", TYPES)
    if "better" in table:
        better = _choice(reader, where, table, "better", BETTER)
    else:
        better = None
        reader.fail(f"{where}.better", 'missing: every KPI says which way is better (better = "higher", '
                    '"lower" or "neither"); the pack\'s direction of travel and RAG come only from it')
    statistic = None
    if kind == "per_caseworker":
        statistic = _choice(reader, where, table, "statistic", STATISTICS)
        if table.get("window") != "snapshot":
            reader.fail(f"{where}.window", "a per_caseworker KPI is a snapshot (window = \"snapshot\")")
    elif "statistic" in table:
        reader.fail(f"{where}.statistic", "only a per_caseworker KPI has a statistic")
    counts_by = _choice(reader, where, table, "counts_by", COUNTS_BY)
    window = _choice(reader, where, table, "window", WINDOWS, "period")
    exceptions = _choice(reader, where, table, "exceptions", EXCEPTIONS, "include")
    clock = table.get("clock")
    if not isinstance(clock, str) or not clock:
        reader.fail(f"{where}.clock", f"must be a clock id, got {clock!r}")
    elif known_clocks is not None and clock not in known_clocks:
        reader.fail(f"{where}.clock", f"no clock {clock!r} in the rule book (see `ehcp rules list`)")
    where_filter = _read_filter(reader, f"{where}.where", table.get("where", {}), window)
    numerator = _read_filter(reader, f"{where}.numerator", table.get("numerator", {}), window)
    if kind in ("count", "average", "per_caseworker") and "numerator" in table:
        reader.fail(f"{where}.numerator", f"a {kind} KPI has no numerator filter (put it in `where`)")
    if kind == "ratio" and numerator.empty:
        reader.fail(f"{where}.numerator", "a ratio KPI needs a numerator filter")
    title = reader.text(f"{where}.title", table.get("title", ""))
    definition = reader.text(f"{where}.definition", table.get("definition", ""))
    source = reader.text(f"{where}.source", table.get("source", ""))
    if not isinstance(kpi_id, str) or not kpi_id.isidentifier() or kpi_id != kpi_id.lower():
        reader.fail(f"{where}.id", "must be a lower_case identifier")
        return None
    if None in (kind, counts_by, window, exceptions, better) or not isinstance(clock, str):
        return None
    return Kpi(kpi_id, title, kind, clock, counts_by, window, where_filter, numerator, exceptions,
               definition, source, better, statistic)


def _read_filter(reader: _Reader, where: str, table, window: str | None) -> Filter:
    if not isinstance(table, dict):
        reader.fail(where, "must be a table of column = [values]")
        return Filter()
    values: dict[str, tuple[str, ...]] = {}
    ranges: dict[str, int | None] = dict.fromkeys(RANGE_KEYS)
    for key, value in table.items():
        if key in RANGE_KEYS:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WEEKS:
                reader.fail(f"{where}.{key}", f"must be a whole number of weeks from 0 to {MAX_WEEKS}, got {value!r}")
            elif key.startswith("age_") and window != "snapshot":
                reader.fail(f"{where}.{key}", "an age applies to snapshot KPIs only")
            else:
                ranges[key] = value
            continue
        if key not in FILTER_VALUES:
            reader.fail(f"{where}.{key}", "unknown column (allowed: "
                        + ", ".join(sorted([*FILTER_VALUES, *RANGE_KEYS])) + ")")
            continue
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            reader.fail(f"{where}.{key}", "must be a list of values")
            continue
        bad = [v for v in value if v not in FILTER_VALUES[key]]
        if bad:
            reader.fail(f"{where}.{key}", f"unknown value(s) {', '.join(map(repr, bad))} (allowed: "
                        + ", ".join(repr(v) for v in FILTER_VALUES[key]) + ")")
            continue
        values[key] = tuple(value)
    for kind in ("weeks_taken", "age_weeks"):
        over, at_most = ranges[f"{kind}_over"], ranges[f"{kind}_at_most"]
        if over is not None and at_most is not None and at_most <= over:
            reader.fail(f"{where}.{kind}_at_most", f"must be more than {kind}_over")
    return Filter(values, (ranges["weeks_taken_over"], ranges["weeks_taken_at_most"]),
                  (ranges["age_weeks_over"], ranges["age_weeks_at_most"]))


def _read_targets(reader: _Reader, name: str, data: dict, kpis: dict[str, Kpi],
                  targets: dict[str, tuple[TargetStep, ...]], sources: dict[str, str]) -> None:
    reader.keys(name, data, {"targets"}, {"targets"})
    table = data.get("targets", {})
    if not isinstance(table, dict):
        reader.fail(f"{name} [targets]", "must be a table of KPI id = { trajectory = [...] }")
        return
    for kpi_id, entry in table.items():
        where = f"{name} [targets.{kpi_id}]"
        if kpi_id not in kpis:
            reader.fail(where, f"no KPI {kpi_id!r} in the catalogue")
            continue
        if not isinstance(entry, dict):
            reader.fail(where, "must be a table with source and trajectory")
            continue
        reader.keys(where, entry, {"source", "trajectory"}, {"source", "trajectory"})
        sources[kpi_id] = reader.text(f"{where}.source", entry.get("source", ""))
        steps = []
        trajectory = entry.get("trajectory", [])
        if not isinstance(trajectory, list) or not trajectory:
            reader.fail(f"{where}.trajectory", "needs at least one { from = date, target = value }")
            trajectory = []
        for index, step in enumerate(trajectory):
            swhere = f"{where}.trajectory #{index + 1}"
            if not isinstance(step, dict):
                reader.fail(swhere, "must be { from = date, target = value }")
                continue
            reader.keys(swhere, step, {"from", "target"}, {"from", "target"})
            start = reader.date(f"{swhere}.from", step.get("from"))
            value = step.get("target")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (
                    kpis[kpi_id].type == "ratio" and value > 100):
                reader.fail(f"{swhere}.target", f"must be a percentage 0-100 (a number for a count KPI), got {value!r}")
                continue
            if start:
                steps.append(TargetStep(start, float(value)))
        ordered = sorted(steps, key=lambda s: s.start_from)
        for earlier, later in zip(ordered, ordered[1:]):
            if earlier.start_from == later.start_from:
                reader.fail(f"{where}.trajectory", f"two targets from {later.start_from.isoformat()}")
        targets[kpi_id] = tuple(ordered)
