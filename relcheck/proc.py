"""The one place relcheck starts subprocesses: process groups, timeouts, signals and output.

A step's command runs in ``shell`` as ``shell -c command`` would, in a process group
of its own.
On timeout, Ctrl-C or cancel the whole group gets SIGTERM, then SIGKILL after a
grace period; whatever the command leaves running in its group is stopped the
same way when it ends, so no grandchild survives a step.

The command starts behind a gate: the new process waits until the caller has
recorded its group id (``on_start``), so a relcheck killed at any moment leaves
no group it has not recorded. The record names the group's leader too (start
time and boot), so a group id given to another process later is not taken for
the step's group (:func:`stop_recorded_group`).
"""

from __future__ import annotations

import errno
import functools
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from msgspec import Struct

from relcheck.errors import RelcheckError

# How often the wait loop wakes to look at the clock, the process and `cancel`.
_TICK_S = 0.05
# How long to keep reading after the group is gone, for a process that escaped
# the group (setsid, a daemon) but still holds the output pipe.
_DRAIN_S = 0.5
# How long to wait for a group to vanish after SIGKILL (a process in
# uninterruptible sleep may take a moment; we never wait forever).
_AFTER_KILL_S = 1.0
_READ_SIZE = 65536
# The gate a command starts behind: a shell waits for one line on its stdin (a pipe
# from relcheck), then runs the command with stdin from /dev/null. At end of file
# without that line (relcheck died before recording the group, or something ate the
# line) the command never runs and the gate exits 125, which no command is taken to
# pass with. dash and busybox's ash (/bin/sh on Debian, Ubuntu and Alpine) are their own
# gate: they read no start-up file before ``-c``, and eval runs the command as ``-c``
# would (``$0`` the shell, no positional parameters), so one program starts per step.
# Any other shell (bash reads $BASH_ENV, zsh ~/.zshenv, before its ``-c`` script) is
# exec'd by /bin/sh once the line came: nothing of it runs before the record.
_SELF_GATING = frozenset({"dash", "ash", "busybox"})
_NO_GO = 'echo "relcheck: no go-ahead came; the command did not run" >&2; exit 125'
_GATE_IN_SHELL = (
    f"read -r _relcheck_gate || {{ {_NO_GO}; }}; unset _relcheck_gate; "
    'exec </dev/null; eval "set --; $1"'
)
_GATE_SH = "/bin/sh"
_GATE = f'read _ || {{ {_NO_GO}; }}; exec "$@" </dev/null'
_BOOT_ID = "/proc/sys/kernel/random/boot_id"

_Popen = subprocess.Popen[bytes]
GroupFate = Literal["stopped", "gone", "other"]


class ProcResult(Struct, frozen=True):
    """How a command ended: exit code or signal, and whether relcheck stopped it."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    interrupted: bool
    duration_s: float
    timeout_s: float | None = None
    stopped_with: int | None = None
    leftovers_stopped: bool = False

    @property
    def succeeded(self) -> bool:
        """True when the command exited 0 by itself, in time and uninterrupted."""
        return self.exit_code == 0 and not self.timed_out and not self.interrupted

    def describe(self) -> str:
        """Words for the record, e.g. ``exit code 1 after 3.2 s``."""
        after = f"after {self.duration_s:.1f} s"
        if self.interrupted:
            text = f"interrupted {after}"
        elif self.timed_out:
            limit = self.timeout_s if self.timeout_s is not None else self.duration_s
            text = f"timed out after {limit:g} s"
            if self.stopped_with is not None:
                text += f" (stopped with {signal.Signals(self.stopped_with).name})"
        elif self.signal is not None:
            text = f"killed by signal {self.signal} {after}"
        else:
            text = f"exit code {self.exit_code} {after}"
        if self.leftovers_stopped and not (self.interrupted or self.timed_out):
            text += "; stopped processes it left running"
        return text


class CompletedResult(Struct, frozen=True):
    """The outcome of a short, non-shell call made with :func:`run_capture`."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_command(
    command: str,
    *,
    shell: str = "/bin/sh",
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_output: Callable[[bytes], None],
    on_start: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    grace_s: float = 3.0,
) -> ProcResult:
    """Run ``command`` with ``shell -c`` in its own process group and wait for it.

    Output (stdout and stderr merged) is passed to ``on_output`` as it comes.
    ``on_start(pid)`` is called once the process exists, before the command
    runs: the command starts only when it returns. The pid is also the group
    id. Never raises for a failing command; raises RelcheckError only when the
    shell cannot be started.
    """
    watch = _Watch(timeout=timeout, grace_s=grace_s, cancel=cancel)
    with _sigint_counted(watch):
        proc, gate = _start(command, shell=shell, cwd=cwd, env=env)
        try:
            _open_gate(gate, on_start, proc.pid)
            return _wait(proc, watch, on_output)
        except BaseException:
            stop_group(proc.pid, grace_s=0)
            _close(proc)
            raise


