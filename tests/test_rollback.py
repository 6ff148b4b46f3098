"""The rollback plan: printed newest first, executed in order, every result recorded."""

from __future__ import annotations

import json

from conftest import Invoke, Repo, git

CHECKLIST = """\
version: 1
defaults: {owner: Ada}
steps:
  - id: migrate
    run: echo migrated > db.txt
    rollback: echo undo-migrate >> undo.txt
    owner: Grace
  - id: notes
    run: "true"
    rollback: none
  - id: broken-undo
    run: "true"
    rollback: echo undo-broken >> undo.txt; exit 4
  - id: tag
    run: git tag -a {{ tag }} -m "Release {{ version }}"
    rollback: git tag -d {{ tag }}
"""


def test_rollback_prints_the_plan_newest_first(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "3.1.0")
    lines = relcheck("rollback").output.splitlines()
    assert "Rollback plan for run" in lines[0]
    order = [line.split()[0] for line in lines[1:]]
    assert order == ["tag", "broken-undo", "notes", "migrate"]
    assert "git tag -d v3.1.0" in lines[1]
    assert "(nothing to undo)" in lines[3]
    assert "owner: Grace" in lines[4]


def test_execute_runs_until_the_first_failure_and_records_it(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "3.1.0")
    assert git(repo.path, "tag", "--list") == "v3.1.0"
    result = relcheck("rollback", "--execute", "--yes", code=1)
    assert "rollback of broken-undo failed: exit code 4" in result.output
    assert git(repo.path, "tag", "--list") == ""
    assert (repo.path / "undo.txt").read_text() == "undo-broken\n"
    data = json.loads(relcheck("status", "--json").output)
    assert [(r["step"], r["status"]) for r in data["rollbacks"]] == [
        ("tag", "passed"),
        ("broken-undo", "failed"),
    ]


def test_execute_without_terminal_needs_yes(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "3.1.0")
    assert "pass --yes" in relcheck("rollback", "--execute", code=2).output
    assert git(repo.path, "tag", "--list") == "v3.1.0"


def test_execute_refuses_a_changed_checklist(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "3.1.0")
    repo.checklist(CHECKLIST.replace("exit 4", "exit 0"))
    assert (
        "changed since this run began" in relcheck("rollback", "--execute", "--yes", code=2).output
    )
    relcheck("rollback", "--execute", "--yes", "--force")
    assert (repo.path / "undo.txt").read_text() == "undo-broken\nundo-migrate\n"


def test_a_second_execute_skips_what_was_rolled_back(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST.replace("exit 4", "exit 0"))
    relcheck("run", "--release", "3.1.0")
    relcheck("rollback", "--execute", "--yes")
    assert git(repo.path, "tag", "--list") == ""
    result = relcheck("rollback", "--execute", "--yes")
    assert "rollback tag" not in result.output
    assert (repo.path / "undo.txt").read_text() == "undo-broken\nundo-migrate\n"
    left = relcheck("rollback").output.splitlines()[1:]
    assert [line.split()[0] for line in left] == ["notes"]
    assert "(nothing to undo)" in left[0]
