"""The structural checks: a parsed tree walked against the JSON Schema of the format.

Supported keywords: type, enum, minLength, pattern, format, minimum,
exclusiveMinimum, properties, required, additionalProperties, propertyNames,
items, minItems, uniqueItems, minimum/maximum, allOf, if/then and not. Messages use the schema's
``x-expected`` and ``x-not`` words (see :mod:`relcheck.checklist.schema`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from msgspec import Struct, field

from relcheck import render
from relcheck.checklist.suggest import did_you_mean
from relcheck.checklist.yamltree import Map, Pos, Scalar, Seq, Tree, index_path, key_path
from relcheck.errors import Problem

Schema = Mapping[str, Any]
# A format check returns None, or what is wrong and the 1-based line of the text it is on.
FormatCheck = Callable[[str], tuple[str, int | None] | None]

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing",
}
_SHOWN_CHARS = 60


def _check_template(text: str) -> tuple[str, int | None] | None:
    try:
        problem = render.check_syntax(text)
    except (RecursionError, MemoryError):
        return "the Jinja2 template is nested too deeply; expected a simpler template", None
    if problem is None:
        return None
    return (
        f"Jinja2 template does not parse: {problem.message.rstrip('.')}; "
        "expected a template whose '{{ }}' and '{% %}' tags are complete",
        problem.line,
    )


def _check_expression(text: str) -> tuple[str, int | None] | None:
    try:
        problem = render.check_expression(text)
    except (RecursionError, MemoryError, SyntaxError):
        return "the Jinja2 expression is nested too deeply; expected a simpler expression", None
    if problem is None:
        return None
    return (
        f"Jinja2 expression does not parse: {problem.message.rstrip('.')}; "
        "expected true, false or an expression like \"env.get('DEPLOY') == 'yes'\"",
        None,
    )


def _check_regex(text: str) -> tuple[str, int | None] | None:
    try:
        re.compile(text)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"not a valid regular expression ({exc}); expected a Python regular expression", None
    return None


FORMATS: dict[str, FormatCheck] = {
    "jinja2-template": _check_template,
    "jinja2-expression": _check_expression,
    "regex": _check_regex,
}


@lru_cache(maxsize=64)
def _pattern(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA-262, where '$' is the very end; in Python
    # it also matches before a final newline.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _types_of(tree: Tree) -> set[str]:
    if isinstance(tree, Map):
        return {"object"}
    if isinstance(tree, Seq):
        return {"array"}
    value = tree.value
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, int):
        return {"integer", "number"} if _finite(value) else set()
    if isinstance(value, float):
        return {"number"} if _finite(value) else set()
    return {"null"} if value is None else {"string"}


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _shown(text: str) -> str:
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return repr(text)


def describe(tree: Tree) -> str:
    """How a value reads in "got ..." messages."""
    if isinstance(tree, Map):
        return "a mapping"
    if isinstance(tree, Seq):
        return "a list"
    value = tree.value
    if isinstance(value, bool) and tree.text.lower() not in ("true", "false"):
        word = "true" if value else "false"
        return f"{tree.text} (YAML reads it as {word}; quote it to mean text)"
    if value is None:
        return "nothing" if tree.text in ("", "~") else tree.text
    if isinstance(value, str):
        return _shown(value)
    return tree.text


def expected_words(schema: Schema) -> str:
    words = schema.get("x-expected")
    if isinstance(words, str):
        return words
    types = schema.get("type", [])
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(_TYPE_WORDS.get(name, name) for name in names) or "a value"


def _enum_words(schema: Schema) -> str:
    if "x-expected" in schema:
        return expected_words(schema)
    return "one of " + ", ".join(repr(choice) for choice in schema["enum"])


def _in_enum(value: object, choices: list[Any]) -> bool:
    return any(type(value) is type(choice) and value == choice for choice in choices) or any(
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and isinstance(choice, int | float)
        and not isinstance(choice, bool)
        and value == choice
        for choice in choices
    )


class Validator(Struct):
    """Collects every problem of a tree; ``formats`` checks strings by ``format`` name."""

    file: str
    formats: Mapping[str, FormatCheck] = field(default_factory=lambda: FORMATS)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, at: Pos, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, at.line, at.col, path, message))

    def passes(self, tree: Tree, schema: Schema, path: str) -> bool:
        if schema.keys() <= {"required"}:
            # The `if` of every step kind: what validating it would find, without
            # a validator per step and kind (a 2,000-step checklist has 14,000).
            required = schema.get("required", ())
            return not isinstance(tree, Map) or all(tree.entry(key) for key in required)
        quiet = Validator(self.file, self.formats)
        quiet.validate(tree, schema, path, Pos(1, 1))
        return not quiet.problems

    def validate(self, tree: Tree, schema: Schema, path: str, at: Pos) -> None:
        """Check ``tree`` at key path ``path``; value problems are reported at ``at``."""
        if "not" in schema and self.passes(tree, schema["not"], path):
            reason = schema.get("x-not", "this value matches what is refused here")
            self.problem(at, path, f"not allowed here; {reason}")
            return
        if "type" in schema and not self._type_ok(tree, schema, path, at):
            return
        if "enum" in schema and not (
            isinstance(tree, Scalar) and _in_enum(tree.value, schema["enum"])
        ):
            self.problem(at, path, f"expected {_enum_words(schema)}, got {describe(tree)}")
            return
        if isinstance(tree, Scalar):
            self._scalar(tree, schema, path, at)
        elif isinstance(tree, Map):
            self._mapping(tree, schema, path, at)
        else:
            self._sequence(tree, schema, path, at)
        self._applicators(tree, schema, path, at)

    def _type_ok(self, tree: Tree, schema: Schema, path: str, at: Pos) -> bool:
        wanted = schema["type"]
        allowed = {wanted} if isinstance(wanted, str) else set(wanted)
        if _types_of(tree) & allowed:
            return True
        self.problem(at, path, f"expected {expected_words(schema)}, got {describe(tree)}")
        return False

    def _scalar(self, tree: Scalar, schema: Schema, path: str, at: Pos) -> None:
        value = tree.value
        if isinstance(value, str):
            self._string(tree, value, schema, path, at)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number(tree, value, schema, path, at)

    def _string(self, tree: Scalar, value: str, schema: Schema, path: str, at: Pos) -> None:
        got = describe(tree)
        too_short = len(value) < schema.get("minLength", 0)
        if too_short or ("pattern" in schema and not _pattern(schema["pattern"]).search(value)):
            self.problem(at, path, f"expected {expected_words(schema)}, got {got}")
        elif schema.get("format") in self.formats:
            found = self.formats[schema["format"]](value)
            if found is not None:
                message, line = found
                where = tree.pos_of_line(line) if tree.block_line is not None else at
                self.problem(where, path, message)

    def _number(self, tree: Scalar, value: float, schema: Schema, path: str, at: Pos) -> None:
        words = expected_words(schema)
        if "minimum" in schema and value < schema["minimum"]:
            self.problem(
                at, path, f"expected {words} of at least {schema['minimum']}, got {tree.text}"
            )
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            self.problem(
                at,
                path,
                f"expected {words} greater than {schema['exclusiveMinimum']}, got {tree.text}",
            )
        if "maximum" in schema and value > schema["maximum"]:
            self.problem(
                at, path, f"expected {words} of at most {schema['maximum']}, got {tree.text}"
            )

    def _mapping(self, tree: Map, schema: Schema, path: str, at: Pos) -> None:
        properties: Mapping[str, Schema] = schema.get("properties", {})
        for key in schema.get("required", []):
            if tree.entry(key) is None:
                words = expected_words(properties.get(key, {}))
                self.problem(at, key_path(path, key), f"missing; expected {words}")
        for entry in tree.entries:
            self._entry(entry.key, entry.key_pos, entry.value, schema, path)

    def _entry(self, key: str, key_pos: Pos, value: Tree, schema: Schema, path: str) -> None:
        properties: Mapping[str, Schema] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        if extra is True and key not in properties and "propertyNames" not in schema:
            return  # this schema says nothing about this key (most `then` parts of a step)
        child = key_path(path, key)
        if "propertyNames" in schema:
            self.validate(Scalar(key, key, key_pos), schema["propertyNames"], child, key_pos)
        if key in properties:
            self.validate(value, properties[key], child, key_pos)
        elif extra is False:
            self.problem(key_pos, child, f"unknown key; {self._hint(key, schema)}")
        elif isinstance(extra, Mapping):
            self.validate(value, extra, child, key_pos)

    def _hint(self, key: str, schema: Schema) -> str:
        allowed = sorted(schema.get("properties", {}))
        suggestion = did_you_mean(key, allowed)
        if suggestion is not None:
            return f"did you mean '{suggestion}'?"
        return f"expected one of: {', '.join(allowed)}"

    def _sequence(self, tree: Seq, schema: Schema, path: str, at: Pos) -> None:
        minimum = schema.get("minItems", 0)
        if len(tree.items) < minimum:
            got = "an empty list" if not tree.items else f"{len(tree.items)} items"
            self.problem(
                at,
                path,
                f"expected {expected_words(schema)} with at least "
                f"{minimum} item{'s' if minimum != 1 else ''}, got {got}",
            )
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(tree.items):
                self.validate(item, items, index_path(path, index), item.pos)
        if schema.get("uniqueItems"):
            self._unique(tree, path)

    def _unique(self, tree: Seq, path: str) -> None:
        seen: dict[object, int] = {}
        for index, item in enumerate(tree.items):
            if not isinstance(item, Scalar):
                continue
            if item.value in seen:
                self.problem(
                    item.pos,
                    index_path(path, index),
                    f"{item.value!r} is listed twice (first at "
                    f"{index_path(path, seen[item.value])}); expected each item once",
                )
            seen.setdefault(item.value, index)

    def _applicators(self, tree: Tree, schema: Schema, path: str, at: Pos) -> None:
        for sub in schema.get("allOf", []):
            self.validate(tree, sub, path, at)
        if "if" in schema and "then" in schema and self.passes(tree, schema["if"], path):
            self.validate(tree, schema["then"], path, at)
