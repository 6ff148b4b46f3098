"""``relcheck run`` and ``relcheck resume``: start or continue a recorded run."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from relcheck import gitrepo
from relcheck.answers import Answers, load_answers
from relcheck.checklist import load_checklist, resolve_checklist_path
from relcheck.ci_output import RunOutputs
from relcheck.engine import Engine, Interaction, Settings
from relcheck.errors import EXIT_FAILED, EXIT_OK, RecordError, UsageError
from relcheck.journal import (
    Journal,
    RunLock,
    RunRecord,
    find_run,
    host_name,
    new_run_id,
    replay,
    runs_dir,
    state_dir,
)
from relcheck.kinds.base import ResolvedStep
from relcheck.model import FAILED, INTERRUPTED, RUN_PARTIAL, RUN_PASSED, RUNNING, Checklist, Release
from relcheck.plan import PLACEHOLDER_VERSION, check_version, make_release, plan_run
from relcheck.resources import BUILTIN_PREFIX
from relcheck.secrets import Masker
from relcheck.settings import project_settings
from relcheck.ui import UI, TerminalPrompter, stdin_is_terminal


class InteractionOptions(Struct, frozen=True):
    answers_file: Path | None
    non_interactive: bool


def is_interactive(non_interactive: bool) -> bool:
    """A person can be asked: a terminal on stdin, not told otherwise, not in CI."""
    in_ci = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
    return not non_interactive and not in_ci and stdin_is_terminal()


def _interaction(
    options: InteractionOptions, cwd: Path, steps: list[ResolvedStep], ui: UI
) -> Interaction:
    answers = load_answers(options.answers_file) if options.answers_file else Answers()
    _check_answer_ids(answers, steps)
    prompter = TerminalPrompter(ui) if is_interactive(options.non_interactive) else None
    # The project's owner ([tool.relcheck]) comes after the checklist and the answers
    # file, as the owner prompt's default: what is typed at the terminal wins. Only a
    # step without an owner needs it (and git's user.name costs a process).
    owner = None
    if any(not step.owner for step in steps):
        owner = project_settings(cwd).owner or gitrepo.user_name(gitrepo.find_root(cwd))
    return Interaction(prompter=prompter, answers=answers, fallback_owner=owner)


def _check_answer_ids(answers: Answers, steps: list[ResolvedStep]) -> None:
    known = [step.id for step in steps]
    for step_id in answers.steps:
        if step_id not in known:
            from relcheck.checklist.suggest import did_you_mean

            close = did_you_mean(step_id, known)
            hint = f"did you mean '{close}'?" if close else f"the steps are: {', '.join(known)}"
            raise UsageError(f"{answers.source}: steps.{step_id}: no step has this id; {hint}")


def _planned(checklist: Checklist, release: Release, ui: UI) -> tuple[list[ResolvedStep], Masker]:
    steps, masker = plan_run(checklist, release=release, environ=os.environ)
    for name in masker.too_short:
        ui.warn(f"secret variable {name} is shorter than 4 characters and is not masked")
    return steps, masker


def _release(
    checklist: Checklist,
    version: str | None,
    *,
    cwd: Path,
    placeholder: bool,
    interactive: bool,
    ui: UI,
) -> tuple[Release, str | None]:
    """The release, and how its version was chosen when ``--release`` did not say."""
    head = gitrepo.head(gitrepo.find_root(cwd))
    suggested: str | None = None
    if version is None and placeholder:
        version = PLACEHOLDER_VERSION
    elif version is None:
        version, suggested = suggest_release(checklist, cwd=cwd)
        ui.info(f"Release version not given: suggesting {version} ({suggested})")
        if interactive:
            chosen = TerminalPrompter().text("Release version", version)
            suggested = suggested if chosen == version else None
            version = chosen
    if version != PLACEHOLDER_VERSION:
        check_version(version)
    release = make_release(
        checklist, version=version, environ=os.environ, branch=head.branch, commit=head.commit
    )
    return release, suggested


def suggest_release(checklist: Checklist, *, cwd: Path) -> tuple[str, str]:
    """The next version from the commits since the previous release tag, and why."""
    from relcheck.history import read_release
    from relcheck.versions import FIRST_VERSION, suggest_version

    root = gitrepo.find_root(cwd)
    if root is None or gitrepo.head(root).commit is None:
        return FIRST_VERSION, "no git history yet: the first release"
    from relcheck.commands.notes import tag_context
    from relcheck.history import release_tags
    from relcheck.versions import version_key

    context = tag_context(checklist)
    history = read_release(root, tag_template=checklist.tag, tag_context=context)
    previous = history.previous
    version = suggest_version(previous.version if previous else None, history.commits)
    count = len(history.commits)
    since = f"since {previous.name}" if previous else "with no earlier release tag"
    why = f"{count} commit{'s' if count != 1 else ''} {since}; "
    why += _bump_words(history.commits, previous.version if previous else None)
    # Never suggest a version at or below one already released (HEAD may carry a
    # tag already, or a higher release may sit on another branch).
    tags = release_tags(root, checklist.tag, tag_context=context)
    highest = next((t for t in tags if t.version), None)
    if highest and highest.version and _at_or_below(version, highest.version, version_key):
        version = suggest_version(highest.version, history.commits)
        why += f"; placed after {highest.name}, the highest release tag"
    return version, why


def _at_or_below(version: str, other: str, key: Any) -> bool:
    mine, theirs = key(version), key(other)
    return mine is not None and theirs is not None and bool(mine <= theirs)


def _bump_words(commits: Sequence[Any], previous: str | None) -> str:
    if previous is None:
        return "the first release"
    if any(commit.breaking for commit in commits):
        return "a breaking change"
    if any(commit.type == "feat" for commit in commits):
        return "new features"
    return "fixes and other changes only"


def _check_ids(steps: list[ResolvedStep], ids: Iterable[str], flag: str) -> frozenset[str]:
    known = [step.id for step in steps]
    wanted = frozenset(ids)
    for step_id in sorted(wanted - set(known)):
        import difflib

        close = difflib.get_close_matches(step_id, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; the steps are: {', '.join(known)}"
        raise UsageError(f"{flag}: no step with id {step_id!r}{hint}")
    return wanted


def _checklist_label(source: str, path: Path, root: Path) -> str:
    if source.startswith(BUILTIN_PREFIX):
        return source
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path.resolve())


class WalkOptions(Struct, frozen=True):
    """How steps are walked: side by side, past failures, snapshots recorded."""

    jobs: int = 1
    keep_going: bool = False
    update_snapshots: bool = False


class RunRequest(Struct, frozen=True):
    checklist: str | None
    release: str | None
    interaction: InteractionOptions
    only: tuple[str, ...]
    skip: tuple[str, ...]
    dry_run: bool
    walk: WalkOptions = WalkOptions()
    outputs: RunOutputs = field(default_factory=RunOutputs)


def _engine(
    *,
    steps: list[ResolvedStep],
    journal: Journal,
    record: RunRecord,
    checklist: Checklist,
    release: Release,
    interaction: Interaction,
    masker: Masker,
    walk: WalkOptions,
    cwd: Path,
    ui: UI,
) -> Engine:
    settings = Settings(
        release=release,
        base_dir=checklist.base_dir,
        repo_root=gitrepo.find_root(cwd),
        jobs=walk.jobs,
        keep_going=walk.keep_going,
        update_snapshots=walk.update_snapshots,
    )
    return Engine(
        steps=steps,
        journal=journal,
        record=record,
        ui=ui,
        interaction=interaction,
        masker=masker,
        settings=settings,
    )


def start_run(request: RunRequest, *, cwd: Path, ui: UI) -> int:
    checklist = load_checklist(request.checklist, cwd=cwd)
    interactive = is_interactive(request.interaction.non_interactive) and not request.dry_run
    release, suggested = _release(
        checklist,
        request.release,
        cwd=cwd,
        placeholder=request.dry_run,
        interactive=interactive,
        ui=ui,
    )
    steps, masker = _planned(checklist, release, ui)
    only = _check_ids(steps, request.only, "--only") if request.only else None
    skip = _check_ids(steps, request.skip, "--skip")
    if only is not None and only & skip:
        both = ", ".join(sorted(only & skip))
        raise UsageError(f"--only and --skip both name {both}; expected each step in one of them")
    if request.dry_run and (request.outputs.junit or request.outputs.report):
        raise UsageError(
            "--junit and --report describe a run, and --dry-run runs and records nothing; "
            "leave them out of a dry run"
        )
    request.outputs.check()
    if request.dry_run:
        from relcheck.commands.checklist import show_plan

        show_plan(checklist, release, steps, ui=ui, only=only, skip=skip, jobs=request.walk.jobs)
        ui.print("Dry run: nothing was executed and no record was written.")
        return EXIT_OK
    root = gitrepo.find_root(cwd) or cwd.resolve()
    interaction = _interaction(request.interaction, cwd, steps, ui)
    state = state_dir(cwd)
    lock = RunLock(state)
    lock.acquire(None)
    try:
        run_id = new_run_id()
        lock.set_run(run_id)
        journal = Journal.create(runs_dir(cwd), run_id, masker)
        journal.append(_start_event(run_id, checklist, release, steps, root, suggested))
        record = replay(journal.folder, live=True)
        engine = _engine(
            steps=steps,
            journal=journal,
            record=record,
            checklist=checklist,
            release=release,
            interaction=interaction,
            masker=masker,
            walk=request.walk,
            cwd=cwd,
            ui=ui,
        )
        ui.info(
            f"Run {run_id}: {checklist.name or checklist.source}, release {release.version}"
            f" (tag {release.tag}), record in {journal.folder}"
        )
        engine.leave_out(only, skip)
        return _finish(engine, ui, request.outputs)
    finally:
        lock.release()


def _finish(engine: Engine, ui: UI, outputs: RunOutputs) -> int:
    try:
        final = engine.walk()
    except BaseException:
        engine.journal.close()
        _write_outputs(engine, outputs, ui, failing=True)
        raise
    engine.journal.close()
    _write_outputs(engine, outputs, ui, failing=False)
    ui.summary(engine.record)
    if final == RUN_PARTIAL:
        ui.warn(
            "some required steps were left out or skipped: this run is partial and "
            "will not count as release-ready"
        )
    return EXIT_OK if final in (RUN_PASSED, RUN_PARTIAL) else EXIT_FAILED


def _write_outputs(engine: Engine, outputs: RunOutputs, ui: UI, *, failing: bool) -> None:
    """--junit, --report and the GitHub step summary, also when the walk failed or was cut."""
    from relcheck.ci_output import write_outputs
    from relcheck.errors import RelcheckError

    try:
        write_outputs(engine.record, outputs, environ=os.environ, masker=engine.masker)
    except RelcheckError as exc:
        if not failing:
            raise
        ui.warn(exc.message)  # the error already on its way says more about the run


def _start_event(
    run_id: str,
    checklist: Checklist,
    release: Release,
    steps: list[ResolvedStep],
    root: Path,
    suggested: str | None,
) -> dict[str, object]:
    return {
        "event": "run_started",
        "run_id": run_id,
        "checklist": checklist.source,
        "checklist_path": _checklist_label(checklist.source, checklist.path, root),
        "checklist_sha256": checklist.sha256,
        "release": {
            "version": release.version,
            "tag": release.tag,
            "commit": release.commit,
            "branch": release.branch,
            "suggested": suggested,
        },
        "pid": os.getpid(),
        "host": host_name(),
        "steps": _step_list(steps),
    }


def _step_list(steps: list[ResolvedStep]) -> list[dict[str, object]]:
    return [
        {
            "id": s.id,
            "title": s.step.title,
            "kind": s.kind,
            "required": s.step.required,
            "owner": s.owner,
            "expected": s.expected,
            "rollback": s.rollback,
            "command": s.shown,
        }
        for s in steps
    ]


def load_run_checklist(label: str, *, cwd: Path) -> Checklist:
    """The checklist a run used, found again from the record's relative path."""
    root = gitrepo.find_root(cwd) or cwd.resolve()
    if label.startswith(BUILTIN_PREFIX):
        return load_checklist(label, cwd=cwd)
    path = Path(label)
    if not path.is_absolute():
        path = root / path
    if not path.is_file():
        raise RecordError(
            f"the run's checklist {path} no longer exists; restore it or start a new run"
        )
    source, _, _ = resolve_checklist_path(str(path), cwd=cwd)
    return load_checklist(source, cwd=cwd)


