"""``notes`` and ``changelog``: release notes from the run record and git history."""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from relcheck import gitrepo
from relcheck.errors import EXIT_OK, RecordError, UsageError
from relcheck.history import DEFAULT_GROUPS, Commit, GroupSpec, Links, NotesOptions
from relcheck.model import DEFAULT_TAG_TEMPLATE, Checklist
from relcheck.notes import CommitLines, changelog_context, note_context, previous_passed_run
from relcheck.render import load_document, render_document
from relcheck.settings import project_settings

if TYPE_CHECKING:  # imported where used: a note without a run needs no journal
    from relcheck.journal import RunRecord
    from relcheck.ui import UI

FORMATS = ("md", "html")


class NoteRequest(Struct, frozen=True):
    """What ``relcheck notes`` was asked for."""

    run_id: str | None = None
    fmt: str | None = None  # md | html; None: from the template's name, else md
    template: Path | None = None
    output: Path | None = None
    from_ref: str | None = None
    to_ref: str | None = None
    no_run: bool = False


def notes(request: NoteRequest, *, cwd: Path, ui: UI) -> int:
    """Render the release note; with a run, also save it as ``note.md``/``note.html`` in the run."""
    from relcheck.history import read_release

    root = _git_root(cwd)
    run = _chosen_run(request, cwd)
    checklist = _run_checklist(run, cwd) if run is not None else _default_checklist(cwd)
    templates = project_settings(cwd).templates
    template, folder, fmt = _note_template(request, checklist, cwd, templates)
    history = read_release(
        root,
        tag_template=checklist.tag if checklist else DEFAULT_TAG_TEMPLATE,
        version=run.version if run is not None else None,
        to_ref=request.to_ref or (run.commit if run is not None and run.commit else "HEAD"),
        from_ref=request.from_ref,
        options=notes_options(checklist),
        tag_context=tag_context(checklist),
    )
    previous = None
    if run is not None:
        from relcheck.journal import list_runs

        previous = previous_passed_run(run, list_runs(cwd))
    context = note_context(
        history, run=run, previous=previous, directions=checklist.metrics if checklist else {}
    )
    text = render_document(
        template, context, folder=folder, templates=templates, html=fmt == "html"
    )
    if run is not None:
        from relcheck.files import write_atomic

        write_atomic(run.folder / f"note.{fmt}", text)
    _deliver(text, request.output, ui)
    return EXIT_OK


def changelog(*, output: Path | None, unreleased: bool, cwd: Path, ui: UI) -> int:
    """Render every release from the tags, newest first, as Markdown."""
    from relcheck.history import read_changelog

    root = _git_root(cwd)
    checklist = _default_checklist(cwd)
    templates = project_settings(cwd).templates
    lines = CommitLines()

    def on_commits(commits: Sequence[Commit], links: Links | None) -> None:
        # Git is still writing the log: load the template and make the commit lines
        # meanwhile, in time relcheck would otherwise spend waiting for it.
        if not lines.lines:
            load_document("changelog.md.j2", templates=templates)
        lines.add(commits, links)

    history = read_changelog(
        root,
        tag_template=checklist.tag if checklist else DEFAULT_TAG_TEMPLATE,
        options=notes_options(checklist),
        unreleased=unreleased,
        tag_context=tag_context(checklist),
        on_commits=on_commits,
    )
    # The history lives to the end of the command: leave its objects out of the
    # collector's later passes, which would otherwise walk all of them again.
    gc.freeze()
    context = changelog_context(history, lines)
    text = render_document("changelog.md.j2", context, templates=templates)
    _deliver(text, output, ui)
    return EXIT_OK


def tag_context(checklist: Checklist | None) -> dict[str, Any]:
    """What the tag template may name besides the version, as ``run`` renders it."""

    return {"vars": dict(checklist.vars) if checklist else {}, "env": dict(os.environ)}


def notes_options(checklist: Checklist | None) -> NotesOptions:
    """The checklist's ``notes:`` settings as history options (built-in defaults without one)."""
    if checklist is None:
        return NotesOptions()
    settings = checklist.notes
    groups = (
        tuple(GroupSpec(group.title, tuple(group.types)) for group in settings.groups)
        if settings.groups
        else DEFAULT_GROUPS
    )
    return NotesOptions(groups=groups, include_merges=settings.merges, bots=tuple(settings.bots))


