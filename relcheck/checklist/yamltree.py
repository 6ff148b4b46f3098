"""Safe YAML reading: a plain tree of values with positions, within size and alias limits.

PyYAML's SafeLoader only composes the document; this module walks its nodes
itself, so it keeps every line and column, reports duplicate keys (PyYAML
keeps the last one silently), refuses tags other than plain YAML values, and
counts nodes while expanding aliases so a "billion laughs" file stops early.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from msgspec import Struct
from yaml.constructor import SafeConstructor
from yaml.events import MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from relcheck.errors import ConfigError, Problem

MAX_NODES = 100_000  # values visited while expanding aliases
MAX_WRITTEN_NODES = 100_000  # values written out: PyYAML needs ~50 us for each
MAX_DEPTH = 64
ROOT = "(root)"

_TAG = "tag:yaml.org,2002:"
_STR, _MERGE, _TIMESTAMP = _TAG + "str", _TAG + "merge", _TAG + "timestamp"
_NULL = _TAG + "null"
_CONSTRUCTED = {_TAG + name for name in ("int", "float", "bool", "null")}
_SEQ, _MAP = _TAG + "seq", _TAG + "map"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

Value = str | int | float | bool | None


class Pos(Struct, frozen=True):
    """A 1-based line and column in the file."""

    line: int
    col: int


class Scalar(Struct, frozen=True):
    """A scalar value; ``text`` is how it was written, ``value`` what YAML makes of it.

    ``block_line`` and ``block_col`` locate the first content line of a literal
    (``|``) block, so a problem on line N of its text can point into the file.
    """

    value: Value
    text: str
    pos: Pos
    block_line: int | None = None
    block_col: int = 1

    def pos_of_line(self, line: int | None) -> Pos:
        if self.block_line is None or not line:
            return self.pos
        return Pos(self.block_line + line - 1, self.block_col)


class Seq(Struct, frozen=True):
    items: tuple[Tree, ...]
    pos: Pos


class Entry(Struct, frozen=True):
    key: str
    key_pos: Pos
    value: Tree


class Map(Struct, frozen=True):
    entries: tuple[Entry, ...]
    pos: Pos

    def entry(self, key: str) -> Entry | None:
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None

    def get(self, key: str) -> Tree | None:
        entry = self.entry(key)
        return entry.value if entry is not None else None

    def names(self) -> list[str]:
        return [entry.key for entry in self.entries]


Tree = Scalar | Seq | Map


def key_path(parent: str, key: str) -> str:
    """``steps[2]`` + ``timeout`` -> ``steps[2].timeout``; odd keys are quoted."""
    part = f".{key}" if _PLAIN_KEY.match(key) else f"[{key!r}]"
    if parent == ROOT:
        return part.lstrip(".")
    return parent + part


def index_path(parent: str, index: int) -> str:
    return f"{parent}[{index}]" if parent != ROOT else f"[{index}]"


class _Refused(Exception):
    """A fatal problem: the file cannot be read within the limits."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


def _pos_of_mark(mark: yaml.Mark) -> Pos:
    return Pos(mark.line + 1, mark.column + 1)


def _pos(node: Node) -> Pos:
    return _pos_of_mark(node.start_mark)


_TOO_MANY = (
    f"the document expands to more than {MAX_NODES} values (aliases '*' repeating "
    "anchors?); refusing to read it, write the values out instead"
)
_TOO_LONG = (
    f"the file holds more than {MAX_WRITTEN_NODES} values; refusing to read it, "
    "expected a checklist of at most a few thousand"
)
_EMPTY = (
    "the file holds no YAML value (it is empty or only comments); "
    "expected a mapping with 'version: 1' and 'steps'"
)
_TOO_DEEP = (
    f"values are nested more than {MAX_DEPTH} levels deep; a checklist needs only a few levels"
)


class _Loader(yaml.SafeLoader):
    """Composes only (values are built by :class:`_Converter`), within the limits.

    PyYAML recurses once per level and its scanner slows down with every open
    flow level, so depth is capped before either gets far; the node count is
    capped here too so a huge flat document stops early.
    """

    _depth = 0
    _composed = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        self._composed += 1
        try:
            if self._composed > MAX_WRITTEN_NODES:
                raise _Refused(Pos(1, 1), _TOO_LONG)
            if self._depth > MAX_DEPTH:
                raise _Refused(_pos_of_mark(self.get_mark()), _TOO_DEEP)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(_pos_of_mark(self.get_mark()), _TOO_DEEP)
        super().fetch_flow_collection_start(token_class)


def _describe_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


