"""Forges (GitHub, GitLab, Gitea): releases, their assets, and the CI checks of a commit.

Each provider module implements :class:`Forge` over the one HTTP client in
:mod:`relcheck.forge.client`; :mod:`relcheck.forge.release` walks the same
idempotent steps for all of them. Nothing here imports requests at import time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from relcheck.forge.client import ForgeClient
    from relcheck.forge.detect import Target

PROVIDERS = ("github", "gitlab", "gitea")
LABELS = {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea"}

# Check states, whatever words the provider uses.
CHECK_PENDING = "pending"
CHECK_PASSED = "passed"
CHECK_FAILED = "failed"


@dataclass(frozen=True)
class Asset:
    """A file attached to a release (a GitLab release link counts as one)."""

    id: str
    name: str
    url: str = ""
    size: int | None = None
    complete: bool = True  # False: an upload that never finished (GitHub's "starter" state)


# Dataclasses here, msgspec Structs elsewhere: Release.raw is left out of equality and
# repr, which a Struct field cannot be.
@dataclass(frozen=True)
class Release:
    """A release as the forge returned it; ``raw`` keeps the provider's own fields."""

    id: str
    tag: str
    name: str
    draft: bool
    url: str
    assets: tuple[Asset, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def words(self) -> str:
        kind = "draft" if self.draft else "release"
        return f"{kind} {self.id} {self.name!r} ({self.url or 'no web address'})"


@dataclass(frozen=True)
class ReleaseSpec:
    """What the release should look like once published."""

    tag: str
    name: str
    body: str
    commit: str | None
    draft: bool = False
    prerelease: bool = False
    version: str = ""  # the release's version (GitLab files it in the package registry)


@dataclass(frozen=True)
class Check:
    """One status or check run of a commit: its name, state and the provider's own word."""

    name: str
    state: str  # CHECK_PENDING | CHECK_PASSED | CHECK_FAILED
    conclusion: str
    links: tuple[str, ...] = ()  # the forge's addresses of it: details, target URL, web page
    pipeline: str = ""  # GitLab: the pipeline's id


@dataclass(frozen=True)
class OwnRun:
    """The CI run relcheck itself runs in: its own checks cannot finish before it does.

    A check belongs to it when one of its links names ``/actions/runs/ID``
    for one of ``run_ids`` (GitHub and Gitea Actions), or when it is the
    pipeline ``pipeline`` (GitLab).
    """

    words: str  # "GitHub Actions run 1234", for messages
    run_ids: tuple[str, ...] = ()
    pipeline: str = ""

    def holds(self, check: Check) -> bool:
        if self.pipeline and check.pipeline == self.pipeline:
            return True
        return any(
            re.search(rf"/actions/runs/{re.escape(run_id)}(?:[/?#]|$)", link)
            for run_id in self.run_ids
            for link in check.links
        )


@dataclass(frozen=True)
class File:
    """A file to attach to a release: its name, bytes and content type."""

    name: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class Planned:
    """A request a dry-run would send: method, URL, body and when it is sent."""

    method: str
    url: str
    body: bytes | None = None
    when: str = ""
    preview: str | None = None  # the text whose first lines are shown (the note, say)


class Forge(Protocol):
    """What relcheck needs from a forge; every call goes through one ForgeClient."""

    label: str
    max_body: int  # characters a release body may have
    drafts: bool  # whether releases can be drafts
    prereleases: bool  # whether releases can be marked as pre-releases
    client: ForgeClient
    target: Target

    def find(self, tag: str) -> list[Release]:
        """Every release for ``tag``, drafts included."""
        ...

    def create(self, spec: ReleaseSpec) -> Release:
        """Create the release; raises AnswerLost when it may or may not have been created."""
        ...

    def update(self, release: Release, spec: ReleaseSpec) -> Release: ...

    def assets(self, release: Release) -> list[Asset]:
        """The release's assets as the forge lists them now."""
        ...

    def delete_asset(self, release: Release, asset: Asset) -> None: ...

    def upload(self, release: Release, file: File, *, name: str, version: str) -> Asset:
        """Attach ``file`` as ``name``; raises AnswerLost when it may or may not be attached.

        The answer may be an asset that was already there, when the forge
        keeps the file at the same address as before (GitLab's packages).
        """
        ...

    def rename_asset(self, release: Release, asset: Asset, name: str) -> Asset: ...

    def checks(self, commit: str) -> list[Check]:
        """Every status, check run or pipeline reported for ``commit``."""
        ...

    def own_run(self, environ: Mapping[str, str]) -> OwnRun | None:
        """The CI run of this forge that ``environ`` says relcheck runs in, if any."""
        ...

    def plan(self, spec: ReleaseSpec, files: Sequence[tuple[str, bytes]]) -> list[Planned]:
        """The requests a publish sends, for ``--dry-run``."""
        ...


def make_forge(target: Target, client: ForgeClient) -> Forge:
    """The provider module's forge for ``target``."""
    if target.provider == "github":
        from relcheck.forge.github import GitHub

        return GitHub(target, client)
    if target.provider == "gitlab":
        from relcheck.forge.gitlab import GitLab

        return GitLab(target, client)
    from relcheck.forge.gitea import Gitea

    return Gitea(target, client)