def stop_group(pgid: int, *, grace_s: float = 3.0) -> bool:
    """Stop every process in group ``pgid``: SIGTERM, up to ``grace_s``, then SIGKILL.

    Returns True if anything was running in the group. A Ctrl-C during the
    grace wait sends SIGKILL at once and is then raised again.
    """
    if not _group_alive(pgid) or not _signal_group(pgid, signal.SIGTERM):
        return False
    try:
        gone = _wait_group_gone(pgid, grace_s)
    except KeyboardInterrupt:
        _signal_group(pgid, signal.SIGKILL)
        raise
    if not gone and _signal_group(pgid, signal.SIGKILL):
        _wait_group_gone(pgid, _AFTER_KILL_S)
    return True


def group_mark(pgid: int) -> dict[str, Any]:
    """What to record about a group just started: its id, and (where there is /proc)
    its leader's start time and the boot it runs in, for :func:`stop_recorded_group`."""
    mark: dict[str, Any] = {"pgid": pgid}
    started, boot = _start_time(pgid), _boot_id()
    if started is not None and boot is not None:
        mark["leader_start"], mark["boot_id"] = started, boot
    return mark


def stop_recorded_group(
    pgid: int, mark: Mapping[str, Any] | None, *, grace_s: float = 3.0
) -> GroupFate:
    """Stop group ``pgid``, recorded with :func:`group_mark`, if it is still that group.

    Pids are reused: a process now leading a group with that id but started at
    another time, or in another boot, is someone else's and is left alone
    (``"other"``). A group whose leader is gone but whose members remain is
    still the recorded one (a pid in use as a group id is not given out again).
    Without the leader's identity (an older record, no /proc) the group is
    stopped as :func:`stop_group` does. Returns ``"stopped"`` when something was
    running and was stopped, ``"gone"`` when nothing was left.
    """
    if not _is_recorded_group(pgid, mark or {}):
        return "other" if _group_alive(pgid) else "gone"
    return "stopped" if stop_group(pgid, grace_s=grace_s) else "gone"


