"""Run records shared through git: journals merged by event and exchanged as git notes.

Every journal event carries an ``id``, so the union of two copies of a run loses
nothing and repeats nothing, and a ``seq`` (one more than any event its writer
had seen), so every clone replays the union in the same order. ``relcheck sync``
keeps one note per release commit under ``refs/notes/relcheck``: a JSON object
holding the runs made on that commit, event by event, with no absolute path of
anyone's machine in it. Logs stay where they were written.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from relcheck import gitrepo
from relcheck.errors import RecordError, UsageError
from relcheck.journal import (
    JOURNAL,
    Journal,
    RunLock,
    event_seq,
    in_order,
    read_events,
    runs_in,
)
from relcheck.resources import BUILTIN_PREFIX
from relcheck.secrets import Masker

NOTES_REF = "refs/notes/relcheck"
NOTE_FORMAT = 1
# Pushes refused because someone else pushed first are fetched, merged and tried again.
ATTEMPTS = 5
_RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,127}")

Event = dict[str, Any]


def fetched_ref(remote: str) -> str:
    """Where the remote's notes land locally (outside refs/notes, so `git log` ignores it)."""
    return f"refs/relcheck/remotes/{remote}/notes"


class SyncReport(Struct):
    """What one ``relcheck sync`` did: events brought in and sent out, per run."""

    remote: str
    brought_in: dict[str, int] = field(default_factory=dict)
    new_runs: list[str] = field(default_factory=list)
    shared: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


# ---------------------------------------------------------------- events in shared form


def event_key(run_id: str, event: Mapping[str, Any], index: int) -> str:
    """An event's id; events written before ids existed get one from their content."""
    given = event.get("id")
    if isinstance(given, str) and given:
        return given
    content = json.dumps(event, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(f"{run_id}\0{index}\0{content}".encode()).hexdigest()
    return f"legacy-{digest[:16]}"


def shared_events(run_id: str, events: list[Event], root: Path) -> list[Event]:
    """A run's events as they are shared: each with its id and seq, no absolute paths."""
    scrub = path_scrubber(root)
    shared = [
        scrub({**event, "id": event_key(run_id, event, index), "seq": event_seq(event, index)})
        for index, event in enumerate(events)
    ]
    for event in shared:
        _file_names(event)
        steps = event.get("steps")
        for step in steps if isinstance(steps, list) else ():
            if isinstance(step, dict):
                _file_names(step)
        if event["event"] == "run_started":
            _relative_checklist(event)
    return in_order(shared)


# What people wrote or were told; a command stays as the checklist has it.
_TEXT_FIELDS = ("actual", "reason", "note", "expected")
# An absolute path of two or more parts, not part of a URL or of ``~/...``.
_ABSOLUTE = re.compile(r"(?<![\w.~:/-])/(?:[\w.@+-]+/)+([\w.@+-]+)")


def _file_names(event: Event) -> None:
    """Absolute paths left in an event's text (outside the repository and the home
    folder) reduced to their file names."""
    for name in _TEXT_FIELDS:
        value = event.get(name)
        if isinstance(value, str) and "/" in value:
            event[name] = _ABSOLUTE.sub(r"\1", value)


def _relative_checklist(event: Event) -> None:
    """Name the checklist by its path from the repository root (or its file name)."""
    path = str(event.get("checklist_path", ""))
    if path.startswith("/"):
        path = Path(path).name
        event["checklist_path"] = path
    if not str(event.get("checklist", "")).startswith(BUILTIN_PREFIX):
        event["checklist"] = path


def path_scrubber(root: Path) -> Callable[[Any], Any]:
    """Replaces the repository root (by relative paths) and the home folder (by ``~``)
    in every string of a JSON value."""
    # (path, what replaces "PATH/", what replaces PATH alone)
    rules = [(path, "", ".") for path in {str(root), str(root.resolve())}]
    home = os.path.expanduser("~").rstrip("/")
    if home.startswith("/"):
        rules.append((home, "~/", "~"))
    rules.sort(key=lambda rule: len(rule[0]), reverse=True)  # the root may be inside home
    patterns = [
        (re.compile(re.escape(path) + r"(/|(?![\w.-]))"), inside, alone)
        for path, inside, alone in rules
    ]

    def text(value: str) -> str:
        for pattern, inside, alone in patterns:
            value = pattern.sub(partial(_shorter, inside=inside, alone=alone), value)
        return value

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        return value

    return scrub


def _shorter(match: re.Match[str], *, inside: str, alone: str) -> str:
    return inside if match.group(1) else alone


# ---------------------------------------------------------------- notes


class Note(Struct):
    """One commit's note: the runs in it (checked) and as written (kept when rewritten)."""

    runs: dict[str, list[Event]]
    raw: dict[str, Any]


class RemoteNotes(Struct):
    tip: str | None
    notes: dict[str, Note] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)


