"""Walks the steps of a run, asks what must be asked, and journals every change."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from relcheck.answers import Answers
from relcheck.errors import Interrupted
from relcheck.journal import Journal, RunRecord, apply_event, final_state, now_iso
from relcheck.kinds import KINDS
from relcheck.kinds.base import Outcome, Prompter, ResolvedStep, StepContext
from relcheck.model import FAILED, INTERRUPTED, NO_ROLLBACK, PASSED, SKIPPED
from relcheck.secrets import Masker
from relcheck.ui import UI

_CAPTURE_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class Interaction:
    """How the walk gets what a checklist leaves open."""

    prompter: Prompter | None
    answers: Answers
    fallback_owner: str | None

    @property
    def interactive(self) -> bool:
        return self.prompter is not None


class StepOutput:
    """Masks a command's output once, then sends it to its log, the terminal and a capture."""

    def __init__(self, log: IO[bytes], ui: UI, masker: Masker) -> None:
        self._log = log
        self._ui = ui
        self._stream = masker.stream()
        self._captured = bytearray()

    def feed(self, data: bytes) -> None:
        self._write(self._stream.feed(data))

    def close(self) -> None:
        self._write(self._stream.flush())

    def text(self) -> str:
        return self._captured.decode("utf-8", errors="replace")

    def _write(self, masked: bytes) -> None:
        if not masked:
            return
        self._log.write(masked)
        self._log.flush()
        self._ui.output(masked)
        if len(self._captured) < _CAPTURE_LIMIT:
            self._captured.extend(masked)


class Engine:
    """Runs resolved steps in order and records every change in the journal."""

    def __init__(
        self,
        *,
        steps: Sequence[ResolvedStep],
        journal: Journal,
        record: RunRecord,
        ui: UI,
        interaction: Interaction,
        masker: Masker,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.steps = steps
        self.journal = journal
        self.record = record
        self.ui = ui
        self.interaction = interaction
        self.masker = masker
        self.clock = clock
        self._current: str | None = None

    def emit(self, event: Mapping[str, Any]) -> None:
        written = self.journal.append(event)
        apply_event(self.record, written)

    def leave_out(self, only: frozenset[str] | None, skip: frozenset[str]) -> None:
        """Record steps the user left out on the command line."""
        for step in self.steps:
            if only is not None and step.id not in only:
                self._skip(step, "left out by --only")
            elif step.id in skip:
                self._skip(step, "left out by --skip")

    def _skip(self, step: ResolvedStep, reason: str) -> None:
        self.emit(
            {
                "event": "step_finished",
                "step": step.id,
                "status": SKIPPED,
                "actual": "not run",
                "reason": reason,
                "duration_s": 0.0,
            }
        )
        self.ui.step_end(step.id, SKIPPED, reason)

    def walk(self) -> str:
        """Run every step not yet passed or skipped; return the run's final state."""
        try:
            for step in self.steps:
                if self.record.steps[step.id].status in (PASSED, SKIPPED):
                    continue
                status = self._run_one(step)
                if status == FAILED and step.step.required:
                    self.ui.info(
                        "A required step failed; the remaining steps stay pending. "
                        "Fix it and run `relcheck resume`."
                    )
                    break
        except KeyboardInterrupt:
            self._interrupted()
            raise Interrupted(
                "interrupted: the run is saved; `relcheck resume` carries on from here"
            ) from None
        state = final_state(self.record)
        self.emit({"event": "run_finished", "state": state})
        return state

    def _interrupted(self) -> None:
        if self._current is not None:
            record = self.record.steps[self._current]
            if record.status == "running":
                self.emit(
                    {
                        "event": "step_finished",
                        "step": self._current,
                        "status": INTERRUPTED,
                        "actual": "interrupted",
                        "reason": "interrupted by Ctrl-C",
                    }
                )
        self.emit({"event": "run_interrupted"})

    def _run_one(self, step: ResolvedStep) -> str:
        if step.skip_reason:
            self._skip(step, step.skip_reason)
            return SKIPPED
        record = self.record.steps[step.id]
        self._current = step.id
        owner = self._owner(step, record.owner)
        rollback = self._rollback(step, record.rollback)
        resolved = _with(step, owner=owner, rollback=rollback)
        attempt = record.attempts + 1
        log_name = f"logs/{step.id}.log"
        self.emit(
            {
                "event": "step_started",
                "step": step.id,
                "attempt": attempt,
                "owner": owner,
                "rollback": rollback,
                "expected": step.expected,
                "command": step.shown,
                "log": log_name,
            }
        )
        self.ui.step_start(resolved, attempt)
        started = self.clock()
        with open(self.journal.folder / log_name, "ab") as log:
            log.write(f"--- attempt {attempt} at {now_iso()}\n".encode())
            outcome = self._execute(resolved, log)
        duration = round(self.clock() - started, 3)
        self.emit(
            {
                "event": "step_finished",
                "step": step.id,
                "status": outcome.status,
                "actual": outcome.actual,
                "reason": outcome.reason,
                "note": outcome.note,
                "confirmed_by": outcome.confirmed_by,
                "duration_s": duration,
                "metrics": dict(outcome.metrics),
            }
        )
        self.ui.step_end(step.id, outcome.status, outcome.reason or outcome.actual)
        self._current = None
        if outcome.status == INTERRUPTED:
            raise KeyboardInterrupt
        return outcome.status

    def _execute(self, step: ResolvedStep, log: IO[bytes]) -> Outcome:
        sink = StepOutput(log, self.ui, self.masker)

        def on_start(pgid: int) -> None:
            self.emit({"event": "step_process", "step": step.id, "pgid": pgid})

        answer = self.interaction.answers.for_step(step.id)
        ctx = StepContext(
            output=sink.feed,
            captured_output=sink.text,
            on_process_start=on_start,
            cancel=threading.Event(),
            prompter=self.interaction.prompter,
            answer=vars(answer) if answer else None,
            answers_file=self.interaction.answers.source,
        )
        try:
            return KINDS[step.kind].execute(step, ctx)
        finally:
            sink.close()

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


def _with(step: ResolvedStep, *, owner: str | None, rollback: str | None) -> ResolvedStep:
    from dataclasses import replace

    return replace(step, owner=owner, rollback=rollback)
