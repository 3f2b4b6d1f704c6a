"""Writing files so that no reader ever sees half of one, and hashing files and folders.

Every output srna_nb writes (tables, annotations, report pages, records, bundles' checksums) goes
through here: a temporary file beside the target (same filesystem) is written in full, then
renamed over the target; on any error, or an interruption, the temporary file is removed and the
old target stays as it was.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd


def temporary_beside(path: Path) -> Path:
    """An empty temporary file next to ``path``, readable like a normal file (mkstemp makes 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    return Path(temporary)


def replace_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary)``, then rename the temporary file to ``path`` (removed if anything fails)."""
    path = Path(path)
    temporary = temporary_beside(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path``, never half-written."""
    return replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_csv(table: pd.DataFrame, path: str | Path, index: bool = False) -> Path:
    """Write ``table`` as CSV to ``path``, never half-written."""
    return replace_atomically(path, lambda temporary: table.to_csv(temporary, index=index))


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of one file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    update_digest(digest, Path(path))
    return digest.hexdigest()


def update_digest(digest, path: Path) -> None:
    """Feed a file, or every file of a folder (relative names and contents, sorted), to ``digest``."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(file.relative_to(path)).encode())
            _feed(digest, file)
    else:
        _feed(digest, path)


def _feed(digest, file: Path) -> None:
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
