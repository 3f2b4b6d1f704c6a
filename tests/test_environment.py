"""Packaging promises: environment.yml follows pyproject.toml; the Keras backend is chosen on import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import yaml

from conftest import CHECKOUT

PYPROJECT = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())


def test_environment_yml_is_a_thin_layer_over_pyproject():
    environment = yaml.safe_load((CHECKOUT / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    assert "python=3.11" in dependencies and "pip" in dependencies
    pip_entries = next(d["pip"] for d in dependencies if isinstance(d, dict))
    assert pip_entries == ["-e .[jupyter]"]
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert any(r.startswith("jupyterlab") for r in extras["jupyter"])
    # Nothing else is listed in environment.yml: pyproject is the single source of truth.
    assert all(isinstance(d, str) and re.match(r"^(python=3\.11|pip)$", d) for d in dependencies if not isinstance(d, dict))


def test_dependencies_are_pinned_and_free_of_torch_and_tensorflow():
    requirements = PYPROJECT["project"]["dependencies"] + [
        r for extra in PYPROJECT["project"]["optional-dependencies"].values() for r in extra
    ]
    assert all("==" in r for r in requirements), [r for r in requirements if "==" not in r]
    names = {re.split(r"[\[=<>]", r)[0].lower() for r in requirements}
    assert not names & {"torch", "tensorflow", "tensorflow-cpu"}
    assert {"keras", "jax", "eli5", "scikit-learn", "papermill"} <= names
    eli5 = next(r for r in requirements if r.startswith("eli5"))
    assert tuple(int(x) for x in eli5.split("==")[1].split(".")[:2]) >= (0, 16)


def _backend_after_import(environment: dict) -> str:
    code = "import srna_nb, keras; print(keras.backend.backend())"
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True).stdout.strip()


def test_keras_backend_defaults_to_jax_and_can_be_overridden():
    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    assert _backend_after_import(environment) == "jax"
    # A user's choice wins (numpy needs no extra install, so it stands in for torch/tensorflow).
    assert _backend_after_import({**environment, "KERAS_BACKEND": "numpy"}) == "numpy"
