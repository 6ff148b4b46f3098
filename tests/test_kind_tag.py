"""The ``tag`` kind: the release tag on the run's commit, idempotent, pushed, rolled back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, Repo, git, resolved_step

from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.kinds.tag import TagKind
from relcheck.model import FAILED, PASSED, Release

KIND = TagKind()


def _resolved(spec: Any, cwd: Path, *, timeout: float | None = None) -> ResolvedStep:
    return resolved_step("tag", spec, cwd, timeout=timeout or 600.0)


def tag_step(
    repo: Repo, spec: Any, *, commit: str | None = None, version: str = "1.0.0"
) -> tuple[Outcome, list[str]]:
    """Run a tag step for a run that started on ``commit`` (default: HEAD now)."""
    lines: list[str] = []
    started_on = commit or git(repo.path, "rev-parse", "HEAD")
    ctx = StepContext(
        output=lambda data: lines.append(data.decode()),
        captured_output=lambda: "".join(lines),
        release=Release(version=version, tag=f"v{version}", commit=started_on, branch="main"),
        base_dir=repo.path,
        repo_root=repo.path,
    )
    return KIND.execute(_resolved(spec, repo.path), ctx), lines


def _tags(where: Path) -> list[str]:
    return git(where, "tag", "--list").split()


# -- creating ------------------------------------------------------------------------


def test_an_empty_mapping_creates_an_annotated_tag_with_the_default_message(
    repo: Repo,
) -> None:
    head = git(repo.path, "rev-parse", "HEAD")
    outcome, lines = tag_step(repo, {})
    assert outcome == Outcome(PASSED, f"annotated tag v1.0.0 on {head[:7]}")
    assert lines == [f"created annotated tag v1.0.0 on {head[:7]}\n"]
    assert git(repo.path, "cat-file", "-t", "v1.0.0") == "tag"
    assert git(repo.path, "rev-parse", "v1.0.0^{commit}") == head
    assert git(repo.path, "tag", "-l", "--format=%(contents:subject)", "v1.0.0") == "Release 1.0.0"


def test_the_given_message_is_used(repo: Repo) -> None:
    tag_step(repo, {"message": "Ship it: 1.0.0"})
    assert git(repo.path, "tag", "-l", "--format=%(contents:subject)", "v1.0.0") == "Ship it: 1.0.0"


def test_the_tag_goes_on_the_commit_the_run_started_on(repo: Repo) -> None:
    started_on = git(repo.path, "rev-parse", "HEAD")
    moved_to = repo.commit("committed while the run went on")
    outcome, _ = tag_step(repo, {}, commit=started_on)
    assert outcome.status == PASSED
    assert git(repo.path, "rev-parse", "v1.0.0^{commit}") == started_on != moved_to


def test_running_twice_passes_and_says_the_tag_is_already_there(repo: Repo) -> None:
    head = git(repo.path, "rev-parse", "HEAD")
    tag_step(repo, {})
    tag_object = git(repo.path, "rev-parse", "v1.0.0")
    outcome, lines = tag_step(repo, {})
    assert outcome == Outcome(PASSED, f"tag v1.0.0 already on {head[:7]}")
    assert lines == [f"tag v1.0.0 already points at {head[:7]} (annotated); left as it is\n"]
    assert git(repo.path, "rev-parse", "v1.0.0") == tag_object


def test_a_tag_of_that_name_on_another_commit_fails_naming_both(repo: Repo) -> None:
    old = git(repo.path, "rev-parse", "HEAD")
    git(repo.path, "tag", "-a", "v1.0.0", "-m", "earlier attempt")
    new = repo.commit("the real release")
    outcome, _ = tag_step(repo, {}, commit=new)
    assert outcome == Outcome(
        FAILED,
        f"tag v1.0.0 exists on {old[:7]}",
        reason=f"tag v1.0.0 already exists on {old[:7]}, not on the run's commit {new[:7]}: "
        "release a new version, or delete it (git tag -d v1.0.0) if it was made by mistake "
        "and run the step again",
    )
    assert git(repo.path, "rev-parse", "v1.0.0^{commit}") == old


def test_a_run_started_before_the_first_commit_has_nothing_to_tag(repo: Repo) -> None:
    lines: list[str] = []
    ctx = StepContext(
        output=lambda data: lines.append(data.decode()),
        captured_output=lambda: "",
        release=Release("1.0.0", "v1.0.0", None, "main"),
        repo_root=repo.path,
    )
    outcome = KIND.execute(_resolved({}, repo.path), ctx)
    assert outcome.status == FAILED
    assert outcome.reason is not None and "before the repository's first commit" in outcome.reason
    assert _tags(repo.path) == []


def test_a_tag_name_git_refuses_fails_the_step(repo: Repo) -> None:
    outcome, _ = tag_step(repo, {}, version="1..0")
    assert outcome.status == FAILED
    assert outcome.reason == (
        "could not create tag v1..0: 'v1..0' is not a valid git tag name; "
        "fix the checklist's `tag` template"
    )


def test_sign_uses_git_tag_dash_s(repo: Repo, tmp_path: Path) -> None:
    # A stand-in for gpg that signs anything: enough to see git asked for a signature.
    fake_gpg = tmp_path / "fake-gpg"
    fake_gpg.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        "printf '\\n[GNUPG:] SIG_CREATED D 1 8 00 0 FAKE\\n' >&2\n"
        "printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n-----END PGP SIGNATURE-----\\n'\n"
    )
    fake_gpg.chmod(0o755)
    git(repo.path, "config", "gpg.program", str(fake_gpg))
    git(repo.path, "config", "user.signingkey", "FAKE")
    head = git(repo.path, "rev-parse", "HEAD")
    outcome, _ = tag_step(repo, {"sign": True})
    assert outcome == Outcome(PASSED, f"signed tag v1.0.0 on {head[:7]}")
    assert "-----BEGIN PGP SIGNATURE-----" in git(repo.path, "cat-file", "-p", "v1.0.0")


def test_a_failed_signature_fails_with_gits_message(repo: Repo, tmp_path: Path) -> None:
    git(repo.path, "config", "gpg.program", str(tmp_path / "no-such-gpg"))
    outcome, _ = tag_step(repo, {"sign": True})
    assert outcome.status == FAILED
    assert outcome.reason is not None
    assert outcome.reason.startswith("could not create tag v1.0.0: `git tag -s")
    assert "gpg failed to sign" in outcome.reason
    assert _tags(repo.path) == []


# -- pushing ----------------------------------------------------------------------


def test_push_sends_the_tag_to_the_remote(repo: Repo, origin: Path) -> None:
    head = git(repo.path, "rev-parse", "HEAD")
    outcome, lines = tag_step(repo, {"push": "origin"})
    assert outcome == Outcome(PASSED, f"annotated tag v1.0.0 on {head[:7]}, pushed to origin")
    assert lines[-1] == "pushed tag v1.0.0 to origin\n"
    assert git(origin, "rev-parse", "v1.0.0^{commit}") == head
    again, _ = tag_step(repo, {"push": "origin"})
    assert again == Outcome(PASSED, f"tag v1.0.0 already on {head[:7]}, pushed to origin")


def test_a_failed_push_keeps_the_tag_and_says_rerunning_is_safe(
    repo: Repo, origin: Path, tmp_path: Path
) -> None:
    git(repo.path, "remote", "set-url", "origin", str(tmp_path / "moved.git"))
    head = git(repo.path, "rev-parse", "HEAD")
    outcome, _ = tag_step(repo, {"push": "origin"})
    assert outcome.status == FAILED
    assert outcome.actual == f"annotated tag v1.0.0 on {head[:7]}, not pushed"
    assert outcome.reason is not None
    assert outcome.reason.startswith("pushing tag v1.0.0 to origin failed: `git push")
    assert "does not appear to be a git repository" in outcome.reason
    assert outcome.reason.endswith("re-running the step is safe once that is fixed")
    assert _tags(repo.path) == ["v1.0.0"]
    git(repo.path, "remote", "set-url", "origin", str(origin))
    assert tag_step(repo, {"push": "origin"})[0].status == PASSED
    assert _tags(origin) == ["v1.0.0"]


# -- words and rollback ----------------------------------------------------------------


def test_expected_describe_and_rollback_follow_the_spec(repo: Repo) -> None:
    release = Release("1.2.0", "v1.2.0", "0" * 40, "main")
    plain = _resolved({}, repo.path)
    pushed = _resolved({"push": "origin", "sign": True}, repo.path)
    assert KIND.default_expected(plain.step) == "annotated release tag on the run's commit"
    assert KIND.default_expected(pushed.step) == (
        "signed release tag on the run's commit, pushed to origin"
    )
    assert KIND.describe(plain) == "create the annotated release tag on the run's start commit"
    assert KIND.describe(pushed) == (
        "create the signed release tag on the run's start commit and push it to origin"
    )
    assert KIND.default_rollback(plain, release) == "git tag -d v1.2.0"
    assert KIND.default_rollback(pushed, release) == (
        "git tag -d v1.2.0 && git push origin :refs/tags/v1.2.0"
    )


def test_the_derived_rollback_quotes_the_tag(repo: Repo) -> None:
    release = Release("1.2.0", "v1.2.0'$(x)", "0" * 40, "main")
    rollback = KIND.default_rollback(_resolved({"push": "my remote"}, repo.path), release)
    assert rollback == (
        "git tag -d 'v1.2.0'\"'\"'$(x)' && git push 'my remote' ':refs/tags/v1.2.0'\"'\"'$(x)'"
    )


# -- through the CLI ---------------------------------------------------------------

CHECKLIST = """\
version: 1
steps:
  - id: tests
    run: echo tested
    rollback: none
  - id: tag
    tag: {message: "Service {{ version }}", push: origin}
