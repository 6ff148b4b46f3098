"""``publish``: the run's note as the release body on GitHub, GitLab or Gitea, its record attached.

Safe to run again at any point: the release is looked up by tag and updated
in place, the assets are replaced by name (see :mod:`relcheck.forge.release`).
Every line shown or logged goes through a masker that knows the token.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from msgspec import Struct

from relcheck import gitrepo
from relcheck.errors import EXIT_OK, PublishError, RelcheckError, UsageError
from relcheck.forge import Forge, Planned, ReleaseSpec, make_forge
from relcheck.forge.client import DEFAULT_MAX_WAIT_S, DEFAULT_TIMEOUT_S, ForgeClient
from relcheck.forge.detect import (
    Target,
    Token,
    detect_target,
    find_token,
    token_masker,
    token_variables,
)
from relcheck.forge.release import File, cut_body, publish_release
from relcheck.journal import Journal, RunLock, RunRecord, find_run, now_iso, replay
from relcheck.model import RUN_PASSED, RUN_RUNNING
from relcheck.secrets import Masker
from relcheck.ui import UI

_PREVIEW_LINES = 5
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class PublishRequest(Struct, frozen=True):
    """What ``relcheck publish`` was asked for."""

    run_id: str | None = None
    provider: str | None = None
    repo: str | None = None
    api_url: str | None = None
    draft: bool = False
    prerelease: bool = False
    dry_run: bool = False
    allow_failed: bool = False
    max_wait: float = DEFAULT_MAX_WAIT_S
    timeout: float = DEFAULT_TIMEOUT_S


def publish(request: PublishRequest, *, cwd: Path, ui: UI) -> int:
    """Create or update the release of a run's tag; exit 1 for a run that did not pass.

    A real publish holds the repository's run lock throughout, so no resume or
    sign-off changes the run while its record is being sent, and the
    ``published`` event is appended like any other.
    """
    folder = find_run(cwd, request.run_id)
    lock = None if request.dry_run else RunLock(folder.parent.parent)
    if lock is not None:
        lock.acquire(folder.name)
    try:
        return _publish(replay(folder), request, cwd=cwd, ui=ui)
    finally:
        if lock is not None:
            lock.release()


def _publish(run: RunRecord, request: PublishRequest, *, cwd: Path, ui: UI) -> int:
    _check_state(run, request.allow_failed)
    target, token = _target_and_token(request, cwd)
    masker = token_masker(os.environ, token)
    out = _Output(ui, masker, None if request.dry_run else run.folder / "logs" / "publish.log")
    try:
        client = ForgeClient(
            label=target.label,
            api_url=target.api_url,
            headers=token.headers() if token else {},
            masker=masker,
            timeout=request.timeout,
            max_wait=request.max_wait,
            say=out.line,
        )
        forge = make_forge(target, client)
        _check_flags(forge, request)
        spec, files, drop = _release_of(run, forge, request, cwd)
        show = out.report if request.dry_run else out.line
        show(
            f"Publishing run {run.run_id} (release {run.version}, tag {run.tag}, {run.state}) "
            f"to {target.label} {target.repo} at {target.api_url}"
        )
        show(f"  {'; '.join(target.found)}")
        if request.dry_run:
            _dry_run(out, forge, spec, files, target, token)
        else:
            _send(out, forge, run, spec, files, drop)
    finally:
        out.close()
    return EXIT_OK


def _target_and_token(request: PublishRequest, cwd: Path) -> tuple[Target, Token | None]:
    from relcheck.settings import project_settings

    target = detect_target(
        provider=request.provider or project_settings(cwd).provider,
        repo=request.repo,
        api_url=request.api_url,
        environ=os.environ,
        root=gitrepo.find_root(cwd),
    )
    token = find_token(target.provider, os.environ)
    if token is None and not request.dry_run:
        names = " or ".join(token_variables(target.provider))
        raise UsageError(
            f"no {target.label} token: looked for {names} and none is set; set one to a "
            "token that may write releases (`relcheck publish --dry-run` needs none)"
        )
    return target, token


def _send(
    out: _Output,
    forge: Forge,
    run: RunRecord,
    spec: ReleaseSpec,
    files: Sequence[File],
    drop: Sequence[str],
) -> None:
    try:
        published = publish_release(forge, spec, files, drop=drop)
    except RelcheckError as exc:
        out.log(f"failed: {exc}")  # stderr gets it from the CLI; the log keeps it too
        raise
    finally:
        forge.client.close()
    _record(run, forge, published.action, published.release.url, files)
    names = ", ".join(file.name for file in files)
    out.report(
        f"{published.action.capitalize()} {forge.label} release {run.tag}: "
        f"{published.release.url or published.release.id} (attached {names})"
    )


def asset_name(version: str, suffix: str = ".json") -> str:
    """``relcheck-<version>.json``, with characters forges rename replaced by ``-``."""
    return f"relcheck-{_UNSAFE_NAME.sub('-', version)}{suffix}"


def _check_state(run: RunRecord, allow_failed: bool) -> None:
    if run.state == RUN_PASSED:
        return
    if run.state == RUN_RUNNING:
        raise PublishError(
            f"run {run.run_id} is still running; publish it once it has finished "
            "(`relcheck status` shows where it is)"
        )
    if not allow_failed:
        raise PublishError(
            f"run {run.run_id} (release {run.version}) is {run.state}, not passed: relcheck "
            f"publishes only a release-ready run (see `relcheck status {run.run_id}`); "
            "--allow-failed publishes it anyway, with a warning at the top of the note"
        )


def _check_flags(forge: Forge, request: PublishRequest) -> None:
    for flag, wanted, supported in (
        ("--draft", request.draft, forge.drafts),
        ("--prerelease", request.prerelease, forge.prereleases),
    ):
        if wanted and not supported:
            raise UsageError(f"{forge.label} releases have no {flag[2:]} flag; leave out {flag}")


# -- what is published ---------------------------------------------------------------


def _release_of(
    run: RunRecord, forge: Forge, request: PublishRequest, cwd: Path
) -> tuple[ReleaseSpec, list[File], list[str]]:
    note = _note_text(run, cwd)
    if run.state != RUN_PASSED:
        note = _failed_warning(run) + note
    record = json.dumps(run.as_status(), indent=2) + "\n"  # as `relcheck status --json`
    files = [File(asset_name(run.version), record.encode("utf-8"), "application/json")]
    note_name = asset_name(run.version, "-note.md")
    notice = (
        f"---\n\n**The note is cut here:** it is longer than the {forge.max_body:,} characters "
        f"relcheck puts in a release. The full note is attached as `{note_name}`.\n"
    )
    body, cut = cut_body(note, forge.max_body, notice)
    drop = [note_name]
    if cut:
        files.append(File(note_name, note.encode("utf-8"), "text/markdown"))
        drop = []
    spec = ReleaseSpec(
        tag=run.tag,
        name=run.tag,
        body=body,
        commit=run.commit,
        draft=request.draft,
        prerelease=request.prerelease,
        version=run.version,
    )
    return spec, files, drop


def _note_text(run: RunRecord, cwd: Path) -> str:
    """The note saved in the run folder, rendered (and saved) first when there is none."""
    saved = run.folder / "note.md"
    if saved.is_file():
        return saved.read_text(encoding="utf-8")
    from relcheck.commands.notes import NoteRequest, notes

    sink = io.StringIO()
    notes(NoteRequest(run_id=run.run_id, fmt="md"), cwd=cwd, ui=UI(sink))
    return sink.getvalue()


def _failed_warning(run: RunRecord) -> str:
    return (
        f"> **Warning: published with `--allow-failed`.** Run `{run.run_id}` ended "
        f"**{run.state}**: this release did not pass its release checklist.\n\n"
    )


def _record(run: RunRecord, forge: Forge, action: str, url: str, files: Sequence[File]) -> None:
    journal = Journal(run.folder, forge.client.masker)
    target = forge.target
    try:
        journal.append(
            {
                "event": "published",
                "provider": target.provider,
                "repo": target.repo,
                "tag": run.tag,
                "action": action,
                "url": url,
                "assets": [file.name for file in files],
            }
        )
    finally:
        journal.close()


# -- output --------------------------------------------------------------------------


def _dry_run(
    out: _Output,
    forge: Forge,
    spec: ReleaseSpec,
    files: Sequence[File],
    target: Target,
    token: Token | None,
) -> None:
    if token is None:
        names = ", ".join(token_variables(target.provider))
        out.report(f"  no token: none of {names} is set (a real publish needs one)")
    else:
        out.report(f"  token from {token.variable} (not shown)")
    out.report("Dry run: nothing is sent. The requests a publish makes:")
    for planned in forge.plan(spec, [(file.name, file.data) for file in files]):
        out.report(_planned_words(planned))
        if planned.preview is not None:
            for line in _preview(planned.preview):
                out.report(f"      | {line}")


def _planned_words(planned: Planned) -> str:
    size = f"body {len(planned.body):,} bytes" if planned.body is not None else ""
    notes = "; ".join(part for part in (size, planned.when) if part)
    return f"  {planned.method} {planned.url}" + (f"  ({notes})" if notes else "")


def _preview(text: str) -> list[str]:
    lines = text.splitlines()
    shown = lines[:_PREVIEW_LINES]
    if len(lines) > _PREVIEW_LINES:
        shown.append(f"... ({len(lines) - _PREVIEW_LINES} more lines)")
    return shown


class _Output:
    """Lines to the terminal and (unless a dry-run) to the run's ``logs/publish.log``, masked."""

    def __init__(self, ui: UI, masker: Masker, log: Path | None) -> None:
        self.ui = ui
        self.masker = masker
        self._log: TextIO | None = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log, "a", encoding="utf-8")  # noqa: SIM115

    def line(self, text: str) -> None:
        text = self.masker.mask(text)
        self.ui.line(text)
        self._write(text)

    def report(self, text: str) -> None:
        text = self.masker.mask(text)
        self.ui.print(text)
        self._write(text)

    def log(self, text: str) -> None:
        """A line for the log alone."""
        self._write(self.masker.mask(text))

    def _write(self, text: str) -> None:
        if self._log is not None:
            self._log.write(f"[{now_iso()}] {text}\n")
            self._log.flush()

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
