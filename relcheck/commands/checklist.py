"""``checklists``, ``init``, ``validate`` and ``plan``: working with checklist files."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relcheck.errors import EXIT_OK, ConfigError, Problem, UsageError
from relcheck.files import write_atomic
from relcheck.kinds import KINDS
from relcheck.kinds.base import ResolvedStep
from relcheck.model import Checklist, Release
from relcheck.resources import builtin_checklists
from relcheck.ui import UI

DEFAULT_NAME = "relcheck.yaml"


def list_builtins(*, ui: UI) -> int:
    import yaml

    for name, path in builtin_checklists().items():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        description = str(data.get("description") or data.get("name") or "").strip()
        first = description.splitlines()[0] if description else ""
        ui.stream.write(f"{name:<20} {first}\n")
    return EXIT_OK


def init(name: str, *, force: bool, cwd: Path, ui: UI) -> int:
    builtins = builtin_checklists()
    if name not in builtins:
        raise UsageError(f"no built-in checklist {name!r}; choose one of: {', '.join(builtins)}")
    target = _init_target(cwd)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; pass --force to overwrite it")
    from relcheck.commands.schema import SCHEMA_FILE, schema_text, with_schema_comment

    write_atomic(target, with_schema_comment(builtins[name].read_text(encoding="utf-8")))
    write_atomic(target.parent / SCHEMA_FILE, schema_text())
    ui.stream.write(
        f"Wrote {target} from the built-in {name!r}, and {SCHEMA_FILE} beside it for "
        "editors. Check it with `relcheck validate`, preview it with `relcheck plan`.\n"
    )
    return EXIT_OK


def _init_target(cwd: Path) -> Path:
    """Where ``init`` writes: ``[tool.relcheck] checklist`` when it names a file, else here."""
    from relcheck.resources import BUILTIN_PREFIX
    from relcheck.settings import project_settings

    configured = project_settings(cwd).checklist
    if configured is None or configured.startswith(BUILTIN_PREFIX):
        return cwd / DEFAULT_NAME
    return Path(configured)


def validate(args: Sequence[str], *, cwd: Path, ui: UI) -> int:
    """Check each checklist named (or the default one); any problem in any of them exits 2.

    Every file is checked even after one fails, so a pre-commit hook given
    several files reports all of their problems at once.
    """
    from relcheck.checklist import load_checklist

    if len(args) <= 1:
        _report_valid(load_checklist(args[0] if args else None, cwd=cwd), ui)
        return EXIT_OK
    problems: list[Problem] = []
    for arg in args:
        try:
            _report_valid(load_checklist(arg, cwd=cwd), ui)
        except ConfigError as exc:
            problems.extend(exc.problems)
        except UsageError as exc:  # unreadable: a problem of that file, and go on
            message = exc.message.removeprefix(f"{arg}: ")
            problems.append(Problem(arg, 1, 1, "(root)", message))
    if problems:
        raise ConfigError(problems)
    return EXIT_OK


def _report_valid(checklist: Checklist, ui: UI) -> None:
    for warning in checklist.warnings:
        ui.stream.write(f"{warning}\n")
    ui.stream.write(
        f"{checklist.path}: valid, {len(checklist.steps)} steps"
        f"{f', {len(checklist.warnings)} warnings' if checklist.warnings else ''}\n"
    )


def _resolve(
    arg: str | None, *, version: str | None, cwd: Path
) -> tuple[Checklist, Release, list[ResolvedStep]]:
    from relcheck import gitrepo
    from relcheck.checklist import load_checklist
    from relcheck.plan import PLACEHOLDER_VERSION, check_version, make_release, plan_run

    checklist = load_checklist(arg, cwd=cwd)
    if version is not None:
        check_version(version)
    head = gitrepo.head(gitrepo.find_root(cwd))
    release = make_release(
        checklist,
        version=version or PLACEHOLDER_VERSION,
        environ=os.environ,
        branch=head.branch,
        commit=head.commit,
    )
    steps, _ = plan_run(checklist, release=release, environ=os.environ)
    return checklist, release, steps


def plan(arg: str | None, *, version: str | None, as_json: bool, cwd: Path, ui: UI) -> int:
    checklist, release, steps = _resolve(arg, version=version, cwd=cwd)
    if as_json:
        ui.stream.write(json.dumps(plan_json(checklist, release, steps), indent=2) + "\n")
        return EXIT_OK
    show_plan(checklist, release, steps, ui=ui, only=None, skip=frozenset())
    return EXIT_OK


def _step_json(step: ResolvedStep, release: Release) -> dict[str, Any]:
    kind = KINDS[step.kind]
    return {
        "id": step.id,
        "title": step.step.title,
        "kind": step.kind,
        "required": step.step.required,
        "owner": step.owner,
        "expected": step.expected,
        "rollback": step.rollback or kind.default_rollback(step, release),
        "command": step.shown,
        "action": kind.describe(step),
        "needs": list(step.step.needs) if step.step.needs is not None else None,
        "retries": step.step.retries,
        "timeout_s": step.timeout,
        "skipped_by_when": step.skip_reason,
    }


def plan_json(checklist: Checklist, release: Release, steps: list[ResolvedStep]) -> dict[str, Any]:
    return {
        "checklist": checklist.source,
        "checklist_sha256": checklist.sha256,
        "release": {"version": release.version, "tag": release.tag, "commit": release.commit},
        "steps": [_step_json(step, release) for step in steps],
    }


def show_plan(
    checklist: Checklist,
    release: Release,
    steps: list[ResolvedStep],
    *,
    ui: UI,
    only: frozenset[str] | None,
    skip: frozenset[str],
    jobs: int = 1,
) -> None:
    from relcheck.plan import step_order

    out = ui.stream
    out.write(f"Checklist {checklist.name or checklist.source} ({checklist.path})\n")
    commit = release.commit[:12] if release.commit else "(no commit yet)"
    out.write(f"Release {release.version}: tag {release.tag} on commit {commit}\n\n")
    order = step_order(steps)
    left_out = {
        step.id for step in steps if (only is not None and step.id not in only) or step.id in skip
    }
    for number, step in enumerate(steps, 1):
        out.write(f"{number:>2}. {step.id} [{step.kind}] {step.step.title}\n")
        lines = _plan_lines(step, release, order.waits_for[step.id], only=only, skip=skip)
        blocked = _gate_blocked_by(step, steps, left_out)
        if blocked and step.id not in left_out:
            lines.insert(
                0,
                f"will be blocked: it waits for every required step before it, "
                f"and {', '.join(blocked)} is left out (the run will fail)",
            )
        for line in lines:
            out.write(f"      {line}\n")
    kept = [step.id for step in steps if step.id not in left_out]
    _show_waves(ui, order.waves(kept), jobs)


def _gate_blocked_by(
    step: ResolvedStep, steps: list[ResolvedStep], left_out: set[str]
) -> list[str]:
    """The required steps left out that will block a gate (the tag step)."""
    if not KINDS[step.kind].waits_for_every_step:
        return []
    before = steps[: steps.index(step)]
    return [s.id for s in before if s.id in left_out and s.step.required]


def _show_waves(ui: UI, waves: list[list[str]], jobs: int) -> None:
    if all(len(wave) <= 1 for wave in waves):
        ui.stream.write("\nOrder: one step at a time, in file order.\n")
        return
    if jobs <= 1:
        ui.stream.write(
            "\nOrder: one step at a time, in file order. With --jobs N, automated steps in "
            "the same group below can run side by side:\n"
        )
    else:
        ui.stream.write(f"\nOrder (with --jobs {jobs}, up to {jobs} side by side):\n")
    for number, wave in enumerate(waves, 1):
        ui.stream.write(f"  {number}. {' | '.join(wave)}\n")


def _plan_lines(
    step: ResolvedStep,
    release: Release,
    waits_for: tuple[str, ...],
    *,
    only: frozenset[str] | None,
    skip: frozenset[str],
) -> list[str]:
    kind = KINDS[step.kind]
    lines = []
    if only is not None and step.id not in only:
        lines.append("left out by --only")
    elif step.id in skip:
        lines.append("left out by --skip")
    if step.skip_reason:
        lines.append(f"skipped: {step.skip_reason}")
    text = (step.shown if step.kind in ("run", "manual") else kind.describe(step)).strip()
    first, *rest = text.splitlines() or [""]
    lines.append(f"{'run' if kind.automated else 'do'}: {first}")
    lines.extend(f"     {extra}" for extra in rest)
    unnamed = "not named: from answers, else asked at a terminal, else [tool.relcheck] owner"
    lines.append(f"owner: {step.owner or unnamed}")
    lines.append(f"expected: {step.expected}")
    rollback = step.rollback or kind.default_rollback(step, release)
    lines.append(f"rollback: {rollback or 'not given: asked at a terminal, else recorded as none'}")
    if not kind.automated:
        lines.append("prompts: done / failed / skip, then an optional note")
    if step.step.needs is not None or kind.waits_for_every_step:
        lines.append(f"waits for: {', '.join(waits_for) or 'nothing'}")
    if step.step.retries:
        lines.append(
            f"retries: up to {step.step.retries} (first after {step.step.retry_delay:g} s)"
        )
    if not step.step.required:
        lines.append("optional: a failure does not fail the run")
    lines.append(f"timeout: {step.timeout:g} s")
    return lines


def runbook(
    arg: str | None,
    *,
    version: str | None,
    output: Path | None,
    fmt: str = "md",
    cwd: Path,
    ui: UI,
) -> int:
    """Render the checklist as a runbook (Markdown or HTML) to follow without relcheck."""
    from relcheck.render import render_document

    checklist, release, steps = _resolve(arg, version=version, cwd=cwd)
    context = {
        "checklist": checklist,
        "release": release,
        "steps": [
            {
                **_step_json(step, release),
                "description": step.step.description,
                "automated": KINDS[step.kind].automated,
                "when": None if step.step.when in (None, True) else step.step.when,
            }
            for step in steps
        ],
    }
    from relcheck.settings import project_settings

    templates = project_settings(cwd).templates
    text = render_document(f"runbook.{fmt}.j2", context, templates=templates, html=fmt == "html")
    if output is None:
        ui.stream.write(text)
    else:
        write_atomic(output, text)
        ui.stream.write(f"Wrote {output}\n")
    return EXIT_OK
