"""The files a council's first-run choices make, checked before any is written.

Why a plan, then a check, then the writes: a setup that wrote ``council.toml`` and then failed on a
malformed targets file would leave a rule book that no command can load (or, worse, one that says
the council is set up when its targets are still the example's). So every file is first worked out
in memory, laid over a scratch copy of the rule book and loaded there exactly as the commands load
it (rule book, KPI catalogue and targets, term dates); only a plan that loads is written, and an
existing council file is never replaced without ``force``.

What the council files are, and what each changes, is in ``clocks/council.py`` and docs/setup.md.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..clocks.council import (COUNCIL_FILE, KPI_TARGETS_FILE, LOCAL_FOLDER, LOCAL_TARGETS_FILE, NOT_RULE_SETS,
                              check_la_code)
from ..clocks.rules import default_rules_dir, load_rule_book
from ..clocks.term_dates import FILE_NAMES as TERM_DATE_FILES, find_files as term_date_files
from ..errors import EhcpError, RuleBookError
from ..files import atomic_write
from ..ingest.draft_profile import Draft, draft, profile_text
from ..ingest.extract import load_profile
from ..measures.catalogue import KPI_FOLDER, TARGETS_FILE, load_catalogue

EXAMPLE_RULES = "example.toml"  # rules/local/example.toml: the example council's local targets
KPI_CHOICES = ("example", "none")  # besides a file: adopt the example trajectory, or no targets at all


@dataclass
class Choices:
    """What the data officer chose (by flags or at the prompts)."""

    council_name: str
    la_code: str
    rules_dir: Path
    local_targets: bool = False
    kpi_targets: str | None = None  # None: keep the example trajectory (labelled); "example", "none" or a file
    term_dates: Path | None = None
    sample_extracts: tuple[Path, ...] = ()
    profiles_dir: Path = Path("profiles")
    force: bool = False
    today: dt.date = field(default_factory=dt.date.today)


@dataclass
class PlannedFile:
    path: Path
    content: str | bytes
    what: str


@dataclass
class Plan:
    choices: Choices
    files: list[PlannedFile]
    drafts: list[tuple[Draft, Path, Path]]  # (the draft, its profile file, the sample it was drafted from)
    remove: list[Path] = field(default_factory=list)  # another term-dates file (--force: one file only)
    copy_book_from: Path | None = None  # a fresh folder: the shipped rule book is copied in first
    existing: list[Path] = field(default_factory=list)  # council files already there (refused without force)

    def next_steps(self) -> list[str]:
        c, local = self.choices, self.choices.rules_dir / LOCAL_FOLDER
        steps = [f"check the rule book: ehcp --rules {c.rules_dir} rules check"]
        if c.local_targets:
            steps.append(f"edit {local / LOCAL_TARGETS_FILE}: your local targets (statutory = false), now "
                         "copies of the example's")
        else:
            steps.append("local targets are off: add your own rule set under "
                         f"{local} (statutory = false) when you set some")
        if c.kpi_targets is None:
            steps.append("KPI targets: the board pack shows the example trajectory labelled \"example target, "
                         f"not this council's\" until you give yours: write {local / KPI_TARGETS_FILE} "
                         "(the format of rules/kpi/targets.toml)")
        elif c.kpi_targets == "example":
            steps.append(f"edit {local / KPI_TARGETS_FILE}: the example trajectory, now yours")
        if c.term_dates is None:
            steps.append(f"term dates (the school-closure exemption): add {local}/term-dates.toml or .csv")
        for d, path, sample in self.drafts:
            left = len(d.left) + len(d.missing_required)
            steps.append(f"complete {path} ({left} left for you), then: ehcp import {sample} --profile {path}")
        steps.append("store the clocks under the new rule book: ehcp evaluate (ehcp init on a new database)")
        if c.rules_dir.resolve() != default_rules_dir().resolve():
            steps.append(f"use this rule book in every command: export EHCP_RULES={c.rules_dir} (or --rules)")
        return steps


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "council"


def plan_setup(choices: Choices) -> Plan:
    """Every file the choices make, checked in a scratch copy of the rule book; raises ``EhcpError``
    naming every problem (nothing written)."""
    name = " ".join(str(choices.council_name).split())
    if not name or len(name) > 100:
        raise EhcpError("--council-name: give the council's name (1 to 100 characters)")
    code = check_la_code(choices.la_code)
    if code is None:
        raise EhcpError(f"--la-code {choices.la_code!r}: an LA code is old (3 digits, e.g. 340) or new "
                        "(E and 8 digits, e.g. E08000011)")
    choices.council_name, choices.la_code = name, code
    rules = Path(choices.rules_dir)
    shipped = default_rules_dir()
    fresh = not rules.is_dir() or not any(rules.rglob("*.toml"))
    source = shipped if fresh else rules
    local = rules / LOCAL_FOLDER
    files = [PlannedFile(local / COUNCIL_FILE, council_text(choices), "the council's settings (the set-up marker)")]
    if choices.local_targets:
        example = source / LOCAL_FOLDER / EXAMPLE_RULES
        if not example.is_file():
            example = shipped / LOCAL_FOLDER / EXAMPLE_RULES
        files.append(PlannedFile(local / LOCAL_TARGETS_FILE, local_targets_text(example.read_text("utf-8"), choices),
                                 "your local targets (copied from the example: edit them)"))
    kpi = kpi_targets_content(choices, source)
    if kpi is not None:
        files.append(PlannedFile(local / KPI_TARGETS_FILE, kpi[0], kpi[1]))
    remove: list[Path] = []
    if choices.term_dates is not None:
        given = Path(choices.term_dates)
        if not given.is_file():
            raise EhcpError(f"--term-dates {given}: no such file")
        suffix = given.suffix.lower()
        if f"term-dates{suffix}" not in TERM_DATE_FILES:
            raise EhcpError(f"--term-dates {given.name}: give a .toml or .csv file (columns name,closed_from,reopens)")
        target = local / f"term-dates{suffix}"
        files.append(PlannedFile(target, given.read_bytes(), f"your term dates (from {given.name})"))
        remove = [p for p in (term_date_files(rules) if rules.is_dir() else []) if p != target]
    drafts = []
    for sample in choices.sample_extracts:
        d = draft(Path(sample))
        base = f"{slug(name)}-{d.kind or 'extract'}"
        path, n = Path(choices.profiles_dir) / f"{base}.toml", 2
        while any(p.path == path for p in files):
            path, n = Path(choices.profiles_dir) / f"{base}-{n}.toml", n + 1
        files.append(PlannedFile(path, profile_text(d, path.stem, name, choices.today),
                                 f"a draft profile for {d.file} ({len(d.mapped)} mapped, {len(d.left)} left for you)"))
        drafts.append((d, path, Path(sample)))
    plan = Plan(choices, files, drafts, remove, shipped if fresh else None)
    plan.existing = [p.path for p in files if p.path.exists()] + ([] if not remove else remove)
    check_plan(plan)
    return plan


def council_text(c: Choices) -> str:
    return (f"# {c.council_name}'s own settings, written by `ehcp setup` on {c.today.isoformat()}.\n"
            "# Its presence means the council has set up: the example rule sets (example = true, such as\n"
            "# rules/local/example.toml) are no longer read, so their local targets never reach a digest, and\n"
            "# la_code is the default of `ehcp report --council`. See docs/setup.md.\n\n"
            "[council]\n"
            f"name = {_quoted(c.council_name)}\n"
            f"la_code = {_quoted(c.la_code)}\n"
            f"local_targets = {'true' if c.local_targets else 'false'}  # {LOCAL_TARGETS_FILE} holds them when true\n"
            f"set_up = {c.today.isoformat()}\n")


def _quoted(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def local_targets_text(example: str, c: Choices) -> str:
    """The example's local targets as the council's own: not marked example, named and cited as the
    council's service standards."""
    body = example.split("[ruleset]", 1)[1] if "[ruleset]" in example else example
    body = re.sub(r"(?m)^example\s*=\s*true[^\n]*\n", "", body)
    body = re.sub(r'(?m)^id\s*=\s*"local-example"', 'id = "local-council"', body, count=1)
    body = re.sub(r'(?m)^title\s*=\s*"Example council: local service standards \(not statutory\)"',
                  f"title = {_quoted(c.council_name + ': local service standards (not statutory)')}", body, count=1)
    body = re.sub(r'(?m)^description\s*=\s*"Targets an example SEND service[^"\n]*"',
                  f"description = {_quoted('Targets ' + c.council_name + ' sets itself to keep the statutory clocks.')}",
                  body, count=1)
    body = body.replace("(example council service standard)", f"({c.council_name} service standard)")
    return (f"# {c.council_name}'s local targets, copied from the example by `ehcp setup` on {c.today.isoformat()}:\n"
            "# service standards the council sets itself, not law (statutory = false, shown as \"local\"\n"
            "# everywhere). Edit the limits, delete the clocks you do not keep; `ehcp rules check` checks them.\n\n"
            "[ruleset]" + body)


