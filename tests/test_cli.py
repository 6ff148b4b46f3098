"""The command line as a user meets it: listing, init, validate, runbook, errors."""

from __future__ import annotations

import pytest
from conftest import Invoke, Repo

from relcheck import __version__


def test_version(relcheck: Invoke) -> None:
    assert relcheck("--version").output.strip() == f"relcheck {__version__}"


def test_checklists_lists_the_builtins(relcheck: Invoke) -> None:
    lines = relcheck("checklists").output.splitlines()
    assert any(line.startswith("python-service ") for line in lines)


def test_init_writes_a_checklist_that_validates(repo: Repo, relcheck: Invoke) -> None:
    assert "Wrote" in relcheck("init").output
    text = (repo.path / "relcheck.yaml").read_text()
    assert "id: staging-config" in text
    assert "valid, 7 steps" in relcheck("validate").output
    assert "already exists; pass --force" in relcheck("init", code=2).output
    (repo.path / "relcheck.yaml").write_text("changed")
    relcheck("init", "--force")
    assert (repo.path / "relcheck.yaml").read_text() == text
    result = relcheck("init", "--from", "nope", code=2)
    assert "choose one of: api-change, api-versioning, python-service, web-cache" in result.output


def test_validate_reports_every_problem_with_its_place(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: lint
    comand: ruff check .
  - id: tests
    run: pytest
    timeout: ten
  - id: tests
    manual: check
""")
    result = relcheck("validate", code=2)
    lines = result.output.splitlines()
    assert any(
        line.startswith("relcheck.yaml:4:5: steps[0].comand: unknown key")
        and "did you mean 'run'?" in line
        for line in lines
    ), result.output
    assert any(
        line.startswith(
            "relcheck.yaml:7:5: steps[1].timeout: expected a number of seconds, got 'ten'"
        )
        for line in lines
    ), result.output
    assert any(
        line.startswith("relcheck.yaml:8:5: steps[2].id: duplicate step id 'tests'")
        for line in lines
    ), result.output
    assert "Traceback" not in result.output


def test_validate_warns_about_missing_rollbacks(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("version: 1\nsteps:\n  - id: build\n    run: make\n")
    output = relcheck("validate").output
    assert "relcheck.yaml:3:5: warning: steps[0].rollback: no rollback given" in output
    assert "valid, 1 steps, 1 warnings" in output


def test_missing_checklist_says_where_it_looked(repo: Repo, relcheck: Invoke) -> None:
    result = relcheck("plan", code=2)
    assert "relcheck.yaml" in result.output
    assert "relcheck init" in result.output


def test_runbook_shows_each_step_as_a_person_follows_it(repo: Repo, relcheck: Invoke) -> None:
    relcheck("init")
    text = relcheck("runbook", "--release", "4.2.0").output
    assert text.startswith("# Runbook: Python service release")
    assert "## 7. Tag the release (`tag`)" in text
    assert "create the annotated release tag on the run's start commit" in text
    assert "**Rollback:** `git tag -d v4.2.0 && git push origin :refs/tags/v4.2.0`" in text
    assert "## 4. Run one integration check (`integration`)" in text
    assert "- **Needs first:** repo-ready" in text
    assert "**Owner:** release-captain" in text
    relcheck("runbook", "-o", "RUNBOOK.md")
    assert (repo.path / "RUNBOOK.md").read_text().startswith("# Runbook: Python service")


def test_an_internal_error_prints_one_line_and_keeps_the_traceback(
    repo: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    import relcheck.commands.checklist as commands

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(commands, "list_builtins", broken)
    result = relcheck("checklists", code=3)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("relcheck: internal error: RuntimeError('boom')")
    crashes = list((repo.path / ".relcheck" / "crashes").iterdir())
    assert len(crashes) == 1
    assert "RuntimeError: boom" in crashes[0].read_text()
    assert str(crashes[0]) in lines[0]


def test_a_reader_that_goes_away_is_not_an_internal_error(repo: Repo) -> None:
    import subprocess
    import sys

    steps = "".join(f"  - id: s{i}\n    run: echo {i}\n    rollback: none\n" for i in range(1500))
    repo.checklist(f"version: 1\nsteps:\n{steps}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "relcheck", "plan", "--release", "1.0.0"],
        cwd=repo.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert first.startswith(b"Checklist "), proc.stderr.read().decode()
    proc.stdout.close()
    errors = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 141
    assert "internal error" not in errors
    assert not (repo.path / ".relcheck" / "crashes").exists()
