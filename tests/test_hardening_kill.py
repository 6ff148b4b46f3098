"""Hardening: a 40-step run killed with SIGKILL at 20 random moments, resumed each time.

Each step appends its id to a file. When the run finally passes, every step did
so exactly once, except a step the journal showed started but not finished at
a kill: that one may have done it again (it was interrupted), and no other may.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from conftest import Invoke, Repo

from relcheck.journal import read_events

STEPS = [f"s{number:02d}" for number in range(40)]
KILLS = 20
SEED = 7
# Each kill aims at a step (spread over the whole run) and lands up to this long after
# the step started: while it runs, as it ends, or between it and the next.
KILL_AFTER_START_S = 0.06
# Some kills land instead while `relcheck resume` itself starts (stopping leftovers).
STARTUP_KILLS = 0.15
STARTUP_KILL_WITHIN_S = 0.3
HANG_S = 60.0


def _checklist() -> str:
    lines = ["version: 1", "steps:"]
    for step in STEPS:
        lines += [
            f"  - id: {step}",
            f"    run: echo {step} >> effects.txt; sleep 0.02",
            "    rollback: none",
        ]
    return "\n".join(lines) + "\n"


def _start(repo: Repo, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "relcheck", *args, "--non-interactive"],
            cwd=repo.path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _journal(repo: Repo) -> Path | None:
    runs = repo.runs()
    return runs[-1] / "journal.jsonl" if runs else None


def _wait_for_step(repo: Repo, proc: subprocess.Popen[bytes], since: int, target: int) -> None:
    """Wait until the journal shows a step at or after ``target`` started after byte ``since``."""
    deadline = time.monotonic() + HANG_S
    seen = since
    while proc.poll() is None:
        assert time.monotonic() < deadline, f"no step from {STEPS[target]} on started"
        journal = _journal(repo)
        size = journal.stat().st_size if journal is not None and journal.exists() else 0
        if journal is not None and size > seen:
            new = journal.read_bytes()[since:]
            seen = size
            started = [e["step"] for e in _events(new) if e["event"] == "step_started"]
            if any(STEPS.index(step) >= target for step in started):
                return
        time.sleep(0.002)


def _events(data: bytes) -> list[dict[str, Any]]:
    """The whole events in a piece of the journal (the last line may still be written)."""
    events = []
    for line in data.split(b"\n"):
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def _in_flight(journal: Path) -> set[tuple[str, int]]:
    """(step, attempt) of each step the journal shows started and not finished."""
    running: dict[str, int] = {}
    for event in read_events(journal):
        if event["event"] == "step_started":
            running[event["step"]] = event["attempt"]
        elif event["event"] == "step_finished":
            running.pop(event["step"], None)
    return set(running.items())


def test_sigkill_at_20_random_moments_then_resume_does_each_step_once(
    repo: Repo, relcheck: Invoke, tmp_path: Path
) -> None:
    repo.checklist(_checklist())
    log = tmp_path / "relcheck.log"
    rng = random.Random(SEED)
    interrupted: set[tuple[str, int]] = set()
    # The last steps are left out as targets: a kill aimed there could come after the end.
    targets = sorted(rng.randrange(len(STEPS) - 4) for _ in range(KILLS))
    proc = _start(repo, log, "run", "--release", "1.0.0")
    for kill, target in enumerate(targets):
        if kill and rng.random() < STARTUP_KILLS:
            time.sleep(rng.uniform(0, STARTUP_KILL_WITHIN_S))
        else:
            journal = _journal(repo)
            since = journal.stat().st_size if journal is not None and journal.exists() else 0
            _wait_for_step(repo, proc, since, target)
            time.sleep(rng.uniform(0, KILL_AFTER_START_S))
        assert proc.poll() is None, f"the run ended before kill {kill + 1}:\n{log.read_text()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(HANG_S)

        at_kill = _in_flight(repo.runs()[-1] / "journal.jsonl")
        interrupted |= at_kill
        status = json.loads(relcheck("status", "--json").output)
        assert status["state"] == "interrupted", f"kill {kill + 1}"
        shown = {step["id"]: step["status"] for step in status["steps"]}
        assert all(shown[step] == "interrupted" for step, _ in at_kill), shown
        proc = _start(repo, log, "resume")
    assert proc.wait(HANG_S) == 0, log.read_text()

    status = json.loads(relcheck("status", "--json").output)
    assert status["state"] == "passed"
    attempts = {step["id"]: step["attempts"] for step in status["steps"]}
    done = Counter((repo.path / "effects.txt").read_text().split())
    assert set(done) == set(STEPS)
    for step in STEPS:
        cut_short = [attempt for name, attempt in interrupted if name == step]
        assert 1 <= done[step] <= 1 + len(cut_short), f"{step}: {done[step]} times, {cut_short}"
        assert all(attempts[step] > attempt for attempt in cut_short), step
    assert interrupted, "no kill landed while a step ran"
