"""Walks the steps of a run in order or side by side, asks what must be asked, journals it all."""

from __future__ import annotations

import bisect
import codecs
import contextlib
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from msgspec import Struct, field
from msgspec.structs import asdict, replace

from relcheck.answers import Answers
from relcheck.errors import Interrupted, RelcheckError
from relcheck.journal import Journal, RunRecord, StepRecord, apply_event, final_state, now_iso
from relcheck.kinds import KINDS
from relcheck.kinds.base import Outcome, Prompter, ResolvedStep, StepContext
from relcheck.model import (
    FAILED,
    INTERRUPTED,
    NO_ROLLBACK,
    PASSED,
    PENDING,
    RUNNING,
    SKIPPED,
    Release,
)
from relcheck.plan import Order, step_order
from relcheck.secrets import Masker
from relcheck.ui import UI

_CAPTURE_LIMIT = 16 * 1024 * 1024
_TICK_S = 0.2


class Interaction(Struct, frozen=True):
    """How the walk gets what a checklist leaves open."""

    prompter: Prompter | None
    answers: Answers
    fallback_owner: str | None


class Settings(Struct, frozen=True):
    """How to walk: side by side or not, on past failures or not."""

    release: Release
    base_dir: Path
    repo_root: Path | None = None
    jobs: int = 1
    keep_going: bool = False
    update_snapshots: bool = False


class StepOutput:
    """Masks a command's output once, then sends it to its log, the terminal and a capture.

    The capture keeps the first 16 MiB for ``expect`` checks; longer output is
    read back from the log, which always has all of it.
    """

    def __init__(
        self, log: IO[bytes], ui: UI | None, masker: Masker, *, step: str | None = None
    ) -> None:
        self._log = log
        self._step = step
        self._start = log.tell()
        self._ui = ui
        self._stream = masker.stream()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._captured = bytearray()
        self._size = 0

    def feed(self, data: bytes) -> None:
        self._write(self._stream.feed(data))

    def close(self) -> None:
        self._write(self._stream.flush(), final=True)

    def text(self) -> str:
        if self._size <= _CAPTURE_LIMIT:
            return self._captured.decode("utf-8", errors="replace")
        with open(self._log.name, "rb") as log:
            log.seek(self._start)
            return log.read().decode("utf-8", errors="replace")

    def _write(self, masked: bytes, *, final: bool = False) -> None:
        self._log.write(masked)
        self._log.flush()
        self._size += len(masked)
        if self._ui is not None:
            # Decoded incrementally: a character split between two reads stays whole.
            self._ui.output(self._decoder.decode(masked, final=final), step=self._step)
        if len(self._captured) < _CAPTURE_LIMIT:
            self._captured.extend(masked)


class _Running(Struct):
    step: ResolvedStep
    cancel: threading.Event
    started: float
    thread: threading.Thread | None = None


class _Done(Struct):
    step_id: str
    outcome: Outcome
    attempt: int
    duration_s: float
    flaky: bool = False
    error: BaseException | None = None
    recorded: bool = False  # its step_finished is written (by the step's thread)


class _Walk(Struct):
    running: dict[str, _Running] = field(default_factory=dict)
    done: queue.Queue[_Done] = field(default_factory=queue.Queue)
    settled: set[str] = field(default_factory=set)
    stopping: bool = False
    # Where to look next, so a long checklist is not scanned from the top again and
    # again: steps before ``first_open`` are all handled, and each step's first
    # ``met[id]`` needs are met for good (what is handled or met stays so in a walk).
    first_open: int = 0
    met: dict[str, int] = field(default_factory=dict)
    # The same for every step that waits for all steps before it (and is no gate):
    # their needs are the steps before them, so what is met for one is for all.
    before_met: int = 0
    # The journal's writes when the last automated step started: its attempt syncs every
    # one of them before it has any effect (see ``Engine._attempt``); an attempt that
    # fails before its command exists syncs nothing, but its end comes after these.
    covered: int = 0


