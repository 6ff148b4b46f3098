"""The ``git`` kind: every readiness check on real repositories, alone and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, Repo, git, resolved_step

from relcheck import gitrepo
from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.kinds.git import GitKind
from relcheck.model import FAILED, PASSED, Release, Step

KIND = GitKind()
ONLY_CLEAN = {"in_sync": False, "tag_absent": False}


def _resolved(spec: Any, cwd: Path) -> ResolvedStep:
    return resolved_step("git", spec, cwd)


def check(repo: Repo, spec: Any, *, tag: str = "v1.0.0") -> tuple[Outcome, list[str]]:
    """Run a git step in ``repo`` as the engine would; the outcome and its evidence lines."""
    lines: list[str] = []
    head = gitrepo.head(repo.path).commit
    ctx = StepContext(
        output=lambda data: lines.append(data.decode()),
        captured_output=lambda: "".join(lines),
        release=Release(version="1.0.0", tag=tag, commit=head, branch="main"),
        base_dir=repo.path,
        repo_root=repo.path,
    )
    return KIND.execute(_resolved(spec, repo.path), ctx), lines


def _push_from_another_clone(origin: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "someone else's change")
    git(other, "push", "-q", "origin", "main")


# -- clean -------------------------------------------------------------------------


def test_a_ready_repository_passes_with_every_check_in_words(repo: Repo, origin: Path) -> None:
    outcome, lines = check(repo, {"branch": "main"})
    assert outcome == Outcome(PASSED, "clean, on main, in sync with origin/main, tag v1.0.0 absent")
    assert lines == [
        "ok: clean\n",
        "ok: on main\n",
        "ok: in sync with origin/main\n",
        "ok: tag v1.0.0 absent\n",
    ]


def test_a_changed_tracked_file_fails_clean(repo: Repo) -> None:
    repo.write("README.md", "edited\n")
    outcome, lines = check(repo, ONLY_CLEAN)
    assert outcome.status == FAILED
    assert outcome.actual == "1 file changed"
    assert outcome.reason == "1 file changed (README.md): commit or stash them"
    assert lines == ["FAIL: 1 file changed (README.md): commit or stash them\n"]


def test_an_untracked_file_fails_clean(repo: Repo) -> None:
    repo.write("a.txt", "new\n")
    outcome, _ = check(repo, ONLY_CLEAN)
    assert outcome.reason == "1 untracked (a.txt): commit or stash them"


def test_many_changes_are_counted_and_the_first_few_named(repo: Repo) -> None:
    repo.write("README.md", "edited\n")
    repo.write("tracked.txt", "one\n")
    repo.commit("add tracked")
    repo.write("README.md", "edited again\n")
    repo.write("tracked.txt", "two\n")
    repo.write("z.txt", "new\n")
    outcome, _ = check(repo, ONLY_CLEAN)
    assert outcome.reason == (
        "2 files changed and 1 untracked (README.md, tracked.txt, z.txt): commit or stash them"
    )
    repo.write("zz.txt", "newer\n")
    outcome, _ = check(repo, ONLY_CLEAN)
    assert outcome.reason is not None
    assert outcome.reason.startswith("2 files changed and 2 untracked (README.md, tracked.txt, ")
    assert outcome.reason.endswith(", ...): commit or stash them")


def test_relchecks_own_folder_does_not_count_as_a_change(repo: Repo) -> None:
    repo.write(".relcheck/runs/r1/journal.jsonl", "{}\n")
    outcome, _ = check(repo, ONLY_CLEAN)
    assert outcome == Outcome(PASSED, "clean")


# -- branch ------------------------------------------------------------------------


def test_the_wrong_branch_fails_naming_both(repo: Repo) -> None:
    git(repo.path, "checkout", "-q", "-b", "feature/x")
    outcome, _ = check(repo, {**ONLY_CLEAN, "clean": False, "branch": "main"})
    assert outcome == Outcome(
        FAILED, "on feature/x", reason="on branch feature/x, expected main: check out main"
    )


def test_a_branch_glob_matches_with_fnmatch(repo: Repo) -> None:
    git(repo.path, "checkout", "-q", "-b", "release/1.2")
    spec = {**ONLY_CLEAN, "branch": "release/*"}
    assert check(repo, spec)[0] == Outcome(PASSED, "clean, on release/1.2")
    git(repo.path, "checkout", "-q", "-b", "hotfix/1.2")
    outcome, _ = check(repo, spec)
    assert outcome.reason == (
        "on branch hotfix/1.2, expected a branch matching release/*: "
        "check out a branch matching release/*"
    )


def test_a_detached_head_is_named_by_the_branch_and_sync_checks(repo: Repo) -> None:
    head = git(repo.path, "rev-parse", "HEAD")
    git(repo.path, "checkout", "-q", "--detach")
    outcome, _ = check(repo, {"branch": "main", "tag_absent": False})
    assert outcome.status == FAILED
    assert outcome.actual == f"clean, detached at {head[:7]}, detached, no upstream"
    assert outcome.reason == (
        f"HEAD is detached at {head[:7]}, expected main: check out the release branch; "
        "HEAD is detached, so it has no upstream to compare with: check out the release branch"
    )


def test_a_repository_without_commits_says_so(tmp_path: Path, monkeypatch: Any) -> None:
    empty = Repo(tmp_path / "empty")
    empty.path.mkdir()
    git(empty.path, "init", "-q", "-b", "main")
    monkeypatch.chdir(empty.path)
    outcome, _ = check(empty, {"branch": "main"})
    assert outcome.status == FAILED
    assert outcome.actual == "clean, on main, no commits yet, tag v1.0.0 absent"
    assert outcome.reason == (
        "branch main has no commits yet: commit and push it first (git push -u origin main)"
    )


# -- in sync -----------------------------------------------------------------------


def test_behind_is_found_only_after_a_fetch(repo: Repo, origin: Path, tmp_path: Path) -> None:
    _push_from_another_clone(origin, tmp_path)
    without_fetch, _ = check(repo, {"clean": False, "tag_absent": False})
    assert without_fetch == Outcome(PASSED, "in sync with origin/main")
    outcome, _ = check(repo, {"clean": False, "tag_absent": False, "fetch": True})
    assert outcome == Outcome(
        FAILED,
        "0 ahead and 1 behind origin/main",
        reason="HEAD is 0 ahead and 1 behind origin/main: pull first",
    )


def test_ahead_asks_for_a_push(repo: Repo, origin: Path) -> None:
    repo.commit("unpushed one")
    repo.commit("unpushed two")
    outcome, _ = check(repo, {"clean": False, "tag_absent": False})
    assert outcome.reason == "HEAD is 2 ahead and 0 behind origin/main: push first"


def test_ahead_and_behind_asks_for_both(repo: Repo, origin: Path, tmp_path: Path) -> None:
    _push_from_another_clone(origin, tmp_path)
    repo.commit("local")
    repo.commit("local too")
    outcome, _ = check(repo, {"clean": False, "tag_absent": False, "fetch": True})
    assert outcome.reason == "HEAD is 2 ahead and 1 behind origin/main: pull and push first"


def test_no_upstream_says_how_to_set_one(repo: Repo, origin: Path) -> None:
    git(repo.path, "checkout", "-q", "-b", "release")
    outcome, _ = check(repo, {"clean": False, "tag_absent": False})
    assert outcome == Outcome(
        FAILED, "no upstream", reason="no upstream for branch release: git push -u origin release"
    )


def test_no_upstream_and_no_remote_says_to_add_one(repo: Repo) -> None:
    outcome, _ = check(repo, {"clean": False, "tag_absent": False})
    assert outcome.reason == (
        "no upstream for branch main and no remote: add one (git remote add origin URL), "
        "then git push -u origin main"
    )


def test_an_upstream_that_was_never_fetched_is_explained(repo: Repo, origin: Path) -> None:
    git(repo.path, "update-ref", "-d", "refs/remotes/origin/main")
    outcome, _ = check(repo, {"clean": False, "tag_absent": False})
    assert outcome.reason == (
        "upstream origin/main not found: git fetch origin (or set fetch: true), "
        "or git push -u origin main if it was never pushed"
    )
    # A fetch brings it back.
    assert check(repo, {"clean": False, "tag_absent": False, "fetch": True})[0].status == PASSED


def test_a_failed_fetch_is_reported_with_gits_message(repo: Repo, origin: Path) -> None:
    git(repo.path, "remote", "set-url", "origin", str(origin.parent / "moved.git"))
    outcome, lines = check(repo, {"clean": False, "tag_absent": False, "fetch": True})
    assert outcome.status == FAILED
    assert outcome.actual == "not checked"
    assert outcome.reason is not None
    assert outcome.reason.startswith("`git fetch --quiet origin` failed: ")
    assert "does not appear to be a git repository" in outcome.reason
    assert outcome.reason.endswith("; re-running is safe")
    assert lines[0].startswith("FAIL: `git fetch")


# -- tag_absent -------------------------------------------------------------------


def test_an_existing_tag_fails_naming_its_commit(repo: Repo) -> None:
    head = git(repo.path, "rev-parse", "HEAD")
    git(repo.path, "tag", "-a", "v1.0.0", "-m", "early")
    outcome, _ = check(repo, {"clean": False, "in_sync": False})
    assert outcome == Outcome(
        FAILED,
        "tag v1.0.0 exists",
        reason=f"tag v1.0.0 already exists on {head[:7]} (HEAD): release a new version, "
        "or delete it (git tag -d v1.0.0) if it was made by mistake",
    )


def test_with_fetch_the_tag_is_looked_for_on_the_remote(
    repo: Repo, origin: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "tagged elsewhere")
    git(other, "tag", "-a", "v1.0.0", "-m", "someone else's")
    git(other, "push", "-q", "origin", "refs/tags/v1.0.0")
    tagged = git(other, "rev-parse", "HEAD")
    spec = {"clean": False, "in_sync": False}
    assert check(repo, spec)[0] == Outcome(PASSED, "tag v1.0.0 absent")
    outcome, _ = check(repo, {**spec, "fetch": True})
    assert outcome == Outcome(
        FAILED,
        "tag v1.0.0 exists on origin",
        reason=f"tag v1.0.0 already exists on origin on {tagged[:7]}: release a new version, "
        "or delete it (git push origin :refs/tags/v1.0.0) if it was made by mistake",
    )


def test_with_fetch_an_absent_tag_is_absent_on_both_sides(repo: Repo, origin: Path) -> None:
    outcome, _ = check(repo, {"fetch": True})
    assert outcome == Outcome(
        PASSED, "clean, in sync with origin/main, tag v1.0.0 absent here and on origin"
    )


# -- together ------------------------------------------------------------------------


def test_every_failing_check_is_reported_together(repo: Repo, origin: Path) -> None:
    git(repo.path, "checkout", "-q", "-b", "feature/x")
    repo.write("a.txt", "new\n")
    git(repo.path, "tag", "v1.0.0")
    outcome, lines = check(repo, {"branch": "main"})
    assert outcome.status == FAILED
    assert outcome.actual == "1 untracked, on feature/x, no upstream, tag v1.0.0 exists"
    assert outcome.reason is not None
    reasons = outcome.reason.split("; ")
    assert reasons[0] == "1 untracked (a.txt): commit or stash them"
    assert reasons[1] == "on branch feature/x, expected main: check out main"
    assert reasons[2] == "no upstream for branch feature/x: git push -u origin feature/x"
    assert reasons[3].startswith("tag v1.0.0 already exists on ")
    assert [line.split(":")[0] for line in lines] == ["FAIL"] * 4


def test_checks_turned_off_are_not_run(repo: Repo) -> None:
    repo.write("README.md", "edited\n")
    git(repo.path, "tag", "v1.0.0")
    outcome, lines = check(repo, {"clean": False, "in_sync": False, "tag_absent": False})
    assert outcome == Outcome(PASSED, "nothing checked")
    assert lines == []


def test_outside_a_repository_the_step_fails(tmp_path: Path) -> None:
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    ctx = StepContext(
        output=lambda data: None,
        captured_output=lambda: "",
    )
    outcome = KIND.execute(_resolved({}, lonely), ctx)
    assert outcome.status == FAILED
    assert outcome.reason == f"{lonely} is not inside a git repository; run relcheck in one"


# -- words ---------------------------------------------------------------------------


def test_expected_and_describe_follow_the_spec(repo: Repo) -> None:
    assert KIND.default_expected(Step("r", "r", "git", {})) == (
        "clean, in sync with its upstream, without the release tag"
    )
    spec = {"branch": "release/*", "fetch": True}
    assert KIND.describe(_resolved(spec, repo.path)) == (
        "fetch the upstream, then check the repository is clean, on release/*, in sync with "
        "its upstream, without the release tag (here or on the remote)"
    )
    assert KIND.default_rollback(_resolved({}, repo.path), Release("1", "v1", None, None)) == "none"


# -- through the CLI ---------------------------------------------------------------


CHECKLIST = """\
version: 1
steps:
  - id: repo
    git: {branch: main}
  - id: build
    run: echo built
