"""The one Jinja2 environment: strict, sandboxed, used for every template.

Checklist strings (commands, ``when``) render in :func:`environment`; documents
(release notes, changelog, runbook) render in a sibling environment with the
same rules plus a loader (a user's template folder first, then the built-ins),
escaping filters for untrusted text, and HTML autoescaping for HTML output.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from relcheck.errors import RelcheckError

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment


class TemplateProblem(Exception):
    """A template failed to parse or render; ``line`` is 1-based within the template."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


# `{{ name }}` or `{{ name.key.key }}`: what nearly every checklist template is made of.
_PLACEHOLDER = re.compile(r"\{\{ ?([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*) ?\}\}")


# Names Jinja2 reads as constants or operators, never as variables.
_JINJA_WORDS = frozenset(
    {"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is"}
    | {"if", "else", "recursive"}
)


def _placeholders(text: str) -> list[str] | None:
    """``text`` split into plain text and placeholder names (odd places), or None when it
    holds anything else Jinja2 would read: a tag, a filter, a brace of its own, a CR."""
    parts = _PLACEHOLDER.split(text)
    plain = parts[::2]
    if any("{" in part or "}" in part or "\r" in part for part in plain):
        return None
    return parts


def _substituted(text: str, context: Mapping[str, Any]) -> str | None:
    """What Jinja2 renders ``text`` to, worked out without it when the template only puts
    text values in place (``v{{ version }}``, ``{{ env.HOME }}``); None when Jinja2 must
    decide (anything else, a name that is missing or not text, an attribute)."""
    parts = _placeholders(text)
    if parts is None:
        return None
    for index in range(1, len(parts), 2):
        if parts[index].partition(".")[0] in _JINJA_WORDS:
            return None
        value: Any = context
        for name in parts[index].split("."):
            # Jinja2 reads `a.b` as the attribute b first (dict.items, say), then the key.
            if value is not context and hasattr(value, name):
                return None
            if not isinstance(value, Mapping) or name not in value:
                return None
            value = value[name]
        if not isinstance(value, str):
            return None
        parts[index] = value
    return "".join(parts)


def check_syntax(text: str) -> TemplateProblem | None:
    """Return the parse problem of a template string, or None when it parses."""
    if "{" not in text:
        return None  # every Jinja2 tag starts with "{": plain text always parses
    if _placeholders(text) is not None:
        return None  # text and `{{ name }}` placeholders only
    from jinja2 import TemplateSyntaxError

    try:
        environment().parse(text)
    except TemplateSyntaxError as exc:
        return TemplateProblem(exc.message or str(exc), exc.lineno)
    return None


def _expression_text(expression: str) -> str:
    text = expression.strip()
    if text.startswith("{{") and text.endswith("}}"):
        text = text[2:-2].strip()
    return text


def check_expression(expression: str) -> TemplateProblem | None:
    """Return the parse problem of a ``when`` expression (with or without ``{{ }}``)."""
    from jinja2 import TemplateSyntaxError

    try:
        environment().compile_expression(_expression_text(expression))
    except TemplateSyntaxError as exc:
        return TemplateProblem(exc.message or str(exc), exc.lineno)
    return None


def render_string(text: str, context: Mapping[str, Any]) -> str:
    """Render one template string; undefined names raise TemplateProblem."""
    if "{" not in text:
        return text
    simple = _substituted(text, context)
    if simple is not None:
        return simple  # Jinja2 (40 ms to import) would give the same text
    from jinja2 import TemplateError, TemplateSyntaxError

    try:
        return environment().from_string(text).render(context)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or str(exc), exc.lineno) from None
    except TemplateError as exc:
        raise TemplateProblem(exc.message or str(exc)) from None


