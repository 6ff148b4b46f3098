"""Tests for relcheck.proc with real processes: groups, timeouts, Ctrl-C, escaped children."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import alive, read_pid, wait_until

import relcheck
from relcheck.errors import RelcheckError
from relcheck.proc import (
    ProcResult,
    group_mark,
    run_capture,
    run_command,
    stop_group,
    stop_recorded_group,
)

# Generous bounds: they only turn a hang into a failure, they measure nothing.
HANG_S = 20.0

KI_SCRIPT = """\
import os, signal, sys
from pathlib import Path

signal.signal(signal.SIGINT, signal.default_int_handler)
from relcheck.proc import run_command

command, folder, grace = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
with open(folder / "output.log", "ab", buffering=0) as log:
    result = run_command(
        command, cwd=folder, env=dict(os.environ), timeout=60,
        on_output=log.write, grace_s=grace,
        on_start=lambda pid: (folder / "group").write_text(f"{pid}\\n"),
    )
state = "interrupted" if result.interrupted else "not-interrupted"
print(state, result.signal, result.stopped_with, flush=True)
"""

# A caller killed (kill -9) right after the start, before it could record the group.
KILLED_AT_START_SCRIPT = """\
import os, signal, sys
from pathlib import Path
from relcheck.proc import run_command

folder = Path(sys.argv[1])

def on_start(pid):
    (folder / "group").write_text(f"{pid}\\n")
    os.kill(os.getpid(), signal.SIGKILL)

run_command("echo ran > effect; sleep 100", cwd=folder, env=dict(os.environ), timeout=60,
            on_output=lambda data: None, on_start=on_start)
"""


class Run:
    """One run_command call with its output collected."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.chunks: list[bytes] = []

    @property
    def output(self) -> bytes:
        return b"".join(self.chunks)

    def __call__(self, command: str, **options: object) -> ProcResult:
        kwargs: dict[str, object] = {
            "cwd": self.folder,
            "env": dict(os.environ),
            "timeout": 30.0,
            "on_output": self.chunks.append,
            "grace_s": 1.0,
        }
        kwargs.update(options)
        return run_command(command, **kwargs)  # type: ignore[arg-type]

    def in_thread(self, command: str, **options: object) -> ProcResult:
        """Run in a worker thread so a hang fails the test instead of blocking it."""
        outcome: list[ProcResult | BaseException] = []

        def target() -> None:
            try:
                outcome.append(self(command, **options))
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=target)
        worker.start()
        worker.join(HANG_S)
        assert not worker.is_alive(), "run_command did not return"
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


def test_output_is_streamed_in_order_with_exit_code(run: Run, tmp_path: Path) -> None:
    # The command waits for a file that on_output creates when it sees the first
    # line, so this only finishes if output is handed on while the command runs.
    go = tmp_path / "go"

    def on_output(data: bytes) -> None:
        run.chunks.append(data)
        if b"first" in run.output:
            go.touch()

    command = "echo first; while [ ! -f go ]; do sleep 0.02; done; echo second >&2; echo third"
    result = run.in_thread(command, on_output=on_output, timeout=HANG_S)

    assert run.output == b"first\nsecond\nthird\n"
    assert result.exit_code == 0
    assert result.signal is None
    assert not result.timed_out and not result.interrupted
    assert result.succeeded
    assert result.describe().startswith("exit code 0 after ")


def test_large_output_arrives_whole(run: Run) -> None:
    result = run.in_thread("head -c 1000000 /dev/zero; echo end")
    assert result.exit_code == 0
    assert len(run.output) == 1_000_004
    assert run.output.endswith(b"end\n")


def test_nonzero_exit_is_a_result_not_an_error(run: Run) -> None:
    result = run("echo failing; exit 3")
    assert result.exit_code == 3
    assert not result.succeeded
    assert result.describe().startswith("exit code 3 after ")


