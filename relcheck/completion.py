"""Shell completion values: the step ids of the checklist here, the run ids of this
repository, the manual steps of a run to sign.

A completion runs at every Tab press, so it stays quiet: any problem (no
checklist, a broken one, no runs) completes nothing rather than printing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import click
from click.shell_completion import CompletionItem


def step_ids(ctx: click.Context, incomplete: str, *, cwd: Path) -> list[CompletionItem]:
    """Step ids for ``--only``/``--skip``; after a comma, the ids not yet listed."""
    try:
        from relcheck.checklist import load_checklist

        checklist = _checklist_arg(ctx, incomplete)

        # Whatever loading might print would land in the shell's list of choices.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            steps = load_checklist(checklist, cwd=cwd).steps
    except Exception:  # a completion never fails loudly
        return []
    done, _, part = incomplete.rpartition(",")
    prefix = f"{done}," if done else ""
    listed = {item.strip() for item in done.split(",")}
    return [
        CompletionItem(prefix + step.id, help=step.title if step.title != step.id else None)
        for step in steps
        if step.id.startswith(part) and step.id not in listed
    ]


def _checklist_arg(ctx: click.Context, incomplete: str) -> str | None:
    """The PATH argument typed before the option being completed, if any.

    Click parses the words before the cursor, but gives up on the values when
    the last one is an option still waiting for its value (``--only <Tab>``),
    so the words are parsed again without it. Every completion script click
    writes passes the words in ``COMP_WORDS``.
    """
    given = ctx.params.get("path")
    if given is not None or not ctx.info_name:
        return str(given) if given is not None else None
    from click.shell_completion import split_arg_string

    words = split_arg_string(os.environ.get("COMP_WORDS", ""))
    if ctx.info_name not in words:
        return None
    args = words[words.index(ctx.info_name) + 1 :]
    if args and args[-1] == incomplete:
        args.pop()
    if args and args[-1] in ("--only", "--skip"):
        args.pop()
    with ctx.command.make_context(ctx.info_name, args, resilient_parsing=True) as again:
        value = again.params.get("path")
    return str(value) if value is not None else None


def run_ids(incomplete: str, *, cwd: Path) -> list[CompletionItem]:
    """Run ids of this repository, newest first, each with its release version."""
    try:
        from relcheck.journal import list_runs

        folders = list(reversed(list_runs(cwd)))
    except Exception:  # a completion never fails loudly
        return []
    return [
        CompletionItem(folder.name, help=_version(folder))
        for folder in folders
        if folder.name.startswith(incomplete)
    ]


def manual_step_ids(ctx: click.Context, incomplete: str, *, cwd: Path) -> list[CompletionItem]:
    """For ``sign STEP``: the manual steps of the run being signed (``--run``, if typed
    before, else the latest), each with its title and status."""
    try:
        from relcheck.journal import find_run, replay

        run_id = ctx.params.get("run_id")
        record = replay(find_run(cwd, run_id if isinstance(run_id, str) else None), live=False)
    except Exception:  # a completion never fails loudly
        return []
    return [
        CompletionItem(step.id, help=f"{step.title} ({step.status})")
        for step in record.steps.values()
        if step.kind == "manual" and step.id.startswith(incomplete)
    ]


def _version(folder: Path) -> str | None:
    """The release of a run, from its journal's first line only (cheap at every Tab)."""
    from relcheck.journal import JOURNAL

    try:
        with open(folder / JOURNAL, "rb") as journal:
            first = json.loads(journal.readline())
        version = first.get("release", {}).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return f"release {version}" if isinstance(version, str) else None
