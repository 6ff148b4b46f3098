"""Git history for release notes: commits in a range, Conventional Commits, groups, people, links.

Reading is done with one ``git log`` and one ``git for-each-ref`` through
:mod:`relcheck.gitrepo`; nothing walks commit objects one by one.

Rules the notes and changelog rely on:

- The previous release tag is the highest version among the tags that match
  the tag template and are reachable from the release commit, leaving out the
  release tag itself, versions not lower than the release's, and, for a final
  release, its own pre-releases (``v2.0.0-rc.1`` when releasing 2.0.0).
- A release's date is its tag's date (tagger date of an annotated tag, commit
  date of a lightweight one) when the tag exists on the release commit;
  otherwise the current UTC time, the moment the note is made.
- Contributors (authors and co-authors, bots apart) are listed once each,
  matched by email (case-insensitive; by name without one), sorted by name;
  a person keeps the name and email of their newest authored commit (a
  ``Co-authored-by`` trailer only adds people who authored nothing here).
- The changelog gives each commit to the lowest-version release tag that
  contains it (its oldest release), so a side branch merged after a later tag
  lands in the release that first shipped it.
"""

from __future__ import annotations

import fnmatch
import gc
import re
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

from relcheck import gitrepo
from relcheck.errors import UsageError
from relcheck.versions import (
    TagPattern,
    parse_version,
    render_tag,
    suggest_version,
    tag_pattern,
)

__all__ = [
    "DEFAULT_GROUPS",
    "OTHER_TITLE",
    "Changelog",
    "Commit",
    "Group",
    "GroupSpec",
    "Links",
    "NotesOptions",
    "Person",
    "ReleaseHistory",
    "Tag",
    "group_commits",
    "links_from_url",
    "parse_commit",
    "read_changelog",
    "read_release",
    "release_tags",
    "suggest_version",
]


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    bot: bool = False


# Dataclasses here, msgspec Structs elsewhere: a commit is built as a plain object that then
# takes the Commit class (see _CommitFields), which needs an instance __dict__.
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
    tagged: bool = False  # the release tag exists (on the release commit)


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


# -- parsing one commit message -------------------------------------------------------

# What one ``git log`` record holds: the mark is "-" for a --boundary commit;
# ``%aN``/``%aE`` go through .mailmap.
LOG_FIELDS = ("%m", "%H", "%P", "%aN", "%aE", "%aI", "%B")
_WIDTH = len(LOG_FIELDS)

_HEADER = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)(?:\(([^()\r\n]*)\))?(!)?: +(\S.*)")
_PR_REF = re.compile(r"\(#(\d+)\)")
_TRAILING_PRS = re.compile(r"(?:\s*\(#\d+\))+\s*\Z")
_MERGE_PR = re.compile(r"Merge pull request #(\d+) from ")
_MERGE_REQUEST = re.compile(r"^See merge request \S*!(\d+)\s*$", re.MULTILINE)
_REVERT = re.compile(r'Revert ".+"')
_FOOTER = re.compile(r"(BREAKING[ -]CHANGE|[A-Za-z0-9][A-Za-z0-9-]*)(: | #)(.*)")
_BREAKING_KEYS = ("BREAKING CHANGE", "BREAKING-CHANGE")
_ADDRESS = re.compile(r"(.*?)\s*<([^<>]*)>\s*")
_BOT_NAMES = ("dependabot", "renovate", "github-actions", "pre-commit-ci", "greenkeeper")
_EMPTY: tuple[Any, ...] = ()
_TYPES: dict[str, str] = {}  # as written -> lowercase, one string each: 100,000 commits share a few


class _People:
    """One Person per (name, email), bots told apart once each."""

    def __init__(self, bot_patterns: Sequence[str]) -> None:
        self._patterns = tuple(pattern.casefold() for pattern in bot_patterns)
        self._known: dict[tuple[str, str], Person] = {}

    def get(self, name: str, email: str) -> Person:
        person = self._known.get((name, email))
        if person is None:
            person = Person(name, email, is_bot(name, email, self._patterns))
            self._known[(name, email)] = person
        return person