def note_text(runs: Mapping[str, Any]) -> str:
    doc = {"relcheck": NOTE_FORMAT, "runs": dict(sorted(runs.items()))}
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def parse_note(text: str) -> Note:
    """A note's runs; ValueError says why a note cannot be used."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), dict):
        raise ValueError("it is not a relcheck run note")
    version = doc.get("relcheck")
    if not isinstance(version, int) or version > NOTE_FORMAT:
        raise ValueError(
            f"it is in note format {version!r}, which this relcheck does not know "
            f"(it writes {NOTE_FORMAT}); upgrade relcheck"
        )
    runs: dict[str, list[Event]] = {}
    for run_id, events in doc["runs"].items():
        if _RUN_ID.fullmatch(run_id) and isinstance(events, list):
            runs[run_id] = _unique([_safe(e) for e in events if _well_formed(e)])
    return Note(runs, doc["runs"])


_LOG = re.compile(r"logs/[\w.-]+")


def _safe(event: Event) -> Event:
    """A teammate's event, minus paths that would lead outside this clone's run folder
    or repository (a log is read by its path; a resumed run loads its checklist)."""
    log = event.get("log")
    if log is not None and not (isinstance(log, str) and _LOG.fullmatch(log)):
        event = {key: value for key, value in event.items() if key != "log"}
    checklist = event.get("checklist_path")
    if isinstance(checklist, str) and (checklist.startswith("/") or ".." in checklist.split("/")):
        event = {**event, "checklist_path": Path(checklist).name}
    return event


def _well_formed(event: Any) -> bool:
    return isinstance(event, dict) and all(
        isinstance(event.get(key), str) and event[key] for key in ("event", "id", "at")
    )


def _unique(events: Iterable[Event]) -> list[Event]:
    return list({event["id"]: event for event in reversed(list(events))}.values())[::-1]


def fetch_notes(root: Path, remote: str, report: SyncReport) -> RemoteNotes:
    """The remote's notes ref, fetched and read; notes that cannot be used are reported."""
    into = fetched_ref(remote)
    if gitrepo.remote_ref(root, remote, NOTES_REF) is None:
        gitrepo.set_ref(root, into, None)
        return RemoteNotes(None)
    gitrepo.fetch_ref(root, remote, NOTES_REF, into)
    tip = gitrepo.resolve_commit(root, into)
    found = RemoteNotes(tip)
    for commit, blob in gitrepo.note_blobs(root, tip).items() if tip else ():
        try:
            found.notes[commit] = parse_note(gitrepo.read_blob(root, blob))
        except ValueError as exc:
            found.unreadable.add(commit)
            report.warn(f"the note on {commit[:12]} in {remote} is left alone: {exc}")
    return found


# ---------------------------------------------------------------- bringing runs in


def bring_in(runs_dir: Path, remote: RemoteNotes, only: str | None, report: SyncReport) -> None:
    """Add the events this clone does not have yet to its journals (new runs get a folder)."""
    for note in remote.notes.values():
        for run_id, events in note.runs.items():
            if only is not None and run_id != only:
                continue
            added = _merge_into(runs_dir / run_id, run_id, events, report)
            if added:
                report.brought_in[run_id] = report.brought_in.get(run_id, 0) + added


def _merge_into(folder: Path, run_id: str, events: list[Event], report: SyncReport) -> int:
    journal_path = folder / JOURNAL
    if journal_path.is_file():
        have = {event_key(run_id, e, i) for i, e in enumerate(read_events(journal_path))}
        missing = in_order([e for e in events if e["id"] not in have])
    else:
        missing = in_order(events)
        first = missing[0] if missing else {}
        if first.get("event") != "run_started" or first.get("run_id") != run_id:
            report.warn(f"run {run_id} on the remote does not start with its run; left out")
            return 0
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        report.new_runs.append(run_id)
    if missing:
        journal = Journal(folder, Masker(()))
        try:
            journal.extend(missing)
        finally:
            journal.close()
    return len(missing)


# ---------------------------------------------------------------- sending runs out


class LocalRun(Struct, frozen=True):
    run_id: str
    commit: str | None
    events: list[Event]


