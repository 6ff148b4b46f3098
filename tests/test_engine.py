"""The walk's order on long checklists: what waits, what starts side by side."""

from __future__ import annotations

import json

from conftest import Invoke, Repo


def test_a_step_with_its_own_needs_starts_past_steps_that_wait(
    repo: Repo, relcheck: Invoke
) -> None:
    # `slow` passes only if `late` starts while it runs, although `middle` and
    # `other` (which wait for every step before them) sit between the two.
    repo.checklist("""\
version: 1
steps:
  - id: slow
    run: i=0; while [ ! -f late-started ]; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.05; done
    needs: []
    rollback: none
  - id: middle
    run: "true"
    rollback: none
  - id: other
    run: "true"
    rollback: none
  - id: late
    run: touch late-started
    needs: []
    rollback: none
""")
    relcheck("run", "--release", "1.0.0", "--jobs", "2", "--non-interactive")
    record = json.loads(relcheck("status", "--json").output)
    assert {step["id"]: step["status"] for step in record["steps"]} == {
        "slow": "passed",
        "middle": "passed",
        "other": "passed",
        "late": "passed",
    }
    started = [e["step"] for e in repo.journal() if e["event"] == "step_started"]
    assert started.index("late") < started.index("middle")


def test_a_long_checklist_runs_every_step_once_in_order(repo: Repo, relcheck: Invoke) -> None:
    steps = "".join(
        f"  - id: s{i}\n    run: echo s{i} >> order.txt\n    rollback: none\n" for i in range(60)
    )
    repo.checklist(f"version: 1\nsteps:\n{steps}")
    relcheck("run", "--release", "1.0.0", "--non-interactive")
    assert (repo.path / "order.txt").read_text().split() == [f"s{i}" for i in range(60)]
