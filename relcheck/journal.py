"""The run record: an append-only journal per run, its replay, and the repository lock."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from msgspec import Struct, field
from msgspec.structs import asdict

from relcheck.errors import RecordError, RunLockedError
from relcheck.files import write_atomic
from relcheck.gitrepo import find_root
from relcheck.model import (
    FAILED,
    INTERRUPTED,
    PENDING,
    RUN_FAILED,
    RUN_INTERRUPTED,
    RUN_PARTIAL,
    RUN_PASSED,
    RUN_RUNNING,
    RUNNING,
    SKIPPED,
)
from relcheck.secrets import Masker

STATE_DIR = ".relcheck"
JOURNAL = "journal.jsonl"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def state_dir(cwd: Path, *, create: bool = True) -> Path:
    """``.relcheck/`` at the git root (or ``cwd`` outside git); created with a ``.gitignore``."""
    root = find_root(cwd) or cwd.resolve()
    folder = root / STATE_DIR
    if not create:
        return folder
    try:
        folder.mkdir(exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            write_atomic(ignore, "*\n")
    except OSError as exc:
        raise RecordError(
            f"cannot use {folder} for run records ({exc.strerror or exc}); expected a writable "
            "folder there: move away whatever is in the way and run again",
            retry_safe=True,
        ) from None
    return folder


def new_run_id() -> str:
    """A run id that sorts by start time: ``20261121T234657.123Z-3fa9``."""
    now = datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%S')}.{now.microsecond // 1000:03d}Z-{_token(2)}"


def _token(size: int) -> str:
    """``size`` random bytes as hex, as ``secrets.token_hex`` makes them (both read
    os.urandom; importing secrets costs more than a run's first steps)."""
    return os.urandom(size).hex()


def host_name() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it (without importing socket)."""
    return os.uname().nodename


class Journal:
    """One run's append-only event log; every line is masked, flushed and (but for what a
    reboot makes moot, like a step's process id) synced to disk."""

    def __init__(self, folder: Path, masker: Masker) -> None:
        self.folder = folder
        self.path = folder / JOURNAL
        self._masker = masker
        self._file: IO[str] | None = None
        self._seq: int | None = None
        # Lines come from step threads while the main thread syncs: one at a time. A disk
        # sync holds only ``_sync_lock``: lines are written meanwhile, and the next sync
        # takes them (``_written`` and ``_synced`` count the writes each has covered).
        self._lock = threading.RLock()
        self._sync_lock = threading.Lock()
        self._written = 0
        self._synced = 0

    @classmethod
    def create(cls, runs_dir: Path, run_id: str, masker: Masker) -> Journal:
        folder = runs_dir / run_id
        (folder / "logs").mkdir(parents=True, exist_ok=False)
        return cls(folder, masker)

    def append(self, event: Mapping[str, Any], *, durable: bool = True) -> dict[str, Any]:
        """Add ``event``; it is synced to disk unless ``durable`` is False: then it waits
        for the next :meth:`sync` (or durable line), which syncs it too."""
        masked = self._masker.mask_value(dict(event))
        # ``id`` makes a union of two copies of the journal (see relcheck.team) lose
        # nothing and repeat nothing; ``seq`` orders it: one more than any event seen,
        # given and written under one lock, so the file holds the lines in ``seq`` order.
        with self._lock:
            record = {
                "event": event["event"],
                "at": now_iso(),
                "id": _token(8),
                "seq": self._next_seq(),
                **masked,
            }
            self._write(json.dumps(record, ensure_ascii=False) + "\n")
        if durable:
            self.sync()  # outside the lock: others write while the disk syncs
        return record

    def extend(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Add events recorded in another clone as they are (their id, time and seq kept)."""
        with self._lock:
            self._seq = None  # read again from the file: one more than any event seen
            lines = "".join(json.dumps(dict(e), ensure_ascii=False) + "\n" for e in events)
            self._write(lines)
        self.sync()  # outside the lock, as every sync: see ``sync``

    def _next_seq(self) -> int:
        if self._seq is None:
            self._seq = last_seq(read_events(self.path)) if self.path.exists() else 0
        self._seq += 1
        return self._seq

    def _write(self, lines: str) -> None:
        """Flushed, the lines survive relcheck being killed; a power loss once synced, which
        the caller does after letting go of ``_lock`` (``sync`` takes ``_sync_lock`` first,
        then ``_lock``)."""
        with self._lock:
            if self._file is None:
                new = not self.path.exists()
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
                if new:  # the new names too: the journal's, and its run folder's in runs/
                    _sync_folders(self.folder, self.folder.parent)
                self._repair_torn_tail()
            self._file.write(lines)
            self._file.flush()
            self._written += 1

    @property
    def written(self) -> int:
        """How many writes the journal has had: a later sync covers each of them."""
        with self._lock:
            return self._written

    def sync(self) -> None:
        """Make every line written so far survive a power loss (fdatasync: the data and
        the file's size, not its times). Threads that sync at once share one disk sync,
        and writing goes on while it runs."""
        with self._lock:
            target = self._written
        with self._sync_lock:
            with self._lock:
                if self._file is None or self._synced >= target:
                    return  # synced meanwhile (``close`` syncs everything it closes)
                fd = self._file.fileno()
                target = self._written  # all that is flushed now goes with this sync
            _sync_data(fd)  # the file stays open: ``close`` waits for ``_sync_lock``
            with self._lock:
                self._synced = max(self._synced, target)

    def _repair_torn_tail(self) -> None:
        # A crash can leave a half-written last line; start ours on a fresh one.
        assert self._file is not None
        size = self.path.stat().st_size
        if size == 0:
            return
        with open(self.path, "rb") as raw:
            raw.seek(size - 1)
            if raw.read(1) != b"\n":
                self._file.write("\n")

    def close(self) -> None:
        self.sync()
        with self._sync_lock, self._lock:
            if self._file is not None:
                if self._synced < self._written:  # written after the sync above
                    _sync_data(self._file.fileno())
                self._file.close()
                self._file = None

    def events(self) -> list[dict[str, Any]]:
        return read_events(self.path)


_sync_data = getattr(os, "fdatasync", os.fsync)


def _sync_folders(*folders: Path) -> None:
    """Make the names just created in ``folders`` survive a power loss (syncing a file
    does not); a file system that cannot sync a folder is left as it is."""
    for folder in folders:
        try:
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every whole event of a journal; a torn or garbled line is left out."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"{path}: the run record has no journal") from None
    events: list[dict[str, Any]] = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            event = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events.append(event)
    return events


def event_seq(event: Mapping[str, Any], index: int) -> int:
    """An event's place in replay order; lines written before events had a ``seq``
    count by their place in the file."""
    seq = event.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else index + 1


def last_seq(events: Sequence[Mapping[str, Any]]) -> int:
    return max((event_seq(event, index) for index, event in enumerate(events)), default=0)


def in_order(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events in replay order: by seq, then time, then id. Two clones holding the same
    events (merged by ``relcheck sync``) replay them alike; events written in one clone
    keep the order they were written in."""
    keyed = sorted(
        enumerate(events),
        key=lambda item: (
            event_seq(item[1], item[0]),
            str(item[1].get("at", "")),
            str(item[1].get("id", "")),
        ),
    )
    return [event for _, event in keyed]


# ---------------------------------------------------------------- replay


class StepRecord(Struct):
    id: str
    title: str
    kind: str
    required: bool = True
    status: str = PENDING
    owner: str | None = None
    expected: str | None = None
    actual: str | None = None
    rollback: str | None = None
    command: str | None = None
    reason: str | None = None
    note: str | None = None
    confirmed_by: str | None = None
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    log: str | None = None
    pgid: int | None = None
    # Who led that group: start time and boot (relcheck.proc.group_mark), so that an id
    # given to another process later is not taken for the step's group.
    pgid_leader: dict[str, Any] | None = None
    blocked: bool = False
    flaky: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    # When the person's answer now deciding this step was given (see ``apply_event``).
    answered_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "required": self.required,
            "status": self.status,
            "owner": self.owner,
            "expected": self.expected,
            "actual": self.actual,
            "rollback": self.rollback,
            "command": self.command,
            "reason": self.reason,
            "note": self.note,
            "confirmed_by": self.confirmed_by,
            "attempts": self.attempts,
            "flaky": self.flaky,
            "blocked": self.blocked,
            "metrics": self.metrics,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "log": self.log,
        }


class RollbackRecord(Struct):
    step: str
    status: str
    actual: str | None
    at: str


class SignOff(Struct):
    """A person's answer to a manual step: at the prompt or from an answers file during a
    walk (``via`` ``run``), or later with ``relcheck sign`` (``via`` ``sign``)."""

    step: str
    status: str
    who: str | None
    when: str
    note: str | None
    via: str


class RunRecord(Struct):
    """A run rebuilt from its journal."""

    run_id: str
    folder: Path
    checklist: str
    checklist_path: str
    checklist_sha256: str
    version: str
    tag: str
    commit: str | None
    branch: str | None
    started_at: str
    steps: dict[str, StepRecord]
    state: str = RUN_RUNNING
    finished_at: str | None = None
    pid: int | None = None
    rollbacks: list[RollbackRecord] = field(default_factory=list)
    signoffs: list[SignOff] = field(default_factory=list)

    def ordered_steps(self) -> list[StepRecord]:
        return list(self.steps.values())

    def as_status(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "state": self.state,
            "checklist": self.checklist,
            "checklist_sha256": self.checklist_sha256,
            "release": {"version": self.version, "tag": self.tag, "commit": self.commit},
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "steps": [step.as_dict() for step in self.steps.values()],
            "rollbacks": [asdict(item) for item in self.rollbacks],
            "signoffs": [asdict(item) for item in self.signoffs],
        }


def replay(folder: Path, *, live: bool | None = None) -> RunRecord:
    """Rebuild a run from its journal.

    ``live`` says whether a process still holds the run; when it does not,
    a run (or step) still marked running was cut off and reads as interrupted.
    """
    events = in_order(read_events(folder / JOURNAL))
    if not events or events[0]["event"] != "run_started":
        raise RecordError(f"{folder}: the journal does not start with a run; it cannot be used")
    run = _run_from_start(folder, events[0])
    for event in events[1:]:
        apply_event(run, event)
    if live is None:
        live = run_is_live(folder.parent.parent, run.run_id)
    if run.state == RUN_RUNNING and not live:
        run.state = RUN_INTERRUPTED
        for step in run.steps.values():
            if step.status == RUNNING:
                step.status = INTERRUPTED
                step.reason = step.reason or "relcheck stopped while this step ran"
    return run


def _step_records(
    items: list[dict[str, Any]], known: Mapping[str, StepRecord]
) -> dict[str, StepRecord]:
    """The steps of a run in checklist order, keeping what is already known of each."""
    return {
        item["id"]: known.get(item["id"])
        or StepRecord(
            id=item["id"],
            title=item.get("title", item["id"]),
            kind=item.get("kind", "run"),
            required=bool(item.get("required", True)),
            owner=item.get("owner"),
            expected=item.get("expected"),
            rollback=item.get("rollback"),
            command=item.get("command"),
        )
        for item in items
    }


def _run_from_start(folder: Path, event: Mapping[str, Any]) -> RunRecord:
    release = event.get("release") or {}
    steps = _step_records(event.get("steps", []), {})
    return RunRecord(
        run_id=str(event.get("run_id", folder.name)),
        folder=folder,
        checklist=str(event.get("checklist", "")),
        checklist_path=str(event.get("checklist_path", "")),
        checklist_sha256=str(event.get("checklist_sha256", "")),
        version=str(release.get("version", "")),
        tag=str(release.get("tag", "")),
        commit=release.get("commit"),
        branch=release.get("branch"),
        started_at=str(event["at"]),
        steps=steps,
        pid=event.get("pid"),
    )


_STEP_FIELDS = ("owner", "rollback", "expected", "command", "actual", "reason", "note")


def apply_event(run: RunRecord, event: Mapping[str, Any]) -> None:
    kind = event["event"]
    step = run.steps.get(str(event.get("step", "")))
    if kind == "run_resumed":
        run.state, run.finished_at, run.pid = RUN_RUNNING, None, event.get("pid")
        if "steps" in event:  # resumed with --force on a checklist whose steps changed
            run.steps = _step_records(event["steps"], run.steps)
    elif kind == "run_finished":
        run.state, run.finished_at = str(event.get("state", RUN_FAILED)), str(event["at"])
    elif kind == "run_interrupted":
        run.state, run.finished_at = RUN_INTERRUPTED, str(event["at"])
    elif kind == "rollback_step":
        run.rollbacks.append(
            RollbackRecord(
                str(event.get("step")),
                str(event.get("status")),
                event.get("actual"),
                str(event["at"]),
            )
        )
    elif kind == "step_signed" and step is not None:
        # A sign-off finishes the step as an answer at the prompt would.
        _answer(run, step, event, via="sign")
        step.attempts = max(step.attempts, 1)
    elif kind == "step_finished" and step is not None and event.get("confirmed_by"):
        _answer(run, step, event, via="run")
    elif step is not None:
        _apply_step(step, kind, event)
        if kind == "step_started":
            step.answered_at = None  # a step run again is decided by what ends that run


def _answer(run: RunRecord, step: StepRecord, event: Mapping[str, Any], *, via: str) -> None:
    """A person's answer decides the step unless an answer given later already does: the
    latest decides by time, not by replay order, in which an answer given in a clone
    holding an older copy of the run comes early (see ``in_order``)."""
    at = str(event["at"])
    if step.answered_at is None or at >= step.answered_at:
        _apply_step(step, "step_finished", event)
        step.answered_at = at
    if via == "sign" or step.kind == "manual":
        status = str(event.get("status", FAILED))
        who, note = event.get("confirmed_by"), event.get("note")
        run.signoffs.append(SignOff(step.id, status, who, at, note, via))
        run.signoffs.sort(key=lambda signoff: signoff.when)


def _apply_step(step: StepRecord, kind: str, event: Mapping[str, Any]) -> None:
    if kind == "step_finished" and event.get("retrying"):
        step.pgid = None  # one attempt failed and the next follows: the step still runs
        return
    for name in _STEP_FIELDS:
        if name in event:
            setattr(step, name, event[name])
    if kind == "step_started":
        step.status, step.started_at = RUNNING, str(event["at"])
        step.finished_at = step.duration_s = step.pgid = None
        step.attempts = int(event.get("attempt", step.attempts + 1))
        step.actual = step.reason = None
        step.blocked = False
        step.log = event.get("log", step.log)
    elif kind == "step_process":
        step.pgid = event.get("pgid")
        step.pgid_leader = {k: event[k] for k in ("leader_start", "boot_id") if k in event}
    elif kind == "step_finished":
        step.status = str(event.get("status", FAILED))
        step.finished_at = str(event["at"])
        step.duration_s = event.get("duration_s")
        step.confirmed_by = event.get("confirmed_by", step.confirmed_by)
        step.blocked = bool(event.get("blocked", False))
        step.flaky = bool(event.get("flaky", False))
        step.metrics = dict(event.get("metrics") or {})
        step.pgid = None


def final_state(run: RunRecord) -> str:
    """The state a finished walk gives the run (passed, failed or partial)."""
    required = [step for step in run.steps.values() if step.required]
    if any(step.status in (FAILED, INTERRUPTED) or step.blocked for step in required):
        return RUN_FAILED
    if any(step.status in (PENDING, RUNNING) for step in required):
        return RUN_FAILED
    # Skipped by `when` is part of the plan; skipped any other way (left out with
    # --only/--skip, or by a person) leaves the release unchecked there.
    if any(
        step.status == SKIPPED and not (step.reason or "").startswith("when:") for step in required
    ):
        return RUN_PARTIAL
    return RUN_PASSED


# ---------------------------------------------------------------- finding runs


def runs_dir(cwd: Path, *, create: bool = True) -> Path:
    folder = state_dir(cwd, create=create) / "runs"
    if create:
        folder.mkdir(exist_ok=True)
    return folder


def list_runs(cwd: Path) -> list[Path]:
    """Run folders, oldest first (reading only: nothing is created)."""
    return runs_in(runs_dir(cwd, create=False))


def runs_in(folder: Path) -> list[Path]:
    """The run folders (those holding a journal) in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / JOURNAL).is_file())


def match_run_id(names: Sequence[str], run_id: str) -> list[str]:
    """The run ids ``run_id`` names: itself if present, else those it is a prefix of."""
    return [n for n in names if n == run_id] or [n for n in names if n.startswith(run_id)]


def _started(folder: Path) -> bool:
    """Whether a run's journal got as far as its first event."""
    with open(folder / JOURNAL, "rb") as journal:
        first = journal.readline()
    try:
        return bool(json.loads(first).get("event") == "run_started")
    except (ValueError, AttributeError):
        return False


def find_run(cwd: Path, run_id: str | None) -> Path:
    runs = list_runs(cwd)
    if not runs:
        where = runs_dir(cwd, create=False)
        raise RecordError(f"no run record in {where}; start one with `relcheck run`")
    if run_id is None:
        # A run killed before its first event was written has nothing to show.
        started = [p for p in runs if _started(p)]
        return started[-1] if started else runs[-1]
    matches = match_run_id([p.name for p in runs], run_id)
    if len(matches) == 1:
        return runs[0].parent / matches[0]
    if not matches:
        raise RecordError(f"no run with id {run_id!r}; `relcheck history` lists them")
    raise RecordError(f"run id {run_id!r} is ambiguous: {', '.join(matches)}; give more of the id")


# ---------------------------------------------------------------- the lock


class LockHolder(Struct):
    pid: int
    started_at: str
    run_id: str | None
    host: str


class RunLock:
    """One run at a time per repository, held with flock so a dead holder frees it."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "lock"
        self._fd: int | None = None

    def acquire(self, run_id: str | None) -> None:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(self._held_message(), retry_safe=True) from None
        holder = {
            "pid": os.getpid(),
            "started_at": now_iso(),
            "run_id": run_id,
            "host": host_name(),
        }
        os.ftruncate(fd, 0)
        # Not synced: the holder is read only while a live process holds the lock, and
        # no process holds it after a power loss.
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd

    def set_run(self, run_id: str) -> None:
        if self._fd is None:
            return
        holder = {
            "pid": os.getpid(),
            "started_at": now_iso(),
            "run_id": run_id,
            "host": host_name(),
        }
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(holder).encode(), 0)

    def _held_message(self) -> str:
        holder = self.holder()
        if holder is None:
            return "another relcheck run holds the lock of this repository"
        run = f" (run {holder.run_id})" if holder.run_id else ""
        return (
            f"another relcheck run is in progress in this repository: pid {holder.pid} on "
            f"{holder.host}, started {holder.started_at}{run}; wait for it to finish or stop it"
        )

    def holder(self) -> LockHolder | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return LockHolder(
                int(data["pid"]),
                str(data["started_at"]),
                data.get("run_id"),
                str(data.get("host", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def is_held(self) -> bool:
        """Whether a live process (this one or another) holds the lock."""
        import fcntl

        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


def run_is_live(state: Path, run_id: str) -> bool:
    lock = RunLock(state)
    if not lock.is_held():
        return False
    holder = lock.holder()
    return holder is not None and holder.run_id == run_id


def iter_tail(path: Path, limit: int = 4000) -> Iterator[str]:
    """The last ``limit`` characters of a log, line by line (for failure reports)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with open(path, "rb") as handle:
        handle.seek(max(0, size - limit))
        text = handle.read().decode("utf-8", errors="replace")
    yield from text.splitlines()