class _Converter:
    """Turns composed nodes into a :data:`Tree`, expanding aliases within limits."""

    def __init__(self, *, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.visited = 0
        self.problems: list[Problem] = []
        self._lines: list[str] | None = None
        self._constructor = SafeConstructor()

    def problem(self, pos: Pos, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, pos.line, pos.col, path, message))

    def convert(self, node: Node, path: str, depth: int) -> Tree:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _Refused(Pos(1, 1), _TOO_MANY)
        if depth > MAX_DEPTH:
            raise _Refused(_pos(node), _TOO_DEEP)
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return self._sequence(node, path, depth)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        raise _Refused(_pos(node), "this YAML value cannot be read; expected plain values")

    def _sequence(self, node: SequenceNode, path: str, depth: int) -> Seq:
        if node.tag != _SEQ:
            self._refuse_tag(node, path)
        items = tuple(
            self.convert(item, index_path(path, i), depth + 1) for i, item in enumerate(node.value)
        )
        return Seq(items, _pos(node))

    def _mapping(self, node: MappingNode, path: str, depth: int) -> Map:
        if node.tag != _MAP:
            self._refuse_tag(node, path)
        explicit: dict[str, Entry] = {}
        merged: dict[str, Entry] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                for entry in self._merged(value_node, path, depth):
                    merged.setdefault(entry.key, entry)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            self._note_duplicate(explicit.get(key), key_node, key_path(path, key))
            value = self.convert(value_node, key_path(path, key), depth + 1)
            explicit[key] = Entry(key, _pos(key_node), value)
        merged_only = [entry for key, entry in merged.items() if key not in explicit]
        return Map((*explicit.values(), *merged_only), _pos(node))

    def _merged(self, node: Node, path: str, depth: int) -> Iterator[Entry]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.problem(_pos(source), path, "'<<' must merge a mapping or a list of mappings")
                continue
            converted = self.convert(source, path, depth + 1)
            if isinstance(converted, Map):
                yield from converted.entries

    def _key(self, node: Node, path: str) -> str | None:
        if not isinstance(node, ScalarNode):
            self.problem(_pos(node), path, "a key must be a plain name, not a list or mapping")
            return None
        if node.tag not in _CONSTRUCTED and node.tag not in (_STR, _TIMESTAMP):
            self._refuse_tag(node, path)
        # The key as written: `on:` stays "on" although YAML 1.1 reads it as true.
        return str(node.value)

    def _note_duplicate(self, first: Entry | None, node: Node, path: str) -> None:
        if first is None:
            return
        self.problem(
            _pos(node),
            path,
            f"duplicate key '{first.key}' (first at line {first.key_pos.line}); "
            "keep only one: YAML would silently use the last",
        )

    def _scalar(self, node: ScalarNode, path: str) -> Scalar:
        text = str(node.value)
        value: Value = text
        if node.tag in _CONSTRUCTED:
            value = self._construct(node, path)
        elif node.tag not in (_STR, _TIMESTAMP):
            # Dates stay text: a checklist never needs them as dates.
            self._refuse_tag(node, path)
        block_line, block_col = self._block_start(node)
        return Scalar(value, text, _pos(node), block_line, block_col)

    def _construct(self, node: ScalarNode, path: str) -> Value:
        construct = self._constructor.yaml_constructors[node.tag]
        try:
            value: Value = construct(self._constructor, node)
        except (ValueError, yaml.YAMLError):
            self.problem(_pos(node), path, f"cannot read {node.value!r} as a YAML value")
            return str(node.value)
        return value

    def _refuse_tag(self, node: Node, path: str) -> None:
        self.problem(
            _pos(node),
            path,
            f"the YAML tag '{_describe_tag(node.tag)}' is not allowed; "
            "expected plain values (text, numbers, true/false, lists, mappings)",
        )

    def _block_start(self, node: ScalarNode) -> tuple[int | None, int]:
        if node.style != "|":
            return None, 1
        first = node.start_mark.line + 1  # 0-based index of the first content line
        if self._lines is None:
            self._lines = self.text.splitlines()
        for line in self._lines[first : first + 50]:
            if line.strip():
                return first + 1, len(line) - len(line.lstrip(" ")) + 1
        return first + 1, 1


def _syntax_hint(problem: str) -> str:
    if "\\t" in problem or "\t" in problem:
        return "indent with spaces: YAML does not allow tabs here"
    return "expected valid YAML here (check indentation, quotes and the ':' after each key)"


def _syntax_refusal(exc: yaml.YAMLError, text: str) -> _Refused:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "invalid YAML"
        if exc.context:
            what += f" ({exc.context}{_started_at(exc.context_mark, mark)})"
        where = _pos_of_mark(mark) if mark else Pos(1, 1)
        return _Refused(where, f"YAML syntax error: {what}; {_syntax_hint(what)}")
    if isinstance(exc, yaml.reader.ReaderError):
        return _Refused(
            _pos_of_index(text, exc.position),
            f"the file holds the control character #x{exc.character:04x}, which YAML "
            "does not allow; expected printable text",
        )
    return _Refused(Pos(1, 1), f"YAML error: {exc}; expected valid YAML")


