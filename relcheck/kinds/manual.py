"""The ``manual`` kind: a person does the work and confirms it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.model import FAILED, PASSED, SKIPPED, Release, Step


class ManualKind:
    key = "manual"
    automated = False
    gated = False
    waits_for_every_step = False
    summary = "instructions a person follows and then confirms"
    spec_schema: Mapping[str, Any] = {
        "type": "string",
        "minLength": 1,
        "description": "Instructions for the person doing this step (a Jinja2 template).",
    }
    expect_schema: Mapping[str, Any] = {}

    def default_expected(self, step: Step) -> str:
        return "confirmed done by the owner"

    def describe(self, resolved: ResolvedStep) -> str:
        return resolved.shown.strip().splitlines()[0] if resolved.shown.strip() else ""

    def default_rollback(self, resolved: ResolvedStep, release: Release) -> str | None:
        return None

    def execute(self, resolved: ResolvedStep, ctx: StepContext) -> Outcome:
        if ctx.prompter is None:
            return _from_answer(resolved, ctx)
        prompter = ctx.prompter
        prompter.show(_instructions(resolved))
        answer = prompter.choice(
            f"{resolved.step.title}: done, failed or skip?", ("done", "failed", "skip"), "done"
        )
        note = prompter.text("What did you observe? (optional)", "") or None
        return answer_outcome(answer, note, confirmed_by=resolved.owner, how="at the terminal")


def _instructions(resolved: ResolvedStep) -> str:
    lines = [f"  {line}" for line in resolved.shown.strip().splitlines()]
    lines.append(f"  owner:    {resolved.owner or 'not named'}")
    lines.append(f"  expected: {resolved.expected}")
    lines.append(f"  rollback: {resolved.rollback or 'not given'}")
    return "\n".join(lines)


def _from_answer(resolved: ResolvedStep, ctx: StepContext) -> Outcome:
    answer = ctx.answer or {}
    choice = answer.get("answer")
    answers_file = _answers_name(ctx)
    if not choice:
        where = f"in {answers_file}" if answers_file else "in a file passed with --answers"
        return Outcome(
            FAILED,
            "no answer",
            reason=(
                f"manual step '{resolved.id}' needs a person and no answer was given; "
                f"add `steps: {{{resolved.id}: {{answer: done}}}}` {where}, "
                f"run at a terminal, or sign it off with `relcheck sign {resolved.id}` "
                "and resume"
            ),
        )
    confirmed = answer.get("owner") or resolved.owner
    return answer_outcome(
        str(choice),
        answer.get("note"),
        confirmed_by=confirmed,
        how=f"from {answers_file}" if answers_file else "from answers",
    )


def _answers_name(ctx: StepContext) -> str | None:
    """The answers file as the record names it: from the repository root when inside it,
    else by its file name (the record is shared with the team; paths on this machine
    mean nothing elsewhere)."""
    if not ctx.answers_file:
        return None
    path = Path(ctx.answers_file).resolve()
    if ctx.repo_root is not None and path.is_relative_to(ctx.repo_root.resolve()):
        return path.relative_to(ctx.repo_root.resolve()).as_posix()
    return path.name


def answer_outcome(choice: str, note: str | None, *, confirmed_by: str | None, how: str) -> Outcome:
    """The outcome of a person's answer (done, skip, failed), however it was given."""
    who = confirmed_by or "unknown"
    if choice == "done":
        return Outcome(
            PASSED, f"confirmed done by {who} ({how})", note=note, confirmed_by=confirmed_by
        )
    if choice == "skip":
        return Outcome(
            SKIPPED,
            f"skipped by {who} ({how})",
            reason=f"skipped by {who}",
            note=note,
            confirmed_by=confirmed_by,
        )
    return Outcome(
        FAILED,
        f"reported failed by {who} ({how})",
        reason=f"reported failed by {who}" + (f": {note}" if note else ""),
        note=note,
        confirmed_by=confirmed_by,
    )