def kpi_targets_content(c: Choices, source: Path) -> tuple[str | bytes, str] | None:
    if c.kpi_targets is None:
        return None
    if c.kpi_targets == "none":
        return (f"# {c.council_name} has set no KPI targets (`ehcp setup` on {c.today.isoformat()}): the board pack\n"
                "# shows no target and no RAG. Add [targets.KPI_ID] tables as in rules/kpi/targets.toml.\n\n"
                "[targets]\n", "no KPI targets (the pack shows none)")
    if c.kpi_targets == "example":
        example = source / KPI_FOLDER / TARGETS_FILE
        if not example.is_file():
            example = default_rules_dir() / KPI_FOLDER / TARGETS_FILE
        text = example.read_text("utf-8")
        text = "\n".join(line for line in text.splitlines() if not line.startswith("#")).lstrip("\n")
        text = text.replace('source = "Example council', f'source = "{c.council_name} (adopted from the example)')
        return (f"# {c.council_name}'s KPI targets: the example trajectory adopted as the council's own by\n"
                f"# `ehcp setup` on {c.today.isoformat()}. Edit the steps; a period takes the last step in force on\n"
                "# its last day.\n\n" + text + ("" if text.endswith("\n") else "\n"),
                "your KPI targets (the example trajectory, adopted: edit them)")
    given = Path(c.kpi_targets)
    if not given.is_file():
        raise EhcpError(f"--kpi-targets {given}: no such file (or give 'example' or 'none')")
    return given.read_bytes(), f"your KPI targets (from {given.name})"