def resume_run(
    run_id: str | None,
    *,
    interaction: InteractionOptions,
    force: bool,
    walk: WalkOptions,
    cwd: Path,
    ui: UI,
    outputs: RunOutputs | None = None,
) -> int:
    outputs = outputs or RunOutputs()
    outputs.check()
    state = state_dir(cwd)
    lock = RunLock(state)
    lock.acquire(None)
    try:
        folder = find_run(cwd, run_id)
        record = replay(folder, live=False)
        if record.state in (RUN_PASSED, RUN_PARTIAL):
            ui.info(f"Run {record.run_id} already ended {record.state}; nothing to resume.")
            from relcheck.ci_output import write_outputs

            write_outputs(record, outputs, environ=os.environ, step_summary=False)
            return EXIT_OK
        lock.set_run(record.run_id)
        checklist = load_run_checklist(record.checklist_path, cwd=cwd)
        check_unchanged(checklist, record.checklist_sha256, force=force)
        _check_same_commit(record, cwd=cwd, force=force)
        _stop_leftovers(record, ui)
        release = Release(record.version, record.tag, record.commit, record.branch)
        steps, masker = _planned(checklist, release, ui)
        journal = Journal(folder, masker)
        engine = _engine(
            steps=steps,
            journal=journal,
            record=record,
            checklist=checklist,
            release=release,
            interaction=_interaction(interaction, cwd, steps, ui),
            masker=masker,
            walk=walk,
            cwd=cwd,
            ui=ui,
        )
        resumed: dict[str, object] = {
            "event": "run_resumed",
            "pid": os.getpid(),
            "host": host_name(),
        }
        if [step.id for step in steps] != list(record.steps):
            resumed["steps"] = _step_list(steps)
        engine.emit(resumed)
        ui.info(f"Resuming run {record.run_id} (release {record.version})")
        return _finish(engine, ui, outputs)
    finally:
        lock.release()


