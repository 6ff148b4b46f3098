"""The guided run: steps, answers, the record it leaves, and resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, Repo, git

CHECKLIST = """\
version: 1
name: demo
defaults: {owner: Ada}
steps:
  - id: lint
    title: Run linting
    run: echo lint | tee -a side-effects.txt
    rollback: none
  - id: tests
    title: Run unit tests
    run: echo tests >> side-effects.txt; test -f fixed
    rollback: none
  - id: staging
    title: Verify staging config
    manual: Copy the config for {{ version }}.
    rollback: none
  - id: tag
    title: Tag
    run: git tag -a {{ tag }} -m "Release {{ version }}"
    rollback: git tag -d {{ tag }}
"""

ANSWERS = """\
owner: Grace
steps:
  staging: {answer: done, owner: Grace, note: copied prod config}
"""


def status(relcheck: Invoke, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(relcheck("status", "--json", *args).output)
    return data


def steps_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in data["steps"]}


def side_effects(repo: Repo) -> list[str]:
    return (repo.path / "side-effects.txt").read_text().split()


def test_a_passing_run_records_every_step(repo: Repo, relcheck: Invoke) -> None:
    head = git(repo.path, "rev-parse", "HEAD")
    repo.checklist(CHECKLIST)
    repo.write("fixed", "")
    repo.write("answers.yaml", ANSWERS)
    result = relcheck("run", "--release", "1.2.0", "--answers", "answers.yaml")
    assert "PASSED" in result.output
    data = status(relcheck)
    assert data["state"] == "passed"
    assert data["release"] == {"version": "1.2.0", "tag": "v1.2.0", "commit": head}
    assert data["finished_at"] is not None
    steps = steps_by_id(data)
    assert [s["status"] for s in steps.values()] == ["passed"] * 4
    assert steps["lint"]["owner"] == "Ada"
    assert steps["lint"]["expected"] == "exit code 0"
    assert steps["lint"]["actual"].startswith("exit code 0 after ")
    assert steps["staging"]["confirmed_by"] == "Grace"
    assert steps["staging"]["note"] == "copied prod config"
    assert steps["tag"]["rollback"] == "git tag -d v1.2.0"
    assert steps["tag"]["attempts"] == 1
    assert side_effects(repo) == ["lint", "tests"]
    assert git(repo.path, "tag", "--list") == "v1.2.0"
    run_folder = repo.path / ".relcheck" / "runs" / data["run_id"]
    assert "lint" in (run_folder / steps["lint"]["log"]).read_text()
    assert (repo.path / ".relcheck" / ".gitignore").read_text() == "*\n"
    assert git(repo.path, "status", "--porcelain", "--", ".relcheck") == ""


def test_failed_run_resumes_without_rerunning_what_passed(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    repo.write("answers.yaml", ANSWERS)
    result = relcheck("run", "--release", "1.2.0", "--answers", "answers.yaml", code=1)
    assert "expected exit code 0, got 1" in result.output
    first = status(relcheck)
    assert first["state"] == "failed"
    steps = steps_by_id(first)
    assert [steps[i]["status"] for i in ("lint", "tests", "staging", "tag")] == [
        "passed",
        "failed",
        "pending",
        "pending",
    ]
    assert git(repo.path, "tag", "--list") == ""

    repo.write("fixed", "")
    relcheck("resume", "--answers", "answers.yaml")
    after = status(relcheck)
    assert after["run_id"] == first["run_id"]
    assert after["state"] == "passed"
    assert side_effects(repo) == ["lint", "tests", "tests"]
    assert steps_by_id(after)["tests"]["attempts"] == 2
    assert steps_by_id(after)["lint"]["attempts"] == 1
    assert git(repo.path, "tag", "--list") == "v1.2.0"


def test_manual_step_without_an_answer_fails_and_says_how(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    repo.write("fixed", "")
    result = relcheck("run", "--release", "1.0.0", "--non-interactive", code=1)
    steps = steps_by_id(status(relcheck))
    assert steps["staging"]["status"] == "failed"
    assert "steps: {staging: {answer: done}}" in steps["staging"]["reason"]
    assert "staging" in result.output
    assert steps["tag"]["status"] == "pending"


def test_resume_refuses_a_changed_checklist_unless_forced(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "1.0.0", code=1)
    repo.checklist(CHECKLIST.replace("Run linting", "Lint"))
    result = relcheck("resume", code=2)
    assert "changed since this run began" in result.output
    assert "--force" in result.output
    repo.write("fixed", "")
    repo.write("answers.yaml", ANSWERS)
    relcheck("resume", "--force", "--answers", "answers.yaml")
    assert status(relcheck)["state"] == "passed"


def test_only_and_skip_leave_steps_out_and_the_run_is_partial(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "1.0.0", "--only", "lint")
    data = status(relcheck)
    assert data["state"] == "partial"
    steps = steps_by_id(data)
    assert steps["lint"]["status"] == "passed"
    assert steps["tests"]["status"] == "skipped"
    assert steps["tests"]["reason"] == "left out by --only"
    relcheck("run", "--release", "1.0.0", "--skip", "tests,staging,tag")
    assert steps_by_id(status(relcheck))["staging"]["reason"] == "left out by --skip"


def test_unknown_only_id_is_bad_input(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    result = relcheck("run", "--release", "1.0.0", "--only", "lnt", code=2)
    assert "no step with id 'lnt'; did you mean 'lint'?" in result.output
    assert repo.runs() == []


def test_when_false_skips_with_reason_and_optional_failure_does_not_fail(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: flaky
    run: exit 3
    required: false
    rollback: none
  - id: prod-only
    run: echo never
    when: "env.get('DEPLOY_ENV') == 'prod'"
    rollback: none
  - id: last
    run: echo done
    rollback: none
""")
    relcheck("run", "--release", "1.0.0", "--non-interactive")
    data = status(relcheck)
    steps = steps_by_id(data)
    assert data["state"] == "passed"
    assert steps["flaky"]["status"] == "failed"
    assert steps["prod-only"]["status"] == "skipped"
    assert steps["prod-only"]["reason"] == "when: env.get('DEPLOY_ENV') == 'prod' is false"
    assert steps["last"]["status"] == "passed"