def evaluate_expression(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate a ``when`` expression; undefined names raise TemplateProblem."""
    from jinja2 import TemplateError, TemplateSyntaxError

    try:
        compiled = environment().compile_expression(
            _expression_text(expression), undefined_to_none=False
        )
        value = compiled(**context)
        # StrictUndefined only raises when used; force it here.
        return bool(value) if value is not None else False
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or str(exc), exc.lineno) from None
    except TemplateError as exc:
        raise TemplateProblem(exc.message or str(exc)) from None


# ---------------------------------------------------------------- documents

BUILTIN_PREFIX = "builtin/"


class TemplateFailed(RelcheckError):
    """A document template failed to load, parse or render: ``TEMPLATE:LINE: message``."""

    def __init__(self, template: str, line: int | None, message: str) -> None:
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {message}")
        self.template = template
        self.line = line


def load_document(
    name: str, *, folder: Path | None = None, templates: Path | None = None, html: bool = False
) -> None:
    """Load a document template now (importing Jinja2, reading the compiled template
    from the cache), for a caller with time to spare before rendering: the changelog
    does it while git writes the log. Any problem is left for :func:`render_document`
    to report.

    Not on a thread: Jinja2's import on one while the main thread imports too was
    slower than both in turn (they contend for the import lock and the GIL).
    """
    with contextlib.suppress(Exception):
        _document_environment(
            str(folder) if folder else None, str(templates) if templates else None, html
        ).get_template(name)


def render_document(
    name: str,
    context: Mapping[str, Any],
    *,
    folder: Path | None = None,
    templates: Path | None = None,
    html: bool = False,
) -> str:
    """Render a document template (a note, the changelog, a runbook).

    ``name`` is looked up in ``folder`` first (a user's template and its
    neighbours), then in ``templates`` (the project's folder, ``[tool.relcheck]
    templates``), then among the built-ins; ``builtin/NAME`` always names a
    built-in, so a user template called like one can still extend it. With
    ``html`` every value is HTML-escaped unless a template marks it safe.
    Any failure raises :class:`TemplateFailed` naming the template and line.
    """
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    env = _document_environment(
        str(folder) if folder else None, str(templates) if templates else None, html
    )
    try:
        template = env.get_template(name)
    except TemplateSyntaxError as exc:
        raise TemplateFailed(_shown(exc.filename or name), exc.lineno, _message(exc)) from None
    except TemplateNotFound:
        raise TemplateFailed(name, None, "no such template") from None
    try:
        text = template.render(context)
    except TemplateSyntaxError as exc:  # an {% extends %} or {% include %} that does not parse
        raise TemplateFailed(_shown(exc.filename or name), exc.lineno, _message(exc)) from None
    except Exception as exc:
        where = _template_frame(exc.__traceback__)
        if where is None:
            raise
        message = _message(exc)
        if isinstance(exc, RecursionError):
            message = (
                "the template extends or includes itself; a template named like a "
                f'built-in reaches the built-in as "{BUILTIN_PREFIX}NAME"'
            )
        raise TemplateFailed(_shown(where[0]), where[1], message) from None
    return text.rstrip() + "\n" if text.strip() else ""


@lru_cache(maxsize=8)
def _document_environment(
    folder: str | None, templates: str | None, html: bool
) -> SandboxedEnvironment:
    from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from relcheck.resources import templates_dir

    builtins = FileSystemLoader(str(templates_dir()))
    loaders: list[Any] = [FileSystemLoader(path) for path in (folder, templates) if path]
    loaders += [PrefixLoader({BUILTIN_PREFIX.rstrip("/"): builtins}), builtins]
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_html_value if html else None,
        bytecode_cache=_bytecode_cache("html" if html else "md"),
    )
    env.filters.update(DOCUMENT_FILTERS)
    return env


def _bytecode_cache(flavour: str) -> Any:
    """Compiled templates kept in the user cache folder: compiling the release note
    costs more than rendering it. Jinja checks each template's source checksum, so
    an edited template is compiled again; the file names carry what else shapes
    the compiled code (relcheck's and Jinja's versions, this module, ``flavour``).
    A cache folder that cannot be read or written, or that is not private to this
    user, is skipped: compiled templates are code, and loading them runs it."""
    import zlib

    from jinja2 import FileSystemBytecodeCache
    from jinja2 import __version__ as jinja_version

    from relcheck import __version__
    from relcheck.usercache import cache_dir

    folder = cache_dir("templates")
    if folder is None:
        return None
    here = os.stat(__file__)
    stamp = f"{__version__}|{jinja_version}|{here.st_mtime_ns}|{here.st_size}|{flavour}"

    class _Cache(FileSystemBytecodeCache):
        def load_bytecode(self, bucket: Any) -> None:
            try:
                super().load_bytecode(bucket)
            except Exception:  # a damaged file only means compiling again
                bucket.reset()

        def dump_bytecode(self, bucket: Any) -> None:
            with contextlib.suppress(OSError):  # not kept this time; compiled again next time
                super().dump_bytecode(bucket)

    return _Cache(folder, f"{zlib.crc32(stamp.encode()):08x}-%s.cache")


def _html_value(value: Any) -> Any:
    """Plain text bound for an HTML page, with @mentions that notify nobody if it is posted."""
    from markupsafe import Markup

    if isinstance(value, str) and not isinstance(value, Markup) and "@" in value:
        return _MENTION_IN_TEXT.sub(lambda m: f"{m[1]}@{_ZERO_WIDTH_SPACE}{m[2]}", value)
    return value


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text).splitlines()[0] if text else type(exc).__name__


def _template_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """The innermost template line in a traceback Jinja rewrote to point at templates."""
    found = None
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _shown(filename: str) -> str:
    """A template's path as a user would type it: relative to the current folder when inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


# ---------------------------------------------------------------- filters for untrusted text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_MENTION = re.compile(
    r"@[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?(?:/[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)?"
)
_MENTION_IN_TEXT = re.compile(r"(^|[^A-Za-z0-9])@([A-Za-z0-9])")
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_ZERO_WIDTH_SPACE = "\u200b"