def check_unchanged(checklist: Checklist, recorded: str, *, force: bool) -> None:
    if checklist.sha256 == recorded or force:
        return
    raise UsageError(
        f"{checklist.path} changed since this run began (sha256 {recorded[:12]} then, "
        f"{checklist.sha256[:12]} now); start a new run, or pass --force to resume with "
        "the changed checklist"
    )


def _check_same_commit(record: RunRecord, *, cwd: Path, force: bool) -> None:
    """The steps that passed checked the run's commit; a moved HEAD needs a new run."""
    now = gitrepo.head(gitrepo.find_root(cwd)).commit
    if force or not record.commit or not now or now == record.commit:
        return
    raise UsageError(
        f"HEAD is now {now[:12]}, but run {record.run_id} began on {record.commit[:12]}: the "
        f"steps that passed checked {record.commit[:12]}. Start a new run to release "
        f"{now[:12]}, or pass --force to finish this run (it still releases "
        f"{record.commit[:12]})"
    )


def _stop_leftovers(record: RunRecord, ui: UI) -> None:
    """Stop what a killed run's step left running (its process group) before going on."""
    from relcheck.proc import stop_recorded_group

    for step in record.steps.values():
        if step.pgid and step.status in (RUNNING, INTERRUPTED, FAILED):
            fate = stop_recorded_group(step.pgid, step.pgid_leader, grace_s=3.0)
            if fate == "stopped":
                ui.info(f"Stopped processes left behind by step {step.id} (group {step.pgid})")
            elif fate == "other":
                ui.info(
                    f"Left process group {step.pgid} alone: the processes of step {step.id} "
                    "have ended and its id now belongs to other processes"
                )
            step.pgid = None
