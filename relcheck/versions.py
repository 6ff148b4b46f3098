"""Release versions: parsing and ordering, matching tags to the tag template, the next version.

A version is ``N[.N...][-PRE][+BUILD]``: one or more numeric parts, then an
optional pre-release (dot-separated identifiers) and build metadata, as in
Semantic Versioning 2.0 but with any number of numeric parts (``1.2``,
``2024.05.1``). Precedence follows SemVer: numeric parts compare as numbers
(missing ones count as 0, so ``1.2`` equals ``1.2.0``), a pre-release sorts
before its final version, build metadata does not count. Anything else
(``next``, ``latest``) is not a version: such tags are not releases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from relcheck.errors import UsageError

if TYPE_CHECKING:
    from relcheck.history import Commit

_VERSION = re.compile(
    r"(?P<core>\d+(?:\.\d+)*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?\Z"
)
# What a tag template's ``{{ version }}`` may stand for (as relcheck accepts for --release).
_VERSION_CHARS = r"[0-9A-Za-z][0-9A-Za-z.+_-]*"
_MARKER = "RELCHECKVERSIONMARKER"
FIRST_VERSION = "0.1.0"

PreItem = tuple[int, int, str]  # (0, number, "") for numeric identifiers, (1, 0, text) otherwise


# Dataclasses here, msgspec Structs elsewhere: Version.key is left out of equality and
# repr, which a Struct field cannot be.
@dataclass(frozen=True)
class Version:
    """A parsed version; ``key`` orders versions by precedence."""

    text: str
    core: tuple[int, ...]
    pre: tuple[str, ...] = ()
    build: str = ""
    key: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    @property
    def prerelease(self) -> bool:
        return bool(self.pre)

    def final(self) -> Version:
        """The final release this (pre-)release leads to: ``2.0.0-rc.1`` -> ``2.0.0``."""
        return _make(".".join(map(str, self.core)), self.core, (), "")


def parse_version(text: str) -> Version | None:
    """The version ``text`` stands for, or None when it is not one."""
    match = _VERSION.match(text)
    if match is None:
        return None
    core = tuple(int(part) for part in match["core"].split("."))
    pre = tuple(match["pre"].split(".")) if match["pre"] else ()
    return _make(text, core, pre, match["build"] or "")


def _make(text: str, core: tuple[int, ...], pre: tuple[str, ...], build: str) -> Version:
    trimmed = list(core)
    while len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed.pop()
    # A final release sorts after every pre-release of the same numbers.
    pre_key: tuple[Any, ...] = (0, tuple(_pre_item(part) for part in pre)) if pre else (1, ())
    return Version(text, core, pre, build, key=(tuple(trimmed), pre_key))


def _pre_item(part: str) -> PreItem:
    return (0, int(part), "") if part.isdigit() else (1, 0, part)


def version_key(text: str) -> tuple[Any, ...] | None:
    """A sort key for ``text`` by version precedence, or None when it is not a version."""
    version = parse_version(text)
    return None if version is None else version.key


# -- tag templates ------------------------------------------------------------------


@dataclass(frozen=True)
class TagPattern:
    """A tag template turned into a regular expression that gives the version back."""

    template: str
    regex: re.Pattern[str]

    def version_of(self, tag: str) -> str | None:
        """The version in tag name ``tag`` when it matches the template, else None."""
        match = self.regex.fullmatch(tag)
        return None if match is None else match["version"]


def tag_pattern(template: str, context: Mapping[str, Any] | None = None) -> TagPattern:
    """Match tag names made by ``template`` (``v{{ version }}``, ``release-{{ version }}``).

    The template is rendered with a marker for the version, so any text around
    it (and other names in ``context``) is matched literally.
    """
    from relcheck.render import TemplateProblem

    try:
        rendered = _render(template, context, _MARKER)
    except TemplateProblem as exc:
        raise UsageError(
            f"tag template {template!r} cannot be used to find release tags: {exc.message}"
        ) from None
    parts = rendered.strip().split(_MARKER)
    if len(parts) < 2:
        raise UsageError(
            f"tag template {template!r} does not contain {{{{ version }}}}, so no tag can be "
            "matched to a version; use a template like 'v{{ version }}'"
        )
    pieces = [re.escape(parts[0]), f"(?P<version>{_VERSION_CHARS})"]
    for text in parts[1:-1]:
        pieces += [re.escape(text), "(?P=version)"]
    pieces.append(re.escape(parts[-1]))
    return TagPattern(template, re.compile("".join(pieces)))


def render_tag(template: str, version: str, context: Mapping[str, Any] | None = None) -> str:
    """The tag name ``template`` gives for ``version``."""
    from relcheck.render import TemplateProblem

    try:
        return _render(template, context, version).strip()
    except TemplateProblem as exc:
        raise UsageError(f"tag template {template!r} cannot be rendered: {exc.message}") from None


_VERSION_PLACEHOLDER = re.compile(r"\{\{\s*version\s*\}\}")


def _render(template: str, context: Mapping[str, Any] | None, version: str) -> str:
    """``template`` rendered with ``version``; one that names nothing but ``{{ version }}``
    (``v{{ version }}``, most are) is filled in directly, as Jinja2 would, without it:
    compiling a template costs more than all else a release note needs from tags."""
    parts = _VERSION_PLACEHOLDER.split(template)
    if len(parts) > 1 and not any("{" in part or "\r" in part for part in parts):
        return version.join(parts)
    from relcheck.render import render_string

    return render_string(template, {**(context or {}), "version": version})


# -- the next version -------------------------------------------------------------


def suggest_version(previous: str | None, commits: Sequence[Commit]) -> str:
    """The next version after ``previous``, from the Conventional Commits since it.

    From 1.0.0 on: a breaking change bumps the major part, a ``feat`` the minor
    part, anything else the patch part. Before 1.0.0 (major part 0) the API is
    not promised stable, so everything moves one place down, as
    conventional-changelog and Cargo do: a breaking change bumps the minor part
    (0.3.2 -> 0.4.0), a ``feat`` or anything else the patch part (0.3.2 -> 0.3.3).
    After a pre-release the next version is its final release (2.0.0-rc.1 ->
    2.0.0), whatever the commits. With no previous release: 0.1.0.
    Versions with fewer than three numeric parts are read as padded with zeros.
    """
    if previous is None:
        return FIRST_VERSION
    version = parse_version(previous)
    if version is None:
        raise UsageError(
            f"cannot suggest the version after {previous!r}: it is not a version like 1.4.0; "
            "pass the release version explicitly"
        )
    if version.prerelease:
        return version.final().text
    major, minor, patch = (*version.core, 0, 0)[:3]
    breaking = any(commit.breaking for commit in commits)
    feature = any(commit.type == "feat" for commit in commits)
    if major == 0:
        return f"0.{minor + 1}.0" if breaking else f"0.{minor}.{patch + 1}"
    if breaking:
        return f"{major + 1}.0.0"
    if feature:
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"
