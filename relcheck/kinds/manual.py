"""The ``manual`` kind: a person does the work and confirms it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.model import FAILED, PASSED, SKIPPED, Release, Step


class ManualKind:
    key = "manual"
    automated = False
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
        return _outcome(answer, note, confirmed_by=resolved.owner, how="at the terminal")


def _instructions(resolved: ResolvedStep) -> str:
    lines = [f"  {line}" for line in resolved.shown.strip().splitlines()]
    lines.append(f"  owner:    {resolved.owner or 'not named'}")
    lines.append(f"  expected: {resolved.expected}")
    lines.append(f"  rollback: {resolved.rollback or 'not given'}")
    return "\n".join(lines)


def _from_answer(resolved: ResolvedStep, ctx: StepContext) -> Outcome:
    answer = ctx.answer or {}
    choice = answer.get("answer")
    if not choice:
        where = f"in {ctx.answers_file}" if ctx.answers_file else "in a file passed with --answers"
        return Outcome(
            FAILED,
            "no answer",
            reason=(
                f"manual step '{resolved.id}' needs a person and no answer was given; "
                f"add `steps: {{{resolved.id}: {{answer: done}}}}` {where}, "
                "or run at a terminal"
            ),
        )
    confirmed = answer.get("owner") or resolved.owner
    return _outcome(
        str(choice),
        answer.get("note"),
        confirmed_by=confirmed,
        how=f"from {ctx.answers_file}" if ctx.answers_file else "from answers",
    )


def _outcome(choice: str, note: str | None, *, confirmed_by: str | None, how: str) -> Outcome:
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
