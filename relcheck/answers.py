"""Answers for runs without a terminal: default owner and per-step answers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from relcheck.errors import ConfigError, Problem

ANSWER_CHOICES = ("done", "failed", "skip")
_STEP_KEYS = ("answer", "owner", "note", "rollback")


class StepAnswer(Struct, frozen=True):
    answer: str | None = None
    owner: str | None = None
    note: str | None = None
    rollback: str | None = None


class Answers(Struct, frozen=True):
    source: str | None = None
    owner: str | None = None
    steps: Mapping[str, StepAnswer] = field(default_factory=dict)

    def for_step(self, step_id: str) -> StepAnswer | None:
        return self.steps.get(step_id)


def load_answers(path: Path) -> Answers:
    """Read an answers file; every problem is reported with its line and column."""
    import yaml

    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [
                Problem(
                    label,
                    1,
                    1,
                    "(root)",
                    f"cannot read the answers file: {exc}; expected a readable UTF-8 YAML file",
                )
            ]
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [Problem(label, line, col, "(root)", f"YAML syntax error: {problem}")]
        ) from None
    problems: list[Problem] = []
    answers = _read_root(label, node, problems)
    if problems:
        raise ConfigError(problems)
    return answers


def _at(label: str, node: Any, path: str, message: str) -> Problem:
    mark = node.start_mark
    return Problem(label, mark.line + 1, mark.column + 1, path, message)


def _scalar(label: str, node: Any, path: str, problems: list[Problem]) -> str | None:
    import yaml

    if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
        return str(node.value)
    if not (isinstance(node, yaml.ScalarNode)):
        problems.append(_at(label, node, path, "expected a string"))
    return None


def _pairs(label: str, node: Any, path: str, problems: list[Problem]) -> list[tuple[str, Any]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        problems.append(_at(label, node, path, "expected a mapping"))
        return []
    seen: dict[str, int] = {}
    pairs = []
    for key, value in node.value:
        name = str(key.value)
        if name in seen:
            problems.append(
                _at(
                    label,
                    key,
                    f"{path}.{name}" if path != "(root)" else name,
                    f"duplicate key (first on line {seen[name]})",
                )
            )
        seen[name] = key.start_mark.line + 1
        pairs.append((name, value))
    return pairs


def _read_root(label: str, node: Any, problems: list[Problem]) -> Answers:
    if node is None:
        return Answers(source=label)
    owner: str | None = None
    steps: dict[str, StepAnswer] = {}
    for name, value in _pairs(label, node, "(root)", problems):
        if name == "owner":
            owner = _scalar(label, value, "owner", problems)
        elif name == "steps":
            for step_id, item in _pairs(label, value, "steps", problems):
                steps[step_id] = _read_step(label, item, f"steps.{step_id}", problems)
        else:
            problems.append(_at(label, value, name, "unknown key; expected `owner` or `steps`"))
    return Answers(source=label, owner=owner, steps=steps)


def _read_step(label: str, node: Any, path: str, problems: list[Problem]) -> StepAnswer:
    values: dict[str, str | None] = {}
    for name, value in _pairs(label, node, path, problems):
        if name not in _STEP_KEYS:
            problems.append(
                _at(
                    label,
                    value,
                    f"{path}.{name}",
                    f"unknown key; expected one of {', '.join(_STEP_KEYS)}",
                )
            )
            continue
        values[name] = _scalar(label, value, f"{path}.{name}", problems)
    answer = values.get("answer")
    if answer is not None and answer not in ANSWER_CHOICES:
        problems.append(
            _at(
                label,
                node,
                f"{path}.answer",
                f"expected one of {', '.join(ANSWER_CHOICES)}, got {answer!r}",
            )
        )
    return StepAnswer(**values)
