"""The ``tag`` kind: creates the annotated release tag on the run's commit, and pushes it.

``tag: {message, sign, push}``; every key is optional, so ``tag: {}`` creates
an annotated tag with the message "Release VERSION" and pushes nothing. The
tag's name is the release tag (the checklist's ``tag`` template); it goes on
the commit the run started on, even when HEAD has moved since. Re-running is
safe: a tag already on that commit is left as it is (and pushed again if
asked); a tag of that name on another commit fails the step.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct

from relcheck import gitrepo
from relcheck.errors import RelcheckError
from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.model import FAILED, PASSED, Release, Step

DEFAULT_MESSAGE = "Release {{ version }}"
# The push takes the step's own `timeout`, or this.
NETWORK_TIMEOUT_S = 60.0


class TagOptions(Struct, frozen=True):
    """What a ``tag`` step asks for; ``message`` None means the default message."""

    message: str | None = None
    sign: bool = False
    push: str | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> TagOptions:
        values: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {}
        message, push = values.get("message"), values.get("push")
        return cls(
            message=str(message) if message not in (None, "") else None,
            sign=bool(values.get("sign", False)),
            push=str(push).strip() if push not in (None, "") else None,
        )

    def message_for(self, release: Release) -> str:
        return self.message or f"Release {release.version}"


class TagKind:
    key = "tag"
    automated = True
    gated = False
    waits_for_every_step = True
    summary = "creates the annotated release tag on the run's commit, and can push it"
    spec_schema: Mapping[str, Any] = {
        "type": "object",
        "description": (
            "Create the release tag (named by the checklist's `tag` template) on the commit "
            "the run started on; `tag: {}` creates it with the default message."
        ),
        "x-expected": "a mapping with any of message, sign and push (e.g. {push: origin})",
        "properties": {
            "message": {
                "type": "string",
                "minLength": 1,
                "format": "jinja2-template",
                "description": f"The tag's message (default '{DEFAULT_MESSAGE}').",
                "x-expected": "the tag message",
            },
            "sign": {
                "type": "boolean",
                "description": "Sign the tag with GPG (git tag -s); default false.",
                "x-expected": "true or false",
            },
            "push": {
                "type": "string",
                "minLength": 1,
                "format": "jinja2-template",
                "description": (
                    "Remote to push the tag to, e.g. origin (default: not pushed); "
                    "the push uses the step's timeout, or 60 s."
                ),
                "x-expected": "the name of a git remote, like 'origin'",
            },
        },
        "additionalProperties": False,
    }
    expect_schema: Mapping[str, Any] = {}

    def default_expected(self, step: Step) -> str:
        options = TagOptions.from_spec(step.spec)
        words = "signed" if options.sign else "annotated"
        pushed = f", pushed to {options.push}" if options.push else ""
        return f"{words} release tag on the run's commit{pushed}"

    def describe(self, resolved: ResolvedStep) -> str:
        options = TagOptions.from_spec(resolved.spec)
        words = "signed" if options.sign else "annotated"
        pushed = f" and push it to {options.push}" if options.push else ""
        return f"create the {words} release tag on the run's start commit{pushed}"

    def default_rollback(self, resolved: ResolvedStep, release: Release) -> str | None:
        options = TagOptions.from_spec(resolved.spec)
        command = f"git tag -d {shlex.quote(release.tag)}"
        if options.push:
            remote = shlex.quote(options.push)
            command += f" && git push {remote} {shlex.quote(':refs/tags/' + release.tag)}"
        return command

    def execute(self, resolved: ResolvedStep, ctx: StepContext) -> Outcome:
        release = ctx.release
        root = ctx.repo_root or gitrepo.find_root(resolved.cwd)
        problem = _cannot_tag(release, root, resolved)
        if problem is not None:
            return problem
        assert release is not None and release.commit is not None and root is not None
        options = TagOptions.from_spec(resolved.spec)
        try:
            made = _ensure_tag(root, release, release.commit, options, ctx)
        except RelcheckError as exc:
            return Outcome(
                FAILED,
                "tag not created",
                reason=f"could not create tag {release.tag}: {exc.message}",
            )
        if isinstance(made, Outcome):
            return made
        if options.push is None:
            return Outcome(PASSED, made)
        return _push(root, release.tag, options.push, made, resolved, ctx)


def _cannot_tag(
    release: Release | None, root: Path | None, resolved: ResolvedStep
) -> Outcome | None:
    if release is None:
        return Outcome(
            FAILED,
            "tag not created",
            reason="the tag step was not given the run's release; this is a bug in relcheck",
        )
    if root is None:
        return Outcome(
            FAILED,
            "tag not created",
            reason=f"{resolved.cwd} is not inside a git repository; run relcheck in one",
        )
    if release.commit is None:
        return Outcome(
            FAILED,
            "tag not created",
            reason="the run started before the repository's first commit, so there is "
            "nothing to tag: commit, then start a new run",
        )
    return None


def _ensure_tag(
    root: Path, release: Release, commit: str, options: TagOptions, ctx: StepContext
) -> str | Outcome:
    """Create the tag, or accept the one already there: the words for ``actual``, or a failure."""
    at = gitrepo.short_hash(commit)
    found = gitrepo.find_tag(root, release.tag)
    if found is None:
        gitrepo.create_tag(
            root,
            release.tag,
            commit=commit,
            message=options.message_for(release),
            sign=options.sign,
        )
        words = "signed" if options.sign else "annotated"
        ctx.say(f"created {words} tag {release.tag} on {at}")
        return f"{words} tag {release.tag} on {at}"
    if found.commit == commit:
        words = "annotated" if found.annotated else "lightweight"
        ctx.say(f"tag {release.tag} already points at {at} ({words}); left as it is")
        return f"tag {release.tag} already on {at}"
    there = gitrepo.short_hash(found.commit)
    return Outcome(
        FAILED,
        f"tag {release.tag} exists on {there}",
        reason=(
            f"tag {release.tag} already exists on {there}, not on the run's commit {at}: "
            f"release a new version, or delete it (git tag -d {release.tag}) if it was "
            "made by mistake and run the step again"
        ),
    )


def _push(
    root: Path, tag: str, remote: str, made: str, resolved: ResolvedStep, ctx: StepContext
) -> Outcome:
    timeout = resolved.step.timeout or NETWORK_TIMEOUT_S
    try:
        gitrepo.push_tag(root, remote, tag, timeout=timeout)
    except RelcheckError as exc:
        return Outcome(
            FAILED,
            f"{made}, not pushed",
            reason=(
                f"pushing tag {tag} to {remote} failed: {exc.message}; the tag is in place "
                "locally, and re-running the step is safe once that is fixed"
            ),
        )
    ctx.say(f"pushed tag {tag} to {remote}")
    return Outcome(PASSED, f"{made}, pushed to {remote}")