def test_expect_output_checks(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: health
    run: echo "status 503"
    expect: {output_contains: "status 200"}
    rollback: none
""")
    relcheck("run", "--release", "1.0.0", code=1)
    step = steps_by_id(status(relcheck))["health"]
    assert step["expected"] == "exit code 0, output contains 'status 200'"
    assert step["reason"] == "expected the output to contain 'status 200'; it did not"


def test_without_release_the_version_is_suggested_and_recorded(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist(CHECKLIST)
    repo.write("fixed", "")
    repo.write("answers.yaml", ANSWERS)
    repo.commit("chore: add the checklist")
    git(repo.path, "tag", "-a", "v1.2.0", "-m", "Release 1.2.0")
    repo.write("feature.txt", "new")
    repo.commit("feat(api): add the feature")
    repo.commit("fix: a bug")
    result = relcheck("run", "--answers", "answers.yaml")
    assert (
        "Release version not given: suggesting 1.3.0 (2 commits since v1.2.0; new features)"
        in result.output
    )
    data = status(relcheck)
    assert data["release"]["version"] == "1.3.0" and data["release"]["tag"] == "v1.3.0"
    started = repo.journal()[0]
    assert started["release"]["suggested"] == "2 commits since v1.2.0; new features"


def test_release_version_is_checked(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    result = relcheck("run", "--release", "1.0; rm -rf /", code=2)
    assert "release version '1.0; rm -rf /' is not valid" in result.output
    assert repo.runs() == []


def test_missing_owner_and_rollback_without_terminal(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: build
    run: "true"
""")
    relcheck("run", "--release", "1.0.0")
    step = steps_by_id(status(relcheck))["build"]
    assert step["owner"] == "Test Captain"
    assert step["rollback"] is None
    repo.write("answers.yaml", "owner: Ada\nsteps: {build: {rollback: make undo}}\n")
    relcheck("run", "--release", "1.0.0", "--answers", "answers.yaml")
    step = steps_by_id(status(relcheck))["build"]
    assert (step["owner"], step["rollback"]) == ("Ada", "make undo")


def test_history_lists_runs_newest_first(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "1.0.0", code=1)
    repo.write("fixed", "")
    relcheck("run", "--release", "1.0.1", "--only", "lint")
    rows = json.loads(relcheck("history", "--json").output)
    assert [(r["version"], r["state"]) for r in rows] == [("1.0.1", "partial"), ("1.0.0", "failed")]
    assert set(rows[0]) == {"run_id", "state", "version", "started_at", "finished_at"}


