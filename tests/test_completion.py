"""Shell completion through click's `_RELCHECK_COMPLETE` mechanism, in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Invoke, Repo

CHECKLIST = """\
version: 1
steps:
  - id: lint
    title: Run linting
    run: echo lint
    rollback: none
  - id: unit
    run: echo unit
    rollback: none
  - id: upload
    run: echo upload
    rollback: none
"""


def complete(cwd: Path, shell: str, words: str, cword: str | int) -> str:
    """What relcheck answers when a shell asks it to complete ``words``."""
    done = subprocess.run(
        [sys.executable, "-m", "relcheck"],
        cwd=cwd,
        env={
            **os.environ,
            "_RELCHECK_COMPLETE": f"{shell}_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def bash_values(output: str) -> list[str]:
    return [line.split(",", 1)[1] for line in output.splitlines() if line]


def test_step_ids_complete_only_and_skip_in_bash(repo: Repo) -> None:
    repo.checklist(CHECKLIST)
    assert bash_values(complete(repo.path, "bash", "relcheck run --only ", 3)) == [
        "lint",
        "unit",
        "upload",
    ]
    assert bash_values(complete(repo.path, "bash", "relcheck run --skip u", 3)) == [
        "unit",
        "upload",
    ]
    # After a comma: the ids not listed yet, keeping what is already typed.
    assert bash_values(complete(repo.path, "bash", "relcheck run --only unit,", 3)) == [
        "unit,lint",
        "unit,upload",
    ]


def test_step_ids_of_the_checklist_named_on_the_line(repo: Repo) -> None:
    repo.checklist(CHECKLIST)
    repo.checklist("version: 1\nsteps:\n  - id: other\n    run: 'true'\n", name="other.yaml")
    out = complete(repo.path, "bash", "relcheck run other.yaml --only ", 4)
    assert bash_values(out) == ["other"]


def test_zsh_and_fish_show_step_titles(repo: Repo) -> None:
    repo.checklist(CHECKLIST)
    zsh = complete(repo.path, "zsh", "relcheck run --only l", 3).splitlines()
    assert zsh == ["plain", "lint", "Run linting"]
    fish = complete(repo.path, "fish", "relcheck run --skip l", "l").splitlines()
    assert fish == ["plain,lint\tRun linting"]


def test_a_broken_checklist_completes_nothing_quietly(repo: Repo) -> None:
    repo.checklist("version: 1\nsteps:\n  - id: [broken\n")
    assert complete(repo.path, "bash", "relcheck run --only ", 3).strip() == ""
    assert not (repo.path / ".relcheck").exists()


def test_run_ids_complete_where_a_run_id_goes(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    assert complete(repo.path, "bash", "relcheck status ", 2).strip() == ""
    relcheck("run", "--release", "1.0.0")
    relcheck("run", "--release", "1.0.1")
    runs = [path.name for path in repo.runs()]
    for command in ("status", "resume", "rollback", "notes"):
        out = complete(repo.path, "bash", f"relcheck {command} ", 2)
        assert bash_values(out) == runs[::-1], command  # newest first
    fish = complete(repo.path, "fish", f"relcheck status {runs[0][:8]}", runs[0][:8])
    assert f"plain,{runs[1]}\trelease 1.0.1" in fish.splitlines()


def test_sign_completes_the_manual_steps_of_the_latest_run(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST + "  - id: smoke\n    manual: Click through.\n    owner: Ada\n")
    assert complete(repo.path, "bash", "relcheck sign ", 2).strip() == ""
    relcheck("run", "--release", "1.0.0", "--non-interactive", code=1)
    assert bash_values(complete(repo.path, "bash", "relcheck sign ", 2)) == ["smoke"]
    run = repo.runs()[0].name
    fish = complete(repo.path, "fish", f"relcheck sign --run {run} s", "s")
    assert fish.splitlines() == ["plain,smoke\tsmoke (failed)"]


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _relcheck_completion relcheck"),
        ("zsh", "compdef _relcheck_completion relcheck"),
        ("fish", 'complete --no-files --command relcheck --arguments "(_relcheck_completion)"'),
    ],
)
def test_the_scripts_a_shell_sources(repo: Repo, shell: str, marker: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "relcheck"],
        env={**os.environ, "_RELCHECK_COMPLETE": f"{shell}_source"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert marker in done.stdout
    assert f"_RELCHECK_COMPLETE={shell}_complete" in done.stdout
