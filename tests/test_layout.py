"""The rules of the house (docs/internals/code.md, "Where the code lives"), checked from the modules' own imports.

Every ``import`` and ``from ... import`` in ``ehcp_tracker/`` is read with ``ast`` (lazy imports
inside functions included, since they are imports all the same) and resolved to the package's own
modules; a rule broken anywhere names the importing file and what it imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ehcp_tracker"
WINGS = ("ingest", "clocks", "store", "measures", "report", "demo", "alerts", "web", "sen2", "setup")
SHARED = ("schema", "errors", "files", "output", "progress", "listings", "workbook")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The ehcp_tracker modules (dotted, absolute) that ``path`` imports."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("ehcp_tracker")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("ehcp_tracker"):
                continue
            found.add(target)
            # ``from . import db`` imports the module ``ehcp_tracker.store.db``, not just the package.
            for alias in node.names:
                place = PACKAGE.parent.joinpath(*f"{target}.{alias.name}".split("."))
                if place.with_suffix(".py").exists() or place.is_dir():
                    found.add(f"{target}.{alias.name}")
    return found


GRAPH = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _wing(module: str) -> str:
    """'clocks' for ehcp_tracker.clocks.engine, 'cli' for ehcp_tracker.cli, '' for the package root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _breaches(importer_wings: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{source} imports {target}" for source, targets in GRAPH.items() if _wing(source) in importer_wings
                  for target in targets if _wing(target) in forbidden)


def test_the_walk_sees_the_package():
    """A walk that found nothing would pass every rule below: make sure it reads real imports."""
    assert "ehcp_tracker.clocks.engine" in GRAPH and "ehcp_tracker.cli" in GRAPH
    assert "ehcp_tracker.clocks.rules" in GRAPH["ehcp_tracker.clocks.engine"]
    assert "ehcp_tracker.store.db" in GRAPH["ehcp_tracker.ingest.importer"]
    assert {"ehcp_tracker.errors", "ehcp_tracker.schema"} <= GRAPH["ehcp_tracker.clocks.rules"]


def test_every_wing_says_what_it_owns():
    for wing in WINGS:
        doc = ast.get_docstring(ast.parse((PACKAGE / wing / "__init__.py").read_text("utf-8")))
        assert doc and "import" in doc, f"ehcp_tracker/{wing}/__init__.py needs a docstring saying what it may import"


def test_clocks_stand_alone():
    assert _breaches(("clocks",), ("ingest", "store", "measures", "report", "demo", "alerts", "cli", "listings",
                                   "output", "progress")) == []


def test_nothing_imports_the_cli():
    importers = sorted(source for source, targets in GRAPH.items() if "ehcp_tracker.cli" in targets)
    # docs_gen documents the command line (the generated reference pages), and is imported by nothing
    assert importers == ["ehcp_tracker.__main__", "ehcp_tracker.docs_gen"]


def test_store_knows_tables_not_rules():
    assert _breaches(("store",), ("clocks", "ingest", "measures", "report", "demo", "alerts", "cli", "listings")) == []


@pytest.mark.parametrize("wing, forbidden", [
    ("ingest", ("measures", "report", "demo", "alerts", "cli")),
    ("measures", ("ingest", "report", "demo", "alerts", "cli")),
    ("report", ("ingest", "demo", "alerts", "cli")),
    ("demo", ("alerts", "cli")),
    ("alerts", ("ingest", "measures", "report", "demo", "cli")),
    ("web", ("ingest", "demo", "cli")),
    ("sen2", ("measures", "report", "demo", "alerts", "web", "cli")),
    ("setup", ("store", "report", "demo", "alerts", "web", "cli")),
])
def test_data_flows_one_way(wing, forbidden):
    assert _breaches((wing,), forbidden) == []


def test_only_the_cli_imports_the_setup_wing():
    """First-run setup writes a council's files: nothing in the library runs it behind the user's back."""
    importers = sorted(source for source, targets in GRAPH.items() if _wing(source) != "setup"
                       and any(_wing(t) == "setup" for t in targets))
    assert importers == ["ehcp_tracker.cli"]


def test_only_the_cli_imports_the_web_wing():
    """The work tray sits on top: no library wing may depend on the web server."""
    wings = tuple(w for w in WINGS if w != "web") + ("",)
    assert _breaches(wings, ("web",)) == []
    shared = sorted(source for source, targets in GRAPH.items() if _wing(source) in SHARED
                    for target in targets if _wing(target) == "web")
    assert shared == []


def test_shared_modules_import_only_clocks_and_store():
    assert _breaches(SHARED, ("ingest", "measures", "report", "demo", "alerts", "cli", "web")) == []


def test_no_old_flat_module_is_left():
    flat = {p.stem for p in PACKAGE.glob("*.py")}
    assert flat == {"__init__", "__main__", "cli", "docs_gen", *SHARED}
