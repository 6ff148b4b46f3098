"""Turns a validated tree into the model: Checklist, Step and Defaults, defaults filled in.

Only called on a tree that passed every check, so it trusts the shapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relcheck.checklist.yamltree import Map, Scalar, Seq, Tree
from relcheck.errors import Problem
from relcheck.kinds import KINDS
from relcheck.model import (
    DEFAULT_TAG_TEMPLATE,
    Checklist,
    Defaults,
    Mark,
    NoteGroup,
    NotesSettings,
    Step,
)


def plain(tree: Tree | None) -> Any:
    """The tree as plain Python values (dicts, lists, scalars)."""
    if tree is None:
        return None
    if isinstance(tree, Map):
        return {entry.key: plain(entry.value) for entry in tree.entries}
    if isinstance(tree, Seq):
        return [plain(item) for item in tree.items]
    return tree.value


def _as_text(tree: Tree) -> str:
    assert isinstance(tree, Scalar)
    if isinstance(tree.value, bool):
        return "true" if tree.value else "false"
    # Numbers keep their spelling: `1.10` stays "1.10", not "1.1".
    return tree.text if not isinstance(tree.value, str) else tree.value


def _text_map(tree: Tree | None) -> dict[str, str]:
    if not isinstance(tree, Map):
        return {}
    return {entry.key: _as_text(entry.value) for entry in tree.entries}


def _optional_str(tree: Map, key: str) -> str | None:
    value = plain(tree.get(key))
    return value if isinstance(value, str) else None


def _optional_float(tree: Map, key: str) -> float | None:
    value = plain(tree.get(key))
    return float(value) if isinstance(value, int | float) else None


def _defaults(tree: Tree | None) -> Defaults:
    if not isinstance(tree, Map):
        return Defaults()
    fallback = Defaults()
    return Defaults(
        owner=_optional_str(tree, "owner"),
        timeout=_optional_float(tree, "timeout") or fallback.timeout,
        shell=_optional_str(tree, "shell") or fallback.shell,
    )


def _needs(tree: Map) -> tuple[str, ...] | None:
    needs = plain(tree.get("needs"))
    return tuple(str(item) for item in needs) if isinstance(needs, list) else None


def _step(tree: Map, *, file: str) -> Step:
    step_id = str(plain(tree.get("id")))
    kind = next(key for key in tree.names() if key in KINDS)
    required = plain(tree.get("required"))
    when = plain(tree.get("when"))
    return Step(
        id=step_id,
        title=_optional_str(tree, "title") or step_id,
        kind=kind,
        spec=plain(tree.get(kind)),
        owner=_optional_str(tree, "owner"),
        expected=_optional_str(tree, "expected"),
        rollback=_optional_str(tree, "rollback"),
        expect=plain(tree.get("expect")) or {},
        timeout=_optional_float(tree, "timeout"),
        env=_text_map(tree.get("env")),
        required=required if isinstance(required, bool) else True,
        when=when if isinstance(when, str | bool) else None,
        cwd=_optional_str(tree, "cwd"),
        description=_optional_str(tree, "description"),
        needs=_needs(tree),
        retries=int(plain(tree.get("retries")) or 0),
        retry_delay=_optional_float(tree, "retry_delay") or 1.0,
        mark=Mark(file, tree.pos.line, tree.pos.col),
    )


def _notes(tree: Tree | None) -> NotesSettings:
    data = plain(tree) or {}
    groups = data.get("groups")
    return NotesSettings(
        groups=tuple(NoteGroup(str(g["title"]), tuple(map(str, g["types"]))) for g in groups)
        if groups
        else None,
        template=data.get("template"),
        merges=bool(data.get("merges", False)),
        bots=tuple(map(str, data.get("bots") or ())),
    )


def build_checklist(
    tree: Map,
    *,
    source: str,
    file: str,
    path: Path,
    base_dir: Path,
    sha256: str,
    warnings: list[Problem],
) -> Checklist:
    steps = tree.get("steps")
    assert isinstance(steps, Seq)
    secrets = plain(tree.get("secrets")) or []
    return Checklist(
        source=source,
        path=path,
        base_dir=base_dir,
        sha256=sha256,
        version=int(plain(tree.get("version"))),
        steps=tuple(_step(step, file=file) for step in steps.items if isinstance(step, Map)),
        name=_optional_str(tree, "name"),
        description=_optional_str(tree, "description"),
        vars=_text_map(tree.get("vars")),
        secrets=tuple(str(name) for name in secrets),
        defaults=_defaults(tree.get("defaults")),
        tag=_optional_str(tree, "tag") or DEFAULT_TAG_TEMPLATE,
        notes=_notes(tree.get("notes")),
        metrics={str(k): str(v) for k, v in (plain(tree.get("metrics")) or {}).items()},
        warnings=tuple(warnings),
    )