def is_bot(name: str, email: str, patterns: Sequence[str] = ()) -> bool:
    """Bots: ``name[bot]``, GitHub's bot and noreply addresses, Dependabot and Renovate,
    and anything matching one of ``patterns`` (shell-style, case-insensitive, tried on
    the name and the email)."""
    name, email = name.casefold(), email.casefold()
    if name.endswith("[bot]") or email.endswith("[bot]@users.noreply.github.com"):
        return True
    if email == "noreply@github.com" or any(bot in name for bot in _BOT_NAMES):
        return True
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(email, p) for p in patterns)


def parse_commit(
    sha: str,
    parents: Sequence[str],
    author: Person,
    date: str,
    message: str,
    people: _People | None = None,
) -> Commit:
    """A Commit from one log record: Conventional Commit header, footers, references."""
    people = people or _People(())
    subject, _, body = message.lstrip().partition("\n")
    subject, body = subject.strip(), body.strip()
    merge = len(parents) > 1
    header = _HEADER.fullmatch(subject)
    if header is None and merge and body and _MERGE_PR.match(subject):
        header = _HEADER.fullmatch(body.partition("\n")[0].strip())  # GitHub: the PR title
    if header is not None:
        kind, scope, bang, text = header.groups()
        kind = _TYPES.get(kind) or _TYPES.setdefault(kind, sys.intern(kind.lower()))
        scope = sys.intern(scope.strip()) or None if scope else None
    else:
        kind = "revert" if subject.startswith("Revert ") and _REVERT.fullmatch(subject) else None
        scope, bang, text = None, None, subject
    trailers: tuple[tuple[str, str], ...] = _EMPTY
    notes: tuple[str, ...] = _EMPTY
    if body and (": " in body or " #" in body):
        trailers, notes = _footers(body)
    references = _EMPTY
    if merge or "(#" in subject:
        references = _pull_requests(subject, body, merge)
        text = _TRAILING_PRS.sub("", text) or text
    fields = _CommitFields()
    fields.sha = sha
    fields.parents = tuple(parents)
    fields.author = author
    fields.date = date
    fields.subject = subject
    fields.body = body
    fields.type = kind
    fields.scope = scope
    fields.description = text
    fields.breaking = bool(bang or notes)
    fields.breaking_notes = notes
    fields.pull_requests = references
    fields.co_authors = _co_authors(trailers, people) if trailers else _EMPTY
    fields.trailers = trailers
    fields.__class__ = Commit  # type: ignore[assignment]
    return cast(Commit, fields)


class _CommitFields:
    """A Commit being built: plain attributes, then its class becomes Commit.

    Why: a frozen dataclass sets each field through ``object.__setattr__``; a
    changelog builds 100,000 commits, and this way takes a fifth of the time
    while keeping the compact instance dictionary Python shares between objects
    of one class. Both classes have the same layout (a ``__dict__``, no slots),
    which is all ``__class__`` assignment needs.
    """

    sha: str
    parents: tuple[str, ...]
    author: Person
    date: str
    subject: str
    body: str
    type: str | None
    scope: str | None
    description: str
    breaking: bool
    breaking_notes: tuple[str, ...]
    pull_requests: tuple[int, ...]
    co_authors: tuple[Person, ...]
    trailers: tuple[tuple[str, str], ...]


_BREAKING_LINE = re.compile(r"^BREAKING[ -]CHANGE: *(.+)$", re.MULTILINE)