def _git_root(cwd: Path) -> Path:
    root = gitrepo.find_root(cwd)
    if root is None:
        raise UsageError(
            f"{cwd} is not in a git repository; release notes are read from git history, "
            "so run this inside the repository"
        )
    return root


def _chosen_run(request: NoteRequest, cwd: Path) -> RunRecord | None:
    """The run the note describes: the one named, else (without ``--no-run``) the latest.

    With ``--to`` and no run id, only a run that released that very tag is taken:
    the latest run may well be of another release.
    """
    if request.no_run:
        if request.run_id:
            raise UsageError("give either a RUN_ID or --no-run, not both")
        return None
    from relcheck.journal import find_run, list_runs, replay

    if request.run_id is not None:
        return replay(find_run(cwd, request.run_id))
    folders = list_runs(cwd)
    if request.to_ref is not None:
        return _run_of_tag(folders, request.to_ref)
    return replay(find_run(cwd, None)) if folders else None


def _run_of_tag(folders: list[Path], tag: str) -> RunRecord | None:
    from relcheck.journal import replay

    for folder in reversed(folders):
        try:
            run = replay(folder)
        except RecordError:
            continue
        if run.tag == tag:
            return run
    return None


def _run_checklist(run: RunRecord, cwd: Path) -> Checklist | None:
    from relcheck.commands.run import load_run_checklist

    try:
        return load_run_checklist(run.checklist_path, cwd=cwd)
    except RecordError:  # the run's checklist is gone: the note can still be written
        return _default_checklist(cwd)


def _default_checklist(cwd: Path) -> Checklist | None:
    """The checklist in this folder or at the git root, or None when there is none."""
    from relcheck.checklist import load_checklist_file, resolve_checklist_path

    try:
        source, path, base_dir = resolve_checklist_path(None, cwd=cwd)
    except UsageError:
        return None
    return load_checklist_file(path, source=source, base_dir=base_dir)


def _note_template(
    request: NoteRequest, checklist: Checklist | None, cwd: Path, templates: Path | None
) -> tuple[str, Path | None, str]:
    """(template name, folder searched first, format) for the note.

    ``--template`` wins; else the checklist's ``notes.template`` when it is of the
    format asked for (a name containing ``.html`` is HTML); else the built-in.
    A name found neither relative to the current folder (``--template``) nor to
    the checklist's (``notes.template``) is looked for in the project's
    ``templates`` folder.
    """
    custom: Path | None = None
    if request.template is not None:
        custom = _in_templates(cwd / request.template, request.template, templates)
    elif checklist is not None and checklist.notes.template:
        candidate = _in_templates(
            checklist.path.parent / checklist.notes.template, checklist.notes.template, templates
        )
        if request.fmt is None or _format_of(candidate) == request.fmt:
            custom = candidate
    fmt = request.fmt or (_format_of(custom) if custom else "md")
    if custom is not None and _format_of(custom) != fmt:
        raise UsageError(
            f"{custom.name} is a {_format_of(custom)} template but --format {fmt} was asked for; "
            f"expected a template whose name says {fmt} (like note.{fmt}.j2)"
        )
    if custom is None:
        return f"release-note.{fmt}.j2", None, fmt
    if not custom.is_file():
        raise UsageError(f"{custom}: no such template file; check the path")
    return custom.name, custom.parent, fmt


def _in_templates(path: Path, name: Path | str, templates: Path | None) -> Path:
    """``path`` when it exists, else ``name`` in the project's template folder if there."""
    if path.is_file() or templates is None:
        return path
    found = templates / name
    return found if found.is_file() else path


def _format_of(path: Path) -> str:
    return "html" if ".html" in path.name.lower() or ".htm" in path.name.lower() else "md"


def _deliver(text: str, output: Path | None, ui: UI) -> None:
    if output is None:
        ui.stream.write(text)
        ui.stream.flush()
        return
    from relcheck.files import write_atomic

    write_atomic(output, text)
    ui.print(f"Wrote {output}")
