"""``sign`` and ``sync``: sign-offs of manual steps, shared with the team through git."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from msgspec import Struct

from relcheck import gitrepo
from relcheck.errors import EXIT_OK, RecordError, UsageError
from relcheck.journal import (
    Journal,
    RunLock,
    RunRecord,
    StepRecord,
    apply_event,
    find_run,
    list_runs,
    match_run_id,
    replay,
    state_dir,
)
from relcheck.model import PASSED, RUN_PARTIAL, RUN_PASSED, SKIPPED
from relcheck.secrets import Masker
from relcheck.ui import UI

SIGN_ANSWERS = ("done", "failed")


class SignRequest(Struct, frozen=True):
    step: str
    run_id: str | None
    answer: str
    note: str | None
    by: str | None


def sign(request: SignRequest, *, cwd: Path, ui: UI) -> int:
    """Record a sign-off of a manual step in a run's journal, under the run lock."""
    lock = RunLock(state_dir(cwd))
    lock.acquire(None)
    try:
        folder = find_run(cwd, request.run_id)
        record = replay(folder, live=False)  # we hold the lock: no run is live here
        lock.set_run(record.run_id)
        step = _signable(record, request.step)
        who = request.by or gitrepo.user_name(gitrepo.find_root(cwd))
        if not who:
            raise UsageError("who signs? pass --by NAME, or set git's user.name")
        journal = Journal(folder, Masker.from_env(os.environ, ()))
        try:
            apply_event(record, journal.append(signoff_event(step.id, request, who)))
        finally:
            journal.close()
    finally:
        lock.release()
    _say_signed(record, record.steps[step.id], ui)
    return EXIT_OK


def signoff_event(step_id: str, request: SignRequest, who: str) -> dict[str, Any]:
    """The journal event of a sign-off, worded as an answer at the prompt is."""
    from relcheck.kinds.manual import answer_outcome

    outcome = answer_outcome(
        request.answer, request.note, confirmed_by=who, how="signed with relcheck sign"
    )
    return {
        "event": "step_signed",
        "step": step_id,
        "answer": request.answer,
        "status": outcome.status,
        "actual": outcome.actual,
        "reason": outcome.reason,
        "note": outcome.note,
        "confirmed_by": who,
        "host": socket.gethostname(),
    }


def _signable(record: RunRecord, step_id: str) -> StepRecord:
    if record.state in (RUN_PASSED, RUN_PARTIAL):
        raise RecordError(
            f"run {record.run_id} already ended {record.state}; its sign-offs can no longer "
            "change. Start a new run (`relcheck run`) to release again"
        )
    manual = [step.id for step in record.steps.values() if step.kind == "manual"]
    listed = ", ".join(manual) or "none"
    step = record.steps.get(step_id)
    if step is None:
        from relcheck.checklist.suggest import did_you_mean

        close = did_you_mean(step_id, manual)
        hint = f"did you mean '{close}'?" if close else f"its manual steps are: {listed}"
        raise UsageError(f"run {record.run_id} has no step '{step_id}'; {hint}")
    if step.kind != "manual":
        raise UsageError(
            f"step '{step_id}' is a {step.kind} step; `relcheck sign` signs off manual steps "
            f"only (in run {record.run_id}: {listed})"
        )
    return step


def _say_signed(record: RunRecord, step: StepRecord, ui: UI) -> None:
    ui.print(f"Run {record.run_id}, step {step.id}: {step.actual}")
    if step.note:
        ui.print(f"  note: {step.note}")
    left = [s.id for s in record.steps.values() if s.status not in (PASSED, SKIPPED) or s.blocked]
    if left:
        ui.print(f"Left in this run: {', '.join(left)}.")
    ui.print(
        "`relcheck resume` carries on with what is left; `relcheck sync` shares this "
        "sign-off with the team."
    )


def sync(remote: str, run_id: str | None, *, cwd: Path, ui: UI) -> int:
    """Exchange run records with ``remote`` as git notes on the release commits."""
    from relcheck.team import NOTES_REF
    from relcheck.team import sync as exchange

    root = gitrepo.find_root(cwd)
    if root is None:
        raise UsageError(f"{cwd} is not in a git repository; `relcheck sync` shares runs via git")
    state = state_dir(cwd)
    only = _local_run_id(cwd, run_id)
    report = exchange(root, state, remote=remote, only=only)
    for warning in report.warnings:
        ui.warn(warning)
    for name in sorted(report.brought_in):
        new = " (new here)" if name in report.new_runs else ""
        ui.print(f"Run {name}: brought in {_events(report.brought_in[name])}{new}")
    for name in sorted(report.shared):
        ui.print(f"Run {name}: shared {_events(report.shared[name])}")
    if not report.brought_in and not report.shared:
        ui.print(f"Up to date with {remote} ({NOTES_REF}).")
    elif report.attempts > 1:
        ui.print(f"Someone synced at the same moment: merged and pushed on try {report.attempts}.")
    return EXIT_OK


def _local_run_id(cwd: Path, run_id: str | None) -> str | None:
    """A local run's full id from a prefix; an id not here may still be on the remote."""
    if run_id is None:
        return None
    matches = match_run_id([folder.name for folder in list_runs(cwd)], run_id)
    if len(matches) > 1:
        raise RecordError(
            f"run id {run_id!r} is ambiguous: {', '.join(matches)}; give more of the id"
        )
    return matches[0] if matches else run_id


def _events(count: int) -> str:
    return f"{count} event{'s' if count != 1 else ''}"
