"""JSON structure checks for the ``http`` kind: the subset match and shape snapshots.

Subset match (``expect.json``)
    A mapping matches when every key it names is present and matches (more
    keys in the response are fine). A list matches when each of its items
    matches a different item of the response's list, in any order (more items
    in the response are fine; ``[]`` matches any list). Anything else must be
    equal; numbers compare by value (``1`` equals ``1.0``) but ``true`` is not
    ``1``.

Shape snapshots (``expect.shape``)
    A snapshot file records the structure of a response, not its values, in
    a form meant to be read in review::

        {
          "about": "The JSON shape of the response of step 'health', ...",
          "format": 1,
          "shape": {
            "ok": "boolean",
            "user": {"id": "integer", "name": "string", "tags": ["string"]},
            "items": [{"id": "integer", "price": "number"}]
          }
        }

    A shape is a type name (``"string"``, ``"integer"``, ``"number"``,
    ``"boolean"``, ``"null"``, or ``"any"`` for a list whose items mix
    types), a mapping of key to shape (an object), or a list holding the one
    shape of its items (``[]`` when the recorded list was empty). The items of
    a list are described by the keys every item has.

    Comparing a response with its snapshot: a removed key or a changed type
    is a breaking change; a key the snapshot lacks is an addition, which
    passes. An integer where the snapshot says number passes. A snapshot
    ``null`` (a value seen only as null) or ``any`` accepts anything; a value
    that is now null where the snapshot names a type is a change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import reduce
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from relcheck.files import write_atomic

SNAPSHOT_FORMAT = 1
SCALAR_TYPES = ("string", "integer", "number", "boolean", "null", "any")

# A shape: a type name, a dict of key -> shape, or a list of zero or one shape.
Shape = Any

_NUMBERS = ("integer", "number")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SHOWN_CHARS = 80


class SnapshotError(Exception):
    """A snapshot file that cannot be read or is not a snapshot; the text says what to do."""


def key_path(path: str, key: str) -> str:
    """``$.user.id``; keys that are not plain names are quoted: ``$["content-type"]``."""
    return f"{path}.{key}" if _PLAIN_KEY.match(key) else f"{path}[{json.dumps(key)}]"


def shown(value: Any) -> str:
    """A JSON value in compact text for messages, cut to a readable length."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


# -- subset match -----------------------------------------------------------