def test_death_by_signal_is_reported(run: Run) -> None:
    result = run("kill -9 $$")
    assert result.exit_code is None
    assert result.signal == signal.SIGKILL
    assert result.describe().startswith("killed by signal 9 after ")


def test_on_start_gets_the_pid_that_is_also_the_group(run: Run) -> None:
    seen: list[tuple[int, int]] = []
    result = run("sleep 0.2", on_start=lambda pid: seen.append((pid, os.getpgid(pid))))
    assert result.exit_code == 0
    [(pid, pgid)] = seen
    assert pid == pgid != os.getpgid(0)


def test_the_command_runs_only_after_on_start_returned(run: Run, tmp_path: Path) -> None:
    # on_start is where relcheck records the group id; nothing may happen before that.
    def on_start(pid: int) -> None:
        time.sleep(0.3)
        (tmp_path / "recorded").write_text(f"{pid}\n")

    result = run('test "$(cat recorded)" = "$$" && echo after-record', on_start=on_start)
    assert result.exit_code == 0
    assert run.output == b"after-record\n"


# dash gates itself (it is /bin/sh on Debian and Ubuntu); bash starts behind /bin/sh.
SHELLS = [
    pytest.param(name, marks=pytest.mark.skipif(not shutil.which(name), reason=f"no {name}"))
    for name in ("dash", "bash")
]


@pytest.mark.parametrize("shell", ["/bin/sh", *SHELLS])
def test_every_shell_runs_the_command_as_shell_c_would_after_on_start(
    run: Run, tmp_path: Path, shell: str
) -> None:
    def on_start(pid: int) -> None:
        time.sleep(0.2)
        (tmp_path / "recorded").write_text(f"{pid}\n")

    command = (
        'test "$(cat recorded)" = "$$" || exit 9\n'
        'printf "%s|%s|%s\\n" "$0" "$#" "${1-none}"; exit 3'
    )
    result = run(command, shell=shell, on_start=on_start)
    assert (result.exit_code, run.output.decode()) == (3, f"{shell}|0|none\n")


@pytest.mark.parametrize("shell", SHELLS)
def test_a_failing_on_start_leaves_the_command_unrun(run: Run, tmp_path: Path, shell: str) -> None:
    def on_start(pid: int) -> None:
        raise OSError("the record cannot be written")

    with pytest.raises(OSError):
        run("touch effect", shell=shell, on_start=on_start)
    time.sleep(0.2)
    assert not (tmp_path / "effect").exists()


@pytest.mark.skipif(not shutil.which("bash"), reason="no bash")
def test_bash_reads_its_bash_env_only_after_on_start(run: Run, tmp_path: Path) -> None:
    # bash runs $BASH_ENV before its -c script: that must not run before the record either,
    # nor swallow the go-ahead (which once ended such a step as passed, its command unrun).
    (tmp_path / "env.sh").write_text(
        "read -r swallowed; test -e recorded && echo env-after-record || echo env-first\n"
    )
    env = {**os.environ, "BASH_ENV": str(tmp_path / "env.sh")}

    def on_start(pid: int) -> None:
        (tmp_path / "recorded").write_text("yes\n")

    result = run("echo ran; exit 3", shell="bash", env=env, on_start=on_start)
    assert (result.exit_code, run.output.decode()) == (3, "env-after-record\nran\n")


@pytest.mark.parametrize("shell", SHELLS)
def test_without_the_go_ahead_the_command_does_not_run_and_does_not_pass(
    tmp_path: Path, shell: str
) -> None:
    # What a gated process does when relcheck never writes its line (relcheck died):
    # asked through the gate as relcheck starts it, with nothing on stdin.
    from relcheck.proc import _start

    proc, gate = _start("touch effect", shell=shell, cwd=tmp_path, env=dict(os.environ))
    os.close(gate)
    out, _ = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 125
    assert b"no go-ahead came; the command did not run" in out
    assert not (tmp_path / "effect").exists()