def local_runs(runs_dir: Path, root: Path, only: str | None) -> list[LocalRun]:
    found: list[LocalRun] = []
    for folder in runs_in(runs_dir):
        if only is not None and folder.name != only:
            continue
        events = shared_events(folder.name, read_events(folder / JOURNAL), root)
        start = next((e for e in events if e["event"] == "run_started"), None)
        if start is not None:
            commit = (start.get("release") or {}).get("commit")
            found.append(LocalRun(folder.name, commit if isinstance(commit, str) else None, events))
    return found


def changed_notes(
    root: Path, runs: list[LocalRun], remote: RemoteNotes, report: SyncReport
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """The notes to write (commit -> runs) and how many events each run adds to them.

    Events the remote already holds stay as the remote has them, so clones agree.
    """
    notes: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for run in runs:
        if run.commit is None:
            continue
        note = remote.notes.get(run.commit)
        theirs = note.runs.get(run.run_id, []) if note else []
        known = {event["id"] for event in theirs}
        extra = [event for event in run.events if event["id"] not in known]
        if not extra or not _can_annotate(root, run, remote, report):
            continue
        runs_of_commit = notes.setdefault(run.commit, dict(note.raw) if note else {})
        runs_of_commit[run.run_id] = in_order([*theirs, *extra])
        counts[run.run_id] = len(extra)
    return notes, counts


def _can_annotate(root: Path, run: LocalRun, remote: RemoteNotes, report: SyncReport) -> bool:
    assert run.commit is not None
    if run.commit in remote.unreadable:
        return False  # a note relcheck cannot read (already reported): never overwrite it
    if gitrepo.resolve_commit(root, run.commit) is None:
        report.warn(
            f"run {run.run_id} was made on commit {run.commit[:12]}, which this clone does "
            "not have; fetch it, then sync again to share this run's new events"
        )
        return False
    return True


def publish(
    root: Path, state: Path, remote: str, tip: str | None, notes: Mapping[str, Mapping[str, Any]]
) -> gitrepo.Push:
    """Write the notes on top of the remote's notes ref and push it (fast-forward only)."""
    gitrepo.set_ref(root, NOTES_REF, tip)
    with tempfile.TemporaryDirectory(prefix="sync-", dir=state) as folder:
        text_file = Path(folder) / "note.json"
        for commit, runs in notes.items():
            text_file.write_text(note_text(runs), encoding="utf-8")
            gitrepo.write_note(root, NOTES_REF, commit, text_file)
    return gitrepo.push_ref(root, remote, NOTES_REF)


# ---------------------------------------------------------------- sync


def sync(root: Path, state: Path, *, remote: str, only: str | None) -> SyncReport:
    """Fetch the remote's run notes, merge them into the local journals, push the union."""
    if remote not in gitrepo.remotes(root):
        known = ", ".join(gitrepo.remotes(root)) or "none"
        raise UsageError(f"no git remote named {remote!r} (remotes here: {known}); pass --remote")
    runs_dir = state / "runs"
    runs_dir.mkdir(exist_ok=True)
    report = SyncReport(remote)
    refused: str | None = None
    for attempt in range(1, ATTEMPTS + 1):
        report.attempts = attempt
        refused = _locked(state, partial(_attempt, root, state, remote, only, report))
        if refused is None:
            return _checked(report, runs_dir, only)
        time.sleep(random.uniform(0.05, 0.25) * attempt)  # let the other pusher finish
    raise gitrepo.GitError(
        f"{remote} refused the run notes {ATTEMPTS} times ({refused}): others are syncing at "
        "the same moment; run `relcheck sync` again",
        retry_safe=True,
    )


def _attempt(
    root: Path, state: Path, remote: str, only: str | None, report: SyncReport
) -> str | None:
    """One fetch, merge and push; why the remote refused the push, or None when done."""
    runs_dir = state / "runs"
    theirs = fetch_notes(root, remote, report)
    bring_in(runs_dir, theirs, only, report)
    notes, counts = changed_notes(root, local_runs(runs_dir, root, only), theirs, report)
    if not notes:
        return None
    push = publish(root, state, remote, theirs.tip, notes)
    if push.refused is None:
        report.shared = counts
    return push.refused


def _locked(state: Path, work: Callable[[], str | None]) -> str | None:
    """Each attempt holds the run lock from fetch to push: no run appends to a journal
    meanwhile, and no other sync here moves the local notes ref under it."""
    lock = RunLock(state)
    lock.acquire(None)
    try:
        return work()
    finally:
        lock.release()


def _checked(report: SyncReport, runs_dir: Path, only: str | None) -> SyncReport:
    if only is not None and not (runs_dir / only / JOURNAL).is_file():
        raise RecordError(
            f"no run with id {only!r} here or in {report.remote}'s run notes; "
            "`relcheck history` lists the runs"
        )
    return report
