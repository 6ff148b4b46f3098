"""The ``git`` kind: checks that the repository is ready to be released from.

``git: {clean, branch, in_sync, tag_absent, fetch}``; every key is optional and
``git: {}`` checks that the work tree is clean, HEAD is in sync with its
upstream and the release tag does not exist yet. ``branch`` (a name or an
fnmatch glob such as ``release/*``) is checked only when given; ``fetch: true``
fetches the upstream's remote before comparing and also asks that remote
whether the release tag exists there. Every check that fails is reported.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct

from relcheck import gitrepo
from relcheck.errors import RelcheckError
from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.model import FAILED, NO_ROLLBACK, PASSED, Release, Step

# Network calls (fetch, ls-remote) take the step's own `timeout`, or this.
NETWORK_TIMEOUT_S = 60.0
_LISTED_FILES = 3


def _flag(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description, "x-expected": "true or false"}


class GitChecks(Struct, frozen=True):
    """What a ``git`` step checks, defaults filled in."""

    clean: bool = True
    branch: str | None = None
    in_sync: bool = True
    tag_absent: bool = True
    fetch: bool = False

    @classmethod
    def from_spec(cls, spec: Any) -> GitChecks:
        values: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {}
        branch = values.get("branch")
        return cls(
            clean=bool(values.get("clean", True)),
            branch=str(branch) if branch not in (None, "") else None,
            in_sync=bool(values.get("in_sync", True)),
            tag_absent=bool(values.get("tag_absent", True)),
            fetch=bool(values.get("fetch", False)),
        )


class Check(Struct, frozen=True):
    """One check's result: words for ``actual``, and what to do when it failed."""

    words: str
    problem: str | None = None


class _Facts(Struct, frozen=True):
    """What every check may read, gathered once."""

    root: Path
    head: gitrepo.Head
    release: Release | None
    checks: GitChecks
    timeout: float


class GitKind:
    key = "git"
    automated = True
    gated = False
    waits_for_every_step = False
    summary = "checks that the git repository is ready to release from"
    spec_schema: Mapping[str, Any] = {
        "type": "object",
        "description": (
            "Checks on the git repository; `git: {}` checks clean, in_sync and tag_absent."
        ),
        "x-expected": "a mapping of checks (clean, branch, in_sync, tag_absent, fetch)",
        "properties": {
            "clean": _flag(
                "No uncommitted or untracked changes; .relcheck/ is ignored (default true)."
            ),
            "branch": {
                "type": "string",
                "minLength": 1,
                "format": "jinja2-template",
                "description": "Branch HEAD must be on: a name or a glob like release/*.",
                "x-expected": "a branch name or a glob like 'release/*'",
            },
            "in_sync": _flag(
                "HEAD equals its upstream: nothing to push, nothing to pull (default true)."
            ),
            "tag_absent": _flag("The release tag does not exist yet (default true)."),
            "fetch": _flag(
                "Fetch the upstream's remote first and look for the tag there too "
                "(default false); uses the step's timeout, or 60 s."
            ),
        },
        "additionalProperties": False,
    }
    expect_schema: Mapping[str, Any] = {}

    def default_expected(self, step: Step) -> str:
        return _expected_words(GitChecks.from_spec(step.spec))

    def describe(self, resolved: ResolvedStep) -> str:
        checks = GitChecks.from_spec(resolved.spec)
        fetch = "fetch the upstream, then " if checks.fetch else ""
        return f"{fetch}check the repository is {_expected_words(checks)}"

    def default_rollback(self, resolved: ResolvedStep, release: Release) -> str | None:
        return NO_ROLLBACK  # a check changes nothing, so there is nothing to undo

    def execute(self, resolved: ResolvedStep, ctx: StepContext) -> Outcome:
        root = ctx.repo_root or gitrepo.find_root(resolved.cwd)
        if root is None:
            return Outcome(
                FAILED,
                "not in a git repository",
                reason=f"{resolved.cwd} is not inside a git repository; run relcheck in one",
            )
        try:
            facts = _Facts(
                root=root,
                head=gitrepo.head(root),
                release=ctx.release,
                checks=GitChecks.from_spec(resolved.spec),
                timeout=resolved.step.timeout or NETWORK_TIMEOUT_S,
            )
        except RelcheckError as exc:
            return Outcome(FAILED, "not checked", reason=exc.message)
        return _outcome(_run_checks(facts, ctx))


def _expected_words(checks: GitChecks) -> str:
    parts = []
    if checks.clean:
        parts.append("clean")
    if checks.branch:
        parts.append(f"on {checks.branch}")
    if checks.in_sync:
        parts.append("in sync with its upstream")
    if checks.tag_absent:
        where = " (here or on the remote)" if checks.fetch else ""
        parts.append(f"without the release tag{where}")
    return ", ".join(parts) or "a git repository"


def _run_checks(facts: _Facts, ctx: StepContext) -> list[Check]:
    wanted: list[tuple[bool, Callable[[_Facts], Check]]] = [
        (facts.checks.clean, _check_clean),
        (facts.checks.branch is not None, _check_branch),
        (facts.checks.in_sync, _check_in_sync),
        (facts.checks.tag_absent, _check_tag_absent),
    ]
    results = []
    for enabled, check in wanted:
        if not enabled:
            continue
        try:
            result = check(facts)
        except RelcheckError as exc:
            result = Check("not checked", f"{exc.message}; re-running is safe")
        ctx.say(f"{'FAIL' if result.problem else 'ok'}: {result.problem or result.words}")
        results.append(result)
    return results


