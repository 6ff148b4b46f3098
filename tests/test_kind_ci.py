"""The ``ci`` kind: the CI-status gate against fake forges on 127.0.0.1 (tests/forges.py)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, Repo, resolved_step
from forges import FakeForge, FakeGitea, FakeGitHub, FakeGitLab
from msgspec.structs import replace

from relcheck.kinds.base import Outcome, StepContext
from relcheck.kinds.ci import CiKind
from relcheck.model import FAILED, PASSED, Release

SHA = "a1b2c3d4e5f6" + "0" * 28
TOKEN = "ci-tok-5e4d3c2b1a-DISTINCTIVE"
KIND = CiKind()
VARIABLES = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN", "gitea": "GITEA_TOKEN"}


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub(TOKEN)
    yield server
    server.close()


def gate(
    fake: FakeForge,
    tmp_path: Path,
    *,
    provider: str = "github",
    env: dict[str, str] | None = None,
    **spec: Any,
) -> tuple[Outcome, str]:
    """Run a ci step as the engine would: the outcome and the step's output."""
    full = {"provider": provider, "repo": "acme/service", "api_url": fake.api_url, **spec}
    step = replace(
        resolved_step("ci", full, tmp_path),
        env=env if env is not None else {VARIABLES[provider]: TOKEN},
    )
    lines: list[str] = []
    ctx = StepContext(
        output=lambda data: lines.append(data.decode()),
        captured_output=lambda: "".join(lines),
        release=Release("1.4.0", "v1.4.0", SHA, "main"),
        base_dir=tmp_path,
        repo_root=None,
    )
    return KIND.execute(step, ctx), "".join(lines)


def status(context: str, state: str) -> dict[str, str]:
    return {"context": context, "state": state}


def run_(name: str, state: str, conclusion: str | None = None, **more: Any) -> dict[str, Any]:
    return {"name": name, "status": state, "conclusion": conclusion, **more}


def test_every_status_and_check_run_passed(github: FakeGitHub, tmp_path: Path) -> None:
    github.check_script = [
        (
            [status("ci/build", "success")],
            [run_("lint", "completed", "success"), run_("docs", "completed", "skipped")],
        )
    ]
    outcome, output = gate(github, tmp_path, wait=2)
    assert outcome.status == PASSED
    assert outcome.actual == (
        "3 checks passed on a1b2c3d4e5f6: ci/build (success), lint (success), docs (skipped)"
    )
    assert outcome.metrics["checks"] == [
        {"name": "ci/build", "conclusion": "success"},
        {"name": "lint", "conclusion": "success"},
        {"name": "docs", "conclusion": "skipped"},
    ]
    assert [got.path.rsplit("/", 1)[1] for got in github.received] == ["status", "check-runs"]
    assert github.received[0].path == f"/api/v3/repos/acme/service/commits/{SHA}/status"
    assert all(got.headers["authorization"] == f"Bearer {TOKEN}" for got in github.received)
    assert TOKEN not in output


