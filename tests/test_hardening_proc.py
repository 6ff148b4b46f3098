"""Hardening: steps that fight back. What tests/test_proc.py and tests/test_faults.py leave out.

Already covered there: a TERM-ignoring command killed after the grace period on
timeout (test_proc), a second Ctrl-C killing at once (test_proc), timeouts and
Ctrl-C stopping grandchildren of a run (test_faults), and escaped or leftover
grandchildren holding the pipe of a single command (test_proc). Added here: a
TERM-ignoring command stopped by a cancel (how a run stops its steps) and by one
Ctrl-C to a real `relcheck run`, and whole runs whose steps leave something
holding the output pipe.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from conftest import Invoke, Repo, alive, read_pid, relcheck_process

from relcheck.proc import ProcResult, run_command

# Generous bounds: they turn a hang into a failure and measure nothing. Each command
# below would run 100 s if nothing stopped it.
HANG_S = 30.0
IGNORES_TERM = "trap '' TERM; sleep 100 & echo $! > {pidfile}; wait"


def test_a_cancelled_command_that_ignores_term_is_killed_after_grace(
    tmp_path: Path, kill_later: list[int]
) -> None:
    cancel = threading.Event()
    results: list[ProcResult] = []
    command = IGNORES_TERM.format(pidfile="pidfile")
    worker = threading.Thread(
        target=lambda: results.append(
            run_command(
                command,
                cwd=tmp_path,
                env=dict(os.environ),
                timeout=HANG_S * 2,
                on_output=lambda data: None,
                cancel=cancel,
                grace_s=0.3,
            )
        )
    )
    worker.start()
    grandchild = read_pid(tmp_path / "pidfile")
    kill_later.append(grandchild)
    cancel.set()
    worker.join(HANG_S)

    assert not worker.is_alive(), "a command that ignores SIGTERM was never killed"
    [result] = results
    assert result.interrupted and not result.timed_out
    assert result.stopped_with == signal.SIGKILL
    assert result.signal == signal.SIGKILL
    assert not alive(grandchild)


SLOW_AND_STUBBORN = """\
version: 1
steps:
  - id: stubborn
    run: "trap '' TERM; sleep 100 & echo $! > sleeper.pid; wait"
    rollback: none
  - id: after
    run: echo after >> effects.txt
    rollback: none
"""


def test_one_ctrl_c_kills_a_step_that_ignores_term_after_the_grace_period(
    repo: Repo, relcheck: Invoke, kill_later: list[int]
) -> None:
    repo.checklist(SLOW_AND_STUBBORN)
    proc = relcheck_process(repo.path, "run", "--release", "1.0.0", "--non-interactive")
    sleeper = read_pid(repo.path / "sleeper.pid")
    kill_later.append(sleeper)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=HANG_S)

    assert proc.returncode == 130, output
    assert not alive(sleeper)
    status = json.loads(relcheck("status", "--json").output)
    assert status["state"] == "interrupted"
    assert [step["status"] for step in status["steps"]] == ["interrupted", "pending"]
    assert not (repo.path / "effects.txt").exists()


def _daemon(pidfile: str) -> str:
    """A command whose child leaves the step's process group and keeps stdout open."""
    return (
        f"{sys.executable} -c 'import os, time; os.setsid(); "
        f'open("{pidfile}", "w").write(f"{{os.getpid()}}\\n"); time.sleep(100)\' & '
        f"while [ ! -s {pidfile} ]; do sleep 0.02; done; echo started"
    )


def test_steps_whose_children_hold_the_output_pipe_do_not_hang_the_run(
    repo: Repo, relcheck: Invoke, kill_later: list[int]
) -> None:
    repo.checklist(f"""\
version: 1
steps:
  - id: leaves-a-child
    run: "sleep 100 & echo $! > child.pid; echo started"
    expect: {{output_contains: started}}
    rollback: none
  - id: leaves-a-daemon
    run: {json.dumps(_daemon("daemon.pid"))}
    expect: {{output_contains: started}}
    rollback: none
  - id: after
    run: echo after >> effects.txt
    rollback: none
""")
    proc = relcheck_process(repo.path, "run", "--release", "1.0.0", "--non-interactive")
    try:
        output, _ = proc.communicate(timeout=HANG_S)
    finally:
        for name in ("child.pid", "daemon.pid"):
            if (repo.path / name).exists():
                kill_later.append(int((repo.path / name).read_text()))
        proc.kill()

    assert proc.returncode == 0, output
    assert (repo.path / "effects.txt").read_text() == "after\n"
    child, daemon = kill_later
    assert not alive(child), "a child left in the step's group outlived the step"
    assert alive(daemon), "outside the step's group, so not relcheck's to stop"
    status = relcheck("status").output
    assert "stopped processes it left running" in status
