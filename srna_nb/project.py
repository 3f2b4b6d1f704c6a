"""Project folders: where `srna-nb run` finds notebooks and parameters, and `srna-nb init` makes one.

A project is any folder holding ``notebooks/`` (the parameterized notebooks) and
``parameters/`` (parameter files, ``profiles/``); reports go to its ``reports/``. The checkout is
one; ``srna-nb init DIR`` writes another from the copies shipped inside the package, so that
notebooks can be edited, run and re-run in a folder of the researcher's choosing while the
installed package (and a checkout's tracked files) stay as they were.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from srna_nb.errors import SrnaParameterError
from srna_nb.logs import logger

#: The folders a project is made of, copied by :func:`init_project`.
TEMPLATE_FOLDERS = ("notebooks", "parameters")


def template_folder(name: str) -> Traversable:
    """The shipped copy of ``notebooks`` or ``parameters``.

    An installed wheel holds them as package data (``srna_nb._template.*``, mapped from the
    checkout's top-level folders in ``pyproject.toml``); an editable install reads the checkout's.
    """
    try:
        folder = resources.files(f"srna_nb._template.{name}")
        if folder.is_dir():
            return folder
    except ModuleNotFoundError:
        pass
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    raise SrnaParameterError(f"this installation of srna_nb has no project template ({name}/ is missing): reinstall the package")


def find_project(folder: str | Path | None = None) -> Path:
    """The project folder ``folder`` (default: the current directory), checked to hold a project."""
    root = Path.cwd() if folder is None else Path(folder)
    missing = [name for name in TEMPLATE_FOLDERS if not (root / name).is_dir()]
    if missing:
        raise SrnaParameterError(
            f"{root.resolve()} is not an srna_nb project (no {' or '.join(f'{m}/' for m in missing)}); "
            f"create one with `srna-nb init {root}` or pass --project"
        )
    return root


def init_project(destination: str | Path) -> Path:
    """Write a new project (notebooks, parameters and profiles as shipped) to ``destination``.

    The folder may exist but must not already hold ``notebooks/`` or ``parameters/``: nothing a
    researcher wrote is ever overwritten. Returns the project folder.
    """
    root = Path(destination)
    if root.exists() and not root.is_dir():
        raise SrnaParameterError(f"{root}: exists and is not a folder")
    taken = [name for name in TEMPLATE_FOLDERS if (root / name).exists()]
    if taken:
        raise SrnaParameterError(f"{root}: already holds {taken[0]}/; choose a new folder (nothing was written)")
    sources = {name: template_folder(name) for name in TEMPLATE_FOLDERS}
    root.mkdir(parents=True, exist_ok=True)
    # Copied into a staging folder, then renamed into place: an interrupted init leaves no half project.
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".srna-nb-init-"))
    try:
        written = sum(_copy_tree(source, staging / name) for name, source in sources.items())
        for name in TEMPLATE_FOLDERS:
            (staging / name).rename(root / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    (root / "reports").mkdir(exist_ok=True)
    logger.info("new srna_nb project in %s: %d files (notebooks/, parameters/); run `srna-nb run --profile quick` there",
                root, written)
    return root


def _copy_tree(source: Traversable, destination: Path) -> int:
    """Copy notebooks and YAML files (not caches) from a package or checkout folder; the number copied."""
    destination.mkdir(parents=True, exist_ok=True)
    copied = 0
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir():
            copied += _copy_tree(entry, destination / entry.name)
        elif entry.name.endswith((".ipynb", ".yaml")):
            (destination / entry.name).write_bytes(entry.read_bytes())
            copied += 1
    return copied