def run_capture(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> CompletedResult:
    """Run a short program (no shell) and capture its output as text.

    Raises RelcheckError when the program is missing or does not finish in
    ``timeout`` seconds; a non-zero exit is returned, not raised.
    """
    args = tuple(argv)
    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise _capture_start_error(args, cwd, exc) from exc
    return _communicate(proc, args, timeout)


# -- starting ---------------------------------------------------------------


def _start(command: str, *, shell: str, cwd: Path, env: Mapping[str, str]) -> tuple[_Popen, int]:
    """Start ``shell -c command`` behind the gate; returns the process and the gate's
    write end (see ``_GATE``)."""
    gate_out, gate = os.pipe()
    try:
        if _gates_itself(shell, os.pathsep.join(os.get_exec_path(env))):
            argv = [shell, "-c", _GATE_IN_SHELL, shell, command]
        else:
            _check_shell(shell, cwd, env)
            argv = [_GATE_SH, "-c", _GATE, "relcheck", shell, "-c", command]
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=gate_out,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException as exc:
        os.close(gate)
        if isinstance(exc, OSError):
            raise _start_error(command, shell, cwd, exc) from exc
        raise
    finally:
        os.close(gate_out)
    return proc, gate


@functools.cache
def _gates_itself(shell: str, search_path: str) -> bool:
    """Whether ``shell`` (an absolute path, or a name looked up on ``search_path``) is
    dash or busybox's ash under whatever name it is called: see ``_GATE_IN_SHELL``."""
    if os.path.isabs(shell):
        found: str | None = shell
    elif os.sep in shell:
        found = None  # relative to the step's folder: the /bin/sh gate checks it
    else:
        places = (os.path.join(folder, shell) for folder in search_path.split(os.pathsep))
        found = next((place for place in places if os.access(place, os.X_OK)), None)
    return found is not None and os.path.basename(os.path.realpath(found)) in _SELF_GATING


def _check_shell(shell: str, cwd: Path, env: Mapping[str, str]) -> None:
    """Raise the error exec would for a shell that is missing or not executable: behind
    the /bin/sh gate, exec runs in /bin/sh, where its failure would be only an exit code."""
    import shutil  # here: it imports the compression modules, which a run does not need

    if os.sep in shell:
        found = shutil.which(os.path.join(cwd, shell))  # an absolute shell stays as it is
    else:
        found = shutil.which(shell, path=os.pathsep.join(os.get_exec_path(env)))
    if found is None:
        is_file = os.sep in shell and os.path.isfile(os.path.join(cwd, shell))
        code = errno.EACCES if is_file else errno.ENOENT
        raise OSError(code, os.strerror(code), shell)


def _open_gate(gate: int, on_start: Callable[[int], None] | None, pid: int) -> None:
    """Call ``on_start``, then let the command run (the gate reads the line written
    here). If ``on_start`` fails, the gate reads end of file: the command never runs."""
    try:
        if on_start is not None:
            on_start(pid)
        with suppress(BrokenPipeError):  # the gate was killed meanwhile; the wait sees it
            os.write(gate, b"\n")
    finally:
        os.close(gate)


def _start_error(command: str, shell: str, cwd: Path, exc: OSError) -> RelcheckError:
    first_line = command.strip().splitlines()[0] if command.strip() else command
    reason = exc.strerror or str(exc)
    if exc.filename is not None and os.fspath(exc.filename) == os.fspath(cwd):
        what = f"the working folder `{cwd}` cannot be used ({reason}); expected an existing folder"
    else:
        what = f"the shell `{shell}` cannot be started ({reason}); expected an executable shell"
    return RelcheckError(
        f"could not run `{first_line}`: {what} (check `shell` and `cwd`); nothing was started",
        retry_safe=True,
    )


def _capture_start_error(argv: tuple[str, ...], cwd: Path | None, exc: OSError) -> RelcheckError:
    reason = exc.strerror or str(exc)
    if cwd is not None and exc.filename is not None and os.fspath(exc.filename) == os.fspath(cwd):
        return RelcheckError(f"cannot run `{argv[0]}` in `{cwd}`: {reason}")
    return RelcheckError(
        f"cannot run `{argv[0]}`: {reason}. Is it installed and on PATH?", retry_safe=True
    )


def _communicate(proc: _Popen, argv: tuple[str, ...], timeout: float) -> CompletedResult:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc.pid, grace_s=0)
        _close(proc)
        raise RelcheckError(
            f"`{' '.join(argv)}` did not finish within {timeout:g} s and was stopped"
        ) from None
    except BaseException:
        stop_group(proc.pid, grace_s=0)
        _close(proc)
        raise
    stop_group(proc.pid, grace_s=0)
    return CompletedResult(
        argv=argv,
        returncode=proc.returncode,
        stdout=out.decode("utf-8", errors="replace"),
        stderr=err.decode("utf-8", errors="replace"),
    )


