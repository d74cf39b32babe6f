"""Writing files safely: every file the tool writes goes through ``atomic_open``.

Exports, rejects files, the import summary, board packs and generated extracts hold children's
data, and are often written by cron jobs into shared folders. So each is written to a new temporary
file in the target's own folder (created ``0600``, readable by its owner only, with ``O_EXCL`` so
it can never be a file someone planted) and renamed over the target only once it is complete:

- a reader never sees half a file, and a failure (disk full) leaves the old file as it was;
- a symbolic link at the target is replaced by the new file, never followed (``rename`` acts on the
  link itself), so ``-o`` pointing at a link to a system file cannot overwrite that file;
- an existing file is replaced by a new ``0600`` one, whatever its old mode was.

``check_writable`` says, before any work is done (and before the database is touched), whether a
path could be written: a folder, a missing folder or a folder without write permission is one line.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UnwritablePath, environment_fault

OWNER_ONLY = 0o600


def check_writable(path: Path | str, option: str) -> Path:
    """``path`` as a Path if a file could be written there; else ``UnwritablePath`` naming ``option``."""
    path = Path(path)
    if path.is_dir():
        raise UnwritablePath(f"{option} {path}: is a folder; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise UnwritablePath(f"{option} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise UnwritablePath(f"{option} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UnwritablePath(f"{option} {path}: no permission to write in folder {folder}")
    if path.exists() and not path.is_symlink() and not stat.S_ISREG(path.stat().st_mode):
        raise UnwritablePath(f"{option} {path}: not a regular file (a device or pipe?)")
    return path


def check_folder(path: Path | str, option: str) -> Path:
    """A folder that exists, or can be made: its nearest existing ancestor is a writable folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UnwritablePath(f"{option} {path}: is a file, not a folder")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise UnwritablePath(f"{option} {path}: no permission to write in {ancestor}")
    return path


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator:
    """A file handle whose content replaces ``path`` only when the ``with`` block ends without error.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (bytes). OS errors (disk full, no permission) come out
    as the one-line ``EnvironmentFault`` of ``errors.environment_fault``.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name[:60]}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _fault(exc, path) from None
    try:
        os.fchmod(fd, OWNER_ONLY)
        with open(fd, mode, encoding=None if "b" in mode else encoding,
                  newline=None if "b" in mode else newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if path.is_dir() and not path.is_symlink():
            raise UnwritablePath(f"{path}: is a folder; give a file name")
        os.replace(temporary, path)
    except OSError as exc:
        _discard(temporary)
        raise _fault(exc, path) from None
    except BaseException:
        _discard(temporary)
        raise


def atomic_write(path: Path | str, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` through ``atomic_open``."""
    with atomic_open(path, "wb") as handle:
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)
    return Path(path)


def _discard(temporary: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(temporary)


def _fault(exc: OSError, path: Path):
    exc.filename = str(path)  # name the target, not the temporary file
    return environment_fault(exc) or exc