def _outcome(results: list[Check]) -> Outcome:
    actual = ", ".join(result.words for result in results) or "nothing checked"
    problems = [result.problem for result in results if result.problem]
    if problems:
        return Outcome(FAILED, actual, reason="; ".join(problems))
    return Outcome(PASSED, actual)


# -- the checks -------------------------------------------------------------------


def _check_clean(facts: _Facts) -> Check:
    changes = gitrepo.worktree_changes(facts.root)
    if changes.clean:
        return Check("clean")
    words = _changes_words(changes)
    listed = [*changes.changed, *changes.untracked]
    names = ", ".join(listed[:_LISTED_FILES]) + (", ..." if len(listed) > _LISTED_FILES else "")
    return Check(words, f"{words} ({names}): commit or stash them")


def _changes_words(changes: gitrepo.Changes) -> str:
    parts = []
    if changes.changed:
        count = len(changes.changed)
        parts.append(f"{count} file{'s' if count != 1 else ''} changed")
    if changes.untracked:
        parts.append(f"{len(changes.untracked)} untracked")
    return " and ".join(parts)


def _check_branch(facts: _Facts) -> Check:
    pattern = facts.checks.branch or ""
    wanted = f"a branch matching {pattern}" if _is_glob(pattern) else pattern
    branch = facts.head.branch
    if branch is None:
        at = gitrepo.short_hash(facts.head.commit or "")
        return Check(
            f"detached at {at}",
            f"HEAD is detached at {at}, expected {wanted}: check out the release branch",
        )
    if fnmatch.fnmatchcase(branch, pattern):
        return Check(f"on {branch}")
    return Check(f"on {branch}", f"on branch {branch}, expected {wanted}: check out {wanted}")


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def _check_in_sync(facts: _Facts) -> Check:
    branch = facts.head.branch
    if branch is None:
        return Check(
            "detached, no upstream",
            "HEAD is detached, so it has no upstream to compare with: check out the release branch",
        )
    if facts.head.commit is None:
        return Check(
            "no commits yet",
            f"branch {branch} has no commits yet: commit and push it first "
            f"(git push -u {_remote_hint(facts.root)} {branch})",
        )
    tracked = gitrepo.upstream(facts.root, branch)
    if tracked is None:
        return _no_upstream(facts.root, branch)
    if facts.checks.fetch and tracked.remote != ".":
        gitrepo.fetch(facts.root, tracked.remote, timeout=facts.timeout)
        tracked = gitrepo.upstream(facts.root, branch) or tracked
    if tracked.gone:
        return _upstream_gone(facts, tracked, branch)
    ahead, behind = gitrepo.ahead_behind(facts.root, tracked.ref)
    return _sync_words(tracked.name, ahead, behind)


def _no_upstream(root: Path, branch: str) -> Check:
    remote = _remote_hint(root)
    if remote == "origin" and "origin" not in gitrepo.remotes(root):
        return Check(
            "no upstream",
            f"no upstream for branch {branch} and no remote: add one "
            f"(git remote add origin URL), then git push -u origin {branch}",
        )
    return Check("no upstream", f"no upstream for branch {branch}: git push -u {remote} {branch}")


def _remote_hint(root: Path) -> str:
    names = gitrepo.remotes(root)
    return names[0] if names else "origin"


def _upstream_gone(facts: _Facts, tracked: gitrepo.Upstream, branch: str) -> Check:
    if facts.checks.fetch:
        hint = f"it is not on {tracked.remote}: git push -u {tracked.remote} {branch}"
    else:
        hint = (
            f"git fetch {tracked.remote} (or set fetch: true), or "
            f"git push -u {tracked.remote} {branch} if it was never pushed"
        )
    return Check(f"upstream {tracked.name} missing", f"upstream {tracked.name} not found: {hint}")


def _sync_words(upstream: str, ahead: int, behind: int) -> Check:
    if ahead == 0 and behind == 0:
        return Check(f"in sync with {upstream}")
    todo = "pull and push" if ahead and behind else ("push" if ahead else "pull")
    words = f"{ahead} ahead and {behind} behind {upstream}"
    return Check(words, f"HEAD is {words}: {todo} first")


def _check_tag_absent(facts: _Facts) -> Check:
    if facts.release is None:
        return Check("tag not checked", "the release tag is not known to this step")
    name = facts.release.tag
    found = gitrepo.find_tag(facts.root, name)
    if found is not None:
        return _tag_exists(facts, name, found.commit, remote=None)
    remote = _tag_remote(facts) if facts.checks.fetch else None
    if remote is None:
        return Check(f"tag {name} absent")
    commit = gitrepo.remote_tag_commit(facts.root, remote, name, timeout=facts.timeout)
    if commit is not None:
        return _tag_exists(facts, name, commit, remote=remote)
    return Check(f"tag {name} absent here and on {remote}")


def _tag_remote(facts: _Facts) -> str | None:
    """The remote to ask about the tag: the branch's upstream remote, else origin."""
    if facts.head.branch is not None:
        tracked = gitrepo.upstream(facts.root, facts.head.branch)
        if tracked is not None and tracked.remote != ".":
            return tracked.remote
    return "origin" if "origin" in gitrepo.remotes(facts.root) else None


def _tag_exists(facts: _Facts, name: str, commit: str, *, remote: str | None) -> Check:
    at = gitrepo.short_hash(commit)
    head = " (HEAD)" if commit == facts.head.commit else ""
    where = f" on {remote}" if remote else ""
    undo = f"git push {remote} :refs/tags/{name}" if remote else f"git tag -d {name}"
    return Check(
        f"tag {name} exists{where}",
        f"tag {name} already exists{where} on {at}{head}: release a new version, "
        f"or delete it ({undo}) if it was made by mistake",
    )