# -- waiting ------------------------------------------------------------------


class _Watch:
    """What the wait loop knows: the clock, the stop in progress, and Ctrl-C presses."""

    def __init__(self, *, timeout: float, grace_s: float, cancel: threading.Event | None) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.timeout = timeout
        self.grace_s = grace_s
        self.cancel = cancel
        self.interrupts = 0
        self.timed_out = False
        self.interrupted = False
        self.stop_started: float | None = None
        self.stopped_with: int | None = None
        self.leftovers = False
        self.group_done_at: float | None = None

    def note_interrupt(self) -> None:
        self.interrupts += 1


def _wait(proc: _Popen, watch: _Watch, on_output: Callable[[bytes], None]) -> ProcResult:
    assert proc.stdout is not None
    reader = _Reader(proc.stdout.fileno(), on_output)
    try:
        while not _finished(proc, watch, reader):
            try:
                _tick(proc, watch, reader)
            except KeyboardInterrupt:
                # Only when a caller's own SIGINT handler raises; ours just counts.
                watch.note_interrupt()
    finally:
        reader.close()
    _close(proc)
    return _result(proc, watch)


def _tick(proc: _Popen, watch: _Watch, reader: _Reader) -> None:
    if reader.eof and proc.returncode is None:
        _wait_exit(proc, _TICK_S)  # output over: the process is ending, so wait for that
    else:
        reader.pump(_TICK_S)
    proc.poll()
    now = time.monotonic()
    _note_stop_requests(proc, watch, now)
    if watch.stop_started is not None:
        _escalate(proc, watch, now)
    elif watch.timed_out or watch.interrupted or proc.returncode is not None:
        _begin_stop(proc, watch, now)


def _wait_exit(proc: _Popen, wait_s: float) -> None:
    """Up to ``wait_s`` for the process to exit, noticed within a millisecond or so
    (a whole tick's sleep here would add its length to every short step)."""
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=wait_s)


def _note_stop_requests(proc: _Popen, watch: _Watch, now: float) -> None:
    # A Ctrl-C is reported even when it comes after the command ended, so the
    # caller always learns that the user asked to stop.
    if watch.interrupts or (watch.cancel is not None and watch.cancel.is_set()):
        watch.interrupted = True
    if proc.returncode is None and now >= watch.deadline and not watch.interrupted:
        watch.timed_out = True


def _begin_stop(proc: _Popen, watch: _Watch, now: float) -> None:
    watch.stop_started = now
    if _group_alive(proc.pid) and _signal_group(proc.pid, signal.SIGTERM):
        watch.stopped_with = signal.SIGTERM
        watch.leftovers = proc.returncode is not None
    else:
        watch.group_done_at = now


def _escalate(proc: _Popen, watch: _Watch, now: float) -> None:
    """During the grace wait: note when the group is gone, or SIGKILL it when due."""
    assert watch.stop_started is not None
    if watch.group_done_at is not None:
        return
    killed = watch.stopped_with == signal.SIGKILL
    if not _group_alive(proc.pid):
        watch.group_done_at = now
    elif killed and now - watch.stop_started >= watch.grace_s + _AFTER_KILL_S:
        watch.group_done_at = now  # give up waiting on an unkillable process
    elif not killed and (watch.interrupts > 1 or now - watch.stop_started >= watch.grace_s):
        _signal_group(proc.pid, signal.SIGKILL)
        watch.stopped_with = signal.SIGKILL


def _finished(proc: _Popen, watch: _Watch, reader: _Reader) -> bool:
    if proc.returncode is None or watch.group_done_at is None:
        return False
    return reader.eof or time.monotonic() - watch.group_done_at >= _DRAIN_S


