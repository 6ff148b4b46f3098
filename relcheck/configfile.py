"""Reading config files (YAML, JSON, TOML, dotenv) into nested dicts, walked by dotted key.

The format comes from the file name: ``.yaml``/``.yml``, ``.json``, ``.toml``,
and dotenv for ``.env``, ``.env.*`` and ``*.env``. Every problem raises
:class:`ConfigFileError` naming the file and, where the parser knows it, the
line. Messages never quote the file's text: a line that fails to parse may
hold a secret.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

FORMATS = ("yaml", "json", "toml", "dotenv")
FORMAT_NAMES = {"yaml": "YAML", "json": "JSON", "toml": "TOML", "dotenv": ".env"}
MAX_KEYS = 100_000

_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml", ".env": "dotenv"}
_DOTENV_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*(.*))?$", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


class ConfigFileError(Exception):
    """A config file that cannot be read; the message names the file."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def format_of(path: str | Path) -> str | None:
    """The format a file name says (``yaml``, ``json``, ``toml``, ``dotenv``), or None."""
    name = Path(path).name.lower()
    if name == ".env" or name.startswith(".env."):
        return "dotenv"
    return _SUFFIXES.get(Path(name).suffix)


def read_config(path: Path, *, shown: str, fmt: str | None = None) -> dict[str, Any]:
    """The file at ``path`` as nested dicts; ``shown`` is how messages name it."""
    fmt = fmt or format_of(path)
    if fmt is None:
        raise ConfigFileError(
            f"{shown}: cannot tell the format from the file name; expected a name ending in "
            ".yaml, .yml, .json, .toml or .env (or set the step's `format`)"
        )
    data = _PARSERS[fmt](_read_text(path, shown), shown)
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"{shown}: the {FORMAT_NAMES[fmt]} file holds {_kind(data)} at the top; "
            "expected a mapping of keys"
        )
    _count_keys(data, shown)
    return data


def lookup(data: Any, dotted: str) -> Any:
    """The value at ``dotted`` (``database.url``, ``servers.0.host``), or :data:`MISSING`.

    A key that itself contains dots (``app.name`` in a .env file) is found too:
    at each level the longest run of parts that names a key wins.
    """
    return _walk(data, dotted.split("."))


def leaf_keys(data: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted keys of every leaf: a value that is not a non-empty mapping.

    Lists are leaves: how many servers an environment has is data, not shape.
    """
    keys: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            keys |= leaf_keys(value, path)
        else:
            keys.add(path)
    return keys


def _walk(node: Any, parts: list[str]) -> Any:
    if not parts:
        return node
    if isinstance(node, dict):
        for size in range(len(parts), 0, -1):
            name = ".".join(parts[:size])
            if name in node:
                found = _walk(node[name], parts[size:])
                if found is not MISSING:
                    return found
        return MISSING
    if isinstance(node, list) and parts[0].isdigit() and int(parts[0]) < len(node):
        return _walk(node[int(parts[0])], parts[1:])
    return MISSING


def _read_text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigFileError(f"{shown} does not exist") from None
    except IsADirectoryError:
        raise ConfigFileError(f"{shown} is a folder; expected a file") from None
    except PermissionError:
        raise ConfigFileError(f"{shown} cannot be read: permission denied") from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"{shown} is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigFileError(f"{shown} cannot be read: {exc.strerror or exc}") from None


def _parse_yaml(text: str, shown: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        raise ConfigFileError(f"{shown}: YAML does not parse{where}: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{shown}: YAML does not parse: {exc}") from None
    except RecursionError:
        raise ConfigFileError(f"{shown}: YAML is nested too deeply to read") from None
    return {} if data is None else _text_keys(data)


def _parse_json(text: str, shown: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigFileError(
            f"{shown}: JSON does not parse at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ConfigFileError(f"{shown}: JSON is nested too deeply to read") from None


def _parse_toml(text: str, shown: str) -> Any:
    # tomllib is in the standard library from 3.11; tomli is the same code before.
    toml = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        return toml.loads(text)
    except toml.TOMLDecodeError as exc:
        # The message ends with "(at line L, column C)"; it never quotes the text.
        raise ConfigFileError(f"{shown}: TOML does not parse: {exc}") from None
    except RecursionError:
        raise ConfigFileError(f"{shown}: TOML is nested too deeply to read") from None


def _parse_dotenv(text: str, shown: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    lines = iter(enumerate(text.splitlines(), start=1))
    for number, line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _DOTENV_LINE.match(stripped)
        if match is None:
            raise ConfigFileError(
                f"{shown}: .env does not parse at line {number}: expected NAME=value "
                "(a name of letters, digits and '_')"
            )
        name, raw = match.group(1), match.group(2)
        values[name] = None if raw is None else _dotenv_value(raw, lines, number, shown)
    return values


def _dotenv_value(raw: str, lines: Iterator[tuple[int, str]], number: int, shown: str) -> str:
    if not raw or raw[0] not in "'\"":
        return re.split(r"\s#", raw, maxsplit=1)[0].strip()
    quote, body = raw[0], raw[1:]
    # A quoted value may go on over several lines until its closing quote.
    while (end := _closing_quote(body, quote)) is None:
        following = next(lines, None)
        if following is None:
            raise ConfigFileError(
                f"{shown}: .env does not parse at line {number}: the value's {quote} "
                "quote is never closed"
            )
        body += "\n" + following[1]
    if body[end + 1 :].strip() and not body[end + 1 :].strip().startswith("#"):
        raise ConfigFileError(
            f"{shown}: .env does not parse at line {number}: text after the closing {quote} quote"
        )
    value = body[:end]
    return _unescape(value) if quote == '"' else value


def _closing_quote(body: str, quote: str) -> int | None:
    index = 0
    while index < len(body):
        if body[index] == "\\" and quote == '"':
            index += 2
            continue
        if body[index] == quote:
            return index
        index += 1
    return None


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), value)


def _text_keys(value: Any) -> Any:
    """YAML keys as text, the way they were meant: `yes:` -> "true", `8080:` -> "8080"."""
    if isinstance(value, dict):
        return {_key_text(key): _text_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_text_keys(item) for item in value]
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


def _count_keys(data: Any, shown: str, seen: int = 0) -> int:
    # YAML aliases can make a small file expand to millions of keys.
    if isinstance(data, dict):
        for value in data.values():
            seen = _count_keys(value, shown, seen + 1)
            if seen > MAX_KEYS:
                raise ConfigFileError(
                    f"{shown}: holds more than {MAX_KEYS} keys (aliases repeating anchors?); "
                    "refusing to read it"
                )
    return seen


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return "a single value"


_PARSERS = {
    "yaml": _parse_yaml,
    "json": _parse_json,
    "toml": _parse_toml,
    "dotenv": _parse_dotenv,
}
