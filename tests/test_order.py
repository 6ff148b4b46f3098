"""Order of a run: needs, steps side by side, keep-going, retries, blocked steps."""

from __future__ import annotations

import json
import sys
from typing import Any

from conftest import Invoke, Repo


def status(relcheck: Invoke) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(relcheck("status", "--json").output)
    return data


def steps(relcheck: Invoke) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in status(relcheck)["steps"]}


NEEDS = """\
version: 1
steps:
  - id: build
    run: echo build >> order.txt
    rollback: none
  - id: unit
    run: echo unit >> order.txt; test -f unit-ok
    needs: [build]
    rollback: none
  - id: lint
    run: echo lint >> order.txt
    needs: [build]
    rollback: none
  - id: package
    run: echo package >> order.txt
    needs: [unit]
    rollback: none
  - id: docs
    run: echo docs >> order.txt
    needs: [lint]
    rollback: none
"""


def test_without_keep_going_a_failure_starts_nothing_new(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(NEEDS)
    relcheck("run", "--release", "1.0.0", code=1)
    found = steps(relcheck)
    assert found["unit"]["status"] == "failed"
    assert found["package"]["status"] == "pending"
    assert found["docs"]["status"] == "pending"
    assert (repo.path / "order.txt").read_text().split() == ["build", "unit"]


def test_keep_going_runs_what_is_not_blocked_and_records_the_blocked(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist(NEEDS)
    result = relcheck("run", "--release", "1.0.0", "--keep-going", code=1)
    found = steps(relcheck)
    assert found["lint"]["status"] == "passed"
    assert found["docs"]["status"] == "passed"
    assert found["package"]["status"] == "skipped"
    assert found["package"]["blocked"] is True
    assert found["package"]["reason"] == "blocked: needs 'unit', which ended failed"
    assert status(relcheck)["state"] == "failed"
    assert "blocked: needs 'unit'" in result.output

    (repo.path / "unit-ok").write_text("")
    relcheck("resume")
    found = steps(relcheck)
    assert found["package"]["status"] == "passed"
    assert found["package"]["blocked"] is False
    assert status(relcheck)["state"] == "passed"
    assert (repo.path / "order.txt").read_text().split().count("lint") == 1


def test_retries_record_every_attempt_and_mark_flaky(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: flaky
    run: echo try >> tries.txt; test "$(wc -l < tries.txt)" -ge 2
    retries: 3
    retry_delay: 0.05
    rollback: none
""")
    result = relcheck("run", "--release", "1.0.0")
    assert "flaky: passed on attempt 2" in result.output
    step = steps(relcheck)["flaky"]
    assert (step["status"], step["attempts"], step["flaky"]) == ("passed", 2, True)
    assert (repo.path / "tries.txt").read_text().split() == ["try", "try"]
    journal = repo.journal()
    finished = [e["status"] for e in journal if e["event"] == "step_finished"]
    assert finished == ["failed", "passed"]
    log = (repo.runs()[-1] / "logs" / "flaky.log").read_text()
    assert "--- attempt 1" in log and "--- attempt 2" in log


def test_a_step_waiting_to_retry_holds_back_what_needs_it(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(f"""\
version: 1
steps:
  - id: flaky
    run: test -f tried || {{ touch tried; exit 1; }}
    retries: 1
    retry_delay: 1
    needs: []
    rollback: none
  - id: quick
    run: sleep 0.3; {sys.executable} -m relcheck status --json > seen.json
    needs: []
    rollback: none
  - id: after
    run: "true"
    rollback: none
""")
    relcheck("run", "--release", "1.0.0", "--jobs", "2")
    seen = json.loads((repo.path / "seen.json").read_text())["steps"]  # during the retry wait
    assert seen[0]["status"] == "running"
    found = steps(relcheck)
    assert found["after"]["status"] == "passed"
    assert (found["flaky"]["attempts"], found["flaky"]["flaky"]) == (2, True)
    assert status(relcheck)["state"] == "passed"


def test_retries_give_up_after_the_last_attempt(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: broken
    run: echo try >> tries.txt; exit 1
    retries: 2
    retry_delay: 0.01
    rollback: none
""")
    relcheck("run", "--release", "1.0.0", code=1)
    step = steps(relcheck)["broken"]
    assert (step["status"], step["attempts"], step["flaky"]) == ("failed", 3, False)


def test_steps_run_side_by_side_with_jobs(repo: Repo, relcheck: Invoke) -> None:
    # Each step waits until both have started: only possible side by side.
    wait = (
        "touch started-$0; i=0; while [ ! -f started-a ] || [ ! -f started-b ]; do "
        "i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.05; done"
    )
    repo.checklist(f"""\
version: 1
steps:
  - id: a
    run: sh -c '{wait}' a
    needs: []
    rollback: none
  - id: b
    run: sh -c '{wait}' b
    needs: []
    rollback: none
  - id: after
    run: "true"
    rollback: none
""")
    relcheck("run", "--release", "1.0.0", "--jobs", "2")
    assert {s["status"] for s in steps(relcheck).values()} == {"passed"}


def test_the_tag_waits_for_every_required_step_whatever_its_needs(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: tests
    run: exit 1
    needs: []
    rollback: none
  - id: optional
    run: exit 1
    required: false
    rollback: none
  - id: prod-only
    run: "true"
    when: false
    rollback: none
  - id: release
    tag: {}
    needs: []
""")
    relcheck("run", "--release", "1.0.0", "--keep-going", code=1)
    tag = steps(relcheck)["release"]
    assert tag["status"] == "skipped"
    assert tag["reason"] == "blocked: needs 'tests', which ended failed"


def test_the_tag_is_blocked_by_a_required_step_left_out(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: tests
    run: "true"
    rollback: none
  - id: release
    tag: {}
""")
    relcheck("run", "--release", "1.0.0", "--skip", "tests", code=1)
    tag = steps(relcheck)["release"]
    assert tag["reason"] == (
        "blocked: the tag waits for every required step before it to pass, and 'tests' was "
        "left out by --skip"
    )
    assert status(relcheck)["state"] == "failed"


def test_dry_run_shows_parallel_groups_prompts_and_the_tag(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(
        NEEDS
        + """\
  - id: staging
    manual: check staging
  - id: release
    tag: {push: origin}
"""
    )
    result = relcheck("run", "--dry-run", "--release", "2.0.0", "--jobs", "4")
    out = result.output
    assert "Order (with --jobs 4, up to 4 side by side):" in out
    assert "  2. unit | lint" in out
    assert "  3. package | docs" in out
    assert "prompts: done / failed / skip" in out
    assert "rollback: not given: asked at a terminal" in out
    assert "Release 2.0.0: tag v2.0.0" in out
    assert repo.runs() == []


def test_dry_run_says_the_tag_will_be_blocked_by_a_left_out_step(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: lint
    run: "true"
    rollback: none
  - id: unit
    run: "true"
    needs: []
    rollback: none
  - id: release
    tag: {}
""")
    out = relcheck("run", "--dry-run", "--skip", "lint").output
    assert "will be blocked: it waits for every required step before it, and lint is left out" in (
        out
    )
    assert "lint |" not in out and "| lint" not in out
    assert "Order: one step at a time, in file order." in out


def test_retries_are_bounded_and_only_for_automated_steps(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: flaky
    run: "true"
    retries: 50
    retry_delay: 10000000000
    rollback: none
  - id: person
    manual: check it
    retries: 2
    rollback: none
""")
    out = relcheck("validate", code=2).output
    assert "steps[0].retries: expected a whole number of retries (0 or more) of at most 20" in out
    assert "steps[0].retry_delay: expected a number of seconds of at most 3600" in out
    assert "steps[1].retries: a manual step is answered by a person and is not retried" in out