def _result(proc: _Popen, watch: _Watch) -> ProcResult:
    code = proc.returncode
    return ProcResult(
        exit_code=code if code is not None and code >= 0 else None,
        signal=-code if code is not None and code < 0 else None,
        timed_out=watch.timed_out,
        interrupted=watch.interrupted,
        duration_s=time.monotonic() - watch.started,
        timeout_s=watch.timeout if watch.timed_out else None,
        stopped_with=watch.stopped_with,
        leftovers_stopped=watch.leftovers,
    )


class _Reader:
    """Reads the merged output pipe without blocking and hands chunks on in order."""

    def __init__(self, fd: int, on_output: Callable[[bytes], None]) -> None:
        self.fd = fd
        self.on_output = on_output
        self.eof = False
        self.selector = selectors.DefaultSelector()
        self.selector.register(fd, selectors.EVENT_READ)

    def pump(self, wait_s: float) -> None:
        if self.eof:
            time.sleep(wait_s)
            return
        if not self.selector.select(wait_s):
            return
        data = os.read(self.fd, _READ_SIZE)
        if not data:
            self.eof = True
            self.selector.unregister(self.fd)
            return
        self.on_output(data)

    def close(self) -> None:
        self.selector.close()


def _close(proc: _Popen) -> None:
    if proc.stdout is not None:
        proc.stdout.close()
    if proc.stderr is not None:
        proc.stderr.close()
    proc.wait()


# -- Ctrl-C -------------------------------------------------------------------


@contextmanager
def _sigint_counted(watch: _Watch) -> Iterator[None]:
    """While waiting, count Ctrl-C presses instead of raising KeyboardInterrupt.

    Raising could strike between reading a chunk and handing it on; counting
    lets the loop stop the group calmly. Only done in the main thread and only
    when nobody has installed a SIGINT handler of their own.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def _count(signum: int, frame: FrameType | None) -> None:
        watch.note_interrupt()

    signal.signal(signal.SIGINT, _count)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# -- process groups -------------------------------------------------------------


def _signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _wait_group_gone(pgid: int, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_TICK_S / 2)
    return True


def _group_alive(pgid: int) -> bool:
    """True if a live (not zombie) process is in group ``pgid``.

    Orphans are reaped by init, but not every init reaps (some containers), so
    a group of zombies counts as gone.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    members = _group_states(pgid)
    return members is None or any(state != "Z" for state in members)


def _group_states(pgid: int) -> list[str] | None:
    """States of the processes in ``pgid`` from /proc, or None where there is no /proc."""
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    states = []
    for pid in pids:
        stat = _proc_stat(pid)
        if stat is not None and int(stat[2]) == pgid:
            states.append(stat[0].decode())
    return states


def _is_recorded_group(pgid: int, mark: Mapping[str, Any]) -> bool:
    """Whether group ``pgid`` is still the one ``mark`` (from :func:`group_mark`) describes;
    True where that cannot be told (no leader identity recorded, or no /proc now)."""
    started, boot = mark.get("leader_start"), mark.get("boot_id")
    now_boot = _boot_id()
    if started is None or boot is None or now_boot is None:
        return True
    if boot != now_boot:
        return False  # recorded before a restart (or on another machine): that group is gone
    leader = _start_time(pgid)
    # No process with that pid: the leader ended; members left in the group are its own.
    return leader is None or leader == started


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot), or None (gone, no /proc)."""
    stat = _proc_stat(str(pid))
    return int(stat[19]) if stat is not None and len(stat) > 19 else None


@functools.cache
def _boot_id() -> str | None:
    """This boot's id (Linux), read once; None where there is none."""
    try:
        with open(_BOOT_ID, encoding="utf-8") as fh:
            return fh.read().strip() or None
    except (OSError, ValueError):
        return None


def _proc_stat(pid: str) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (the first is the state,
    field 3), or None. The name is in parentheses and may hold spaces and ``)``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    return fields if len(fields) > 2 else None
