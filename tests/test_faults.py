"""Faults as users meet them: kill -9, Ctrl-C, timeouts, two runs at once, secrets."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from conftest import Invoke, Repo, alive, relcheck_process


def wait_for(path: Path, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} did not appear within {seconds} s"
        time.sleep(0.05)


def wait_dead(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


SLOW = """\
version: 1
steps:
  - id: first
    run: echo first >> effects.txt
    rollback: none
  - id: slow
    run: >-
      echo slow >> effects.txt;
      if [ ! -f go ]; then sleep 60 & echo $! > sleeper.pid; wait; fi
    rollback: none
  - id: last
    run: echo last >> effects.txt
    rollback: none
"""


def status(relcheck: Invoke) -> dict[str, object]:
    data: dict[str, object] = json.loads(relcheck("status", "--json").output)
    return data


def step_status(data: dict[str, object]) -> dict[str, str]:
    return {s["id"]: s["status"] for s in data["steps"]}  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _cleanup_sleepers(repo: Repo):  # type: ignore[no-untyped-def]
    yield
    pid_file = repo.path / "sleeper.pid"
    if pid_file.exists() and pid_file.read_text().strip():
        pid = int(pid_file.read_text())
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_kill_9_mid_step_then_resume_finishes(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(SLOW)
    proc = relcheck_process(repo.path, "run", "--release", "1.0.0", "--non-interactive")
    wait_for(repo.path / "sleeper.pid")
    sleeper = int((repo.path / "sleeper.pid").read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    data = status(relcheck)
    assert data["state"] == "interrupted"
    assert step_status(data) == {"first": "passed", "slow": "interrupted", "last": "pending"}
    assert alive(sleeper), "the step's own process group outlives a kill -9 of relcheck"

    (repo.path / "go").write_text("")
    result = relcheck("resume")
    assert "Stopped processes left behind by step slow" in result.output
    assert wait_dead(sleeper)
    data = status(relcheck)
    assert data["state"] == "passed"
    assert (repo.path / "effects.txt").read_text().split() == ["first", "slow", "slow", "last"]


def test_ctrl_c_saves_the_step_and_leaves_no_child(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(SLOW)
    proc = relcheck_process(repo.path, "run", "--release", "1.0.0", "--non-interactive")
    wait_for(repo.path / "sleeper.pid")
    sleeper = int((repo.path / "sleeper.pid").read_text())
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 130, output
    assert "relcheck resume" in output
    assert wait_dead(sleeper, 5.0)
    data = status(relcheck)
    assert data["state"] == "interrupted"
    assert step_status(data)["slow"] == "interrupted"

    (repo.path / "go").write_text("")
    relcheck("resume")
    assert status(relcheck)["state"] == "passed"


def test_timeout_kills_every_grandchild(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: hangs
    run: sh -c 'sleep 60 & echo $! > sleeper.pid; sleep 60'
    timeout: 1
    rollback: none
""")
    relcheck("run", "--release", "1.0.0", code=1)
    sleeper = int((repo.path / "sleeper.pid").read_text())
    assert wait_dead(sleeper, 5.0)
    step = status(relcheck)["steps"][0]  # type: ignore[index]
    assert step["status"] == "failed"
    assert step["reason"].startswith("timed out after 1 s")


