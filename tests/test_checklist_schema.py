"""The JSON Schema of the checklist format; the loader accepts exactly what it describes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from relcheck.checklist import checklist_schema, load_checklist_file
from relcheck.checklist.suggest import REACHED_FOR
from relcheck.errors import ConfigError
from relcheck.kinds import KINDS
from relcheck.model import Step

_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "python-service" / "relcheck.yaml"

# Values each key accepts, used to build a checklist that holds one key.
_STEP_VALUES: dict[str, Any] = {
    "id": "other",
    "title": "A title",
    "description": "words",
    "owner": "Dev",
    "expected": "it works",
    "rollback": "none",
    "timeout": 5,
    "env": {"A": "b"},
    "required": False,
    "when": "true",
    "cwd": "sub",
    "needs": [],
    "retries": 2,
    "retry_delay": 0.5,
    "expect": {"exit_code": 0},
}
_ROOT_VALUES: dict[str, Any] = {
    "name": "demo",
    "description": "words",
    "vars": {"a": "{{ version }}"},
    "secrets": ["TOKEN"],
    "defaults": {"owner": "Dev", "timeout": 5, "shell": "/bin/sh"},
    "tag": "v{{ version }}",
    "notes": {"groups": [{"title": "New", "types": ["feat"]}], "merges": True},
    "metrics": {"p95_ms": "lower"},
}
_NOT_KEYS = ["bogus", "steps_", "Version", "depends_on", "kind", *REACHED_FOR]


def _step_schema() -> Mapping[str, Any]:
    items: Mapping[str, Any] = checklist_schema()["properties"]["steps"]["items"]
    return items


def _load(tmp_path: Path, document: dict[str, Any]) -> list[str]:
    """The error lines for ``document``, or [] when it loads."""
    path = tmp_path / "relcheck.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        load_checklist_file(path, source="relcheck.yaml", base_dir=tmp_path)
    except ConfigError as exc:
        return [str(p) for p in exc.problems if p.severity == "error"]
    return []


def _unknown(lines: list[str]) -> bool:
    return any(": unknown key;" in line for line in lines)


def _walk_properties(schema: Any, where: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(schema, Mapping):
        for name, sub in schema.get("properties", {}).items():
            yield f"{where}.{name}", sub
        for key, sub in schema.items():
            if key != "properties" or not isinstance(sub, Mapping):
                yield from _walk_properties(sub, f"{where}/{key}")
            else:
                for name, prop in sub.items():
                    yield from _walk_properties(prop, f"{where}.{name}")
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            yield from _walk_properties(sub, f"{where}[{index}]")


def test_schema_is_json_draft_2020_12() -> None:
    schema = checklist_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema
    assert schema["required"] == ["version", "steps"]


def test_every_property_has_a_description() -> None:
    properties = list(_walk_properties(checklist_schema()))
    missing = [where for where, prop in properties if "description" not in prop]
    assert missing == []
    assert len(properties) > 25


def test_kinds_come_from_the_registry() -> None:
    step = _step_schema()
    for key, kind in KINDS.items():
        assert step["properties"][key]["type"] == kind.spec_schema["type"]
        assert {"required": [key]} in step["oneOf"]
    rules = {rule["if"]["required"][0]: rule["then"] for rule in step["allOf"]}
    assert set(rules) == set(KINDS)
    assert set(rules["run"]["properties"]["expect"]["properties"]) == set(
        KINDS["run"].expect_schema
    )


@pytest.mark.parametrize("key", sorted(set(_STEP_VALUES) | set(_NOT_KEYS)))
def test_step_accepts_exactly_the_schema_keys(tmp_path: Path, key: str) -> None:
    step: dict[str, Any] = {"id": "build", "run": "make", "rollback": "none"}
    step[key] = _STEP_VALUES.get(key, "x")
    lines = _load(tmp_path, {"version": 1, "steps": [step]})
    in_schema = key in _step_schema()["properties"]
    assert _unknown(lines) is not in_schema, lines
    if in_schema:
        assert lines == []


@pytest.mark.parametrize("key", sorted(set(_ROOT_VALUES) | set(_NOT_KEYS)))
def test_root_accepts_exactly_the_schema_keys(tmp_path: Path, key: str) -> None:
    document: dict[str, Any] = {"version": 1, "steps": [{"id": "a", "manual": "x"}]}
    document[key] = _ROOT_VALUES.get(key, "x")
    lines = _load(tmp_path, document)
    in_schema = key in checklist_schema()["properties"]
    assert _unknown(lines) is not in_schema, lines
    if in_schema:
        assert lines == []


def test_schema_and_value_table_cover_the_same_keys() -> None:
    step_keys = set(_step_schema()["properties"]) - set(KINDS)
    assert step_keys == set(_STEP_VALUES)
    assert set(checklist_schema()["properties"]) - {"version", "steps"} == set(_ROOT_VALUES)


class _HttpKind:
    """A kind with a mapping spec, as later kinds will have."""

    key = "http"
    automated = True
    summary = "an HTTP request, checked by status and body"
    spec_schema: Mapping[str, Any] = {
        "type": "object",
        "description": "The request.",
        "properties": {"url": {"type": "string", "description": "Where to send it."}},
        "required": ["url"],
        "additionalProperties": False,
    }
    expect_schema: Mapping[str, Any] = {
        "status": {"type": "integer", "description": "The status code."}
    }

    def default_expected(self, step: Step) -> str:
        return "the request succeeds"

    def execute(self, resolved: Any, ctx: Any) -> Any:
        raise NotImplementedError


def test_a_new_kind_is_validated_from_its_schemas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(KINDS, "http", _HttpKind())
    good = {"id": "ping", "http": {"url": "http://x"}, "expect": {"status": 200}}
    checklist_lines = _load(tmp_path, {"version": 1, "steps": [good]})
    assert checklist_lines == []

    bad = {"id": "ping", "http": {"uri": "http://x"}, "expect": {"exit_code": 0}}
    assert _load(tmp_path, {"version": 1, "steps": [bad]}) == [
        "relcheck.yaml:4:3: steps[0].http.url: missing; expected text",
        "relcheck.yaml:5:5: steps[0].http.uri: unknown key; did you mean 'url'?",
        "relcheck.yaml:7:5: steps[0].expect.exit_code: unknown key; expected one of: status",
    ]


def test_example_checklist_is_valid_for_jsonschema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = checklist_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(_EXAMPLE.read_text()), schema)
