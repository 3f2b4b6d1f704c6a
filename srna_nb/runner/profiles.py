"""Profiles and parameter files into runs: each notebook with the parameters it declares, typos refused."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml

from srna_nb.errors import SrnaParameterError
from srna_nb.project import find_project


@dataclass
class Run:
    """One notebook execution with its merged parameters."""

    name: str
    notebook: Path
    parameters: dict[str, Any]
    #: The profile's estimate of the run's time, which orders the runs before any has been recorded.
    expected_seconds: float = 0.0


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path`` with a one-line error for missing or malformed files."""
    if not path.exists():
        raise SrnaParameterError(f"{path}: parameter file not found")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SrnaParameterError(f"{path}: invalid YAML ({str(error).splitlines()[0]})") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise SrnaParameterError(f"{path}: expected a mapping of parameter names to values")
    return content


def load_profile(profile: str | Path, root: str | Path | None = None, extra_parameters: Iterable[str | Path] = (),
                 overrides: dict[str, Any] | None = None) -> tuple[str, list[Run]]:
    """Read a profile by name (``parameters/profiles/<name>.yaml``) or path into runs.

    ``root`` is the project folder (default: the current directory, see :mod:`srna_nb.project`).
    A profile given by path inside another project's ``parameters/profiles/`` uses that
    project's ``notebooks/`` and ``parameters/``.
    """
    path = Path(profile)
    if not path.suffix:
        root = find_project(root)
        path = root / "parameters" / "profiles" / f"{profile}.yaml"
        if not path.exists():
            available = sorted(p.stem for p in (root / "parameters" / "profiles").glob("*.yaml"))
            raise SrnaParameterError(f"{path}: no such profile; profiles here: {', '.join(available) or 'none'}")
    elif path.resolve().parent.parent.name == "parameters" and path.resolve().parent.name == "profiles":
        root = path.resolve().parent.parent.parent
    else:
        root = find_project(root)
    spec = read_yaml(path)
    if not isinstance(spec.get("runs"), list) or not spec["runs"]:
        raise SrnaParameterError(f"{path}: a profile needs a non-empty 'runs' list")
    base: dict[str, Any] = {}
    if spec.get("defaults"):
        base.update(read_yaml(root / "parameters" / spec["defaults"]))
    runs, names = [], set()
    for position, entry in enumerate(spec["runs"], start=1):
        if not isinstance(entry, dict) or "notebook" not in entry:
            raise SrnaParameterError(f"{path}: run {position} needs a 'notebook'")
        notebook = root / "notebooks" / f"{entry['notebook']}.ipynb"
        if not notebook.exists():
            raise SrnaParameterError(f"{path}: run {position}: notebook {notebook.name} not found in notebooks/")
        name = str(entry.get("name", entry["notebook"]))
        if name in names:
            raise SrnaParameterError(f"{path}: run name {name!r} is used twice")
        names.add(name)
        parameters = dict(base)
        files = entry.get("parameters", [])
        for file in [files] if isinstance(files, str) else files:
            parameters.update(read_yaml(root / "parameters" / file))
        for file in extra_parameters:
            parameters.update(read_yaml(Path(file)))
        parameters.update(entry.get("overrides") or {})
        parameters.update(overrides or {})  # the command line has the last word
        expected = entry.get("expected_seconds", 0)
        if isinstance(expected, bool) or not isinstance(expected, (int, float)) or expected < 0:
            raise SrnaParameterError(f"{path}: run {name!r}: expected_seconds must be a number of seconds, got {expected!r}")
        runs.append(Run(name=name, notebook=notebook, parameters=_known_parameters(notebook, parameters, path),
                        expected_seconds=float(expected)))
    return str(spec.get("name", path.stem)), runs


def notebook_parameters(notebook: Path) -> set[str]:
    """Names assigned in a notebook's ``parameters`` cell."""
    return _parameters_cell_names(notebook, notebook.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _parameters_cell_names(notebook: Path, modified: int) -> frozenset[str]:
    import ast

    import nbformat

    for cell in nbformat.read(notebook, as_version=4).cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            return frozenset(t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name))
    return frozenset()


def _known_parameters(notebook: Path, parameters: dict[str, Any], profile: Path) -> dict[str, Any]:
    """Keep the parameters this notebook declares.

    Parameter files are shared between notebooks, so a name another notebook declares is
    passed over quietly; a name no notebook declares is a typo and stops the run.
    """
    declared = notebook_parameters(notebook)
    anywhere = set().union(*(notebook_parameters(n) for n in notebook.parent.glob("*.ipynb")))
    unknown = sorted(set(parameters) - anywhere)
    if unknown:
        raise SrnaParameterError(
            f"{profile}: parameter {unknown[0]!r} is declared by no notebook ({notebook.name} declares: {', '.join(sorted(declared))})"
        )
    return {k: v for k, v in parameters.items() if k in declared}