def test_dry_run_writes_nothing_and_shows_commands(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    result = relcheck("run", "--dry-run")
    assert 'git tag -a v<release> -m "Release <release>"' in result.output
    assert "prompts: done / failed / skip" in result.output
    assert not (repo.path / "side-effects.txt").exists()
    assert repo.runs() == []


def test_plan_json(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    data = json.loads(relcheck("plan", "--release", "2.0.0", "--json").output)
    tag = data["steps"][3]
    assert tag["command"] == 'git tag -a v2.0.0 -m "Release 2.0.0"'
    assert tag["rollback"] == "git tag -d v2.0.0"
    assert tag["owner"] == "Ada"
    assert data["steps"][2]["kind"] == "manual"


def test_undefined_template_name_is_reported_with_location(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: deploy
    run: deploy {{ vars.target }}
""")
    result = relcheck("run", "--release", "1.0.0", code=2)
    assert "relcheck.yaml:3:5: steps[0].run: template error:" in result.output
    assert "'dict object' has no attribute 'target'" in result.output
    assert repo.runs() == []


def test_status_without_runs_is_bad_input(repo: Repo, relcheck: Invoke) -> None:
    assert "no run record" in relcheck("status", code=2).output


def test_answers_file_errors_point_at_the_line(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    repo.write("answers.yaml", "steps:\n  staging: {answer: yes please}\n")
    result = relcheck("run", "--release", "1.0.0", "--answers", "answers.yaml", code=2)
    assert "answers.yaml:2:12: steps.staging.answer: expected one of done, failed, skip" in (
        result.output
    )


def test_a_run_outside_git_keeps_its_record_in_the_folder(
    tmp_path: Path, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.chdir(folder)
    (folder / "relcheck.yaml").write_text(
        "version: 1\nsteps:\n  - id: build\n    run: echo built\n    rollback: none\n"
    )
    relcheck("run", "--release", "1.0.0", "--non-interactive")
    data = status(relcheck)
    assert data["state"] == "passed"
    assert data["release"]["commit"] is None
    assert (folder / ".relcheck" / "runs" / data["run_id"] / "journal.jsonl").is_file()


def test_an_answer_for_an_unknown_step_is_refused(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    repo.write("answers.yaml", "steps:\n  stagin: {answer: done}\n")
    result = relcheck("run", "--release", "1.0.0", "--answers", "answers.yaml", code=2)
    assert "steps.stagin: no step has this id; did you mean 'staging'?" in result.output
    assert repo.runs() == []


def test_only_and_skip_must_name_steps_and_not_the_same_ones(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    assert "expected one or more step ids" in relcheck("run", "--only", ",", code=2).output
    result = relcheck("run", "--release", "1.0.0", "--only", "lint", "--skip", "lint", code=2)
    assert "--only and --skip both name lint" in result.output
    assert repo.runs() == []


def test_resume_refuses_when_head_moved_unless_forced(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    repo.write("answers.yaml", ANSWERS)
    repo.commit("add checklist")
    first = git(repo.path, "rev-parse", "HEAD")
    relcheck("run", "--release", "1.0.0", "--answers", "answers.yaml", code=1)
    repo.write("fixed", "")
    moved = repo.commit("fix the tests")
    result = relcheck("resume", "--answers", "answers.yaml", code=2)
    assert f"HEAD is now {moved[:12]}" in result.output
    assert f"began on {first[:12]}" in result.output
    relcheck("resume", "--answers", "answers.yaml", "--force")
    assert status(relcheck)["release"]["commit"] == first


def test_resume_force_takes_in_a_step_added_to_the_checklist(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    repo.write("answers.yaml", ANSWERS)
    relcheck("run", "--release", "1.0.0", "--answers", "answers.yaml", code=1)
    repo.checklist(
        CHECKLIST.replace(
            "  - id: tag\n",
            "  - id: docs\n    run: echo docs >> side-effects.txt\n    rollback: none\n"
            "  - id: tag\n",
        )
    )
    repo.write("fixed", "")
    relcheck("resume", "--answers", "answers.yaml", "--force")
    data = status(relcheck)
    assert data["state"] == "passed"
    assert [s["id"] for s in data["steps"]] == ["lint", "tests", "staging", "docs", "tag"]
    assert side_effects(repo) == ["lint", "tests", "tests", "docs"]


def test_a_command_reports_metrics_in_its_output(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: bench
    run: |
      echo "relcheck-metric: build_time=12.5 s"
      echo "relcheck-metric: bundle_size = 2048 KiB"
      echo "relcheck-metric: not a metric"
    rollback: none
""")
    relcheck("run", "--release", "1.0.0")
    metrics = steps_by_id(status(relcheck))["bench"]["metrics"]
    assert metrics == {
        "build_time": {"value": 12.5, "unit": "s"},
        "bundle_size": {"value": 2048.0, "unit": "KiB"},
    }


def test_expected_words_come_from_the_rendered_options(repo: Repo, relcheck: Invoke) -> None:
    repo.write("deploy/staging.env", "DEBUG=false\n")
    repo.checklist("""\
version: 1
vars: {config: deploy/staging.env}
steps:
  - id: staging
    config: {file: "{{ vars.config }}", equals: {DEBUG: false}}
""")
    data = json.loads(relcheck("plan", "--json").output)
    assert "{{" not in data["steps"][0]["expected"]
    assert data["steps"][0]["expected"].startswith("deploy/staging.env")


def test_a_tag_template_git_would_refuse_is_bad_input(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist('version: 1\ntag: "v {{ version }}"\nsteps:\n  - id: a\n    run: "true"\n')
    result = relcheck("run", "--release", "1.0.0", code=2)
    assert "tag: the tag template gives 'v 1.0.0', which git refuses as a tag name" in (
        result.output
    )
    assert repo.runs() == []


def test_the_suggestion_never_falls_at_or_below_an_existing_release(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist('version: 1\nsteps:\n  - id: a\n    run: "true"\n    rollback: none\n')
    repo.commit("chore: start")
    git(repo.path, "tag", "-a", "v0.9.0", "-m", "0.9.0")
    repo.commit("fix: one")
    git(repo.path, "tag", "-a", "v1.0.0", "-m", "1.0.0")
    result = relcheck("run")
    assert "suggesting 1.0.1" in result.output
    assert "placed after v1.0.0, the highest release tag" in result.output
