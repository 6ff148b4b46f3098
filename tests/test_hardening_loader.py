"""Hardening: the built-in and example checklists, broken every which way, never crash the loader.

Whatever a file holds, loading it gives a usable checklist (one that plans, or
says why not as `PATH:LINE:COL` problems) or a ConfigError whose every line is
`PATH:LINE:COL: key.path: ...`, which `relcheck validate` turns into exit 2.
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relcheck.checklist import checklist_schema, load_checklist_file
from relcheck.cli import cli
from relcheck.errors import ConfigError, Problem, RelcheckError
from relcheck.kinds import KINDS
from relcheck.model import Checklist
from relcheck.plan import make_release, plan_run

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(ROOT.glob("checklists/*.yaml")) + sorted(ROOT.glob("examples/*/relcheck.yaml"))
TEXTS = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in SOURCES}
NAME = "relcheck.yaml"

# `FILE:LINE:COL: [warning: ]key.path: what is wrong`, one problem per line.
PROBLEM_LINE = re.compile(r"(?P<file>.+?):(?P<line>[1-9]\d*):(?P<col>[1-9]\d*): (?:warning: )?\S.*")

_CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
_FUZZ = settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=_CHECKS)


def _schema_keys(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                found |= set(value)
            found |= _schema_keys(value)
    elif isinstance(node, list):
        for item in node:
            found |= _schema_keys(item)
    return found


# Keys a mutation may rename to: every key the format knows, the usual slips, and junk.
SLIPS = [
    "command", "comand", "owners", "depends_on", "rollback_command", "Steps", "<<", "", " ",
    "étape", "a.b", "[0]", "1",
]  # fmt: skip
KEYS = [*sorted(_schema_keys(checklist_schema())), *SLIPS]
NASTY_TEXT = [
    "", " ", "\t", "none", "{{", "}}", "{{ version", "{{ nope }}", "{% if %}", "{% for x in %}",
    "{{ env.HOME }}", "{{ 7*7 }}", "{{ ''.__class__ }}", "(", "[a-", "*", "\\", "a\nb\n",
    "\x00", "\x1b[31m", "\ud7ff", "-1", "1e999", "x" * 300, "../..", "/", "v1..2", "@{",
    "true", "~", "*anchor", "&anchor", "!!python/object:os.system",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(NASTY_TEXT)
    | st.text(max_size=20)
    | st.sampled_from([b"\x00bytes", datetime.date(2026, 1, 2), math.pi])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=6,
)
ACTIONS = ["drop", "replace", "wrap", "unwrap", "stringify", "rename", "duplicate", "empty"]


def _places(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value inside ``data`` (not the root itself)."""
    found: list[tuple[Any, ...]] = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        found.append((*path, key))
        found += _places(value, (*path, key))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _changed_type(value: Any, action: str, draw: st.DrawFn) -> Any:
    if action == "wrap":
        return [value] if draw(st.booleans()) else {"value": value}
    if action == "unwrap" and isinstance(value, dict | list) and value:
        items = list(value.values()) if isinstance(value, dict) else value
        return items[0]
    if action == "stringify":
        return str(value)
    if action == "empty":
        return type(value)() if isinstance(value, dict | list | str) else None
    return draw(VALUES)


def _mutate(data: Any, draw: st.DrawFn) -> Any:
    """One edit somewhere in the document: a key dropped or renamed, a value replaced,
    wrapped, unwrapped, turned into text or emptied, a list item duplicated."""
    places = _places(data)
    if not places:
        return draw(VALUES)
    path = draw(st.sampled_from(places))
    parent, key = _parent(data, path), path[-1]
    action = draw(st.sampled_from(ACTIONS))
    if action == "drop":
        del parent[key]
    elif action == "rename" and isinstance(parent, dict):
        parent[draw(st.sampled_from(KEYS) | st.text(max_size=8))] = parent.pop(key)
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, parent[key])
    else:
        parent[key] = _changed_type(parent[key], action, draw)
    return data


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[str, str]:
    """A built-in or example checklist with one to four structural edits, as YAML."""
    source = draw(st.sampled_from(sorted(TEXTS)))
    data = yaml.safe_load(TEXTS[source])
    for _ in range(draw(st.integers(1, 4))):
        data = _mutate(data, draw)
    return source, yaml.dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)


LINE_EDITS = ["delete", "duplicate", "swap", "indent", "dedent", "insert", "cut"]


