"""The ``config`` kind: a config file checked for required keys, values and another file's keys.

Rules a release captain may want to look up:

- ``require``: each dotted key must be present and non-empty (not null, not
  blank text, not an empty list or mapping; ``false`` and ``0`` count as set).
- ``equals``: dotted key -> value, compared by type (``1`` equals ``1.0``, but
  ``true`` never equals ``1`` and ``"false"`` never equals ``false``). In a
  dotenv file every value is text, so a value is read as the type the check
  wants: ``true`` matches true/yes/on/1 and ``false`` false/no/off/0 (any
  case), a number matches text that reads as that number, ``null`` matches an
  empty value.
- ``forbid``: either a mapping, dotted key -> a value the key must not have
  (compared as in ``equals``; an absent key passes), or a list of dotted keys
  that must not be present at all.
- ``same_keys_as``: another file whose leaf keys (dotted paths; lists count as
  leaves) must be the same; keys missing on either side are reported.
- A value is secret, and shown as ``***``, when any part of its dotted key
  looks secret (see :func:`relcheck.secrets.key_looks_secret`).

Paths are relative to the folder the step runs in.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any

from msgspec import Struct, field

from relcheck.configfile import (
    FORMAT_NAMES,
    FORMATS,
    MISSING,
    ConfigFileError,
    format_of,
    leaf_keys,
    lookup,
    read_config,
)
from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.model import FAILED, NO_ROLLBACK, PASSED, Release, Step
from relcheck.secrets import MASK
from relcheck.secrets import key_looks_secret as looks_secret

_TRUE_TEXT = frozenset({"true", "yes", "on", "1"})
_FALSE_TEXT = frozenset({"false", "no", "off", "0"})
_SHOWN_CHARS = 60
_LISTED = 20

_DOTTED_KEY = {
    "type": "string",
    "minLength": 1,
    "pattern": r"^[^.]+(\.[^.]+)*$",
    "format": "jinja2-template",
    "description": "A dotted key: 'database.url', or 'servers.0.host' for a list item.",
    "x-expected": "a dotted key like 'database.url'",
}
_PATH = {
    "type": "string",
    "minLength": 1,
    "format": "jinja2-template",
    "x-expected": "the path of a YAML, JSON, TOML or .env file",
}
_ANY_VALUE = {"description": "A value: text, a number, true/false, null, a list or a mapping."}


class _Spec(Struct, frozen=True):
    """The step's ``config`` mapping, read defensively (the validator checked its shape)."""

    file: str
    format: str | None = None
    require: tuple[str, ...] = ()
    equals: Mapping[str, Any] = field(default_factory=dict)
    forbid_values: Mapping[str, Any] = field(default_factory=dict)
    forbid_keys: tuple[str, ...] = ()
    same_keys_as: str | None = None

    @classmethod
    def of(cls, value: Any) -> _Spec:
        spec = value if isinstance(value, Mapping) else {}
        forbid = spec.get("forbid")
        fmt = spec.get("format")
        other = spec.get("same_keys_as")
        return cls(
            file=str(spec.get("file", "")),
            format=str(fmt) if fmt in FORMATS else None,
            require=_keys(spec.get("require")),
            equals=_mapping(spec.get("equals")),
            forbid_values=_mapping(forbid),
            forbid_keys=_keys(forbid),
            same_keys_as=str(other) if other else None,
        )


def _keys(value: Any) -> tuple[str, ...]:
    return tuple(str(key) for key in value) if isinstance(value, list) else ()


def _mapping(value: Any) -> Mapping[str, Any]:
    return {str(key): item for key, item in value.items()} if isinstance(value, Mapping) else {}


class _Check(Struct):
    """What one check found: a summary for ``actual`` and every problem."""

    summary: str
    problems: list[str] = field(default_factory=list)


