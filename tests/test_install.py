"""The package outside its checkout: a built wheel in a fresh venv makes a project and runs a report there."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import CHECKOUT


def _run(*command, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, command))}: {done.stderr[-2000:]}"
    return done


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_inits_and_runs_a_project(tmp_path):
    """`pip install <checkout>`, `srna-nb init`, `srna-nb run` in the new folder, nothing read from the checkout.

    The closest thing to a fresh `pip install` that fits CI's time: the wheel is built and installed
    without dependencies, and the new venv borrows the test environment's third-party packages
    through a .pth line (whose own .pth files, the checkout's editable hook among them, stay unread)
    and its Jupyter data files (nbconvert's templates) through JUPYTER_PATH.
    """
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", CHECKOUT, "-w", tmp_path / "dist")
    wheel, = (tmp_path / "dist").glob("srna_nb-*.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    site = Path(_run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "-q", wheel)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")  # borrowed too: nbconvert's templates, the kernel spec
    located = _run(venv / "bin" / "python", "-c", "import srna_nb; print(srna_nb.__file__)", cwd=tmp_path, env=env).stdout
    assert Path(located.strip()).is_relative_to(site), located  # the wheel's copy, not the checkout's

    project = tmp_path / "project"
    _run(venv / "bin" / "srna-nb", "init", project, cwd=tmp_path, env=env)
    assert sorted(p.name for p in (project / "notebooks").glob("*.ipynb")) == sorted(p.name for p in (CHECKOUT / "notebooks").glob("*.ipynb"))
    _run(venv / "bin" / "srna-nb", "run", "--profile", "quick", "--only", "01_atlas_overview", cwd=project, env=env)
    page = (project / "reports" / "quick" / "01_atlas_overview.html").read_text()
    assert "Simulated data" in page and "Traceback" not in page
    assert (project / "reports" / "index.html").exists()
