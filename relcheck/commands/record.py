"""``status``, ``history`` and ``rollback``: reading and acting on run records."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from relcheck.errors import EXIT_OK, Interrupted, RecordError, StepFailed, UsageError
from relcheck.journal import (
    Journal,
    RunLock,
    RunRecord,
    SignOff,
    find_run,
    list_runs,
    replay,
    state_dir,
)
from relcheck.kinds import KINDS
from relcheck.kinds.base import ResolvedStep
from relcheck.model import NO_ROLLBACK, PASSED, Release
from relcheck.ui import UI, TerminalPrompter


def show_status(run_id: str | None, *, as_json: bool, cwd: Path, ui: UI) -> int:
    record = replay(find_run(cwd, run_id))
    if as_json:
        ui.stream.write(json.dumps(record.as_status(), indent=2) + "\n")
        return EXIT_OK
    ui.print(f"Checklist {record.checklist} (sha256 {record.checklist_sha256[:12]})")
    ui.print(f"Commit {record.commit or '(none)'} on {record.branch or '(detached)'}")
    ui.print(f"Started {record.started_at}, finished {record.finished_at or '-'}")
    ui.summary(record)
    for item in record.rollbacks:
        ui.print(f"  rollback of {item.step}: {item.status} ({item.actual or ''})")
    if record.signoffs:
        ui.print("Sign-offs (the latest of a step decides it):")
    for signoff in record.signoffs:
        ui.print("  " + _signoff_line(signoff))
    return EXIT_OK


_SIGNED = {"passed": "confirmed done", "failed": "reported failed", "skipped": "skipped"}


def _signoff_line(signoff: SignOff) -> str:
    words = _SIGNED.get(signoff.status, signoff.status)
    how = "with relcheck sign" if signoff.via == "sign" else "during the run"
    note = f': "{signoff.note}"' if signoff.note else ""
    return f"{signoff.when}  {signoff.step}: {words} by {signoff.who or '-'} ({how}){note}"


def _history_row(folder: Path) -> dict[str, Any]:
    try:
        run = replay(folder)
    except RecordError:
        # Killed before its first event was written: nothing to resume, shown as such.
        return {
            "run_id": folder.name,
            "state": "unreadable",
            "version": None,
            "started_at": None,
            "finished_at": None,
        }
    return {
        "run_id": run.run_id,
        "state": run.state,
        "version": run.version,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def show_history(*, as_json: bool, cwd: Path, ui: UI) -> int:
    rows = [_history_row(folder) for folder in reversed(list_runs(cwd))]
    if as_json:
        ui.stream.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK
    if not rows:
        ui.print("No runs yet; start one with `relcheck run`.")
    for row in rows:
        ui.print(
            f"{row['run_id']}  {row['state']:<11} {row['version'] or '-':<14} "
            f"{row['started_at'] or '-'}  {row['finished_at'] or '-'}"
        )
    return EXIT_OK


def rollback_plan(record: RunRecord) -> list[tuple[str, str | None, str | None]]:
    """(step id, owner, rollback) of each passed step not yet rolled back, newest first."""
    undone = {item.step for item in record.rollbacks if item.status == PASSED}
    passed = [s for s in record.steps.values() if s.status == PASSED and s.id not in undone]
    passed.sort(key=lambda s: s.finished_at or "", reverse=True)
    return [(s.id, s.owner, s.rollback) for s in passed]


def _describe(rollback: str | None) -> str:
    if rollback is None or not rollback.strip():
        return "(no rollback given)"
    if rollback.strip().lower() == NO_ROLLBACK:
        return "(nothing to undo)"
    return rollback


def rollback(
    run_id: str | None,
    *,
    execute: bool,
    yes: bool,
    force: bool,
    interactive: bool,
    cwd: Path,
    ui: UI,
) -> int:
    folder = find_run(cwd, run_id)
    record = replay(folder)
    plan = rollback_plan(record)
    if not execute:
        ui.print(f"Rollback plan for run {record.run_id} (release {record.version}), newest first:")
        for step_id, owner, command in plan:
            ui.print(f"  {step_id:<20} owner: {owner or '-':<16} {_describe(command)}")
        if not plan:
            ui.print("  no step passed, so there is nothing to roll back")
        return EXIT_OK
    if not yes and not interactive:
        raise UsageError(
            "rollback --execute asks before each command; without a terminal "
            "pass --yes to run them all"
        )
    lock = RunLock(state_dir(cwd))
    lock.acquire(record.run_id)
    try:
        return _execute(record, force=force, yes=yes, cwd=cwd, ui=ui)
    finally:
        lock.release()


def _real_rollback(step: ResolvedStep | None, recorded: str | None, release: Release) -> str:
    """The rollback with secrets in clear: from the checklist, else derived, else as recorded."""
    if step is None:
        return recorded or ""
    derived = KINDS[step.kind].default_rollback(step, release)
    return step.rollback or derived or recorded or ""


def _execute(record: RunRecord, *, force: bool, yes: bool, cwd: Path, ui: UI) -> int:
    from relcheck.commands.run import check_unchanged, load_run_checklist
    from relcheck.engine import StepOutput
    from relcheck.plan import plan_run
    from relcheck.proc import run_command

    checklist = load_run_checklist(record.checklist_path, cwd=cwd)
    check_unchanged(checklist, record.checklist_sha256, force=force)
    release = Release(record.version, record.tag, record.commit, record.branch)
    steps, masker = plan_run(checklist, release=release, environ=os.environ)
    resolved = {step.id: step for step in steps}
    journal = Journal(record.folder, masker)
    prompter = TerminalPrompter()
    try:
        for step_id, owner, recorded in rollback_plan(record):
            # The journal holds masked text; render again to get the real command.
            step = resolved.get(step_id)
            command = _real_rollback(step, recorded, release)
            if not command.strip() or command.strip().lower() == NO_ROLLBACK:
                ui.line(f"- {step_id}: {_describe(command)}")
                continue
            ui.line(f"▶ rollback {step_id} (owner {owner or '-'}): {masker.mask(command)}")
            if not yes and prompter.choice("Run it?", ("yes", "no"), "yes") != "yes":
                journal.append(
                    {
                        "event": "rollback_step",
                        "step": step_id,
                        "status": "skipped",
                        "actual": "declined at the prompt",
                    }
                )
                continue
            log_path = record.folder / "logs" / f"rollback-{step_id}.log"
            with open(log_path, "ab") as log:
                sink = StepOutput(log, ui, masker)
                result = run_command(
                    command,
                    shell=checklist.defaults.shell,
                    cwd=step.cwd if step else checklist.base_dir,
                    env=dict(step.env) if step else dict(os.environ),
                    timeout=step.timeout if step else checklist.defaults.timeout,
                    on_output=sink.feed,
                )
                sink.close()
            ok = result.exit_code == 0 and not result.interrupted
            journal.append(
                {
                    "event": "rollback_step",
                    "step": step_id,
                    "status": "passed" if ok else "failed",
                    "actual": result.describe(),
                }
            )
            if result.interrupted:
                raise Interrupted(
                    "rollback interrupted; the steps rolled back so far are "
                    "recorded (`relcheck status`)"
                )
            if not ok:
                raise StepFailed(
                    f"rollback of {step_id} failed: {result.describe()}; the "
                    "remaining rollbacks were not run",
                    retry_safe=False,
                )
            ui.step_end(step_id, "passed", f"rolled back: {result.describe()}")
    finally:
        journal.close()
    return EXIT_OK
