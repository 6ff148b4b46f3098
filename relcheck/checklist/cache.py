"""Checked checklists kept in the user's cache folder: one read again unchanged needs no YAML.

Why: reading a checklist imports PyYAML, the schema, the rules and the
validator, and walks every value: about a fifth of a short command. A checked
checklist is kept as JSON (``$XDG_CACHE_HOME/relcheck/checklists``) with the
bytes of the file it was read from, under a key naming everything else the result
depends on: how the checklist was named, its path and the folder it runs in,
relcheck's version and modules, the Python version, and the installed PyYAML
and Jinja2 (which read and check it). Checking reads nothing else: no other
file, no environment variable; the step kinds' schemas are relcheck's own
modules. A kept checklist is used only when the file holds the very bytes it
was read from, compared in full: no digest of the file is needed, so a command
whose checklist is unchanged loads no hash library (loading OpenSSL for one took
about 6 ms, more than reading a kept checklist of a few dozen steps).

A checklist with errors is never kept, so its problems are reported on every
load; warnings are kept with it. A kept file that is torn, edited, from another
version or not this user's is only a miss: the checklist is read again. What is
read back is trusted (its commands are run), so, as for every cache of
:mod:`relcheck.usercache`, a folder others can write to is not used; the
checksum of each file only catches damage. A checklist is kept only when what
would be read back equals it (a value JSON cannot carry exactly is not kept).
The folder holds one file for each checklist (named by source, path and folder)
and at most :data:`MAX_ENTRIES` files: the least recently used go first.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Any

from relcheck import __version__
from relcheck.errors import Problem
from relcheck.model import Checklist, Defaults, Mark, NoteGroup, NotesSettings, Step
from relcheck.usercache import (
    MAX_TEXT,
    cache_dir,
    installed_stamp,
    package_stamp,
    read_text,
    write_text,
)

MAX_ENTRIES = 64
_FORMAT = "2"  # of the stored JSON: a change makes every kept file a miss
_FOLDER = "checklists"
_LIBRARIES = ("yaml", "jinja2")  # PyYAML reads a checklist, Jinja2 checks its templates
# Anything wrong with a kept file's JSON shows as one of these while decoding it.
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError)

Key = dict[str, str]


def checklist_key(*, source: str, path: Path, base_dir: Path) -> Key | None:
    """Everything a loaded checklist depends on besides the file's bytes; None when it
    cannot be told (no caching)."""
    try:
        modules = package_stamp()
    except OSError:
        return None
    return {
        "format": _FORMAT,
        "source": source,
        "path": str(path),
        "base_dir": str(base_dir),
        "relcheck": __version__,
        "modules": modules,
        "python": sys.version,
        **{name: installed_stamp(name) or "" for name in _LIBRARIES},
    }


def cached_checklist(key: Key | None, data: bytes) -> Checklist | None:
    """The checklist kept under ``key`` and read from the bytes ``data``, or None (never
    an error) when there is none."""
    file = _entry_file(key)
    text = read_text(file) if file is not None else None
    if file is None or text is None:
        return None
    try:
        checklist = _from_entry(text, key, data)
    except _UNREADABLE:
        return None
    if checklist is not None:
        with contextlib.suppress(OSError, NotImplementedError):
            os.utime(file, follow_symlinks=False)  # used now: pruned last
    return checklist


def keep_checklist(key: Key | None, data: bytes, checklist: Checklist) -> None:
    """Keep ``checklist``, checked and read from the bytes ``data``, under ``key``; nothing
    happens when it cannot be kept."""
    file = _entry_file(key)
    if file is None:
        return
    try:
        body = json.dumps(_checklist_json(checklist))
        read_back = _checklist_from(json.loads(body))
    except _UNREADABLE:
        return
    # JSON keeps int, float, bool, list and key order apart, so == is enough to catch
    # what it cannot carry (NaN, keys that are not text, a tuple left a list).
    if read_back != checklist:
        return
    source = _as_text(data)
    text = json.dumps(
        {"key": key, "file": source, "checksum": _checksum(source, body), "checklist": body}
    )
    if len(text) <= MAX_TEXT:  # ASCII (json.dumps escapes the rest): one byte a character
        write_text(file, text)
        _prune(os.path.dirname(file))


def _entry_file(key: Key | None) -> str | None:
    folder = cache_dir(_FOLDER) if key is not None else None
    if key is None or folder is None:
        return None
    place = "\0".join((key["source"], key["path"], key["base_dir"])).encode(
        "utf-8", "surrogatepass"
    )
    # Two places sharing a name only replace each other's file (the key tells them apart).
    return os.path.join(folder, f"{zlib.crc32(place):08x}{zlib.adler32(place):08x}.json")


def _from_entry(text: str, key: Key | None, data: bytes) -> Checklist | None:
    entry = json.loads(text)
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    source, body = entry["file"], entry["checklist"]
    if source != _as_text(data):  # the checklist file changed since it was kept
        return None
    # A file edited by hand (or cut short where JSON still parses) fails its checksum.
    if _checksum(source, body) != entry["checksum"]:
        return None
    return _checklist_from(json.loads(body))


def _as_text(data: bytes) -> str:
    """The bytes as text JSON can carry, one to one (a byte that is not UTF-8 included)."""
    return data.decode("utf-8", "surrogateescape")


def _checksum(source: str, body: str) -> int:
    return zlib.crc32(f"{source}\0{body}".encode("utf-8", "surrogatepass"))


def _prune(folder: str) -> None:
    """Remove the least recently used files beyond MAX_ENTRIES (another process may too)."""
    found: list[tuple[int, str]] = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    found.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
    for _, path in sorted(found)[: max(len(found) - MAX_ENTRIES, 0)]:
        with contextlib.suppress(OSError):
            os.unlink(path)


# The JSON form: each record as the list of its fields, in their order.


def _checklist_json(checklist: Checklist) -> list[Any]:
    defaults, notes = checklist.defaults, checklist.notes
    return [
        checklist.source,
        str(checklist.path),
        str(checklist.base_dir),
        checklist.sha256,
        checklist.version,
        [_step_json(step) for step in checklist.steps],
        checklist.name,
        checklist.description,
        checklist.vars,
        checklist.secrets,
        [defaults.owner, defaults.timeout, defaults.shell],
        checklist.tag,
        [
            None if notes.groups is None else [[g.title, g.types] for g in notes.groups],
            notes.template,
            notes.merges,
            notes.bots,
        ],
        checklist.metrics,
        [[p.file, p.line, p.col, p.path, p.message, p.severity] for p in checklist.warnings],
    ]


def _step_json(step: Step) -> list[Any]:
    mark = step.mark
    return [
        step.id,
        step.title,
        step.kind,
        step.spec,
        step.owner,
        step.expected,
        step.rollback,
        step.expect,
        step.timeout,
        step.env,
        step.required,
        step.when,
        step.cwd,
        step.description,
        step.needs,
        step.retries,
        step.retry_delay,
        None if mark is None else [mark.file, mark.line, mark.col],
    ]


def _checklist_from(data: list[Any]) -> Checklist:
    (source, path, base_dir, sha256, version, steps, name, description) = data[:8]
    (variables, secrets, defaults, tag, notes, metrics, warnings) = data[8:]
    groups, template, merges, bots = notes
    return Checklist(
        source=source,
        path=Path(path),
        base_dir=Path(base_dir),
        sha256=sha256,
        version=version,
        steps=tuple(_step_from(step) for step in steps),
        name=name,
        description=description,
        vars=variables,
        secrets=tuple(secrets),
        defaults=Defaults(*defaults),
        tag=tag,
        notes=NotesSettings(
            groups=None if groups is None else tuple(NoteGroup(t, tuple(ts)) for t, ts in groups),
            template=template,
            merges=merges,
            bots=tuple(bots),
        ),
        metrics=metrics,
        warnings=tuple(Problem(*problem) for problem in warnings),
    )


def _step_from(data: list[Any]) -> Step:
    (step_id, title, kind, spec, owner, expected, rollback, expect, timeout) = data[:9]
    (env, required, when, cwd, description, needs, retries, retry_delay, mark) = data[9:]
    return Step(
        id=step_id,
        title=title,
        kind=kind,
        spec=spec,
        owner=owner,
        expected=expected,
        rollback=rollback,
        expect=expect,
        timeout=timeout,
        env=env,
        required=required,
        when=when,
        cwd=cwd,
        description=description,
        needs=None if needs is None else tuple(needs),
        retries=retries,
        retry_delay=retry_delay,
        mark=None if mark is None else Mark(*mark),
    )