class ConfigKind:
    key = "config"
    automated = True
    gated = False
    waits_for_every_step = False
    summary = "a YAML, JSON, TOML or .env file, checked for keys and values"
    spec_schema: Mapping[str, Any] = {
        "type": "object",
        "description": (
            "A config file (YAML, JSON, TOML or .env) checked for required keys, values, "
            "forbidden settings and the keys of another file."
        ),
        "x-expected": "a mapping with 'file' and checks (require, equals, forbid, same_keys_as)",
        "properties": {
            "file": {**_PATH, "description": "The file to check, relative to the step's folder."},
            "format": {
                "enum": list(FORMATS),
                "description": "The file's format when its name does not tell it.",
                "x-expected": "one of " + ", ".join(FORMATS),
            },
            "require": {
                "type": "array",
                "minItems": 1,
                "items": _DOTTED_KEY,
                "description": "Dotted keys that must be present and not empty.",
                "x-expected": "a list of dotted keys like [database.url, cache.ttl]",
            },
            "equals": {
                "type": "object",
                "propertyNames": _DOTTED_KEY,
                "additionalProperties": _ANY_VALUE,
                "description": "Dotted key -> the value it must have.",
                "x-expected": "a mapping of dotted key -> value, like {debug: false}",
            },
            "forbid": {
                "type": ["object", "array"],
                "propertyNames": _DOTTED_KEY,
                "additionalProperties": _ANY_VALUE,
                "items": _DOTTED_KEY,
                "description": (
                    "Dotted key -> a value it must not have; or a list of keys that must be absent."
                ),
                "x-expected": "a mapping of dotted key -> forbidden value, or a list of keys",
            },
            "same_keys_as": {
                **_PATH,
                "description": "Another file that must have the same keys (relative path).",
            },
        },
        "required": ["file"],
        "additionalProperties": False,
    }
    expect_schema: Mapping[str, Any] = {}

    def default_expected(self, step: Step) -> str:
        return _words(_Spec.of(step.spec))

    def describe(self, resolved: ResolvedStep) -> str:
        return f"check that {_words(_Spec.of(resolved.spec))}"

    def default_rollback(self, resolved: ResolvedStep, release: Release) -> str | None:
        return NO_ROLLBACK  # a check changes nothing, so there is nothing to undo

    def execute(self, resolved: ResolvedStep, ctx: StepContext) -> Outcome:
        spec = _Spec.of(resolved.spec)
        try:
            data = read_config(resolved.cwd / spec.file, shown=spec.file, fmt=spec.format)
        except ConfigFileError as exc:
            return Outcome(FAILED, f"{spec.file}: not read", reason=str(exc))
        fmt = spec.format or format_of(spec.file) or "yaml"
        ctx.say(f"read {spec.file} ({FORMAT_NAMES[fmt]}, {len(leaf_keys(data))} keys)")
        checks = _run_checks(spec, data, fmt == "dotenv", resolved, ctx)
        summaries = [check.summary for check in checks] or ["reads as valid " + FORMAT_NAMES[fmt]]
        actual = f"{spec.file}: {', '.join(summaries)}"
        problems = [problem for check in checks for problem in check.problems]
        if problems:
            return Outcome(FAILED, actual, reason="; ".join(problems))
        return Outcome(PASSED, actual)


def _run_checks(
    spec: _Spec, data: dict[str, Any], text_values: bool, resolved: ResolvedStep, ctx: StepContext
) -> list[_Check]:
    checks: list[_Check] = []
    if spec.require:
        checks.append(_check_require(data, spec.require, ctx))
    if spec.equals:
        checks.append(_check_equals(data, spec.equals, text_values, ctx))
    if spec.forbid_values or spec.forbid_keys:
        checks.append(_check_forbid(data, spec, text_values, ctx))
    if spec.same_keys_as:
        checks.append(_check_same_keys(data, spec, resolved, ctx))
    return checks


# --- require ---------------------------------------------------------------------------


def _check_require(data: dict[str, Any], keys: tuple[str, ...], ctx: StepContext) -> _Check:
    problems: list[str] = []
    for key in keys:
        value = lookup(data, key)
        if value is MISSING:
            problems.append(f"{key} is missing")
        elif _is_empty(value):
            problems.append(f"{key} is empty")
        else:
            ctx.say(f"{key}: present")
    present = len(keys) - len(problems)
    noun = _plural(len(keys), "required key")
    summary = f"{noun} present" if not problems else f"{present} of {noun} present"
    return _Check(summary, problems)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


# --- equals ----------------------------------------------------------------------------


def _check_equals(
    data: dict[str, Any], wanted: Mapping[str, Any], text_values: bool, ctx: StepContext
) -> _Check:
    problems: list[str] = []
    for key, expected in wanted.items():
        actual = lookup(data, key)
        secret = looks_secret(key)
        if actual is MISSING:
            problems.append(f"{key} is missing, expected {_show(expected, secret)}")
        elif not _matches(actual, expected, text_values=text_values):
            problems.append(_mismatch(key, actual, expected, secret))
        else:
            ctx.say(f"{key} = {_show(actual, secret)}, as expected")
    good = len(wanted) - len(problems)
    summary = (
        f"{_plural(len(wanted), 'value')} as expected"
        if not problems
        else f"{good} of {_plural(len(wanted), 'value')} as expected"
    )
    return _Check(summary, problems)


def _mismatch(key: str, actual: Any, expected: Any, secret: bool) -> str:
    if secret:
        return f"{key} is {MASK}, not the expected value (secret, not shown)"
    message = f"{key} is {_show(actual, False)}, expected {_show(expected, False)}"
    if _type_word(actual) != _type_word(expected) and _same_text(actual, expected):
        message += f" ({_type_word(actual)} in the file, {_type_word(expected)} in the check)"
    return message


