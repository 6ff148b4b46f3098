"""The checklist format (version 1) as one JSON Schema: the validator and `relcheck schema` use it.

Besides standard draft 2020-12 keywords the schema carries a few ``x-`` keywords
that editors ignore and the validator reads for its messages:

- ``x-expected``: what a value should be, in words ("a number of seconds");
- ``x-not``: why a value is refused where the schema says ``not``.

``format`` names the two Jinja2 checks the validator runs on strings:
``jinja2-template`` and ``jinja2-expression``.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

from relcheck.kinds import KINDS, StepKind
from relcheck.model import DEFAULT_SHELL, DEFAULT_TAG_TEMPLATE, DEFAULT_TIMEOUT_S, NO_ROLLBACK

FORMAT_VERSION = 1
STEP_ID_PATTERN = "^[a-z0-9][a-z0-9_-]*$"
NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"

_SECONDS = "a number of seconds"


def _text(description: str, *, expected: str = "text", template: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "string",
        "minLength": 1,
        "description": description,
        "x-expected": expected,
    }
    if template:
        schema["format"] = "jinja2-template"
    return schema


def _seconds(description: str) -> dict[str, Any]:
    return {
        "type": "number",
        "exclusiveMinimum": 0,
        "description": description,
        "x-expected": _SECONDS,
    }


def _string_map(description: str, *, name: str, key_words: str, template: bool) -> dict[str, Any]:
    value: dict[str, Any] = {
        "type": ["string", "number", "boolean"],
        "description": "A value; numbers and true/false are turned into text.",
        "x-expected": "text (a number or true/false is turned into text)",
    }
    if template:
        value["format"] = "jinja2-template"
    return {
        "type": "object",
        "description": description,
        "propertyNames": {"pattern": NAME_PATTERN, "x-expected": key_words},
        "additionalProperties": value,
    }


def _defaults_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Values every step takes unless it sets its own.",
        "properties": {
            "owner": _text("Who answers for a step that names no owner.", expected="a name"),
            "timeout": _seconds(
                f"Seconds a step may take before it is stopped (default {DEFAULT_TIMEOUT_S:g})."
            ),
            "shell": _text(
                f"Shell that runs the commands (default {DEFAULT_SHELL}).",
                expected="the path of a shell",
            ),
        },
        "additionalProperties": False,
    }


def _notes_schema() -> dict[str, Any]:
    group = {
        "type": "object",
        "description": "One section of the note: a title and the commit types it holds.",
        "x-expected": "a mapping with a title and a list of types",
        "properties": {
            "title": _text("The section's heading, e.g. 'Features'.", expected="a title"),
            "types": {
                "type": "array",
                "minItems": 1,
                "description": "Conventional Commit types in this section, e.g. [feat].",
                "x-expected": "a list of commit types",
                "items": {
                    "type": "string",
                    "pattern": "^[a-z][a-z0-9_-]*$",
                    "x-expected": "a commit type like feat or fix",
                },
            },
        },
        "required": ["title", "types"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "description": "How release notes are made from this checklist's runs and git history.",
        "x-expected": "a mapping",
        "properties": {
            "groups": {
                "type": "array",
                "minItems": 1,
                "description": "The sections of the note, in order (default: breaking changes, "
                "features, fixes, performance, ...); other commits go to 'Other changes'.",
                "x-expected": "a list of sections",
                "items": group,
            },
            "template": _text(
                "A Jinja2 template for the note, relative to the checklist's folder; it may "
                "extend a built-in ({% extends 'release-note.md.j2' %}) and override blocks.",
                expected="the path of a template",
            ),
            "merges": {
                "type": "boolean",
                "description": "List merge commits too (default false).",
                "x-expected": "true or false",
            },
            "bots": {
                "type": "array",
                "description": "More author names (glob patterns) to list apart as bots.",
                "x-expected": "a list of name patterns",
                "items": {"type": "string", "minLength": 1, "x-expected": "a name pattern"},
            },
        },
        "additionalProperties": False,
    }


def _kind_spec_schema(kind: StepKind) -> dict[str, Any]:
    spec = copy.deepcopy(dict(kind.spec_schema))
    spec.setdefault("description", kind.summary)
    if spec.get("type") == "string":
        spec.setdefault("format", "jinja2-template")
        # "a shell command, checked by ..." -> "a shell command"
        spec.setdefault("x-expected", kind.summary.split(",")[0])
    return spec


def _kind_expect_schema(kind: StepKind) -> dict[str, Any]:
    if not kind.expect_schema:
        return {
            "not": {},
            "description": f"A {kind.key} step takes no 'expect'.",
            "x-not": f"a {kind.key} step takes no 'expect'; describe the outcome in 'expected'",
        }
    return {
        "type": "object",
        "description": f"Checks on the outcome of a {kind.key} step.",
        "properties": copy.deepcopy(dict(kind.expect_schema)),
        "additionalProperties": False,
    }


def _per_kind_rules(kinds: Mapping[str, StepKind], used: Collection[str]) -> list[dict[str, Any]]:
    return [
        {
            "if": {"required": [key]},
            "then": {"properties": {"expect": _kind_expect_schema(kinds[key])}},
        }
        for key in kinds
        if key in used
    ]


def _step_properties(kinds: Mapping[str, StepKind], used: Collection[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "id": {
            "type": "string",
            "pattern": STEP_ID_PATTERN,
            "description": "Unique name of the step: lowercase letters, digits, '-' and '_'.",
            "x-expected": "a step id of lowercase letters, digits, '-' and '_' (like 'unit-tests')",
        },
        "title": _text("Short human title (default: the id).", expected="a title"),
        "description": _text("Longer explanation shown in plans and runbooks."),
    }
    # A kind no step uses is listed (for "did you mean") but not described: its
    # module need not be imported to check a checklist that does not use it.
    properties.update({key: _kind_spec_schema(kinds[key]) if key in used else {} for key in kinds})
    properties.update(
        {
            "owner": _text("Who answers for this step.", expected="a name"),
            "expected": _text(
                "What a good outcome looks like, in words (default: from the step kind).",
                template=True,
            ),
            "rollback": _text(
                f"How to undo this step; '{NO_ROLLBACK}' when there is nothing to undo.",
                expected=f"a command or instructions, or '{NO_ROLLBACK}'",
                template=True,
            ),
            "expect": {
                "type": "object",
                "description": "Checks on the outcome; the keys allowed depend on the step kind.",
                "x-expected": "a mapping of checks",
            },
            "timeout": _seconds("Seconds this step may take before it is stopped."),
            "env": _string_map(
                "Extra environment variables for this step (values are templates).",
                name="env",
                key_words="an environment variable name (letters, digits, '_')",
                template=True,
            ),
            "required": {
                "type": "boolean",
                "description": "Whether a failure of this step fails the release (default true).",
                "x-expected": "true or false",
            },
            "when": {
                "type": ["boolean", "string"],
                "minLength": 1,
                "format": "jinja2-expression",
                "description": "Run the step only when true: true/false or a Jinja2 expression.",
                "x-expected": "true, false or a Jinja2 expression",
            },
            "needs": {
                "type": "array",
                "description": (
                    "Step ids this step waits for; without it a step waits for every step "
                    "before it. With --jobs, steps whose needs are met run side by side."
                ),
                "x-expected": "a list of step ids",
                "uniqueItems": True,
                "items": {
                    "type": "string",
                    "pattern": STEP_ID_PATTERN,
                    "description": "The id of a step this one waits for.",
                    "x-expected": "a step id",
                },
            },
            "retries": {
                "type": "integer",
                "minimum": 0,
                "maximum": 20,
                "description": "How many times to try again after a failure (default 0).",
                "x-expected": "a whole number of retries (0 or more)",
            },
            "retry_delay": {
                **_seconds(
                    "Seconds to wait before the first retry; doubled for each later one "
                    "(default 1)."
                ),
                "maximum": 3600,
            },
            "cwd": {
                "type": "string",
                "minLength": 1,
                "pattern": "^(?!/)",
                "description": "Folder to run in, relative to the checklist's folder.",
                "x-expected": "a folder relative to the checklist's folder",
            },
        }
    )
    return properties


def _step_schema(kinds: Mapping[str, StepKind], used: Collection[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"One step; it takes exactly one of: {', '.join(sorted(kinds))}.",
        "x-expected": "a step (a mapping with an id and a kind)",
        "properties": _step_properties(kinds, used),
        "required": ["id"],
        "additionalProperties": False,
        # Editors get "exactly one kind" from oneOf; the loader checks it by hand
        # to say which kinds exist (or which two were given).
        "oneOf": [{"required": [key]} for key in sorted(kinds)],
        "allOf": _per_kind_rules(kinds, used),
    }


def checklist_schema(kinds: Collection[str] | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a checklist file, built from the step kinds.

    ``kinds``: describe only these kinds' options (the kinds a checklist uses,
    for checking it); the others are still named. None: every kind.
    """
    used = KINDS if kinds is None else kinds
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "relcheck checklist",
        "description": "A release checklist run by relcheck (format version 1).",
        "type": "object",
        "x-expected": "a mapping with 'version: 1' and 'steps'",
        "properties": {
            "version": {
                "type": "integer",
                "enum": [FORMAT_VERSION],
                "description": "Version of the checklist format; must be 1.",
                "x-expected": f"{FORMAT_VERSION} (the checklist format version)",
            },
            "name": _text("Name of the project or service being released.", expected="a name"),
            "description": _text("What this checklist releases, in a sentence or two."),
            "vars": _string_map(
                "Values the templates read as vars.NAME (values are templates).",
                name="vars",
                key_words="a variable name (letters, digits, '_')",
                template=True,
            ),
            "secrets": {
                "type": "array",
                "description": "Environment variables holding secrets: masked in all output.",
                "x-expected": "a list of environment variable names",
                "items": {
                    "type": "string",
                    "pattern": NAME_PATTERN,
                    "description": "Name of an environment variable that holds a secret.",
                    "x-expected": "an environment variable name (letters, digits, '_')",
                },
            },
            "defaults": _defaults_schema(),
            "tag": _text(
                f"Template of the release tag (default '{DEFAULT_TAG_TEMPLATE}').",
                expected="a tag template like 'v{{ version }}'",
                template=True,
            ),
            "notes": _notes_schema(),
            "metrics": {
                "type": "object",
                "description": (
                    "Which way is better for each metric a step reports (HTTP figures such "
                    "as p95_ms, or `relcheck-metric: NAME=VALUE UNIT` lines): lower or higher "
                    "(default lower). The release note flags a change for the worse over 20%."
                ),
                "x-expected": "a mapping of metric name to lower or higher",
                "propertyNames": {
                    "pattern": "^[A-Za-z_][A-Za-z0-9_.-]*$",
                    "x-expected": "a metric name",
                },
                "additionalProperties": {
                    "type": "string",
                    "enum": ["lower", "higher"],
                    "description": "Whether a lower or a higher value is better.",
                    "x-expected": "lower or higher",
                },
            },
            "steps": {
                "type": "array",
                "minItems": 1,
                "description": "The steps, in order.",
                "x-expected": "a list of steps",
                "items": _step_schema(KINDS, used),
            },
        },
        "required": ["version", "steps"],
        "additionalProperties": False,
    }