def _started_at(context: yaml.Mark | None, problem: yaml.Mark | None) -> str:
    if context is None or problem is None or context.line == problem.line:
        return ""
    return f" that starts at line {context.line + 1}"


def _pos_of_index(text: str, index: int) -> Pos:
    before = text[:index]
    line_start = before.rfind("\n") + 1
    return Pos(before.count("\n") + 1, index - line_start + 1)


# libyaml's parser, where PyYAML was built with it (the usual wheels are).
_FAST = bool(getattr(yaml, "__with_libyaml__", False))
_CParserLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# A flow collection of plain words on one line: `{owner: bench}`, `[lint, build]`.
_WORD = r"[A-Za-z0-9_][A-Za-z0-9_./@+-]*"
_SIMPLE_FLOW = re.compile(
    rf"\{{ *(?:{_WORD} *: +{_WORD} *(?:, *{_WORD} *: +{_WORD} *)*)?\}}"
    rf"|\[ *(?:{_WORD} *(?:, *{_WORD} *)*)?\]"
)


class _FastLoader(yaml.composer.Composer, _CParserLoader):  # type: ignore[misc]
    """:class:`_Loader`'s composition (in Python) over libyaml's parser (in C): the same
    nodes with the same marks, several times faster.

    libyaml accepts a little more than PyYAML inside flow collections (``{...}``,
    ``[...]``: a ``?`` in a plain value, a tag with no value) and places an empty
    value there a column apart, so a document with a flow collection other than
    plain words on one line (``{owner: bench}``, ``[lint, build]``) is composed
    again by :class:`_Loader`, as is one that breaks a limit or YAML itself: that
    one words and places every problem as relcheck always has.
    """

    _depth = 0
    _composed = 0

    def __init__(self, text: str) -> None:
        _CParserLoader.__init__(self, text)
        yaml.composer.Composer.__init__(self)
        self.text = text

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        self._composed += 1
        try:
            if self._composed > MAX_WRITTEN_NODES or self._depth > MAX_DEPTH:
                raise _Refused(Pos(1, 1), "over the limits: composed again in Python")
            flow = (
                self.check_event(MappingStartEvent, SequenceStartEvent)
                and self.peek_event().flow_style
            )
            node = super().compose_node(parent, index)
            if flow and not self._simple_flow(node):
                raise _Refused(Pos(1, 1), "a flow collection: composed again in Python")
            return node
        finally:
            self._depth -= 1

    def _simple_flow(self, node: Node | None) -> bool:
        if node is None or node.start_mark.line != node.end_mark.line:
            return False
        written = self.text[node.start_mark.index : node.end_mark.index]
        return _SIMPLE_FLOW.fullmatch(written) is not None


def _compose(text: str) -> Node:
    node = _compose_fast(text) if _FAST else None
    if node is None:
        node = _compose_checked(text)
    if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL and not node.value):
        raise _Refused(Pos(1, 1), _EMPTY)
    return node


# Where libyaml and PyYAML's reader part ways, found by composing mutated
# checklists both ways: tags (``key: !``), directives, a block scalar header
# followed by anything but a space (``run: |#x``), explicit keys (``? key``), and
# BOMs or line breaks other than \n and \r\n. Such text goes to the Python reader.
_PYTHON_ONLY = re.compile(
    r"[!\ufeff\x85\u2028\u2029]|\r(?!\n)|^%|^[ \t]*\?(?:[ \t]|$)"
    r"|(?:^|[:?-])[ \t]*[|>](?![0-9+-]{0,2}(?:[ \t]|$))",
    re.MULTILINE,
)


def _compose_fast(text: str) -> Node | None:
    """The document's nodes by way of libyaml; None: compose them in Python instead
    (a problem to report, or no value at all)."""
    if "\t" in text or yaml.reader.Reader.NON_PRINTABLE.search(text):
        # A tab PyYAML refuses libyaml may take; a character the Python reader
        # refuses, it says which and where.
        return None
    if _PYTHON_ONLY.search(text):
        return None
    try:
        loader = _FastLoader(text)
        try:
            node: Node | None = loader.get_single_node()
        finally:
            loader.dispose()
    except (yaml.YAMLError, _Refused):
        return None
    return node


def _compose_checked(text: str) -> Node | None:
    try:
        loader = _Loader(text)  # the reader already checks every character
        try:
            node: Node | None = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _syntax_refusal(exc, text) from None
    return node


def parse_tree(text: str, *, file: str) -> tuple[Tree, list[Problem]]:
    """Parse ``text``; fatal problems raise ConfigError, the others are returned."""
    converter = _Converter(file=file, text=text)
    try:
        tree = converter.convert(_compose(text), ROOT, 0)
    except _Refused as exc:
        raise ConfigError([Problem(file, exc.pos.line, exc.pos.col, ROOT, exc.message)]) from None
    return tree, converter.problems