"""


def test_run_tags_pushes_and_rollback_undoes_both(
    repo: Repo, origin: Path, relcheck: Invoke
) -> None:
    repo.checklist(CHECKLIST)
    head = repo.commit("checklist")
    relcheck("run", "--release", "2.0.0", "--non-interactive")
    assert _tags(repo.path) == _tags(origin) == ["v2.0.0"]
    assert git(repo.path, "tag", "-l", "--format=%(contents:subject)", "v2.0.0") == "Service 2.0.0"
    data = json.loads(relcheck("status", "--json").output)
    step = next(s for s in data["steps"] if s["id"] == "tag")
    assert step["status"] == "passed"
    assert step["actual"] == f"annotated tag v2.0.0 on {head[:7]}, pushed to origin"
    assert step["expected"] == "annotated release tag on the run's commit, pushed to origin"
    assert step["rollback"] == "git tag -d v2.0.0 && git push origin :refs/tags/v2.0.0"
    assert "git tag -d v2.0.0 && git push origin :refs/tags/v2.0.0" in relcheck("rollback").output

    relcheck("rollback", "--execute", "--yes")
    assert _tags(repo.path) == []
    assert _tags(origin) == []
    data = json.loads(relcheck("status", "--json").output)
    assert [(r["step"], r["status"]) for r in data["rollbacks"]] == [("tag", "passed")]


def test_a_tag_on_another_commit_fails_the_run_with_both_hashes(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist(CHECKLIST.replace(", push: origin", ""))
    old = git(repo.path, "rev-parse", "HEAD")
    git(repo.path, "tag", "-a", "v2.0.0", "-m", "too early")
    new = repo.commit("checklist")
    result = relcheck("run", "--release", "2.0.0", "--non-interactive", code=1)
    assert f"tag v2.0.0 already exists on {old[:7]}, not on the run's commit {new[:7]}" in (
        result.output
    )
    data = json.loads(relcheck("status", "--json").output)
    step = next(s for s in data["steps"] if s["id"] == "tag")
    assert (step["status"], step["actual"]) == ("failed", f"tag v2.0.0 exists on {old[:7]}")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "tag: true",
            "steps[0].tag: expected a mapping with any of message, sign and push "
            "(e.g. {push: origin}), got true",
        ),
        ("tag: {pushh: origin}", "steps[0].tag.pushh: unknown key; did you mean 'push'?"),
        ("tag: {sign: 'yes'}", "steps[0].tag.sign: expected true or false, got 'yes'"),
        ("tag: {push: ''}", "steps[0].tag.push: expected the name of a git remote"),
    ],
)
def test_the_validator_checks_the_tag_mapping(
    repo: Repo, relcheck: Invoke, step: str, message: str
) -> None:
    repo.checklist(f"version: 1\nsteps:\n  - id: tag\n    {step}\n")
    output = relcheck("validate", code=2).output
    assert "relcheck.yaml:4:" in output
    assert message in output


def test_an_empty_tag_mapping_is_valid(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("version: 1\nsteps:\n  - id: tag\n    tag: {}\n")
    relcheck("validate")