def _plain(value: Any) -> str:
    """Text of a value with terminal control characters dropped and line ends normalised."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def markdown_text(value: Any) -> str:
    """Untrusted text made safe to place in Markdown, escaping as little as possible.

    Raw HTML (``<``, ``>``, entity-like ``&``), link and image syntax (``](``,
    ``][``, ``]:`` reference definitions, ``<scheme:...>`` autolinks) and
    ``@mentions`` are neutralised; backslashes that would escape them are
    doubled. Code spans are kept as written (nothing in them is live), and
    ``_``/``*`` are left alone so the raw text stays readable.
    """
    if type(value) is str and not _NOTHING_TO_ESCAPE.search(value):
        return value  # most commit subjects: one line, nothing special
    return "\n".join(_escape_line(line, table=False) for line in _plain(value).split("\n"))


def markdown_cell(value: Any) -> str:
    """Like :func:`markdown_text`, for one table cell: one line, ``|`` escaped."""
    return _escape_line(" ".join(_plain(value).split("\n")).strip(), table=True)


def markdown_code(value: Any, table: bool = False) -> str:
    """A Markdown code span holding ``value`` literally, whatever backticks it contains."""
    text = " ".join(_plain(value).split("\n"))
    if not text:
        return ""
    fence = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if table else span


def markdown_code_block(value: Any, language: str = "") -> str:
    """A fenced code block holding ``value`` literally (the fence outgrows any inside it)."""
    text = _plain(value).rstrip("\n")
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _code_spans(line: str) -> dict[int, int]:
    """Start -> end of each code span in one line, as CommonMark pairs backtick runs."""
    spans: dict[int, int] = {}
    runs = [(m.start(), m.end()) for m in re.finditer(r"`+", line)]
    index = 0
    while index < len(runs):
        start, end = runs[index]
        width = end - start
        closer = next(
            (k for k in range(index + 1, len(runs)) if runs[k][1] - runs[k][0] == width), None
        )
        if closer is None:
            index += 1
            continue
        spans[start] = runs[closer][1]
        index = closer + 1
    return spans


# Text with none of these (line ends, control characters, what _SPECIAL names) is left
# as it is by markdown_text.
_NOTHING_TO_ESCAPE = re.compile(r"[\\<>&\]`@\x00-\x1f\x7f]")
# A line with none of these characters has nothing to escape (most commit subjects).
_SPECIAL = re.compile(r"[\\<>&\]`@]")
_SPECIAL_IN_TABLE = re.compile(r"[\\<>&\]`@|]")


def _escape_line(line: str, *, table: bool) -> str:
    if not (_SPECIAL_IN_TABLE if table else _SPECIAL).search(line):
        return line
    spans = _code_spans(line)
    out: list[str] = []
    i = 0
    while i < len(line):
        if i in spans:
            code = line[i : spans[i]]
            out.append(code.replace("|", "\\|") if table else code)
            i = spans[i]
            continue
        mention = _MENTION.match(line, i)
        if mention and not _ends_in_word(out):
            out.append(
                _neutral_mention(mention.group(), out, line[mention.end() : mention.end() + 1])
            )
            i = mention.end()
            continue
        out.append(_escape_char(line, i, table=table))
        i += 1
    return "".join(out)


def _ends_in_word(out: list[str]) -> bool:
    """Whether the escaped text so far ends in an ASCII letter or digit, so an ``@`` next
    to it starts no mention (``ada@example.com``). Judged on the output, where a mention
    neutralised just before ends in a backtick, and in ASCII, as GitHub finds mentions."""
    last = out[-1][-1:] if out else ""
    return last.isascii() and last.isalnum()


def _escape_char(line: str, i: int, *, table: bool) -> str:
    char = line[i]
    after = line[i + 1 : i + 2]
    if char == "\\" and after in _PUNCTUATION:
        return "\\\\"
    if char == "<":
        return "&lt;"
    if char == ">":
        return "&gt;"
    if char == "&" and _ENTITY.match(line, i):
        return "&amp;"
    if char == "]" and after in ("(", "[", ":"):
        return "\\]"
    if char == "`":  # a backtick that closes nothing must not pair with ours
        return "\\`"
    if char == "|" and table:
        return "\\|"
    return char


def _neutral_mention(mention: str, out: list[str], after: str) -> str:
    """``@name`` that notifies nobody: a code span, or a zero-width space next to a backtick."""
    before = out[-1][-1:] if out else ""
    if "`" in (before, after):
        return f"@{_ZERO_WIDTH_SPACE}{mention[1:]}"
    return f"`{mention}`"


def format_number(value: Any, digits: int = 1) -> str:
    """A figure for people: ``212``, ``12.5``, ``0.031`` (no trailing zeros)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _plain(value)
    if float(value).is_integer():
        return f"{int(value):d}"
    shown = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    if shown in ("0", "-0"):
        shown = f"{value:.3g}"
    return shown


def format_duration(seconds: Any) -> str:
    """``0.4 s``, ``12 s``, ``3 min 4 s``, ``1 h 2 min``; empty for no value."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return ""
    if seconds < 10:
        return f"{format_number(round(seconds, 1))} s"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def format_timestamp(value: Any) -> str:
    """An ISO 8601 UTC time for people: ``2026-11-21 23:46 UTC``; other text as it is."""
    text = _plain(value)
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::[\d.]+)?(Z|[+-]00:?00)?", text)
    if match is None:
        return text
    return f"{match[1]} {match[2]}{' UTC' if match[3] else ''}"


DOCUMENT_FILTERS: Mapping[str, Any] = {
    "md": markdown_text,
    "md_cell": markdown_cell,
    "code": markdown_code,
    "codeblock": markdown_code_block,
    "num": format_number,
    "duration": format_duration,
    "timestamp": format_timestamp,
}


def document_filters() -> Sequence[str]:
    """The names of the filters document templates can use (for the docs and tests)."""
    return sorted(DOCUMENT_FILTERS)
