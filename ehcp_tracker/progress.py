"""A progress bar on stderr for large imports: only for a person watching (a TTY), never under --quiet."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

LARGE_FILE = 2_000_000  # bytes: about 10,000 rows; smaller files finish before a bar is worth drawing


@contextlib.contextmanager
def import_progress(path: Path, *, quiet: bool, stream=None) -> Iterator:
    """Yields a ``progress(stage, done, total)`` callback for ``import_extract``, or None."""
    stream = stream or sys.stderr
    try:
        large = Path(path).stat().st_size >= LARGE_FILE
    except OSError:
        large = False
    if quiet or not large or not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=stream)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(f"{Path(path).name}: reading", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=f"{Path(path).name}: {stage}", completed=done, total=total or None)

        yield progress
