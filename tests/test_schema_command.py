"""`relcheck schema`: the JSON Schema editors use, checked with the jsonschema library."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import Invoke, Repo

from relcheck.checklist import checklist_schema

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "checklists" / "relcheck.schema.json"
CHECKLISTS = sorted((ROOT / "checklists").glob("*.yaml")) + sorted(
    (ROOT / "examples").glob("**/relcheck.yaml")
)
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@lru_cache(maxsize=1)
def _checklist_validator() -> jsonschema.Draft202012Validator:
    return _validator(checklist_schema())


def test_schema_prints_a_draft_2020_12_schema_built_from_the_definitions(relcheck: Invoke) -> None:
    printed = json.loads(relcheck("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed["title"] == "relcheck checklist"
    assert printed == checklist_schema()
    step = printed["properties"]["steps"]["items"]
    assert step["properties"]["timeout"]["description"]
    assert {"required": ["http"]} in step["oneOf"]


def test_schema_output_option_writes_the_same_text(relcheck: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "out" / "schema.json"
    relcheck("schema", "-o", str(target))
    assert target.read_text() == relcheck("schema").stdout


def test_committed_schema_file_is_what_relcheck_schema_prints(relcheck: Invoke) -> None:
    assert COMMITTED.read_text() == relcheck("schema").stdout, (
        "checklists/relcheck.schema.json is out of date: "
        "run `relcheck schema -o checklists/relcheck.schema.json`"
    )


@pytest.mark.parametrize("path", CHECKLISTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_builtin_and_example_is_valid_and_points_at_the_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    modeline = MODELINE.match(first)
    assert modeline, f"{path} should start with a yaml-language-server schema comment"
    assert (path.parent / modeline[1]).resolve() == COMMITTED
    errors = list(_checklist_validator().iter_errors(yaml.safe_load(path.read_text())))
    assert [error.message for error in errors] == []


def test_init_writes_the_schema_beside_the_checklist(relcheck: Invoke, repo: Repo) -> None:
    relcheck("init", "--from", "web-cache")
    text = (repo.path / "relcheck.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=relcheck.schema.json"
    assert text.count("yaml-language-server") == 1
    written = json.loads((repo.path / "relcheck.schema.json").read_text())
    assert written == checklist_schema()
    assert list(_validator(written).iter_errors(yaml.safe_load(text))) == []


_STEP = {"id": "tests", "run": "make test", "rollback": "none"}
# Documents the validator refuses and the schema can say are wrong.
_INVALID: dict[str, dict[str, Any]] = {
    "unknown step key": {"version": 1, "steps": [{**_STEP, "comand": "x"}]},
    "unknown top key": {"version": 1, "steps": [_STEP], "stpes": []},
    "wrong version": {"version": 2, "steps": [_STEP]},
    "no steps": {"version": 1, "steps": []},
    "timeout as words": {"version": 1, "steps": [{**_STEP, "timeout": "ten"}]},
    "bad step id": {"version": 1, "steps": [{**_STEP, "id": "Unit Tests"}]},
    "no kind": {"version": 1, "steps": [{"id": "tests", "rollback": "none"}]},
    "two kinds": {"version": 1, "steps": [{**_STEP, "manual": "check it"}]},
    "expect on a manual step": {
        "version": 1,
        "steps": [{"id": "sign", "manual": "sign it", "expect": {"exit_code": 0}}],
    },
    "unknown http option": {
        "version": 1,
        "steps": [{"id": "health", "http": {"url": "http://x", "verb": "GET"}}],
    },
    "too many retries": {"version": 1, "steps": [{**_STEP, "retries": 50}]},
    "absolute cwd": {"version": 1, "steps": [{**_STEP, "cwd": "/srv"}]},
}


@pytest.mark.parametrize("name", sorted(_INVALID))
def test_documents_the_validator_refuses_the_schema_refuses(
    name: str, relcheck: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _INVALID[name]
    (tmp_path / "relcheck.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    relcheck("validate", "relcheck.yaml", code=2)
    assert list(_checklist_validator().iter_errors(document)) != []
