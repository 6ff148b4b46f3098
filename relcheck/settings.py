"""Project settings: the ``[tool.relcheck]`` table of ``pyproject.toml``.

The file is looked for in the current folder, then at the git root; the first
one holding a ``[tool.relcheck]`` table is read. Paths in it are relative to
its folder. Command-line flags win over everything here. A bad value raises
:class:`~relcheck.errors.ConfigError` naming ``pyproject.toml:LINE:COL`` and the
key, so it exits 2 like a bad checklist.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct

from relcheck.errors import ConfigError, Problem, UsageError
from relcheck.resources import BUILTIN_PREFIX

FILE_NAME = "pyproject.toml"
TABLE = "tool.relcheck"
PROVIDERS = ("github", "gitlab", "gitea")


class ProjectSettings(Struct, frozen=True):
    """What ``[tool.relcheck]`` says; every field is None when it says nothing."""

    source: Path | None = None  # the pyproject.toml read
    checklist: str | None = None  # "builtin:NAME" or an absolute path
    # Owner of a step that neither the checklist nor the answers file names: offered at
    # the owner prompt, taken as it is without a terminal.
    owner: str | None = None
    templates: Path | None = None  # folder searched for templates before the built-ins
    provider: str | None = None  # github | gitlab | gitea, for publish and CI output

    def checklist_arg(self, cwd: Path) -> str | None:
        """The configured checklist as a PATH argument would name it from ``cwd``."""
        if self.checklist is None or self.checklist.startswith(BUILTIN_PREFIX):
            return self.checklist
        if not Path(self.checklist).is_file():
            raise UsageError(
                f"{self.source}: {TABLE}.checklist names {self.checklist}, which does not "
                "exist; run `relcheck init` to write it there, or fix the path"
            )
        return os.path.relpath(self.checklist, cwd.resolve())


def project_settings(cwd: Path) -> ProjectSettings:
    """The ``[tool.relcheck]`` settings seen from ``cwd`` (empty when there are none)."""
    from relcheck.gitrepo import find_root

    here = cwd.resolve()
    root = find_root(here)
    for folder in dict.fromkeys([here] + ([root] if root else [])):
        path = folder / FILE_NAME
        if path.is_file():
            found = _read(path, shown=os.path.relpath(path, here))
            if found is not None:
                return found
    return ProjectSettings()


def _read(path: Path, *, shown: str) -> ProjectSettings | None:
    text = _text(path, shown)
    data = _parse(text, shown)
    table = data.get("tool", {}).get("relcheck") if isinstance(data.get("tool"), dict) else None
    if table is None:
        return None
    where = _key_positions(text)
    if not isinstance(table, dict):
        raise ConfigError([_problem(shown, where, TABLE, "expected a table ([tool.relcheck])")])
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for key, value in table.items():
        check = _CHECKS.get(key)
        if check is None:
            problems.append(_problem(shown, where, f"{TABLE}.{key}", _unknown(key)))
            continue
        try:
            values[key] = check(value, path.parent)
        except ValueError as exc:
            problems.append(_problem(shown, where, f"{TABLE}.{key}", str(exc)))
    if problems:
        raise ConfigError(problems)
    return ProjectSettings(source=path, **values)


def _text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        message = f"cannot read the file ({reason}); expected a readable UTF-8 TOML file"
        raise ConfigError([Problem(shown, 1, 1, "(root)", message)]) from None


def _parse(text: str, shown: str) -> dict[str, Any]:
    # tomllib is in the standard library from 3.11; tomli is the same code before.
    toml = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        data: dict[str, Any] = toml.loads(text)
        return data
    except toml.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line, col = (int(found[1]), int(found[2])) if found else (1, 1)
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        problem = Problem(shown, line, col, "(root)", f"{reason}; expected valid TOML")
        raise ConfigError([problem]) from None


# ---------------------------------------------------------------- the keys


def _unknown(key: str) -> str:
    from relcheck.checklist.suggest import did_you_mean

    close = did_you_mean(key, sorted(_CHECKS))
    if close:
        return f"unknown key; did you mean '{close}'?"
    return f"unknown key; expected one of: {', '.join(sorted(_CHECKS))}"


def _text_value(value: Any, expected: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected {expected}, got {_shown(value)}")
    return value.strip()


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if value.strip() else "an empty string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _checklist(value: Any, folder: Path) -> str:
    text = _text_value(value, "the path of a checklist file or builtin:NAME")
    if text.startswith(BUILTIN_PREFIX):
        from relcheck.resources import builtin_checklists

        names = builtin_checklists()
        if text[len(BUILTIN_PREFIX) :] not in names:
            raise ValueError(
                f"no built-in checklist {text!r}; expected one of: "
                + ", ".join(f"{BUILTIN_PREFIX}{name}" for name in names)
            )
        return text
    # Existence is checked where the checklist is read: `init` may be about to write it.
    return str(folder / text)


def _owner(value: Any, folder: Path) -> str:
    return _text_value(value, "a name")


def _templates(value: Any, folder: Path) -> Path:
    text = _text_value(value, "the path of a folder of templates")
    path = folder / text
    if not path.is_dir():
        raise ValueError(
            f"no such folder {text!r} (paths are relative to the folder of {FILE_NAME}); "
            "expected a folder of templates"
        )
    return path


def _provider(value: Any, folder: Path) -> str:
    if value not in PROVIDERS:
        raise ValueError(f"expected one of {', '.join(PROVIDERS)}, got {_shown(value)}")
    return str(value)


_CHECKS: Mapping[str, Callable[[Any, Path], Any]] = {
    "checklist": _checklist,
    "owner": _owner,
    "templates": _templates,
    "provider": _provider,
}


# ---------------------------------------------------------------- positions for messages

_HEADER = re.compile(r"^\s*\[(?!\[)\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_PART = r"(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
_KEY = re.compile(rf"^(\s*)({_PART}(?:\s*\.\s*{_PART})*)\s*=")


def _dotted(text: str) -> str:
    parts = [part.strip().strip("\"'") for part in text.split(".")]
    return ".".join(parts)


def _key_positions(text: str) -> dict[str, tuple[int, int]]:
    """Line and column of each table header and key, by dotted name (first seen wins).

    Only read after the file parsed, to point messages at a line; a key inside a
    multi-line string could be mistaken for one, which costs only a wrong line.
    """
    found: dict[str, tuple[int, int]] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            table = _dotted(header[1])
            found.setdefault(table, (number, line.index("[") + 1))
            continue
        key = _KEY.match(line)
        if key:
            name = _dotted(key[2])
            found.setdefault(f"{table}.{name}" if table else name, (number, len(key[1]) + 1))
    return found


def _problem(shown: str, where: Mapping[str, tuple[int, int]], key: str, message: str) -> Problem:
    line, col = where.get(key) or where.get(TABLE) or (1, 1)
    return Problem(shown, line, col, key, message)
