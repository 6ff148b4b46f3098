"""Shared fixtures: real git repositories in tmp_path and a CLI runner that explains failures."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from relcheck.cli import cli
from relcheck.kinds.base import ResolvedStep
from relcheck.model import Step

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Captain",
    "GIT_AUTHOR_EMAIL": "captain@example.invalid",
    "GIT_COMMITTER_NAME": "Test Captain",
    "GIT_COMMITTER_EMAIL": "captain@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CI variables, no user git config or cache folder, a fixed git identity."""
    for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "NO_COLOR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "_home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Captain\n\temail = captain@example.invalid\n"
        "[commit]\n\tgpgSign = false\n[tag]\n\tgpgSign = false\n[init]\n\tdefaultBranch = main\n"
    )


@dataclass
class Repo:
    path: Path

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
        return target

    def commit(self, message: str = "change") -> str:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.path, "rev-parse", "HEAD")

    def checklist(self, text: str, name: str = "relcheck.yaml") -> Path:
        return self.write(name, text)

    def runs(self) -> list[Path]:
        folder = self.path / ".relcheck" / "runs"
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def journal(self, run: Path | None = None) -> list[dict[str, Any]]:
        run = run or self.runs()[-1]
        lines = (run / "journal.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A real git repository with one commit, as the current folder."""
    path = tmp_path / "service"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    created = Repo(path)
    created.write("README.md", "service\n")
    created.commit("first commit")
    monkeypatch.chdir(path)
    return created


@pytest.fixture
def origin(repo: Repo, tmp_path: Path) -> Path:
    """A bare remote named origin that ``repo``'s main tracks."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo.path, "remote", "add", "origin", str(bare))
    git(repo.path, "push", "-q", "-u", "origin", "main")
    return bare


def resolved_step(
    kind: str,
    spec: Any,
    cwd: Path,
    *,
    timeout: float = 600.0,
    expected: str = "",
    shown: str = "",
) -> ResolvedStep:
    """A step as the plan hands it to a kind, for tests that call ``execute`` directly."""
    step = Step(id=kind, title=kind, kind=kind, spec=spec, timeout=timeout)
    return ResolvedStep(
        step=step,
        spec=spec,
        shown=shown,
        owner=None,
        expected=expected,
        rollback=None,
        env={},
        timeout=timeout,
        cwd=cwd,
        shell="/bin/sh",
    )


Invoke = Callable[..., Result]


@pytest.fixture
def relcheck() -> Iterator[Invoke]:
    """Run the CLI in-process; assert the exit code and show the output when it differs."""
    runner = CliRunner()

    def invoke(
        *args: str, code: int = 0, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        result = runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)
        assert result.exit_code == code, (
            f"relcheck {' '.join(args)} exited {result.exit_code}, expected {code}\n"
            f"--- output ---\n{result.output}"
        )
        return result

    yield invoke


def relcheck_process(
    cwd: Path, *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.Popen[str]:
    """Start relcheck as a real process (as a user's shell would)."""
    return subprocess.Popen(
        [sys.executable, "-m", "relcheck", *args],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


# -- processes a test starts and watches ---------------------------------------------

# Turns a hang into a failure; measures nothing.
WAIT_S = 30.0


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (not every container init reaps) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    fields = stat[stat.rfind(b")") + 2 :].split()
    return bool(fields) and fields[0] != b"Z"


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def read_pid(path: Path, writer: subprocess.Popen[str] | None = None) -> int:
    """The pid in ``path`` once written; fails at once if ``writer`` dies first."""

    def written() -> bool:
        if writer is not None and writer.poll() is not None:
            pytest.fail(f"{path.name} never written: {writer.communicate()}")
        return path.exists() and path.read_text().endswith("\n")

    wait_until(written, path.name)
    return int(path.read_text())


@pytest.fixture
def kill_later() -> Iterator[list[int]]:
    """Pids to SIGKILL after the test, for processes a test lets escape (or a bug left)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