def _footers(body: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The trailers of the last paragraph, and every BREAKING CHANGE note in the body."""
    paragraphs = body.split("\n\n")
    trailers = _trailers(paragraphs[-1])
    notes: list[str] = []
    if "BREAKING" in body:
        # Notes in the order written: footer paragraphs (values may run on over
        # several lines), and, as other tools accept, a BREAKING CHANGE line
        # that follows prose without a blank line.
        for paragraph in paragraphs:
            found = [v for k, v in _trailers(paragraph.strip()) if k in _BREAKING_KEYS]
            notes += found or [m[1] for m in _BREAKING_LINE.finditer(paragraph)]
    return tuple(trailers), tuple(dict.fromkeys(n.strip() for n in notes if n.strip()))


def _trailers(paragraph: str) -> list[tuple[str, str]]:
    """``Key: value`` (or ``Key #value``) lines; a line that is not one continues the value."""
    entries: list[list[str]] = []
    for line in paragraph.split("\n"):
        match = _FOOTER.fullmatch(line.rstrip())
        if match:
            key, separator, value = match.groups()
            entries.append([key, value if separator == ": " else f"#{value}"])
        elif entries:
            entries[-1][1] += "\n" + line.rstrip()
        else:
            return []  # the paragraph does not start with a footer: it is prose
    return [(key, value.strip()) for key, value in entries]


def _pull_requests(subject: str, body: str, merge: bool) -> tuple[int, ...]:
    found = _PR_REF.findall(subject) if "(#" in subject else []
    if merge:
        match = _MERGE_PR.match(subject)
        found += [match.group(1)] if match else _MERGE_REQUEST.findall(body)
    return tuple(dict.fromkeys(int(number) for number in found)) if found else _EMPTY


def _co_authors(trailers: Sequence[tuple[str, str]], people: _People) -> tuple[Person, ...]:
    found: list[Person] = []
    for key, value in trailers:
        match = _ADDRESS.fullmatch(value) if key.lower() == "co-authored-by" else None
        if match:
            found.append(people.get(match.group(1).strip(), match.group(2).strip()))
    return tuple(found)


@dataclass
class _Log:
    """What one ``git log`` gave: hashes and parents of every record, in log order, and
    the parsed commit of each (None for a merge commit when merges are left out);
    with ``--boundary``, the hashes of the boundary commits apart."""

    shas: list[str] = field(default_factory=list)
    parents: list[tuple[str, ...]] = field(default_factory=list)
    commits: list[Commit | None] = field(default_factory=list)
    boundary: list[str] = field(default_factory=list)


def _read_log(
    root: Path,
    revisions: Sequence[str],
    *,
    options: NotesOptions,
    people: _People,
    extra: Sequence[str] = (),
    on_commits: Callable[[list[Commit]], None] | None = None,
) -> _Log:
    """One ``git log``; each batch is parsed (and handed to ``on_commits``, merges left
    out as asked) while git writes the next."""
    log = _Log()
    with _collector_paused():
        for batch in gitrepo.log_batches(root, revisions, LOG_FIELDS, extra=extra):
            taken = len(log.commits)
            _take(batch, log, people, options.include_merges)
            if on_commits is not None:
                on_commits([commit for commit in log.commits[taken:] if commit is not None])
    return log


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a long history is parsed.

    Why: every few hundred new objects it rescans the ones still alive, and all
    of these stay alive, so reading 100,000 commits spent as long collecting as
    parsing. Nothing made here forms a reference cycle.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _take(batch: Sequence[str], log: _Log, people: _People, merges: bool) -> None:
    columns = (batch[n::_WIDTH] for n in range(_WIDTH))
    for mark, sha, parent_text, name, email, date, message in zip(*columns, strict=True):
        if mark == "-":
            log.boundary.append(sha)
            continue
        parents = tuple(parent_text.split())
        log.shas.append(sha)
        log.parents.append(parents)
        if len(parents) > 1 and not merges:
            log.commits.append(None)
            continue
        author = people.get(name, email)
        log.commits.append(parse_commit(sha, parents, author, date, message, people))


# -- groups, people, links --------------------------------------------------------------


def group_commits(commits: Sequence[Commit], specs: Sequence[GroupSpec]) -> tuple[Group, ...]:
    """Commits into the groups of ``specs`` (the first group naming a commit's type wins),
    then "Other changes" for the rest; empty groups are left out."""
    where: dict[str, int] = {}
    for number, spec in enumerate(specs):
        for kind in spec.types:
            where.setdefault(kind.lower(), number)
    buckets: list[list[Commit]] = [[] for _ in specs]
    other: list[Commit] = []
    for commit in commits:
        place = where.get(commit.type) if commit.type else None
        (other if place is None else buckets[place]).append(commit)
    groups = [
        Group(spec.title, spec.types, tuple(bucket))
        for spec, bucket in zip(specs, buckets, strict=True)
        if bucket
    ]
    if other:
        groups.append(Group(OTHER_TITLE, (), tuple(other)))
    return tuple(groups)


def contributors(commits: Sequence[Commit]) -> tuple[tuple[Person, ...], tuple[Person, ...]]:
    """People and bots who authored or co-authored ``commits`` (newest first), each once."""
    seen: dict[str, Person] = {}
    # Authors first: their names come from git, a co-author trailer is typed by hand.
    # Commits share Person objects, so each is looked at once (by identity: cheap).
    authors = {id(c.author): c.author for c in commits}
    co_authors = {id(p): p for c in commits if c.co_authors for p in c.co_authors}
    for person in [*authors.values(), *co_authors.values()]:
        seen.setdefault(person.email.casefold() or f"name:{person.name.casefold()}", person)
    everyone = sorted(seen.values(), key=lambda p: (p.name.casefold(), p.email.casefold()))
    return (
        tuple(person for person in everyone if not person.bot),
        tuple(person for person in everyone if person.bot),
    )


_SCP_LIKE = re.compile(r"(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/\\].*)")
_URL_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git")


def links_from_url(url: str) -> Links | None:
    """Links for a GitHub, GitLab or Gitea remote URL (https or ssh); None for other hosts.

    github.com and gitlab.com are known by name, other hosts by "gitlab" or
    "gitea" in the host name (codeberg.org runs Gitea's fork). User names and
    tokens in the URL are never kept.
    """
    remote = web_remote(url)
    if remote is None or remote.forge is None or "/" not in remote.path:
        return None
    return Links(base=f"{remote.origin}/{remote.path}", forge=remote.forge)


@dataclass(frozen=True)
class WebRemote:
    """A remote URL as the web sees it: ``https://host[:port]``, host, ``owner/name``, forge."""

    origin: str
    host: str
    path: str
    forge: str | None


def web_remote(url: str) -> WebRemote | None:
    """The web side of a remote URL (https or ssh), credentials dropped; None: not a URL."""
    place = remote_place(url.strip())
    if place is None:
        return None
    scheme, host, port, path = place
    forge = forge_of_host(host)
    host = "github.com" if host == "ssh.github.com" else host
    shown = f"[{host}]" if ":" in host else host
    path = path.strip("/").removesuffix(".git").strip("/")
    return WebRemote(f"{scheme}://{shown}{f':{port}' if port else ''}", host, path, forge)


def remote_place(url: str) -> tuple[str, str, int | None, str] | None:
    """(web scheme, host, web port, path) of a remote URL, credentials dropped."""
    if "://" not in url:
        match = _SCP_LIKE.fullmatch(url)
        if match is None or len(match["host"]) < 2:  # C:\\repo is a Windows path
            return None
        return "https", match["host"].lower(), None, match["path"]
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _URL_SCHEMES or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme in ("http", "https"):
        return scheme, parts.hostname.lower(), port, parts.path
    return "https", parts.hostname.lower(), None, parts.path  # the ssh port is not the web's


def forge_of_host(host: str) -> str | None:
    if host in ("github.com", "ssh.github.com"):
        return "github"
    if host == "gitlab.com" or "gitlab" in host:
        return "gitlab"
    if host == "codeberg.org" or "gitea" in host:
        return "gitea"
    return None


def _links(root: Path) -> Links | None:
    url = gitrepo.remote_url(root, "origin")
    return links_from_url(url) if url else None


# -- tags ---------------------------------------------------------------------------------


def release_tags(
    root: Path, tag_template: str, *, tag_context: Mapping[str, Any] | None = None
) -> list[Tag]:
    """Tags whose name matches the tag template with a version, highest version first.

    ``tag_context`` gives the other names the template uses (``vars``, ``env``).
    """
    return _release_tags(gitrepo.tag_refs(root), tag_pattern(tag_template, tag_context))


def _release_tags(refs: Iterable[gitrepo.TagRef], pattern: TagPattern) -> list[Tag]:
    found: list[tuple[Any, str, Tag]] = []
    for ref in refs:
        text = pattern.version_of(ref.name)
        version = parse_version(text) if text else None
        if version is not None:
            found.append((version.key, ref.name, Tag(ref.name, ref.commit, ref.date, text)))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [tag for _, _, tag in found]


def _candidates(tags: Sequence[Tag], *, release_tag: str | None, version: str | None) -> list[Tag]:
    """The tags (highest first) that could be the release's previous one, reachability
    aside: not the release tag, not a version at or above the release's, and for a final
    release not one of its own pre-releases."""
    own = parse_version(version) if version else None
    found: list[Tag] = []
    for tag in tags:
        if tag.name == release_tag:
            continue
        if own is not None:
            theirs = parse_version(tag.version or "")
            if theirs is None or theirs.key >= own.key:
                continue  # not older than the release
            if not own.prerelease and theirs.prerelease and theirs.final().key == own.key:
                continue  # the release's own release candidates
        found.append(tag)
    return found


# -- one release ------------------------------------------------------------------------


def read_release(
    root: Path,
    *,
    tag_template: str,
    version: str | None = None,
    to_ref: str = "HEAD",
    from_ref: str | None = None,
    options: NotesOptions = NotesOptions(),
    now: datetime | None = None,
    tag_context: Mapping[str, Any] | None = None,
) -> ReleaseHistory:
    """The history of one release: from the previous release tag (or ``from_ref``),
    exclusive, to ``to_ref``.

    The release's tag is, in this order: the template's tag for ``version``;
    ``to_ref`` itself when it is a tag matching the template (its version is
    then the release's); the highest-version matching tag on the ``to_ref``
    commit. With none of these, ``version`` and ``tag`` stay None (see
    :func:`suggest_version`). Git calls: ``rev-parse`` (two with ``from_ref``),
    one ``for-each-ref``, one ``log``, ``remote get-url``; one more
    ``for-each-ref`` and ``log`` only when the highest candidate tag turns out
    not to be reachable from the release commit.
    """
    pattern = tag_pattern(tag_template, tag_context)
    commit = _resolve(root, to_ref, "--to")
    tags = _release_tags(gitrepo.tag_refs(root), pattern)
    tag_name, version = _release_tag_name(
        tags,
        commit=commit,
        to_ref=to_ref,
        version=version,
        template=tag_template,
        context=tag_context,
    )
    people = _People(options.bots)
    links = _links(root)
    if from_ref is None:
        candidates = _candidates(tags, release_tag=tag_name, version=version)
        previous, log = _previous_and_log(root, commit, candidates, options=options, people=people)
    else:
        previous = _from_tag(root, from_ref, tags, pattern)
        log = _read_log(root, _range(commit, previous), options=options, people=people)
    existing = next((t for t in tags if t.name == tag_name and t.commit == commit), None)
    return _release(
        version=version,
        tag=tag_name,
        commit=commit,
        date=existing.date if existing else _now(now),
        previous=previous,
        commits=[c for c in log.commits if c is not None],
        options=options,
        links=links,
        tagged=existing is not None,
    )


def _range(commit: str, previous: Tag | None) -> list[str]:
    return [commit] if previous is None else [commit, f"^{previous.commit}"]


def _previous_and_log(
    root: Path,
    commit: str,
    candidates: Sequence[Tag],
    *,
    options: NotesOptions,
    people: _People,
) -> tuple[Tag | None, _Log]:
    """The highest of ``candidates`` reachable from ``commit``, and the log since it.

    The highest candidate is usually the one: the log from it is read with
    ``--boundary``, and it is reachable exactly when its commit is a boundary
    commit of that log, so no walk of the whole history is needed to know it.
    Only when it is not reachable does git list the tags that are.
    """
    if not candidates:
        return None, _read_log(root, [commit], options=options, people=people)
    guess = candidates[0]
    if guess.commit == commit:
        return guess, _Log()
    boundary = ("--boundary",)
    log = _read_log(root, _range(commit, guess), options=options, people=people, extra=boundary)
    if guess.commit in log.boundary:
        return guess, log
    reachable = {ref.name for ref in gitrepo.tag_refs(root, merged_into=commit)}
    previous = next((tag for tag in candidates if tag.name in reachable), None)
    if previous is not None and previous.commit == commit:
        return previous, _Log()
    return previous, _read_log(root, _range(commit, previous), options=options, people=people)


def _resolve(root: Path, ref: str, flag: str) -> str:
    commit = gitrepo.resolve_commit(root, ref)
    if commit is not None:
        return commit
    if ref == "HEAD":
        raise UsageError(f"{root} has no commits yet: there is no history to write notes from")
    raise UsageError(
        f"{flag} {ref!r} does not name a commit in {root}; give a tag, branch or commit "
        "hash that exists here (`git fetch --tags` if it is only on the remote)"
    )


def _release_tag_name(
    tags: Sequence[Tag],
    *,
    commit: str,
    to_ref: str,
    version: str | None,
    template: str,
    context: Mapping[str, Any] | None,
) -> tuple[str | None, str | None]:
    """The release's tag name and version (see :func:`read_release`)."""
    by_name = {tag.name: tag for tag in tags}
    if version is not None:
        name = render_tag(template, version, context)
        if to_ref in by_name and to_ref != name:
            raise UsageError(
                f"--to {to_ref} is the tag of release {by_name[to_ref].version}, but the "
                f"release version is {version} (tag {name}); give one or the other"
            )
        return name, version
    if to_ref in by_name:
        return to_ref, by_name[to_ref].version
    on_commit = next((tag for tag in tags if tag.commit == commit), None)
    return (on_commit.name, on_commit.version) if on_commit else (None, None)


def _from_tag(root: Path, from_ref: str, tags: Sequence[Tag], pattern: TagPattern) -> Tag:
    """``from_ref`` as the previous tag; its date is empty unless it is a release tag."""
    for tag in tags:
        if tag.name == from_ref:
            return tag
    commit = _resolve(root, from_ref, "--from")
    text = pattern.version_of(from_ref)
    if gitrepo.resolve_commit(root, f"refs/tags/{from_ref}") is None:
        # Not a tag (HEAD~3, a branch): name it by its commit, which links and
        # compares stay right for however the ref moves later.
        return Tag(commit[:12], commit, "", None)
    return Tag(from_ref, commit, "", text if text and parse_version(text) else None)


def _now(now: datetime | None) -> str:
    moment = now or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def _release(
    *,
    version: str | None,
    tag: str | None,
    commit: str,
    date: str,
    previous: Tag | None,
    commits: Sequence[Commit],
    options: NotesOptions,
    links: Links | None,
    tagged: bool = True,
) -> ReleaseHistory:
    people, bots = contributors(commits)
    # A tag that does not exist yet cannot be compared with: the commit can.
    newer = tag if tag and tagged else commit
    compare = links.compare(previous.name, newer) if links and previous else None
    return ReleaseHistory(
        version=version,
        tag=tag,
        commit=commit,
        date=date,
        previous=previous,
        commits=tuple(commits),
        groups=group_commits(commits, options.groups),
        breaking=tuple(c for c in commits if c.breaking),
        contributors=people,
        bots=bots,
        links=links,
        compare_url=compare,
        tagged=tagged and tag is not None,
    )


# -- the changelog ----------------------------------------------------------------------


def read_changelog(
    root: Path,
    *,
    tag_template: str,
    options: NotesOptions = NotesOptions(),
    unreleased: bool = True,
    now: datetime | None = None,
    tag_context: Mapping[str, Any] | None = None,
    on_commits: Callable[[Sequence[Commit], Links | None], None] | None = None,
) -> Changelog:
    """Every release from the tags, newest first, from one ``git log`` of all history.

    ``on_commits(commits, links)`` is called with each batch of commits as the log
    is read, for per-commit work that can go on while git still writes (see
    :class:`relcheck.notes.CommitLines`).

    Each commit belongs to the lowest-version release tag that contains it; a
    release's ``previous`` is the highest lower-version release tag it contains
    (pre-releases included, so the compare link matches the commits listed).
    ``unreleased`` holds the commits of HEAD no release contains, or is None
    when there are none (or ``unreleased`` is False); its date is now.
    Git calls: one ``for-each-ref``, one ``log``, one ``rev-parse`` of HEAD
    (only with ``unreleased``), one ``remote get-url``.
    """
    tags = _release_tags(gitrepo.tag_refs(root), tag_pattern(tag_template, tag_context))
    tags.reverse()  # lowest version first: a tag's rank is its place in this list
    head = _resolve(root, "HEAD", "HEAD") if unreleased else None
    starts = list(dict.fromkeys([*(tag.commit for tag in tags), *([head] if head else [])]))
    links = _links(root)
    with _collector_paused():  # the graph and releases build as many objects as the log
        each = (lambda commits: on_commits(commits, links)) if on_commits else None
        log = _read_log(
            root, starts, options=options, people=_People(options.bots), on_commits=each
        )
        graph = _Graph.of(log)
        at = [graph.position[tag.commit] for tag in tags]
        members, loose = _assign(log.commits, graph.oldest_release(at), len(tags))
        reached = graph.reached_tags(at)
        releases = [
            _release(
                version=tag.version,
                tag=tag.name,
                commit=tag.commit,
                date=tag.date,
                previous=_highest_below(reached[at[rank]], rank, tags),
                commits=members[rank],
                options=options,
                links=links,
            )
            for rank, tag in enumerate(tags)
        ]
    pending = None
    if head is not None and loose:
        pending = _release(
            version=None,
            tag=None,
            commit=head,
            date=_now(now),
            previous=_highest_below(reached[graph.position[head]], len(tags), tags),
            commits=loose,
            options=options,
            links=links,
        )
    return Changelog(releases=tuple(reversed(releases)), unreleased=pending, links=links)


def _assign(
    commits: Sequence[Commit | None], labels: Sequence[int], count: int
) -> tuple[list[list[Commit]], list[Commit]]:
    """The commits of each of ``count`` releases by label, and those of none, in log order."""
    members: list[list[Commit]] = [[] for _ in range(count)]
    loose: list[Commit] = []
    for commit, label in zip(commits, labels, strict=True):
        if commit is not None:
            (loose if label == _UNRELEASED else members[label]).append(commit)
    return members, loose


_UNRELEASED = 1 << 62  # a label above every tag rank


_NO_PARENT = -1


@dataclass(frozen=True)
class _Graph:
    """The commit graph of one log, by position in the log: ``first[i]`` is the
    position of commit ``i``'s first parent (or _NO_PARENT), ``more[i]`` those of
    a merge's other parents; ``order`` puts every commit before its parents.

    Most commits have one parent, so they cost one int here, not a list.
    """

    position: dict[str, int]
    first: list[int]
    more: dict[int, list[int]]
    order: Sequence[int]

    @classmethod
    def of(cls, log: _Log) -> _Graph:
        position = {sha: index for index, sha in enumerate(log.shas)}
        find = position.get
        first = [find(parents[0], _NO_PARENT) if parents else _NO_PARENT for parents in log.parents]
        more: dict[int, list[int]] = {}
        for index, parents in enumerate(log.parents):
            if len(parents) > 1:
                more[index] = [at for at in map(find, parents[1:]) if at is not None]
        return cls(position, first, more, _children_first(first, more))

    def oldest_release(self, tag_positions: Sequence[int]) -> list[int]:
        """For each commit, the lowest rank of the tags containing it (or _UNRELEASED):
        one pass handing each commit's label down to its parents."""
        labels = [_UNRELEASED] * len(self.first)
        for rank, at in enumerate(tag_positions):
            labels[at] = min(labels[at], rank)
        first, more = self.first, self.more
        for child in self.order:
            label = labels[child]
            if label == _UNRELEASED:
                continue
            parent = first[child]
            if parent != _NO_PARENT and label < labels[parent]:
                labels[parent] = label
            for parent in more.get(child, ()):
                if label < labels[parent]:
                    labels[parent] = label
        return labels

    def reached_tags(self, tag_positions: Sequence[int]) -> list[int]:
        """For each commit, the ranks of the tags it contains, as a bit mask: one pass
        from the oldest commit up, each commit OR-ing its parents' masks."""
        masks = [0] * len(self.first)
        for rank, at in enumerate(tag_positions):
            masks[at] |= 1 << rank
        first, more = self.first, self.more
        for child in reversed(self.order):
            parent = first[child]
            mask = masks[child] | masks[parent] if parent != _NO_PARENT else masks[child]
            for parent in more.get(child, ()):
                mask |= masks[parent]
            masks[child] = mask
        return masks


def _children_first(first: Sequence[int], more: dict[int, list[int]]) -> Sequence[int]:
    """Log positions in an order where every commit comes before its parents. git's
    date order already is one unless committer clocks were skewed; then sort."""
    if all(parent > child for child, parent in enumerate(first) if parent != _NO_PARENT) and all(
        parent > child for child, parents in more.items() for parent in parents
    ):
        return range(len(first))
    waiting = [0] * len(first)
    edges = [_parents_of(first, more, index) for index in range(len(first))]
    for parents in edges:
        for parent in parents:
            waiting[parent] += 1
    ready = [index for index in range(len(first) - 1, -1, -1) if not waiting[index]]
    order: list[int] = []
    while ready:
        child = ready.pop()
        order.append(child)
        for parent in edges[child]:
            waiting[parent] -= 1
            if not waiting[parent]:
                ready.append(parent)
    return order


def _parents_of(first: Sequence[int], more: dict[int, list[int]], index: int) -> list[int]:
    parent = first[index]
    return ([parent] if parent != _NO_PARENT else []) + more.get(index, [])


def _highest_below(mask: int, rank: int, tags: Sequence[Tag]) -> Tag | None:
    below = mask & ((1 << rank) - 1)
    return tags[below.bit_length() - 1] if below else None