# How one need of a step stands (besides "wait" and the reason it blocks the step).
_MET = "met"  # passed, or skipped in a way that does not hold the step back
_PASSABLE = "passable"  # an optional failure: it holds back only the steps naming it


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) and SIGHUP (a closed terminal) stop a run as Ctrl-C does,
    so the running step's process group is stopped and the run saved, not orphaned."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Engine:
    """Runs resolved steps when what they wait for has passed, and records every change."""

    def __init__(
        self,
        *,
        steps: Sequence[ResolvedStep],
        journal: Journal,
        record: RunRecord,
        ui: UI,
        interaction: Interaction,
        masker: Masker,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.steps = list(steps)
        self.journal = journal
        self.record = record
        self.ui = ui
        self.interaction = interaction
        self.masker = masker
        self.settings = settings
        self.clock = clock
        self.order: Order = step_order(self.steps)
        self._lock = threading.Lock()
        # The main thread waits for results (see ``_next_done``) and syncs what came before
        # it does anything else; otherwise (a prompt, say) a step's thread syncs its own.
        self._main_waits = False
        self._by_id = {step.id: step for step in self.steps}
        # Places of the steps that do not simply wait for every step before them.
        self._own_order = sorted(
            index
            for index, step in enumerate(self.steps)
            if step.id in self.order.explicit or step.id in self.order.gates
        )

    def emit(self, event: Mapping[str, Any], *, durable: bool = True) -> None:
        with self._lock:
            apply_event(self.record, self.journal.append(event, durable=durable))

    def leave_out(self, only: frozenset[str] | None, skip: frozenset[str]) -> None:
        """Record steps the user left out on the command line."""
        for step in self.steps:
            if only is not None and step.id not in only:
                self._skip(step, "left out by --only")
            elif step.id in skip:
                self._skip(step, "left out by --skip")

    def _skip(self, step: ResolvedStep, reason: str, *, blocked: bool = False) -> None:
        self.emit(
            {
                "event": "step_finished",
                "step": step.id,
                "status": SKIPPED,
                "actual": "not run",
                "reason": reason,
                "blocked": blocked,
                "duration_s": 0.0,
            }
        )
        self.ui.step_end(step.id, SKIPPED, reason)

    # ------------------------------------------------------------ the walk

    def walk(self) -> str:
        """Run every step not yet passed or skipped; return the run's final state."""
        import gc

        if not gc.isenabled():
            # Start-up ran without the cycle collector (relcheck.entry); a walk may last
            # for hours, so it collects again, passing over what start-up made (it lives on).
            gc.freeze()
            gc.enable()
        walk = _Walk()
        self.ui.walk_started(self.record, jobs=self.settings.jobs)
        try:
            with _stop_signals_interrupt():
                self._loop(walk)
        except KeyboardInterrupt:
            self._stop_running(walk)
            self.emit({"event": "run_interrupted"})
            raise Interrupted(
                "interrupted: the run is saved; `relcheck resume` carries on from here"
            ) from None
        except BaseException:
            self._stop_running(walk)  # no orphan, even on an internal error
            raise
        finally:
            self.ui.live_clear()
        state = final_state(self.record)
        self.emit({"event": "run_finished", "state": state})
        return state

    def _loop(self, walk: _Walk) -> None:
        while True:
            self._collect(walk, block=False)
            started = False if walk.stopping else self._start_ready(walk)
            if not walk.running:
                if started:
                    continue
                break
            if self.journal.written > walk.covered:
                # What finished is on disk before waiting on what runs, unless a step
                # started after the last line: its own sync, before its command runs,
                # carries every line.
                self.journal.sync()
            self._collect(walk, block=True)

    @staticmethod
    def _todo(record: StepRecord, walk: _Walk) -> bool:
        """Not yet handled in this walk, and not passed or skipped in an earlier one."""
        if record.id in walk.settled or record.id in walk.running:
            return False
        return record.status not in (PASSED, SKIPPED) or record.blocked

    def _start_ready(self, walk: _Walk) -> bool:
        """Start what can start now; True when something started or was settled."""
        progressed = False
        steps = self.steps
        while walk.first_open < len(steps) and not self._todo(
            self.record.steps[steps[walk.first_open].id], walk
        ):
            walk.first_open += 1
        index = walk.first_open
        while index < len(steps):
            step = steps[index]
            index += 1
            if not self._todo(self.record.steps[step.id], walk):
                continue
            verdict = self._readiness(step, walk)
            if verdict == "wait":
                if step.id not in self.order.explicit and step.id not in self.order.gates:
                    # It waits for every step before it, so every later step that
                    # does the same waits too: look only at those that do not.
                    index = self._own_order_from(index)
                continue
            if verdict == "ready" and len(walk.running) >= max(1, self.settings.jobs):
                break
            walk.settled.add(step.id)
            progressed = True
            if verdict != "ready":
                self._skip(step, verdict, blocked=True)
                continue
            if step.skip_reason:
                self._skip(step, step.skip_reason)
            elif KINDS[step.kind].automated:
                self._start_automated(step, walk)
            else:
                self._run_manual(step, walk)
            if walk.stopping:
                break
        return progressed

    def _own_order_from(self, index: int) -> int:
        """The first place at or after ``index`` of a step in ``_own_order``."""
        found = bisect.bisect_left(self._own_order, index)
        return self._own_order[found] if found < len(self._own_order) else len(self.steps)

    def _readiness(self, step: ResolvedStep, walk: _Walk) -> str:
        """'ready', 'wait', or the reason the step is blocked: that of its first need
        (in order) that is not met."""
        gate = step.id in self.order.gates
        explicit = step.id in self.order.explicit
        needs = self.order.waits_for[step.id]
        everything_before = not gate and not explicit
        met = min(walk.before_met, len(needs)) if everything_before else walk.met.get(step.id, 0)
        verdict = "ready"
        for index in range(met, len(needs)):
            found = self._need(needs[index], gate=gate, explicit=explicit)
            if needs[index] in walk.running:  # ended, but its end not yet taken in
                found = "wait"
            if found == _MET and index == met:
                met += 1
            elif found not in (_MET, _PASSABLE):
                verdict = found
                break
        if everything_before:
            walk.before_met = max(walk.before_met, met)
        else:
            walk.met[step.id] = met
        return verdict

    def _need(self, need: str, *, gate: bool, explicit: bool) -> str:
        other = self.record.steps[need]
        required = self._by_id[need].step.required
        if other.status in (RUNNING, PENDING):
            return "wait"
        if other.status == PASSED:
            return _MET
        if other.status == SKIPPED and not other.blocked:
            if not gate or not required or (other.reason or "").startswith("when:"):
                return _MET
            return (
                f"blocked: the tag waits for every required step before it to pass, "
                f"and '{need}' was {other.reason or 'skipped'}"
            )
        if not required and not explicit:
            return _PASSABLE
        what = "was blocked" if other.blocked else f"ended {other.status}"
        return f"blocked: needs '{need}', which {what}"

    # ------------------------------------------------------------ one step

    def _begin(self, step: ResolvedStep) -> ResolvedStep:
        """Settle owner and rollback (may prompt: main thread only) and journal the start."""
        if self.interaction.prompter is not None:
            self.journal.sync()  # what finished is on disk before anyone is asked anything
        record = self.record.steps[step.id]
        owner = self._owner(step, record.owner)
        rollback = self._rollback(step, record.rollback)
        resolved = replace(step, owner=owner, rollback=rollback)
        self._started(resolved, record.attempts + 1, owner=owner, rollback=rollback)
        return resolved

    def _started(
        self, step: ResolvedStep, attempt: int, *, owner: str | None, rollback: str | None
    ) -> None:
        # Synced by the attempt itself, before it does anything (see ``_attempt``): steps
        # started together share one disk sync.
        self.emit(
            {
                "event": "step_started",
                "step": step.id,
                "attempt": attempt,
                "owner": owner,
                "rollback": rollback,
                "expected": step.expected,
                "command": step.shown,
                "log": f"logs/{step.id}.log",
            },
            durable=False,
        )
        self.ui.step_start(step, attempt, describe=KINDS[step.kind].describe(step))

    def _run_manual(self, step: ResolvedStep, walk: _Walk) -> None:
        """A person's step: prompts happen here, in the main thread, one at a time."""
        resolved = self._begin(step)
        running = _Running(resolved, threading.Event(), self.clock())
        outcome = self._attempt(resolved, running.cancel, echo=True)
        attempt = self.record.steps[step.id].attempts
        self._finish(walk, running, _Done(step.id, outcome, attempt, self._since(running)))

    def _start_automated(self, step: ResolvedStep, walk: _Walk) -> None:
        resolved = self._begin(step)
        walk.covered = self.journal.written
        running = _Running(resolved, threading.Event(), self.clock())
        echo = self.ui.streams_output(parallel=self.settings.jobs > 1)
        running.thread = threading.Thread(
            target=self._work, args=(running, walk.done, echo), name=f"step-{step.id}", daemon=True
        )
        walk.running[step.id] = running
        running.thread.start()

    def _work(self, running: _Running, done: queue.Queue[_Done], echo: bool) -> None:
        """A worker thread: every attempt of one automated step."""
        step = running.step
        attempt = self.record.steps[step.id].attempts
        first = attempt
        try:
            while True:
                outcome = self._attempt(step, running.cancel, echo=echo)
                if outcome.status != FAILED or attempt - first >= step.step.retries:
                    break
                self._retry_pause(step, outcome, attempt, first, running.cancel)
                if running.cancel.is_set():
                    outcome = Outcome(INTERRUPTED, outcome.actual, reason="interrupted by Ctrl-C")
                    break
                attempt += 1
                self._started(step, attempt, owner=step.owner, rollback=step.rollback)
            flaky = outcome.status == PASSED and attempt > first
            result = _Done(step.id, outcome, attempt, self._since(running), flaky, recorded=True)
            self._record_end(result)
            done.put(result)
        except BaseException as exc:  # reported by the main thread, never lost
            done.put(_Done(step.id, Outcome(FAILED, "crashed"), attempt, 0.0, error=exc))

    def _record_end(self, done: _Done) -> None:
        """The step's result, written as it ends: also while the main thread asks someone
        something, so that a step that ended is never lost or taken for interrupted. Synced
        now unless the main thread waits for results: then the next sync carries it (that
        of the step started next, before its command runs, or the walk's before it waits
        again or ends)."""
        with self._lock:
            line = self.journal.append(self._result(done), durable=not self._main_waits)
            apply_event(self.record, line)

    def _retry_pause(
        self,
        step: ResolvedStep,
        outcome: Outcome,
        attempt: int,
        first: int,
        cancel: threading.Event,
    ) -> None:
        # Every attempt is recorded: close this one before the next starts (replay keeps
        # the step running: what needs it waits).
        self.emit(
            {
                "event": "step_finished",
                "step": step.id,
                "status": FAILED,
                "actual": outcome.actual,
                "reason": outcome.reason,
                "retrying": True,
                "metrics": dict(outcome.metrics),
            }
        )
        delay = step.step.retry_delay * (2 ** (attempt - first))
        self.ui.info(
            f"  {step.id}: attempt {attempt} failed ({outcome.reason}); retrying in {delay:g} s"
        )
        cancel.wait(delay)

    def _attempt(self, step: ResolvedStep, cancel: threading.Event, *, echo: bool) -> Outcome:
        # The attempt's start is on disk before it has any effect: after a power loss the
        # step reads as interrupted, never as not yet run. A gated kind's command waits
        # for ``on_start`` (see ``_context``), which syncs it once its process exists.
        if not KINDS[step.kind].gated:
            self.journal.sync()
        log_path = self.journal.folder / "logs" / f"{step.id}.log"
        attempt = self.record.steps[step.id].attempts
        with open(log_path, "ab") as log:
            log.write(f"--- attempt {attempt} at {now_iso()}\n".encode())
            sink = StepOutput(log, self.ui if echo else None, self.masker, step=step.id)
            try:
                return KINDS[step.kind].execute(step, self._context(step, sink, cancel))
            except RelcheckError as exc:  # e.g. the shell or folder cannot be used
                return Outcome(FAILED, "not started", reason=self.masker.mask(exc.message))
            finally:
                sink.close()

    def _context(
        self, step: ResolvedStep, sink: StepOutput, cancel: threading.Event
    ) -> StepContext:
        def on_start(pgid: int) -> None:
            from relcheck.proc import group_mark

            # The command waits for this line (see relcheck.proc), and for the step's start
            # to be on disk: synced with it (the group id itself only matters to a relcheck
            # that was killed, not to one after a reboot, which ends the group anyway).
            event = {"event": "step_process", "step": step.id, **group_mark(pgid)}
            self.emit(event, durable=False)
            self.journal.sync()

        answer = self.interaction.answers.for_step(step.id)
        return StepContext(
            output=sink.feed,
            captured_output=sink.text,
            on_process_start=on_start,
            cancel=cancel,
            prompter=self.interaction.prompter,
            answer=asdict(answer) if answer else None,
            answers_file=self.interaction.answers.source,
            release=self.settings.release,
            base_dir=self.settings.base_dir,
            repo_root=self.settings.repo_root,
            update_snapshots=self.settings.update_snapshots,
        )

    # ------------------------------------------------------------ results

    def _collect(self, walk: _Walk, *, block: bool) -> None:
        """Record finished steps; while waiting, keep the live view fresh."""
        while walk.running:
            try:
                done = self._next_done(walk) if block else walk.done.get_nowait()
            except queue.Empty:
                if not block:
                    return
                self.ui.live(self._live_rows(walk))
                continue
            self._finish(walk, walk.running.pop(done.step_id), done)
            block = False

    def _next_done(self, walk: _Walk) -> _Done:
        with self._lock:
            self._main_waits = True
        try:
            return walk.done.get(timeout=_TICK_S)
        finally:
            with self._lock:
                self._main_waits = False

    def _live_rows(self, walk: _Walk) -> list[tuple[str, str, float]]:
        now = self.clock()
        return [(r.step.id, r.step.step.title, now - r.started) for r in walk.running.values()]

    def _since(self, running: _Running) -> float:
        return round(self.clock() - running.started, 3)

    def _finish(self, walk: _Walk, running: _Running, done: _Done) -> None:
        step = running.step
        if running.thread is not None:
            running.thread.join()
        if done.error is not None:
            raise done.error
        outcome = done.outcome
        if not done.recorded:  # a person's step (the main thread's own)
            # Synced with the next line: the next step's start (one disk sync for both, and
            # still before that step runs), the end of the run, or before the walk waits.
            self.emit(self._result(done), durable=False)
        # The screen shows the log of a failed step whose output it did not stream.
        self.ui.step_end(step.id, outcome.status, self._summary(outcome, done))
        if outcome.status == INTERRUPTED:
            raise KeyboardInterrupt
        if outcome.status == FAILED and step.step.required and not self.settings.keep_going:
            if not walk.stopping:
                self.ui.info(
                    "A required step failed: nothing new starts; the remaining steps stay "
                    "pending. Fix it and run `relcheck resume`."
                )
            walk.stopping = True

    @staticmethod
    def _result(done: _Done) -> dict[str, Any]:
        outcome = done.outcome
        return {
            "event": "step_finished",
            "step": done.step_id,
            "status": outcome.status,
            "actual": outcome.actual,
            "reason": outcome.reason,
            "note": outcome.note,
            "confirmed_by": outcome.confirmed_by,
            "duration_s": done.duration_s,
            "flaky": done.flaky,
            "metrics": dict(outcome.metrics),
        }

    @staticmethod
    def _summary(outcome: Outcome, done: _Done) -> str:
        text = outcome.reason or outcome.actual
        return f"{text} (flaky: passed on attempt {done.attempt})" if done.flaky else text

    def _stop_running(self, walk: _Walk) -> None:
        """Ctrl-C: stop every running step (a second Ctrl-C kills at once) and record it:
        a step that ended meanwhile as it ended (its thread recorded that), any other as
        interrupted."""
        for running in walk.running.values():
            running.cancel.set()
        while walk.running:
            try:
                done = walk.done.get(timeout=_TICK_S)
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                self._kill_running(walk)
                continue
            walk.running.pop(done.step_id, None)
            if done.recorded:
                if done.outcome.status != INTERRUPTED:  # it ended before it could be stopped
                    summary = self._summary(done.outcome, done)
                    self.ui.step_end(done.step_id, done.outcome.status, summary)
                continue
            self.emit(
                {
                    "event": "step_finished",
                    "step": done.step_id,
                    "status": INTERRUPTED,
                    "actual": done.outcome.actual,
                    "reason": "interrupted by Ctrl-C",
                    "duration_s": done.duration_s,
                }
            )
        for record in self.record.steps.values():
            if record.status == RUNNING:  # a manual prompt that Ctrl-C cut short
                self.emit(
                    {
                        "event": "step_finished",
                        "step": record.id,
                        "status": INTERRUPTED,
                        "actual": "interrupted",
                        "reason": "interrupted by Ctrl-C",
                    }
                )

    def _kill_running(self, walk: _Walk) -> None:
        from relcheck.proc import stop_recorded_group

        for running in walk.running.values():
            record = self.record.steps[running.step.id]
            if record.pgid:
                stop_recorded_group(record.pgid, record.pgid_leader, grace_s=0)

    # ------------------------------------------------------------ what the checklist leaves open

    def _owner(self, step: ResolvedStep, recorded: str | None) -> str | None:
        if step.owner or recorded:
            return step.owner or recorded
        answer = self.interaction.answers.for_step(step.id)
        if answer and answer.owner:
            return answer.owner
        default = self.interaction.answers.owner or self.interaction.fallback_owner
        prompter = self.interaction.prompter
        if prompter is None:
            return default
        return prompter.text(f"Owner of '{step.step.title}'", default or "") or default

    def _rollback(self, step: ResolvedStep, recorded: str | None) -> str | None:
        if step.rollback or recorded:
            return step.rollback or recorded
        derived = KINDS[step.kind].default_rollback(step, self.settings.release)
        if derived:
            return self.masker.mask(derived)
        answer = self.interaction.answers.for_step(step.id)
        if answer and answer.rollback:
            return answer.rollback
        prompter = self.interaction.prompter
        if prompter is None or step.kind not in ("run", "manual"):
            return None
        text = prompter.text(
            f"Rollback command for '{step.step.title}' (empty: nothing to undo)", ""
        )
        return text or NO_ROLLBACK
