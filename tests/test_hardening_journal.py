"""Hardening: the journal of a real run, cut off at every byte, still loads and resumes.

A crash or a full disk can end the journal anywhere. Whatever is left, the
record reads back (a run whose first line never got written says so plainly),
and `relcheck resume` finishes the run, running again exactly the steps the
record does not show as passed.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from conftest import Invoke, Repo

from relcheck.errors import RecordError
from relcheck.journal import Journal, read_events, replay
from relcheck.secrets import Masker

CHECKLIST = """\
version: 1
steps:
  - id: build
    run: echo build >> effects.txt
    rollback: none
  - id: test
    run: echo test >> effects.txt; echo "tests passed"
    expect: {output_contains: passed}
    rollback: none
  - id: package
    run: echo package >> effects.txt
    rollback: none
"""
STEPS = ["build", "test", "package"]
# Besides every line boundary and the bytes either side of it, resume at every Nth cut.
EVERY = 211


def _cut(journal: Path, full: bytes, at: int) -> None:
    journal.write_bytes(full[:at])


def _line_ends(full: bytes) -> list[int]:
    return [index + 1 for index, byte in enumerate(full) if byte == ord("\n")]


@pytest.fixture
def finished_run(repo: Repo, relcheck: Invoke) -> tuple[Path, bytes]:
    """A passed run of three steps: its folder and its whole journal."""
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "1.0.0", "--non-interactive")
    (repo.path / "effects.txt").unlink()
    run = repo.runs()[-1]
    return run, (run / "journal.jsonl").read_bytes()


def test_a_journal_cut_at_any_byte_loads(finished_run: tuple[Path, bytes]) -> None:
    run, full = finished_run
    journal = run / "journal.jsonl"
    first_line = full.index(b"\n")
    passed_before: set[str] = set()
    for at in range(len(full) + 1):
        _cut(journal, full, at)
        if at < first_line:  # not even the start of the run is whole
            with pytest.raises(RecordError, match="does not start with a run"):
                replay(run, live=False)
            continue
        record = replay(run, live=False)
        statuses = {step.id: step.status for step in record.ordered_steps()}
        assert list(statuses) == STEPS
        assert set(statuses.values()) <= {"pending", "interrupted", "passed"}, (at, statuses)
        passed = {step for step, status in statuses.items() if status == "passed"}
        assert passed >= passed_before, f"a longer record lost a passed step at byte {at}"
        passed_before = passed
        assert record.state in ("interrupted", "passed"), (at, record.state)
        assert (record.state == "passed") == (at >= len(full) - 1), at
    assert passed_before == set(STEPS)


def _event(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _resume_points(full: bytes) -> list[int]:
    points = {0, len(full)} | set(range(0, len(full), EVERY))
    for end in _line_ends(full):
        points |= {end - 1, end, end + 1}
    return sorted(at for at in points if 0 <= at <= len(full))


def test_resume_finishes_a_run_cut_anywhere(
    finished_run: tuple[Path, bytes], repo: Repo, relcheck: Invoke
) -> None:
    run, full = finished_run
    journal = run / "journal.jsonl"
    effects = repo.path / "effects.txt"
    first_line = full.index(b"\n")
    for at in _resume_points(full):
        _cut(journal, full, at)
        effects.write_text("")
        if at < first_line:
            result = relcheck("resume", "--non-interactive", code=2)
            assert "does not start with a run" in result.output
            assert "Traceback" not in result.output
            continue
        before = replay(run, live=False)
        todo = [step.id for step in before.ordered_steps() if step.status != "passed"]
        status = json.loads(relcheck("status", "--json").output)
        assert status["state"] == before.state

        relcheck("resume", "--non-interactive")

        assert effects.read_text().split() == todo, f"cut at byte {at} of {len(full)}"
        after = replay(run, live=False)
        assert after.state == "passed", at
        assert all(step.status == "passed" for step in after.ordered_steps()), at
        # Every line is whole, but for the fragment the cut left, which resume wrote after.
        fragment = full[full.rfind(b"\n", 0, at) + 1 : at]
        unreadable = [line for line in journal.read_bytes().splitlines() if not _event(line)]
        assert unreadable in ([], [fragment]), at


def test_threads_writing_and_syncing_at_once_lose_no_line(tmp_path: Path) -> None:
    # Step threads write and sync while the main thread does too (a sync lets writing go
    # on): every line arrives whole, once, numbered in order, and nobody waits forever.
    journal = Journal.create(tmp_path / "runs", "run-1", Masker(()))
    writers, lines = 8, 40

    def write(worker: int) -> None:
        for index in range(lines):
            event = {"event": "step_output", "step": f"s{worker}", "index": index}
            journal.append(event, durable=index % 3 == 0)
            if index % 5 == 0:
                journal.sync()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a writer never returned"
    journal.close()
    events = read_events(journal.path)
    assert sorted((e["step"], e["index"]) for e in events) == sorted(
        (f"s{worker}", index) for worker in range(writers) for index in range(lines)
    )
    assert [e["seq"] for e in events] == list(range(1, writers * lines + 1))