def check_plan(plan: Plan) -> None:
    """Lay the plan over a scratch copy of the rule book and load it as the commands will."""
    rules = Path(plan.choices.rules_dir)
    with tempfile.TemporaryDirectory(prefix="ehcp-setup-") as scratch:
        book_dir = Path(scratch) / "rules"
        origin = plan.copy_book_from or rules
        shutil.copytree(origin, book_dir, ignore=_not_copied if plan.copy_book_from else None)
        for p in plan.remove:
            (book_dir / p.relative_to(rules)).unlink(missing_ok=True)
        for f in plan.files:
            if _inside(f.path, rules):
                target = book_dir / f.path.relative_to(rules)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(f.content.encode("utf-8") if isinstance(f.content, str) else f.content)
        for _, path, _ in plan.drafts:  # a draft must load as a profile as it stands (its gaps are comments)
            scratch_profile = Path(scratch) / "profiles" / path.name
            scratch_profile.parent.mkdir(exist_ok=True)
            scratch_profile.write_text(next(f.content for f in plan.files if f.path == path), "utf-8")
            load_profile(str(scratch_profile))
        try:
            book = load_rule_book(book_dir)
            load_catalogue(_catalogue_folder(book_dir), book)
        except RuleBookError as exc:
            text = str(exc).replace(str(book_dir), str(rules)).replace(f"{Path(scratch).name}/", "")
            raise EhcpError(f"setup: nothing written, the files it would write do not load:\n{text}") from None


def _catalogue_folder(book_dir: Path) -> Path:
    folder = book_dir / KPI_FOLDER
    return folder if (folder / "catalogue.toml").is_file() else default_rules_dir() / KPI_FOLDER


def _not_copied(folder: str, names: list[str]) -> list[str]:
    """Copying the shipped book into a fresh folder: never another council's files."""
    if Path(folder).name != LOCAL_FOLDER:
        return []
    return [n for n in names if n in NOT_RULE_SETS or n == LOCAL_TARGETS_FILE or n in TERM_DATE_FILES]


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def write_setup(plan: Plan) -> list[PlannedFile]:
    """Write the plan (refused while a council file exists, unless ``force``); the files written."""
    if plan.existing and not plan.choices.force:
        listed = ", ".join(str(p) for p in plan.existing)
        raise EhcpError(f"setup: nothing written: {listed} already "
                        f"{'exists' if len(plan.existing) == 1 else 'exist'} (the council's own files are never "
                        "replaced; give --force to replace them)")
    rules = Path(plan.choices.rules_dir)
    if plan.copy_book_from is not None:
        rules.mkdir(parents=True, exist_ok=True)
        shutil.copytree(plan.copy_book_from, rules, ignore=_not_copied, dirs_exist_ok=True)
    for f in plan.files:
        f.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(f.path, f.content)
    for p in plan.remove:
        p.unlink(missing_ok=True)
    return plan.files
