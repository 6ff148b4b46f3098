"""End to end: build the wheel, install it in a fresh venv, run the real `relcheck`.

Slow (builds in an isolated environment and installs from the package
registry); leave it out with `-m "not slow"`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd: list[str | Path], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    result = subprocess.run(
        [str(part) for part in cmd],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", outdir, ROOT], cwd=ROOT, timeout=600
    )
    wheels = sorted(outdir.glob("relcheck-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {outdir}, found {wheels}"
    return wheels[0]


@pytest.fixture(scope="module")
def installed_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True, clear=True)
    bin_dir = env_dir / "bin"
    _run([bin_dir / "python", "-m", "pip", "install", "--quiet", wheel], cwd=env_dir, timeout=600)
    return bin_dir


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_wheel_ships_checklists_and_templates(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "relcheck/_data/checklists/python-service.yaml" in names
    assert any(name.startswith("relcheck/_data/templates/") for name in names), names


def test_installed_relcheck_lists_builtin_checklists(installed_bin: Path, outside: Path) -> None:
    result = _run([installed_bin / "relcheck", "checklists"], cwd=outside, timeout=60)
    assert "python-service" in result.stdout


def test_installed_relcheck_validates_builtin(installed_bin: Path, outside: Path) -> None:
    _run(
        [installed_bin / "relcheck", "validate", "builtin:python-service"],
        cwd=outside,
        timeout=60,
    )


def test_installed_relcheck_runs_from_its_own_files(installed_bin: Path, outside: Path) -> None:
    # The installed package, not the checkout, must be what runs.
    result = _run(
        [installed_bin / "python", "-c", "import relcheck; print(relcheck.__file__)"],
        cwd=outside,
        timeout=60,
    )
    assert Path(result.stdout.strip()).is_relative_to(installed_bin.parent)
