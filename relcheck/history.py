"""Git history for release notes: commits in a range, Conventional Commits, groups, people, links.

The data model is fixed here; reading is done with one ``git log`` and one
``git for-each-ref`` through :mod:`relcheck.gitrepo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    bot: bool = False


@dataclass(frozen=True)
class Commit:
    """One commit, parsed. ``type``/``scope`` are None for messages that are not
    Conventional Commits; ``description`` is the subject without its ``type(scope)!:``."""

    sha: str
    parents: tuple[str, ...]
    author: Person
    date: str  # ISO 8601 author date
    subject: str
    body: str
    type: str | None = None
    scope: str | None = None
    description: str = ""
    breaking: bool = False
    breaking_notes: tuple[str, ...] = ()
    pull_requests: tuple[int, ...] = ()
    co_authors: tuple[Person, ...] = ()
    trailers: tuple[tuple[str, str], ...] = ()

    @property
    def short(self) -> str:
        return self.sha[:7]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass(frozen=True)
class Group:
    """A section of the note: a title and the commits in it, in history order (newest first)."""

    title: str
    types: tuple[str, ...]
    commits: tuple[Commit, ...]


@dataclass(frozen=True)
class Links:
    """Web links for the repository's forge, built from the ``origin`` remote (None: no links)."""

    base: str  # https://github.com/owner/name
    forge: str  # github | gitlab | gitea

    def commit(self, sha: str) -> str:
        part = "/-/commit/" if self.forge == "gitlab" else "/commit/"
        return f"{self.base}{part}{sha}"

    def compare(self, older: str, newer: str) -> str:
        part = "/-/compare/" if self.forge == "gitlab" else "/compare/"
        return f"{self.base}{part}{older}...{newer}"

    def pull_request(self, number: int) -> str:
        if self.forge == "gitlab":
            return f"{self.base}/-/merge_requests/{number}"
        if self.forge == "gitea":
            return f"{self.base}/pulls/{number}"
        return f"{self.base}/pull/{number}"


@dataclass(frozen=True)
class Tag:
    name: str
    commit: str
    date: str  # ISO 8601: the tagger date of an annotated tag, else the commit date
    version: str | None = None  # the version the tag template gives back, if it matches


@dataclass(frozen=True)
class ReleaseHistory:
    """One release's history: the commits from ``previous`` (exclusive) to ``commit``."""

    version: str | None
    tag: str | None
    commit: str
    date: str
    previous: Tag | None
    commits: tuple[Commit, ...]
    groups: tuple[Group, ...]
    breaking: tuple[Commit, ...]
    contributors: tuple[Person, ...]
    bots: tuple[Person, ...]
    links: Links | None = None
    compare_url: str | None = None


@dataclass(frozen=True)
class Changelog:
    """Every release from the tags, newest first, and what is not released yet."""

    releases: tuple[ReleaseHistory, ...]
    unreleased: ReleaseHistory | None = None
    links: Links | None = None


@dataclass(frozen=True)
class GroupSpec:
    """How commits are grouped: Conventional Commit types -> a section title."""

    title: str
    types: tuple[str, ...]


DEFAULT_GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec("Features", ("feat",)),
    GroupSpec("Bug fixes", ("fix",)),
    GroupSpec("Performance", ("perf",)),
    GroupSpec("Security", ("security",)),
    GroupSpec("Reverts", ("revert",)),
    GroupSpec("Refactoring", ("refactor",)),
    GroupSpec("Documentation", ("docs",)),
    GroupSpec("Tests", ("test",)),
    GroupSpec("Build and CI", ("build", "ci")),
    GroupSpec("Chores", ("chore", "style")),
)
OTHER_TITLE = "Other changes"


@dataclass(frozen=True)
class NotesOptions:
    """What the checklist's ``notes:`` mapping and the command line say."""

    groups: tuple[GroupSpec, ...] = DEFAULT_GROUPS
    include_merges: bool = False
    bots: tuple[str, ...] = field(default_factory=tuple)  # extra bot name patterns
