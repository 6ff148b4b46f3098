"""`resume` after a kill -9: it stops the group the dead run's step left, and only that group.

Pids are reused, so the record names the group's leader by its start time and boot
as well as by its id: a group that merely has the same id is someone else's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, Repo, alive

HANG_S = 20.0
Started = subprocess.Popen[Any]

ONE_STEP = """\
version: 1
steps:
  - id: deploy
    run: test -f go
    rollback: none
"""


def start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


@pytest.fixture
def groups() -> Iterator[list[Started]]:
    """Process groups a test starts; killed afterwards whatever happened."""
    started: list[Started] = []
    yield started
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def killed_mid_step(repo: Repo, relcheck: Invoke, **process: object) -> None:
    """Leave the journal as a kill -9 does while `deploy` runs, its group recorded as
    ``process`` says; `go` lets the step pass when it runs again."""
    repo.checklist(ONE_STEP)
    relcheck("run", "--release", "1.0.0", "--non-interactive", code=1)
    events = repo.journal()
    cut = next(i for i, e in enumerate(events) if e["event"] == "step_process")
    kept = {k: v for k, v in events[cut].items() if k not in ("pgid", "leader_start", "boot_id")}
    events = [*events[:cut], {**kept, **process}]
    journal = repo.runs()[-1] / "journal.jsonl"
    journal.write_text("".join(json.dumps(event) + "\n" for event in events))
    (repo.path / "go").write_text("")


@pytest.mark.parametrize("other", ["started later", "another boot"])
def test_resume_leaves_a_group_that_now_has_the_recorded_id_alone(
    repo: Repo, relcheck: Invoke, groups: list[Started], other: str
) -> None:
    groups.append(subprocess.Popen(["sleep", "60"], start_new_session=True))
    stranger = groups[-1].pid
    started, boot = start_time(stranger), boot_id()
    if other == "started later":
        started -= 1  # the recorded leader started before the process now holding its pid
    else:
        boot = "00000000-0000-0000-0000-000000000000"
    killed_mid_step(repo, relcheck, pgid=stranger, leader_start=started, boot_id=boot)

    result = relcheck("resume")

    assert f"Left process group {stranger} alone" in result.output
    assert "Stopped processes" not in result.output
    assert alive(stranger)
    assert json.loads(relcheck("status", "--json").output)["state"] == "passed"


def test_resume_stops_a_group_whose_leader_ended_but_members_remain(
    repo: Repo, relcheck: Invoke, groups: list[Started]
) -> None:
    groups.append(
        subprocess.Popen(
            ["sh", "-c", "sleep 60 & echo $!"],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    )
    leader = groups[-1]
    started = start_time(leader.pid)  # not reaped yet: its /proc entry is still there
    assert leader.stdout is not None
    member = int(leader.stdout.readline())
    leader.wait(timeout=HANG_S)
    killed_mid_step(repo, relcheck, pgid=leader.pid, leader_start=started, boot_id=boot_id())

    result = relcheck("resume")

    assert f"Stopped processes left behind by step deploy (group {leader.pid})" in result.output
    deadline = time.monotonic() + HANG_S
    while alive(member):
        assert time.monotonic() < deadline, "the group's remaining member was not stopped"
        time.sleep(0.02)


def test_resume_stops_a_group_recorded_without_its_leader(
    repo: Repo, relcheck: Invoke, groups: list[Started]
) -> None:
    # A record from an older relcheck, or from a system without /proc: as before.
    groups.append(subprocess.Popen(["sleep", "60"], start_new_session=True))
    group = groups[-1]
    killed_mid_step(repo, relcheck, pgid=group.pid)

    result = relcheck("resume")

    assert f"Stopped processes left behind by step deploy (group {group.pid})" in result.output
    assert group.wait(timeout=HANG_S) == -signal.SIGTERM
