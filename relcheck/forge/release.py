"""Publishing one release idempotently, the same way on every forge.

Look the release up by tag (drafts included); found once, update it in place;
found more than once, stop and list them; not found, create it. A create whose
answer was lost is reconciled by looking the release up again, for as long
as the lost request could still be under way on the forge (the request
timeout, within the deadline), and sent again only when the release is still
not there; a forge that then answers "already exists" gets looked up once
more. Files are attached by name, and an asset of the same name is replaced
only once the new file is there: it goes up under a temporary name, then the
old one is deleted and the new one renamed. An upload whose answer was lost is
looked for among the assets before another.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from msgspec import Struct

from relcheck.forge import Asset, File, Forge, Release, ReleaseSpec
from relcheck.forge.client import MAX_ATTEMPTS, AnswerLost, ForgeError, backoff

__all__ = ["File", "Published", "cut_body", "find_one", "publish_release", "temporary_name"]

_HEADING = re.compile(r"#{1,6}(\s|$)")
_FENCE = re.compile(r"(`{3,}|~{3,})")
TEMPORARY_SUFFIX = ".new"


class Published(Struct, frozen=True):
    action: str  # created | updated
    release: Release
    assets: tuple[Asset, ...]


def publish_release(
    forge: Forge, spec: ReleaseSpec, files: Sequence[File], *, drop: Sequence[str] = ()
) -> Published:
    """Create or update the release of ``spec.tag``; attach ``files``; delete assets in ``drop``."""
    found = find_one(forge, spec.tag)
    if found is None:
        release, action = _create(forge, spec), "created"
    else:
        forge.client.say(f"Found {found.words()}: updating it in place")
        release, action = forge.update(found, spec), "updated"
    existing = forge.assets(release)
    attached = tuple(_attach(forge, release, file, existing, spec.version) for file in files)
    dropped = {*drop, *(temporary_name(name) for name in drop)}
    for asset in existing:
        if asset.name in dropped:
            forge.delete_asset(release, asset)
    return Published(action, release, attached)


def temporary_name(name: str) -> str:
    """The name a file is uploaded under while an asset of its own name is still there."""
    return name + TEMPORARY_SUFFIX


def find_one(forge: Forge, tag: str) -> Release | None:
    """The one release for ``tag``, or None; more than one is an error listing them."""
    found = forge.find(tag)
    if len(found) > 1:
        listed = "; ".join(release.words() for release in found)
        raise ForgeError(
            f"{forge.label} has {len(found)} releases for tag {tag}: {listed}. relcheck "
            "updates exactly one and will not guess which, so it changed nothing: delete all "
            f"but one of them on {forge.label}, then run `relcheck publish` again",
            retry_safe=None,  # running it again unchanged fails the same way
        )
    return found[0] if found else None


def _create(forge: Forge, spec: ReleaseSpec) -> Release:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return forge.create(spec)
        except AnswerLost as lost:
            forge.client.say(
                f"  the answer to creating release {spec.tag} was lost ({lost.message}); "
                "looking it up before sending anything again"
            )
            found = _look_for(forge, spec.tag)
            if found is not None:
                forge.client.say(f"  it was created: {found.words()}")
                return found
            if attempt == MAX_ATTEMPTS:
                raise
            forge.client.say(f"  release {spec.tag} is not there: creating it again")
        except ForgeError as refused:
            if attempt == 1 or not _already_exists(refused):
                raise
            # The create whose answer was lost got there after all, after the lookups.
            found = find_one(forge, spec.tag)
            if found is None:
                raise
            forge.client.say(f"  it was created after all: {found.words()}")
            return found
    raise AssertionError("unreachable")


def _look_for(forge: Forge, tag: str) -> Release | None:
    """The release of ``tag``, looked up until a lost create can no longer be under way.

    The forge may still be working on the request whose answer was lost, for
    up to the request timeout; sending it again before then could make a second
    release (GitHub allows any number of drafts for one tag).
    """
    client = forge.client
    until = time.monotonic() + max(0.0, min(client.timeout, client.left()))
    attempt = 0
    while True:
        found = find_one(forge, tag)
        left = until - time.monotonic()
        if found is not None or left <= 0:
            return found
        attempt += 1
        client.wait(
            min(backoff(attempt), left),
            f"release {tag} is not there yet",
            "its create may still be under way",
        )


def _already_exists(error: ForgeError) -> bool:
    """A create refused because the release exists: GitHub's 422 ``already_exists``, a 409."""
    return error.status == 409 or (error.status == 422 and "already_exists" in error.message)


def _attach(
    forge: Forge, release: Release, file: File, existing: Sequence[Asset], version: str
) -> Asset:
    """Attach ``file``; an asset of its name is replaced only once the new one is there.

    The new file goes up under a temporary name, then the old asset is deleted
    and the new one renamed: a failure at any point leaves a record attached,
    and running publish again finishes the job.
    """
    temporary = temporary_name(file.name)
    for asset in existing:
        if asset.name == temporary:
            forge.delete_asset(release, asset)  # left behind by a publish that stopped half-way
    old = [asset for asset in existing if asset.name == file.name]
    new = _upload(forge, release, file, temporary if old else file.name, version)
    for asset in old:
        if asset.id != new.id:  # GitLab's package file keeps its link: nothing to replace
            forge.delete_asset(release, asset)
    if new.name != file.name:
        new = forge.rename_asset(release, new, file.name)
    return new


def _upload(forge: Forge, release: Release, file: File, name: str, version: str) -> Asset:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return forge.upload(release, file, name=name, version=version)
        except AnswerLost as lost:
            forge.client.say(
                f"  the answer to uploading {name} was lost ({lost.message}); "
                "looking at the release's assets"
            )
            for asset in forge.assets(release):
                if asset.name != name:
                    continue
                if asset.complete and asset.size in (None, len(file.data)):
                    return asset
                forge.delete_asset(release, asset)  # a half-done upload
            if attempt == MAX_ATTEMPTS:
                raise
            forge.client.wait(backoff(attempt), f"{name} was not attached", "backoff")
    raise AssertionError("unreachable")


def cut_body(text: str, limit: int, notice: str) -> tuple[str, bool]:
    """``text`` if it fits in ``limit`` characters, else cut at a section boundary + ``notice``.

    The cut is made before the last Markdown heading (outside code fences) that
    leaves room for the notice; a note without one is cut at a line end.
    """
    if len(text) <= limit:
        return text, False
    room = limit - len(notice) - 2
    cut = _boundary(text, room)
    return text[:cut].rstrip("\n") + "\n\n" + notice, True


def _boundary(text: str, room: int) -> int:
    heading = line_end = 0
    offset = 0
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        if offset > room:
            break
        stripped = line.lstrip(" ")
        marker = _FENCE.match(stripped)
        if marker is not None:
            fence = None if fence and stripped.startswith(fence) else (fence or marker.group(1))
        elif fence is None and offset > 0 and _HEADING.match(line):
            heading = offset
        line_end = offset
        offset += len(line)
    if offset <= room:
        line_end = offset
    return heading or line_end or room