def _same_text(actual: Any, expected: Any) -> bool:
    """Whether the two would match if the text one were read as the other's type."""
    return _matches(actual, expected, text_values=True) or _matches(
        expected, actual, text_values=True
    )


def _matches(actual: Any, expected: Any, *, text_values: bool) -> bool:
    """Typed equality; ``text_values`` (dotenv) reads text as the type the check wants."""
    if text_values and isinstance(actual, str) and _is_plain(expected):
        return _text_matches(actual, expected)
    return _typed_equal(actual, expected)


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float)


def _text_matches(text: str, expected: Any) -> bool:
    folded = text.strip().lower()
    if isinstance(expected, bool):
        return folded in (_TRUE_TEXT if expected else _FALSE_TEXT)
    if expected is None:
        return folded == ""
    try:
        return bool(float(folded) == expected)
    except ValueError:
        return False


def _typed_equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return actual == expected
    if isinstance(actual, dict) and isinstance(expected, Mapping):
        return actual.keys() == expected.keys() and all(
            _typed_equal(actual[key], expected[key]) for key in actual
        )
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(map(_typed_equal, actual, expected))
    if isinstance(actual, datetime.date | datetime.time) and isinstance(expected, str):
        # TOML and YAML dates: the check names them as text.
        return expected in (actual.isoformat(), str(actual))
    if type(actual) is not type(expected):
        return False
    same: bool = actual == expected
    return same


def _type_word(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    return "a list" if isinstance(value, list) else "a mapping"


# --- forbid ----------------------------------------------------------------------------


def _check_forbid(data: dict[str, Any], spec: _Spec, text_values: bool, ctx: StepContext) -> _Check:
    problems: list[str] = []
    for key in spec.forbid_keys:
        if lookup(data, key) is not MISSING:
            problems.append(f"{key} is set; it must be absent")
        else:
            ctx.say(f"{key}: absent, as required")
    for key, refused in spec.forbid_values.items():
        actual = lookup(data, key)
        secret = looks_secret(key)
        if actual is not MISSING and _matches(actual, refused, text_values=text_values):
            problems.append(f"{key} is {_show(actual, secret)}, which is forbidden")
        else:
            shown = "absent" if actual is MISSING else f"= {_show(actual, secret)}"
            ctx.say(f"{key} {shown}, not the forbidden {_show(refused, secret)}")
    total = len(spec.forbid_keys) + len(spec.forbid_values)
    noun = _plural(total, "forbidden setting")
    summary = f"{noun} absent" if not problems else f"{len(problems)} of {noun} present"
    return _Check(summary, problems)


# --- same_keys_as ----------------------------------------------------------------------


def _check_same_keys(
    data: dict[str, Any], spec: _Spec, resolved: ResolvedStep, ctx: StepContext
) -> _Check:
    other_name = spec.same_keys_as or ""
    other_format = None if format_of(other_name) else spec.format
    try:
        other = read_config(resolved.cwd / other_name, shown=other_name, fmt=other_format)
    except ConfigFileError as exc:
        return _Check(f"not compared with {other_name}", [str(exc)])
    mine, theirs = leaf_keys(data), leaf_keys(other)
    problems = [
        f"keys only in {name}: {_listed(keys)}"
        for name, keys in ((other_name, theirs - mine), (spec.file, mine - theirs))
        if keys
    ]
    if problems:
        differ = len(theirs ^ mine)
        verb = "differs" if differ == 1 else "differ"
        return _Check(f"{_plural(differ, 'key')} {verb} from {other_name}", problems)
    ctx.say(f"same {_plural(len(mine), 'key')} as {other_name}")
    return _Check(f"same keys as {other_name}", [])


def _listed(keys: Iterable[str]) -> str:
    ordered = sorted(keys)
    shown = ", ".join(ordered[:_LISTED])
    return shown if len(ordered) <= _LISTED else f"{shown} and {len(ordered) - _LISTED} more"


# --- words -----------------------------------------------------------------------------


def _words(spec: _Spec) -> str:
    parts: list[str] = []
    if spec.require:
        parts.append("has " + ", ".join(spec.require))
    parts += [f"{key} = {_show(value, looks_secret(key))}" for key, value in spec.equals.items()]
    parts += [f"no {key}" for key in spec.forbid_keys]
    parts += [
        f"{key} is not {_show(value, looks_secret(key))}"
        for key, value in spec.forbid_values.items()
    ]
    if spec.same_keys_as:
        parts.append(f"same keys as {spec.same_keys_as}")
    if not parts:
        fmt = spec.format or format_of(spec.file)
        return f"{spec.file} reads as valid {FORMAT_NAMES[fmt] if fmt else 'config'}"
    first, *rest = parts
    joined = f"{spec.file} {first}" if spec.require else f"{spec.file}: {first}"
    return "; ".join([joined, *rest])


def _show(value: Any, secret: bool) -> str:
    if secret:
        return MASK
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