def test_a_failed_check_fails_at_once_even_with_others_pending(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.check_script = [
        ([status("ci/build", "pending")], [run_("test", "completed", "failure")])
    ]
    outcome, _ = gate(github, tmp_path, wait=30)
    assert outcome.status == FAILED
    assert outcome.reason == "failed: test (failure)"
    assert (
        outcome.actual == "1 of 2 checks failed on a1b2c3d4e5f6: ci/build (pending), test (failure)"
    )
    assert len(github.received) == 2  # no waiting for the pending one


def test_pending_then_success_polls_and_shows_what_is_pending(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.check_script = [
        ([], [run_("build", "in_progress"), run_("lint", "completed", "success")]),
        ([], [run_("build", "completed", "success"), run_("lint", "completed", "success")]),
    ]
    outcome, output = gate(github, tmp_path, wait=10)
    assert outcome.status == PASSED
    assert "pending: build (in_progress); looking again in 1 s\n" in output
    assert github.polls == 2


def test_pending_past_the_limit_fails_naming_what_is_pending(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.check_script = [([status("deploy/preview", "pending")], [run_("build", "queued")])]
    outcome, output = gate(github, tmp_path, wait=2)
    assert outcome.status == FAILED
    assert outcome.reason == (
        "still pending after 2 s: deploy/preview (pending), build (queued); raise `wait` "
        "(and the step's `timeout`) or look at the CI run"
    )
    assert output.count("pending: deploy/preview (pending), build (queued)") == github.polls - 1
    assert github.polls >= 2


def test_statuses_over_two_pages_and_check_runs_are_looked_at_together(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.max_page = 1  # the combined status lists its statuses one per page
    github.check_script = [
        ([status("a", "success"), status("b", "success")], [run_("build", "in_progress")]),
        ([status("a", "success"), status("b", "success")], [run_("build", "completed", "success")]),
    ]
    outcome, output = gate(github, tmp_path, wait=10)
    assert outcome.status == PASSED
    assert "pending: build (in_progress)" in output
    assert (
        outcome.actual
        == "3 checks passed on a1b2c3d4e5f6: a (success), b (success), build (success)"
    )
    pages = [got.query.get("page", "1") for got in github.requests("GET", r"/status$")]
    assert pages == ["1", "2", "1", "2"]


def test_no_statuses_is_nothing_to_wait_for(github: FakeGitHub, tmp_path: Path) -> None:
    # Only check runs: GitHub's combined status stays "pending" with total_count 0.
    github.check_script = [([], [run_("build", "completed", "success")])]
    outcome, _ = gate(github, tmp_path, wait=2)
    assert outcome.status == PASSED and github.polls == 1
    github.poll_counts.clear()
    github.check_script = [([], [])]
    outcome, _ = gate(github, tmp_path, wait=2)
    assert outcome == Outcome(
        PASSED,
        "no statuses or checks on a1b2c3d4e5f6: nothing to wait for",
        metrics={"checks": []},
    )


def test_an_unknown_repository_without_a_token_says_no_token_was_set(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.token = None  # answers anyone, but knows only acme/service
    outcome, _ = gate(github, tmp_path, repo="acme/other", env={}, wait=2)
    assert outcome.status == FAILED
    assert outcome.reason is not None
    assert "with 404 Not Found: Not Found; check the repository name" in outcome.reason
    assert outcome.reason.endswith("; no token was set (GH_TOKEN or GITHUB_TOKEN)")


def test_the_token_needs_to_read_statuses_says_a_refusal(
    github: FakeGitHub, tmp_path: Path
) -> None:
    outcome, _ = gate(github, tmp_path, env={"GITHUB_TOKEN": "not-the-token"}, wait=2)
    assert outcome.status == FAILED and outcome.reason is not None
    assert "with 401 Unauthorized: Bad credentials; check the token and that it may read " in (
        outcome.reason
    )
    assert "commit statuses and checks of this repository" in outcome.reason
    assert "write releases" not in outcome.reason


def test_without_a_token_no_credential_header_is_sent(tmp_path: Path) -> None:
    for kind, provider in ((FakeGitHub, "github"), (FakeGitLab, "gitlab"), (FakeGitea, "gitea")):
        server = kind(None)
        try:
            server.check_script = [([], [])] if provider == "github" else [[]]
            outcome, _ = gate(server, tmp_path, provider=provider, env={}, wait=2)
            assert outcome.status == PASSED, outcome
            assert server.received, provider
            for got in server.received:
                assert not {"authorization", "private-token", "job-token"} & set(got.headers)
        finally:
            server.close()


OWN_RUNS = {
    # provider: (the environment of its CI, the check script with this run's own check)
    "github": (
        {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "777", "GITHUB_REPOSITORY": "acme/service"},
        [
            (
                [status("ci/build", "success")],
                [
                    run_(
                        "release",
                        "in_progress",
                        html_url="https://github.example/acme/service/actions/runs/777/job/5",
                        details_url="https://github.example/acme/service/actions/runs/777/job/5",
                    ),
                    run_(
                        "lint",
                        "completed",
                        "success",
                        details_url="https://github.example/acme/service/actions/runs/7770/job/1",
                    ),
                ],
            )
        ],
    ),
    "gitlab": (
        {"GITLAB_CI": "true", "CI_PIPELINE_ID": "9"},
        [
            [
                {"id": 9, "sha": SHA, "ref": "v1.4.0", "status": "running"},
                {"id": 3, "sha": SHA, "ref": "main", "status": "success"},
            ]
        ],
    ),
    "gitea": (
        {
            "GITEA_ACTIONS": "true",
            "GITHUB_RUN_ID": "40",
            "GITHUB_RUN_NUMBER": "12",
            "GITHUB_REPOSITORY": "acme/service",
        },
        [
            [
                {
                    "context": "release / publish (push)",
                    "status": "pending",
                    "target_url": "https://gitea.example/acme/service/actions/runs/12/jobs/0",
                },
                {
                    "context": "test / unit (push)",
                    "status": "success",
                    "target_url": "https://gitea.example/acme/service/actions/runs/11/jobs/0",
                },
            ]
        ],
    ),
}


@pytest.mark.parametrize("provider", list(OWN_RUNS))
def test_the_checks_of_the_ci_run_relcheck_runs_in_are_left_out(
    provider: str, tmp_path: Path
) -> None:
    environ, script = OWN_RUNS[provider]
    kind = {"github": FakeGitHub, "gitlab": FakeGitLab, "gitea": FakeGitea}[provider]
    server = kind(TOKEN)
    try:
        server.check_script = script
        env = {**environ, VARIABLES[provider]: TOKEN}
        outcome, output = gate(server, tmp_path, provider=provider, env=env, wait=1)
        assert outcome.status == PASSED, outcome
        assert server.polls == 1
        own = {"github": "GitHub Actions run (777)", "gitlab": "GitLab pipeline (#9)"}
        words = f"this {own.get(provider, 'Gitea Actions run (40)')}"
        assert f"part of {words}, which cannot finish before this step does" in output
        assert f"; left out, as part of {words}: " in outcome.actual
        [left_out] = outcome.metrics["left_out"]
        assert left_out["conclusion"] in ("in_progress", "running", "pending")
        assert left_out["name"] not in [check["name"] for check in outcome.metrics["checks"]]
    finally:
        server.close()


def test_gitlab_takes_the_newest_pipeline_of_each_ref_across_pages(tmp_path: Path) -> None:
    server = FakeGitLab(TOKEN)
    try:
        server.max_page = 1
        server.pipelines = [
            {"id": 3, "sha": SHA, "ref": "v1.4.0", "status": "success"},
            {"id": 2, "sha": SHA, "ref": "main", "status": "success"},
            {"id": 1, "sha": SHA, "ref": "main", "status": "failed"},  # retried as #2
            {"id": 9, "sha": "f" * 40, "ref": "main", "status": "failed"},  # another commit
        ]
        outcome, _ = gate(server, tmp_path, provider="gitlab", wait=2)
        assert outcome.status == PASSED
        assert outcome.actual == (
            "2 checks passed on a1b2c3d4e5f6: pipeline #3 (v1.4.0) (success), "
            "pipeline #2 (main) (success)"
        )
        assert [got.query.get("page") for got in server.received] == [None, "2", "3"]
        assert all(got.query["sha"] == SHA for got in server.received)
    finally:
        server.close()


def test_gitlab_running_then_failed(tmp_path: Path) -> None:
    server = FakeGitLab(TOKEN)
    try:
        server.check_script = [
            [{"id": 5, "sha": SHA, "ref": "main", "status": "running"}],
            [{"id": 5, "sha": SHA, "ref": "main", "status": "failed"}],
        ]
        outcome, output = gate(server, tmp_path, provider="gitlab", wait=10)
        assert outcome.status == FAILED and outcome.reason == "failed: pipeline #5 (main) (failed)"
        assert "pending: pipeline #5 (main) (running)" in output
    finally:
        server.close()


def test_gitlab_a_child_pipeline_does_not_hide_its_parent(tmp_path: Path) -> None:
    server = FakeGitLab(TOKEN)
    try:
        server.pipelines = [
            {"id": 5, "sha": SHA, "ref": "main", "status": "failed", "source": "push"},
            {"id": 6, "sha": SHA, "ref": "main", "status": "success", "source": "parent_pipeline"},
        ]
        outcome, _ = gate(server, tmp_path, provider="gitlab", wait=2)
        assert outcome.status == FAILED and outcome.reason == "failed: pipeline #5 (main) (failed)"
    finally:
        server.close()


def test_gitlab_pending_past_the_limit(tmp_path: Path) -> None:
    server = FakeGitLab(TOKEN)
    try:
        server.check_script = [[{"id": 5, "sha": SHA, "ref": "main", "status": "pending"}]]
        outcome, _ = gate(server, tmp_path, provider="gitlab", wait=1.5)
        assert outcome.status == FAILED
        assert outcome.reason == (
            "still pending after 1.5 s: pipeline #5 (main) (pending); raise `wait` "
            "(and the step's `timeout`) or look at the CI run"
        )
        assert server.polls >= 2
    finally:
        server.close()


def test_a_look_that_gets_no_answer_ends_with_the_steps_limit(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.check_script = [([], [run_("build", "queued")])]
    github.slow("GET", r"/status$", 0)  # the first look is answered at once
    github.slow("GET", r"/status$", 5)  # the second, a second later, not before the limit
    started = time.monotonic()
    outcome, _ = gate(github, tmp_path, wait=1.5)
    took = time.monotonic() - started
    assert took < 4, took  # not a 30 s request timeout
    assert outcome.status == FAILED and outcome.reason is not None
    assert outcome.reason.startswith("still pending after 1.5 s: build (queued); raise `wait`")
    assert "; the last look got no answer in time: GitHub gave no usable answer to GET " in (
        outcome.reason
    )
    assert "before the step's limit of 1.5 s (`wait`, or its `timeout`) ran out (1 try" in (
        outcome.reason
    )
    # The second look got what was left of the 1.5 s, not a request timeout of its own.
    [given] = re.findall(r"within ([\d.]+) s\)", outcome.reason)
    assert float(given) < 1, outcome.reason


def test_gitea_pending_then_success(tmp_path: Path) -> None:
    server = FakeGitea(TOKEN)
    try:
        server.check_script = [
            [{"context": "build", "status": "pending"}, {"context": "lint", "status": "success"}],
            [{"context": "build", "status": "success"}, {"context": "lint", "status": "success"}],
        ]
        outcome, output = gate(server, tmp_path, provider="gitea", wait=10)
        assert outcome.status == PASSED
        assert outcome.actual == "2 checks passed on a1b2c3d4e5f6: build (success), lint (success)"
        assert "pending: build (pending); looking again in 1 s\n" in output
        assert server.polls == 2
    finally:
        server.close()


def test_gitea_commit_statuses(tmp_path: Path) -> None:
    server = FakeGitea(TOKEN)
    try:
        server.check_script = [
            [{"context": "build", "status": "success"}, {"context": "lint", "status": "warning"}]
        ]
        outcome, _ = gate(server, tmp_path, provider="gitea", wait=2)
        assert outcome.status == FAILED and outcome.reason == "failed: lint (warning)"
        assert server.received[0].headers["authorization"] == f"token {TOKEN}"
        assert server.received[0].path == f"/api/v1/repos/acme/service/commits/{SHA}/status"
    finally:
        server.close()


def test_a_ci_step_in_a_run_records_each_check(
    repo: Repo, relcheck: Invoke, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.check_script = [
        ([status("ci/build", "success")], [run_("lint", "completed", "success")])
    ]
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    repo.checklist(
        "version: 1\nsteps:\n  - id: ci\n    title: CI is green\n"
        f"    ci: {{provider: github, repo: acme/service, api_url: '{github.api_url}', wait: 5}}\n"
    )
    repo.commit("ci: gate the release on CI")
    result = relcheck("run", "--release", "1.4.0", "--non-interactive")
    commit = repo.journal()[0]["release"]["commit"]
    assert github.received[0].path == f"/api/v3/repos/acme/service/commits/{commit}/status"
    [step] = json.loads(relcheck("status", "--json").stdout)["steps"]
    assert step["status"] == "passed" and step["kind"] == "ci"
    assert step["metrics"]["checks"] == [
        {"name": "ci/build", "conclusion": "success"},
        {"name": "lint", "conclusion": "success"},
    ]
    assert step["actual"].startswith("2 checks passed on ")
    assert step["rollback"] == "none"
    assert TOKEN not in result.output
    assert TOKEN not in json.dumps(repo.journal())
    files = [path for path in (repo.path / ".relcheck").rglob("*") if path.is_file()]
    assert any(path.name == "journal.jsonl" for path in files)
    for path in files:
        assert TOKEN not in path.read_text(errors="replace"), path


def test_ci_options_are_validated(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("version: 1\nsteps:\n  - id: ci\n    ci: {provider: bitbucket, wait: soon}\n")
    result = relcheck("validate", code=2)
    assert "steps[0].ci.provider" in result.output and "github, gitlab, gitea" in result.output
    assert "steps[0].ci.wait: expected a number of seconds" in result.output