@st.composite
def edited_texts(draw: st.DrawFn) -> tuple[str, bytes]:
    """A built-in or example checklist as written (comments, anchors, block text) with
    lines deleted, repeated, swapped, re-indented, random text or bytes put in, or cut off."""
    source = draw(st.sampled_from(sorted(TEXTS)))
    lines = TEXTS[source].encode().split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(LINE_EDITS))
        if edit == "delete" and len(lines) > 1:
            del lines[at]
        elif edit == "duplicate":
            lines.insert(at, lines[at])
        elif edit == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif edit == "indent":
            lines[at] = b" " * draw(st.integers(1, 4)) + lines[at]
        elif edit == "dedent":
            lines[at] = lines[at].lstrip(b" ")
        elif edit == "insert":
            junk = draw(st.binary(max_size=12) | st.text(max_size=12).map(str.encode))
            column = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:column] + junk + lines[at][column:]
        else:
            lines = lines[: at + 1]
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
    return source, b"\n".join(lines)


# ---------------------------------------------------------------- what must hold


def _assert_problem_lines(problems: tuple[Problem, ...], *, file: str, text: str | None) -> None:
    assert problems, "a ConfigError with nothing in it"
    assert any(p.severity == "error" for p in problems), "exit 2 for warnings alone"
    last_line = text.count("\n") + 1 if text is not None else None
    for problem in problems:
        shown = str(problem)
        match = PROBLEM_LINE.fullmatch(shown)
        assert match is not None, f"not FILE:LINE:COL: ...: {shown!r}"
        assert match["file"] == file, shown
        assert problem.path and problem.message.strip(), shown
        if last_line is not None:
            assert problem.line <= last_line, f"points past the end of the file: {shown!r}"


def _load(folder: Path, data: bytes) -> Checklist | None:
    """Load ``data`` as relcheck.yaml: a checklist, or None after checking its problems."""
    path = folder / NAME
    path.write_bytes(data)
    try:
        checklist = load_checklist_file(path, source=NAME, base_dir=folder)
    except ConfigError as exc:
        text = data.decode("utf-8", errors="replace")
        _assert_problem_lines(exc.problems, file=NAME, text=text)
        return None
    _assert_usable(checklist)
    return checklist


def _assert_usable(checklist: Checklist) -> None:
    """A checklist the loader accepts has steps of known kinds and plans, or says why not."""
    ids = [step.id for step in checklist.steps]
    assert ids and len(ids) == len(set(ids))
    assert all(step.kind in KINDS for step in checklist.steps)
    try:
        release = make_release(checklist, version="1.0.0", environ={}, branch="main", commit=None)
        plan_run(checklist, release=release, environ={})
    except ConfigError as exc:
        _assert_problem_lines(exc.problems, file=str(checklist.path), text=None)
    except RelcheckError as exc:
        assert exc.exit_code == 2 and str(exc).strip()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hardening-loader")


def test_the_unmodified_sources_load_and_plan(folder: Path) -> None:
    assert len(TEXTS) >= 2
    for text in TEXTS.values():
        assert _load(folder, text.encode()) is not None


@_FUZZ
@given(document=mutated_documents())
def test_structural_edits_give_a_checklist_or_located_problems(
    folder: Path, document: tuple[str, str]
) -> None:
    _load(folder, document[1].encode("utf-8", "surrogatepass"))


@_FUZZ
@given(document=edited_texts())
def test_text_edits_and_random_bytes_give_a_checklist_or_located_problems(
    folder: Path, document: tuple[str, bytes]
) -> None:
    _load(folder, document[1])


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=_CHECKS)
@given(
    data=st.binary(max_size=200)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_random_bytes_give_located_problems(folder: Path, data: bytes) -> None:
    _load(folder, data)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=_CHECKS)
@given(document=mutated_documents() | edited_texts())
def test_validate_exits_0_or_2_with_one_located_problem_per_line(
    folder: Path, document: tuple[str, str | bytes]
) -> None:
    data = document[1] if isinstance(document[1], bytes) else document[1].encode()
    path = folder / "cli" / NAME
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 0:
        assert "valid" in result.stdout
        return
    *problems, summary = result.stderr.splitlines()
    assert re.fullmatch(
        r"relcheck: \d+ problems? found; fix them and run the command again", summary
    )
    assert problems
    for line in problems:
        match = PROBLEM_LINE.fullmatch(line)
        assert match is not None and match["file"] == str(path), line