"""


def test_a_failing_git_step_stops_the_run_and_the_record_says_why(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist(CHECKLIST)
    repo.commit("checklist")
    git(repo.path, "checkout", "-q", "-b", "feature/x")
    result = relcheck("run", "--release", "1.0.0", "--non-interactive", code=1)
    assert "on branch feature/x, expected main: check out main" in result.output
    data = json.loads(relcheck("status", "--json").output)
    steps = {step["id"]: step for step in data["steps"]}
    assert steps["repo"]["status"] == "failed"
    assert steps["repo"]["actual"] == "clean, on feature/x, no upstream, tag v1.0.0 absent"
    assert steps["repo"]["reason"] == (
        "on branch feature/x, expected main: check out main; no upstream for branch "
        "feature/x and no remote: add one (git remote add origin URL), then git push -u "
        "origin feature/x"
    )
    assert steps["repo"]["expected"] == (
        "clean, on main, in sync with its upstream, without the release tag"
    )
    assert steps["build"]["status"] == "pending"


def test_a_ready_repository_passes_through_the_cli(
    repo: Repo, origin: Path, relcheck: Invoke
) -> None:
    repo.checklist(CHECKLIST)
    repo.commit("checklist")
    git(repo.path, "push", "-q")
    relcheck("run", "--release", "1.0.0", "--non-interactive")
    data = json.loads(relcheck("status", "--json").output)
    repo_step = next(step for step in data["steps"] if step["id"] == "repo")
    assert repo_step["actual"] == "clean, on main, in sync with origin/main, tag v1.0.0 absent"
    log = (repo.runs()[-1] / "logs" / "repo.log").read_text()
    assert "ok: in sync with origin/main" in log


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("git: {clen: true}", "steps[0].git.clen: unknown key; did you mean 'clean'?"),
        ("git: {fetch: maybe}", "steps[0].git.fetch: expected true or false, got 'maybe'"),
        (
            "git: true",
            "steps[0].git: expected a mapping of checks (clean, branch, in_sync, "
            "tag_absent, fetch), got true",
        ),
        (
            "git: {branch: '{{ oops'}",
            "steps[0].git.branch: Jinja2 template does not parse",
        ),
    ],
)
def test_the_validator_checks_the_git_mapping(
    repo: Repo, relcheck: Invoke, step: str, message: str
) -> None:
    repo.checklist(f"version: 1\nsteps:\n  - id: repo\n    {step}\n")
    output = relcheck("validate", code=2).output
    assert "relcheck.yaml:4:" in output
    assert message in output