def subset_problems(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Why ``actual`` does not contain ``expected``; [] when it does."""
    if isinstance(expected, Mapping):
        return _mapping_problems(expected, actual, path)
    if isinstance(expected, list):
        return _list_problems(expected, actual, path)
    if _same_value(expected, actual):
        return []
    return [f"{path}: expected {shown(expected)}, got {shown(actual)}"]


def _mapping_problems(expected: Mapping[str, Any], actual: Any, path: str) -> list[str]:
    if not isinstance(actual, Mapping):
        return [f"{path}: expected an object, got {shown(actual)}"]
    problems: list[str] = []
    for key, value in expected.items():
        where = key_path(path, key)
        if key not in actual:
            problems.append(f"{where}: missing")
        else:
            problems += subset_problems(value, actual[key], where)
    return problems


def _list_problems(expected: list[Any], actual: Any, path: str) -> list[str]:
    if not isinstance(actual, list):
        return [f"{path}: expected a list, got {shown(actual)}"]
    missing = _unmatched(expected, actual)
    return [f"{path}: no item matches {shown(expected[index])}" for index in missing]


def _unmatched(expected: list[Any], actual: list[Any]) -> list[int]:
    """Indexes of expected items left without a distinct match (a maximum matching)."""
    fits = [[j for j, item in enumerate(actual) if not subset_problems(e, item)] for e in expected]
    taken: dict[int, int] = {}

    def place(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in taken or place(taken[j], seen):
                    taken[j] = i
                    return True
        return False

    return [i for i in range(len(expected)) if not place(i, set())]


def _same_value(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return bool(expected == actual)
    return type(expected) is type(actual) and bool(expected == actual)


# -- shapes -----------------------------------------------------------------


def shape_of(value: Any) -> Shape:
    """The shape of a parsed JSON value."""
    if isinstance(value, Mapping):
        return {key: shape_of(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reduce(merge, (shape_of(item) for item in value))] if value else []
    return _scalar_type(value)


def _scalar_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def merge(a: Shape, b: Shape) -> Shape:
    """One shape describing values of both shapes (the items of one list)."""
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if a in _NUMBERS and b in _NUMBERS:
        return "number"
    if isinstance(a, dict) and isinstance(b, dict):
        return {key: merge(value, b[key]) for key, value in a.items() if key in b}
    if isinstance(a, list) and isinstance(b, list):
        return [merge(a[0], b[0])] if a and b else (a or b)
    return "any"


def type_word(shape: Shape) -> str:
    if isinstance(shape, dict):
        return "object"
    if isinstance(shape, list):
        return "array"
    return "mixed types" if shape == "any" else str(shape)


class Comparison(Struct):
    """What changed between a snapshot and a response: ``breaking`` fails, ``additions`` pass."""

    breaking: list[str] = field(default_factory=list)
    additions: list[str] = field(default_factory=list)


def compare(snapshot: Shape, actual: Shape, path: str = "$") -> Comparison:
    """Compare a response's shape with the recorded one."""
    found = Comparison()
    _compare(snapshot, actual, path, found)
    return found


def _compare(snapshot: Shape, actual: Shape, path: str, found: Comparison) -> None:
    if snapshot in ("any", "null") or (snapshot == "number" and actual == "integer"):
        return
    was, now = type_word(snapshot), type_word(actual)
    if was != now:
        found.breaking.append(f"{path}: was {was}, now {now}")
    elif isinstance(snapshot, dict):
        _compare_objects(snapshot, actual, path, found)
    elif isinstance(snapshot, list):
        _compare_lists(snapshot, actual, path, found)


def _compare_objects(
    snapshot: dict[str, Shape], actual: dict[str, Shape], path: str, found: Comparison
) -> None:
    for key, shape in snapshot.items():
        if key in actual:
            _compare(shape, actual[key], key_path(path, key), found)
        else:
            found.breaking.append(f"{key_path(path, key)}: removed (was {type_word(shape)})")
    for key, shape in actual.items():
        if key not in snapshot:
            found.additions.append(f"{key_path(path, key)} ({type_word(shape)})")


def _compare_lists(
    snapshot: list[Shape], actual: list[Shape], path: str, found: Comparison
) -> None:
    if snapshot and actual:
        _compare(snapshot[0], actual[0], f"{path}[]", found)
    elif actual:
        found.additions.append(f"{path}[] (items of {type_word(actual[0])})")


# -- snapshot files ---------------------------------------------------------


def snapshot_text(shape: Shape, *, step_id: str) -> str:
    """The file text of a snapshot: pretty JSON, keys sorted, a trailing newline."""
    document = {
        "about": (
            f"The JSON shape of the response of step '{step_id}', recorded by relcheck. "
            "Types, not values; update it with `relcheck run --update-snapshots`."
        ),
        "format": SNAPSHOT_FORMAT,
        "shape": shape,
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_snapshot(path: Path, shape: Shape, *, step_id: str) -> None:
    """Write the snapshot whole or not at all."""
    write_atomic(path, snapshot_text(shape, step_id=step_id))


def read_snapshot(path: Path, *, shown_as: str) -> Shape:
    """The shape recorded in ``path``; SnapshotError says what is wrong and how to fix it."""
    redo = "record it again with `relcheck run --update-snapshots`"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"snapshot {shown_as} cannot be read ({exc}); {redo}") from None
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(
            f"snapshot {shown_as} is not a relcheck snapshot of format {SNAPSHOT_FORMAT}; {redo}"
        )
    problem = _shape_problem(document.get("shape"), "$")
    if problem is not None:
        raise SnapshotError(f"snapshot {shown_as} has a bad shape at {problem}; {redo}")
    return document["shape"]


def _shape_problem(shape: Any, path: str) -> str | None:
    """Where a shape read from a file is malformed, or None."""
    if isinstance(shape, str):
        return None if shape in SCALAR_TYPES else f"{path} (unknown type {shape!r})"
    if isinstance(shape, dict):
        for key, item in shape.items():
            problem = _shape_problem(item, key_path(path, key))
            if problem is not None:
                return problem
        return None
    if isinstance(shape, list):
        if len(shape) > 1:
            return f"{path} (a list holds the one shape of its items)"
        return _shape_problem(shape[0], f"{path}[]") if shape else None
    return f"{path} (expected a type name, an object or a list)"