def test_a_second_run_is_refused_while_one_is_going(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(SLOW)
    proc = relcheck_process(repo.path, "run", "--release", "1.0.0", "--non-interactive")
    try:
        wait_for(repo.path / "sleeper.pid")
        result = relcheck("run", "--release", "1.0.1", code=2)
        assert f"pid {proc.pid}" in result.output
        assert "in progress" in result.output
        assert len(repo.runs()) == 1
        assert relcheck("resume", code=2).output.count("in progress") == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


def test_a_stale_lock_from_a_dead_process_is_taken_over(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(SLOW)
    proc = relcheck_process(repo.path, "run", "--release", "1.0.0", "--non-interactive")
    wait_for(repo.path / "sleeper.pid")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    (repo.path / "go").write_text("")
    relcheck("run", "--release", "1.0.1", "--non-interactive")
    assert len(repo.runs()) == 2


def test_secrets_never_reach_the_record_or_the_output(
    repo: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGING_TOKEN", "tok-4f9a1c77")
    monkeypatch.setenv("DB_DSN", "postgres://app:hunter2-xyz@db/app")
    repo.checklist("""\
version: 1
secrets: [DB_DSN]
steps:
  - id: leak
    run: echo "token=$STAGING_TOKEN dsn=$DB_DSN"; echo "arg {{ env.STAGING_TOKEN }}"; exit 1
    rollback: echo {{ env.DB_DSN }}
""")
    result = relcheck("run", "--release", "1.0.0", code=1)
    for secret in ("tok-4f9a1c77", "hunter2-xyz"):
        assert secret not in result.output
        for path in (repo.path / ".relcheck").rglob("*"):
            if path.is_file():
                assert secret not in path.read_text(errors="replace"), path
    assert "token=*** dsn=***" in result.output
    step = status(relcheck)["steps"][0]  # type: ignore[index]
    assert step["command"].endswith('echo "arg ***"; exit 1')
    assert step["rollback"] == "echo ***"


def test_torn_last_journal_line_is_ignored_and_resume_finishes(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist(SLOW)
    (repo.path / "go").write_text("")
    relcheck("run", "--release", "1.0.0", "--only", "first")
    journal = repo.runs()[-1] / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    # Cut the record just after "first" finished, mid-way through the next line.
    journal.write_bytes(b"".join(lines[:-1]) + lines[-1][:10])
    data = status(relcheck)
    assert data["state"] == "interrupted"
    relcheck("resume")
    data = status(relcheck)
    assert data["state"] == "partial"
    json.loads(journal.read_text().splitlines()[-1])


def test_sigterm_stops_the_step_group_and_saves_the_run(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(SLOW)
    proc = relcheck_process(repo.path, "run", "--release", "1.0.0", "--non-interactive")
    wait_for(repo.path / "sleeper.pid")
    sleeper = int((repo.path / "sleeper.pid").read_text())
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 130, output
    assert wait_dead(sleeper, 5.0)
    assert step_status(status(relcheck))["slow"] == "interrupted"


def test_a_shell_that_cannot_start_fails_the_step(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
defaults: {shell: /nonexistent/sh}
steps:
  - id: build
    run: make
    rollback: none
""")
    result = relcheck("run", "--release", "1.0.0", code=1)
    assert "Traceback" not in result.output
    step = status(relcheck)["steps"][0]  # type: ignore[index]
    assert step["status"] == "failed"
    assert step["actual"] == "not started"
    assert "/nonexistent/sh" in step["reason"]


def test_secret_looking_step_env_is_masked(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: deploy
    run: echo "using $API_TOKEN"
    env: {API_TOKEN: literal-secret-99}
    rollback: none
""")
    result = relcheck("run", "--release", "1.0.0")
    assert "using ***" in result.output
    assert "literal-secret-99" not in result.output
    log = repo.runs()[-1] / "logs" / "deploy.log"
    assert "literal-secret-99" not in log.read_text()


def test_output_checks_see_the_end_of_a_huge_output(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
steps:
  - id: big
    run: >-
      python3 -c "import sys; [sys.stdout.write('y' * 1023 + chr(10)) for _ in range(17 * 1024)];
      print('MARKER')"
    expect: {output_contains: MARKER}
    rollback: none
""")
    relcheck("run", "--release", "1.0.0")
    assert status(relcheck)["state"] == "passed"


def test_history_survives_a_run_killed_before_its_first_event(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(SLOW)
    (repo.path / "go").write_text("")
    relcheck("run", "--release", "1.0.0")
    broken = repo.path / ".relcheck" / "runs" / "20990101T000000.000Z-dead"
    (broken / "logs").mkdir(parents=True)
    (broken / "journal.jsonl").write_text('{"event": "run_sta')
    rows = json.loads(relcheck("history", "--json").output)
    assert rows[0]["state"] == "unreadable"
    assert rows[1]["state"] == "passed"
    assert status(relcheck)["state"] == "passed"


def test_a_state_folder_that_is_a_file_is_bad_input(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(SLOW)
    (repo.path / ".relcheck").write_text("not a folder")
    result = relcheck("run", "--release", "1.0.0", code=2)
    assert "cannot use" in result.output and ".relcheck" in result.output
    assert "Traceback" not in result.output