def test_a_caller_killed_before_recording_the_group_leaves_the_command_unrun(
    tmp_path: Path,
) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED_AT_START_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(relcheck.__file__).parents[1])}
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env, timeout=HANG_S)
    assert done.returncode == -signal.SIGKILL
    group = read_pid(tmp_path / "group")
    try:
        wait_until(lambda: not alive(group), "the waiting process to give up")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    assert not (tmp_path / "effect").exists()


def test_env_and_cwd_are_passed(run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "sub"
    folder.mkdir()
    env = {"PATH": os.environ["PATH"], "FOO": "bar baz"}
    result = run('printf "%s\\n" "$FOO" "${HOME-unset}"; pwd -P', cwd=folder, env=env)
    assert result.exit_code == 0
    assert run.output.decode().splitlines() == ["bar baz", "unset", os.path.realpath(folder)]


def test_stdin_is_empty(run: Run) -> None:
    result = run.in_thread("cat; echo after")
    assert result.exit_code == 0
    assert run.output == b"after\n"


def test_timeout_stops_the_grandchild_too(run: Run, tmp_path: Path) -> None:
    result = run("sleep 100 & echo $! > pidfile; wait", timeout=0.5, grace_s=2.0)
    grandchild = read_pid(tmp_path / "pidfile")

    assert result.timed_out
    assert not result.interrupted
    assert result.stopped_with == signal.SIGTERM
    assert result.describe() == "timed out after 0.5 s (stopped with SIGTERM)"
    assert not alive(grandchild)


def test_a_step_that_ignores_term_is_killed_after_grace(run: Run, tmp_path: Path) -> None:
    command = "trap '' TERM; sleep 100 & echo $! > pidfile; wait"
    result = run.in_thread(command, timeout=0.3, grace_s=0.3)
    grandchild = read_pid(tmp_path / "pidfile")

    assert result.timed_out
    assert result.signal == signal.SIGKILL
    assert result.stopped_with == signal.SIGKILL
    assert result.describe() == "timed out after 0.3 s (stopped with SIGKILL)"
    assert not alive(grandchild)


def test_leftover_background_process_is_stopped_after_normal_exit(run: Run, tmp_path: Path) -> None:
    result = run.in_thread("sleep 100 & echo $! > pidfile; echo done")
    grandchild = read_pid(tmp_path / "pidfile")

    assert result.exit_code == 0
    assert result.leftovers_stopped
    assert "stopped processes it left running" in result.describe()
    assert run.output == b"done\n"
    assert not alive(grandchild)


def test_escaped_grandchild_holding_the_pipe_does_not_hang(
    run: Run, tmp_path: Path, kill_later: list[int]
) -> None:
    # The daemon leaves the group first and only then is the shell allowed to end.
    daemon = (
        f"{sys.executable} -c 'import os, time; os.setsid(); "
        'open("pidfile", "w").write(f"{os.getpid()}\\n"); time.sleep(100)\' &'
    )
    command = f"{daemon} while [ ! -s pidfile ]; do sleep 0.02; done; echo main-done"
    try:
        result = run.in_thread(command)
    finally:
        if (tmp_path / "pidfile").exists():
            kill_later.append(read_pid(tmp_path / "pidfile"))

    assert result.exit_code == 0
    assert run.output == b"main-done\n"
    # Outside the group, so it is not ours to stop; it only must not block us.
    assert alive(kill_later[0])


def test_cancel_event_stops_the_group(run: Run, tmp_path: Path) -> None:
    cancel = threading.Event()
    results: list[ProcResult] = []
    worker = threading.Thread(
        target=lambda: results.append(
            run("sleep 100 & echo $! > pidfile; wait", cancel=cancel, grace_s=2.0)
        )
    )
    worker.start()
    grandchild = read_pid(tmp_path / "pidfile")
    cancel.set()
    worker.join(HANG_S)

    assert not worker.is_alive()
    [result] = results
    assert result.interrupted
    assert not result.timed_out
    assert result.describe().startswith("interrupted after ")
    assert not alive(grandchild)


def test_an_error_in_a_callback_still_stops_the_group(run: Run, tmp_path: Path) -> None:
    def on_output(data: bytes) -> None:
        raise RuntimeError("journal full")

    with pytest.raises(RuntimeError, match="journal full"):
        run.in_thread("sleep 100 & echo $! > pidfile; echo hello; wait", on_output=on_output)
    assert not alive(read_pid(tmp_path / "pidfile"))


@pytest.fixture
def ki_script(tmp_path: Path) -> Iterator[Callable[[str, float], subprocess.Popen[str]]]:
    """Starts the Ctrl-C script; afterwards kills it and its command's group even on failure."""
    started: list[subprocess.Popen[str]] = []

    def start(command: str, grace_s: float) -> subprocess.Popen[str]:
        started.append(_start_ki_script(tmp_path, command, grace_s))
        return started[-1]

    yield start
    for proc in started:
        proc.kill()
        proc.communicate()
    if (tmp_path / "group").exists():
        stop_group(read_pid(tmp_path / "group"), grace_s=0)


def _start_ki_script(tmp_path: Path, command: str, grace_s: float) -> subprocess.Popen[str]:
    script = tmp_path / "ki.py"
    script.write_text(KI_SCRIPT)
    # Import relcheck from wherever this test imported it, installed or not.
    package_root = str(Path(relcheck.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": package_root}
    return subprocess.Popen(
        [sys.executable, str(script), command, str(tmp_path), str(grace_s)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_ctrl_c_stops_the_group_and_reports_interrupted(
    tmp_path: Path, ki_script: Callable[[str, float], subprocess.Popen[str]]
) -> None:
    proc = ki_script("sleep 100 & echo $! > pidfile; wait", 2.0)
    grandchild = read_pid(tmp_path / "pidfile", proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=HANG_S)

    assert proc.returncode == 0, err
    assert out.split()[0] == "interrupted"
    assert not alive(grandchild)


def test_second_ctrl_c_kills_without_waiting_for_grace(
    tmp_path: Path, ki_script: Callable[[str, float], subprocess.Popen[str]]
) -> None:
    # The shell survives SIGTERM (its trap prints got-term) and the grace is far
    # longer than HANG_S, so only the second Ctrl-C can end this in time.
    command = (
        "trap 'echo got-term' TERM; sleep 100 & echo $! > pidfile; while :; do sleep 0.05; done"
    )
    proc = ki_script(command, 600.0)
    grandchild = read_pid(tmp_path / "pidfile", proc)
    proc.send_signal(signal.SIGINT)
    log = tmp_path / "output.log"
    wait_until(lambda: log.exists() and b"got-term" in log.read_bytes(), "SIGTERM to arrive")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=HANG_S)

    assert proc.returncode == 0, err
    assert out.split() == ["interrupted", str(int(signal.SIGKILL)), str(int(signal.SIGKILL))]
    assert not alive(grandchild)


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Starts a shell command as its own group; kills the group after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(command: str) -> subprocess.Popen[bytes]:
        started.append(
            subprocess.Popen(["/bin/sh", "-c", command], cwd=tmp_path, start_new_session=True)
        )
        return started[-1]

    yield start
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_stop_group_stops_a_live_group(
    tmp_path: Path, group: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    proc = group("sleep 100 & echo $! > pidfile; wait")
    grandchild = read_pid(tmp_path / "pidfile")

    assert stop_group(proc.pid, grace_s=2.0) is True
    assert proc.wait(timeout=HANG_S) == -signal.SIGTERM
    assert not alive(grandchild)
    assert stop_group(proc.pid, grace_s=2.0) is False


def test_stop_group_kills_a_group_that_ignores_term(
    tmp_path: Path, group: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    proc = group("trap '' TERM; sleep 100 & echo $! > pidfile; wait")
    grandchild = read_pid(tmp_path / "pidfile")

    assert stop_group(proc.pid, grace_s=0.3) is True
    assert proc.wait(timeout=HANG_S) == -signal.SIGKILL
    assert not alive(grandchild)


def test_a_recorded_group_is_stopped_only_while_it_has_the_same_leader(
    tmp_path: Path, group: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    # A command name with spaces and parentheses must not confuse reading /proc.
    odd = tmp_path / "a) b (c"
    odd.symlink_to(shutil.which("sleep") or "/bin/sleep")
    proc = group(f"exec '{odd}' 100")
    wait_until(lambda: Path(f"/proc/{proc.pid}/comm").read_text() == "a) b (c\n", "the exec")
    mark = group_mark(proc.pid)
    leader = {key: mark[key] for key in ("leader_start", "boot_id")}

    later = {**leader, "leader_start": leader["leader_start"] + 1}
    assert stop_recorded_group(proc.pid, later, grace_s=1.0) == "other"
    other_boot = {**leader, "boot_id": "00000000-0000-0000-0000-000000000000"}
    assert stop_recorded_group(proc.pid, other_boot, grace_s=1.0) == "other"
    assert alive(proc.pid)

    assert stop_recorded_group(proc.pid, leader, grace_s=1.0) == "stopped"
    assert proc.wait(timeout=HANG_S) == -signal.SIGTERM
    assert stop_recorded_group(proc.pid, leader, grace_s=1.0) == "gone"


def test_a_group_recorded_without_its_leader_is_stopped_as_before(
    group: Callable[[str], subprocess.Popen[bytes]],
) -> None:
    proc = group("sleep 100")
    assert stop_recorded_group(proc.pid, None, grace_s=1.0) == "stopped"
    assert proc.wait(timeout=HANG_S) == -signal.SIGTERM


def test_missing_shell_is_an_actionable_error(run: Run) -> None:
    with pytest.raises(RelcheckError) as caught:
        run("echo hi\necho more", shell="/nonexistent/sh")
    message = str(caught.value)
    assert "/nonexistent/sh" in message
    assert "`echo hi`" in message
    assert "expected an executable shell" in message


def test_missing_cwd_is_an_actionable_error(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(RelcheckError) as caught:
        run("echo hi", cwd=missing)
    assert f"the working folder `{missing}`" in str(caught.value)


def test_run_capture_returns_output_and_code(tmp_path: Path) -> None:
    code = "import os, sys; print(os.getcwd()); print('oops', file=sys.stderr); sys.exit(2)"
    result = run_capture([sys.executable, "-c", code], cwd=tmp_path)
    assert result.returncode == 2
    assert not result.ok
    assert result.stdout == f"{os.path.realpath(tmp_path)}\n"
    assert result.stderr == "oops\n"


def test_run_capture_missing_program(tmp_path: Path) -> None:
    with pytest.raises(RelcheckError, match=r"cannot run `relcheck-no-such-tool`.*installed"):
        run_capture(["relcheck-no-such-tool", "--version"], cwd=tmp_path)


def test_run_capture_timeout(tmp_path: Path) -> None:
    with pytest.raises(RelcheckError, match=r"did not finish within 0\.2 s"):
        run_capture(["sleep", "100"], timeout=0.2)


@pytest.mark.parametrize(
    ("result", "words"),
    [
        (ProcResult(0, None, False, False, 1.23), "exit code 0 after 1.2 s"),
        (ProcResult(1, None, False, False, 3.2), "exit code 1 after 3.2 s"),
        (ProcResult(None, 9, False, False, 0.3), "killed by signal 9 after 0.3 s"),
        (ProcResult(None, 15, False, True, 2.0), "interrupted after 2.0 s"),
        (
            ProcResult(None, 15, True, False, 603.0, timeout_s=600, stopped_with=15),
            "timed out after 600 s (stopped with SIGTERM)",
        ),
    ],
)
def test_describe(result: ProcResult, words: str) -> None:
    assert result.describe() == words
