"""Packaging promises: environment.yml follows pyproject.toml; the Keras backend is chosen on import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import CHECKOUT

PYPROJECT = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())


def test_environment_yml_is_a_thin_layer_over_pyproject():
    environment = yaml.safe_load((CHECKOUT / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    assert "python=3.11" in dependencies and "pip" in dependencies
    pip_entries = next(d["pip"] for d in dependencies if isinstance(d, dict))
    assert pip_entries == ["-r requirements.lock", "-e .[jupyter]"]
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert any(r.startswith("jupyterlab") for r in extras["jupyter"])
    # Nothing else is listed in environment.yml: pyproject is the single source of truth.
    assert all(isinstance(d, str) and re.match(r"^(python=3\.11|pip)$", d) for d in dependencies if not isinstance(d, dict))


def _lock() -> dict[str, str]:
    """requirements.lock as name -> exact version."""
    pins = {}
    for line in (CHECKOUT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, version = line.split(";")[0].strip().split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_pyproject_has_ranges_and_the_lock_pins_them_all():
    """Ranges in pyproject.toml (installable beside other tools), exact versions in the lock, the lock installed."""
    requirements = [Requirement(r) for r in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]]
    assert not [str(r) for r in requirements if any(s.operator == "==" for s in r.specifier)], "pins belong in requirements.lock"
    lock = _lock()
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(lock[name]), f"requirements.lock has {name}=={lock[name]}, outside {requirement}"
        assert version(name) == lock[name], f"installed {name} {version(name)}, locked {lock[name]}: run `make install`"
    assert not set(lock) & {"torch", "tensorflow", "tensorflow-cpu"}
    assert {"keras", "jax", "eli5", "scikit-learn", "papermill"} <= set(lock)
    # pandas 2 stays allowed (anndata needs pandas < 3), and the anndata extra asks for it.
    pandas = next(r for r in requirements if r.name == "pandas")
    assert pandas.specifier.contains("2.2.3") and pandas.specifier.contains(lock["pandas"])
    assert any(Requirement(r).name == "anndata" for r in PYPROJECT["project"]["optional-dependencies"]["anndata"])


def _backend_after_import(environment: dict) -> str:
    code = "import srna_nb, keras; print(keras.backend.backend())"
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True).stdout.strip()


def test_keras_backend_defaults_to_jax_and_can_be_overridden():
    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    assert _backend_after_import(environment) == "jax"
    # A user's choice wins (numpy needs no extra install, so it stands in for torch/tensorflow).
    assert _backend_after_import({**environment, "KERAS_BACKEND": "numpy"}) == "numpy"


_CACHED_FIT = """
import os, sys, numpy as np, srna_nb
from srna_nb.models import DLClassifier
X = np.random.default_rng(0).normal(size=(60, 20)).astype(np.float32)
proba = DLClassifier(hidden_layers=(8,), max_epochs=3, random_state=0).fit(X, np.arange(60) % 3).predict_proba(X)
sys.stdout.write(os.environ.get("JAX_COMPILATION_CACHE_DIR", "none") + " " + proba.tobytes().hex())
"""


def _fit_in_subprocess(environment: dict) -> tuple[str, str]:
    run = subprocess.run([sys.executable, "-c", _CACHED_FIT], env=environment, capture_output=True, text=True, check=True)
    folder, proba = run.stdout.split()
    return folder, proba


def test_jax_compilation_cache_is_on_by_default_and_gives_the_same_fits(tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "SRNA_NB_JAX"))}
    folder, uncached = _fit_in_subprocess({**base, "SRNA_NB_JAX_CACHE": "off"})
    assert folder == "none"
    # Default folder under XDG_CACHE_HOME; a cold and then a warm cache fit the same network bytes.
    cold_folder, cold = _fit_in_subprocess({**base, "XDG_CACHE_HOME": str(tmp_path)})
    assert cold_folder == str(tmp_path / "srna_nb" / "jax") and any((tmp_path / "srna_nb" / "jax").iterdir())
    assert _fit_in_subprocess({**base, "XDG_CACHE_HOME": str(tmp_path)})[1] == cold == uncached
    # A folder of the user's own (SRNA_NB_JAX_CACHE, or JAX's own variable) wins.
    assert _fit_in_subprocess({**base, "SRNA_NB_JAX_CACHE": str(tmp_path / "mine")})[0] == str(tmp_path / "mine")
    assert _fit_in_subprocess({**base, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax")})[0] == str(tmp_path / "jax")
