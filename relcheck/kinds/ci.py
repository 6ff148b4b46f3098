"""The ``ci`` kind: waits until every CI check on the release commit has passed.

``ci: {provider, repo, api_url, wait, commit}``; every key is optional. The
forge, repository and API URL default as for ``relcheck publish`` (the CI
environment, then the ``origin`` remote); the token comes from the same
variables but is optional (a public repository answers without one). The
checks are GitHub's combined status and check runs, GitLab's pipelines for
the commit (the newest per ref), Gitea's commit statuses. The checks of the
CI run relcheck itself runs in are left out (they cannot finish before this
step does): see :meth:`relcheck.forge.Forge.own_run`. While some are pending
the step polls, 1 s after the first look and twice as long each time (at most
30 s), for up to ``wait`` seconds (default 600), never past the step's
``timeout``: the forge client gets the same deadline, so a slow forge cannot
stretch it either. No statuses at all is nothing to wait for: a repository
that uses only check runs has none. A failed check fails the step at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from msgspec import Struct

from relcheck.errors import Interrupted, RelcheckError
from relcheck.forge import CHECK_FAILED, CHECK_PENDING, LABELS, PROVIDERS, Check, OwnRun
from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.model import FAILED, INTERRUPTED, NO_ROLLBACK, PASSED, Release, Step

DEFAULT_WAIT_S = 600.0
FIRST_POLL_S = 1.0
MAX_POLL_S = 30.0
REQUEST_TIMEOUT_S = 30.0
MIN_RESERVE_S = 0.1
_SHOWN_CHECKS = 10


def _text(description: str, expected: str, **more: Any) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "format": "jinja2-template",
        "description": description,
        "x-expected": expected,
        **more,
    }


_SPEC_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "description": "Wait until every CI status and check on the release commit has passed.",
    "x-expected": "a mapping: provider, repo, api_url, wait, commit (all optional)",
    "properties": {
        "provider": {
            "type": "string",
            "enum": list(PROVIDERS),
            "description": "The forge (default: from the CI environment, else the origin remote).",
            "x-expected": "one of " + ", ".join(PROVIDERS),
        },
        "repo": _text("OWNER/NAME, or a GitLab project path or id.", "a repository like acme/api"),
        "api_url": _text(
            "The forge's API URL (default: from the CI environment or the origin remote).",
            "an http:// or https:// URL",
            pattern="^([hH][tT][tT][pP][sS]?://|\\{[{%])",
        ),
        "wait": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": f"Seconds to wait for pending checks (default {DEFAULT_WAIT_S:g}).",
            "x-expected": "a number of seconds",
        },
        "commit": _text("The commit to check (default: the release commit).", "a commit hash"),
    },
    "additionalProperties": False,
}


class CiGate(Struct, frozen=True):
    """What a ``ci`` step asks for, defaults filled in."""

    provider: str | None = None
    repo: str | None = None
    api_url: str | None = None
    wait: float = DEFAULT_WAIT_S
    commit: str | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> CiGate:
        values: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {}

        def text(key: str) -> str | None:
            value = values.get(key)
            return str(value).strip() or None if value is not None else None

        wait = values.get("wait")
        return cls(
            provider=text("provider"),
            repo=text("repo"),
            api_url=text("api_url"),
            wait=float(wait) if isinstance(wait, (int, float)) else DEFAULT_WAIT_S,
            commit=text("commit"),
        )


class CiKind:
    key = "ci"
    automated = True
    gated = False
    waits_for_every_step = False
    summary = "waits until every CI status and check on the release commit has passed"
    spec_schema: Mapping[str, Any] = _SPEC_SCHEMA
    expect_schema: Mapping[str, Any] = {}

    def default_expected(self, step: Step) -> str:
        gate = CiGate.from_spec(step.spec)
        return f"every CI check on the release commit passed (waiting up to {gate.wait:g} s)"

    def describe(self, resolved: ResolvedStep) -> str:
        gate = CiGate.from_spec(resolved.spec)
        where = LABELS.get(gate.provider or "", "the forge")
        if gate.repo:
            where += f" {gate.repo}"
        commit = gate.commit[:12] if gate.commit else "the release commit"
        return f"wait up to {gate.wait:g} s for every CI check on {commit} at {where} to pass"

    def default_rollback(self, resolved: ResolvedStep, release: Release) -> str | None:
        return NO_ROLLBACK  # a check changes nothing, so there is nothing to undo

    def execute(self, resolved: ResolvedStep, ctx: StepContext) -> Outcome:
        gate = CiGate.from_spec(resolved.spec)
        try:
            return _Poll(gate, resolved, ctx).run()
        except Interrupted:
            return Outcome(INTERRUPTED, "stopped while checking CI", reason="interrupted by Ctrl-C")
        except RelcheckError as exc:
            return Outcome(FAILED, "CI not checked", reason=exc.message)


class _Poll:
    """One step's polling: the forge client, the deadline, the interval."""

    def __init__(self, gate: CiGate, resolved: ResolvedStep, ctx: StepContext) -> None:
        from relcheck import gitrepo
        from relcheck.forge import make_forge
        from relcheck.forge.client import ForgeClient
        from relcheck.forge.detect import detect_target, find_token, token_masker, token_variables
        from relcheck.settings import project_settings

        env = resolved.env
        root = ctx.repo_root or gitrepo.find_root(resolved.cwd)
        provider = gate.provider or project_settings(resolved.cwd).provider
        target = detect_target(
            provider=provider, repo=gate.repo, api_url=gate.api_url, environ=env, root=root
        )
        self.commit = gate.commit or (ctx.release.commit if ctx.release else None)
        if not self.commit:
            raise RelcheckError(
                "no commit to check: the run recorded none (is this a git repository?); "
                "set `commit:` on this ci step"
            )
        token = find_token(target.provider, env)
        self.no_token = (
            None if token else f"no token was set ({' or '.join(token_variables(target.provider))})"
        )
        self.limit = min(gate.wait, resolved.timeout)
        self.deadline = time.monotonic() + self.limit
        self.client = ForgeClient(
            label=target.label,
            api_url=target.api_url,
            headers=token.headers() if token else {},
            masker=token_masker(env, token),
            timeout=min(REQUEST_TIMEOUT_S, self.limit),
            max_wait=self.limit,
            deadline=self.deadline,
            limit_words=f"the step's limit of {self.limit:g} s (`wait`, or its `timeout`)",
            needs="may read commit statuses and checks of this repository",
            say=ctx.say,
            log_requests=False,
            cancel=ctx.cancel,
        )
        self.forge = make_forge(target, self.client)
        self.own: OwnRun | None = self.forge.own_run(env)
        self.left_out: dict[str, Check] = {}
        self.ctx = ctx
        self.where = f"{target.label} {target.repo}"

    def run(self) -> Outcome:
        try:
            return self._poll()
        finally:
            self.client.close()

    def _poll(self) -> Outcome:
        from relcheck.forge.client import OutOfTime

        interval = FIRST_POLL_S
        short = self.commit[:12] if self.commit else ""
        self.ctx.say(f"checking CI of {short} on {self.where}")
        last: list[Check] | None = None
        unanswered = ""
        while True:
            looked = time.monotonic()
            try:
                checks = last = self._checks()
            except OutOfTime as exc:
                if last is None:
                    raise
                # The limit came during this look: what the one before saw stands.
                checks, unanswered = last, f"; the last look got no answer in time: {exc.message}"
            # Room kept for the last look, so that it too ends before the deadline.
            reserve = max(MIN_RESERVE_S, 2 * (time.monotonic() - looked))
            failed = [c for c in checks if c.state == CHECK_FAILED]
            pending = [c for c in checks if c.state == CHECK_PENDING]
            metrics = self._metrics(checks)
            if failed:
                actual = f"{len(failed)} of {len(checks)} checks failed on {short}: "
                actual += _words(checks) + self._left_out_words()
                return Outcome(FAILED, actual, reason=f"failed: {_words(failed)}", metrics=metrics)
            if not pending:
                actual = _passed_words(checks, short) + self._left_out_words()
                return Outcome(PASSED, actual, metrics=metrics)
            pause = min(interval, self.deadline - time.monotonic() - reserve)
            if pause <= 0:
                return Outcome(
                    FAILED,
                    f"{len(pending)} of {len(checks)} checks still pending on {short}: "
                    f"{_words(checks)}{self._left_out_words()}",
                    reason=f"still pending after {self.limit:g} s: {_words(pending)}; raise "
                    f"`wait` (and the step's `timeout`) or look at the CI run{unanswered}",
                    metrics=metrics,
                )
            self.ctx.say(f"pending: {_words(pending)}; looking again in {pause:.0f} s")
            if self.ctx.cancel.wait(pause):
                raise Interrupted("stopped while waiting for CI")
            interval = min(interval * 2, MAX_POLL_S)

    def _checks(self) -> list[Check]:
        """The commit's checks, leaving out (and saying so, once) those of this CI run."""
        from relcheck.forge.client import ForgeError, OutOfTime

        try:
            checks = self.forge.checks(self.commit or "")
        except OutOfTime:
            raise
        except ForgeError as exc:
            hint = f"; {self.no_token}" if self.no_token and exc.status in (401, 403, 404) else ""
            raise RelcheckError(exc.message + hint, retry_safe=exc.retry_safe) from None
        if self.own is None:
            return checks
        mine = [check for check in checks if self.own.holds(check)]
        new = [check for check in mine if check.name not in self.left_out]
        if new:
            self.ctx.say(
                f"leaving out {_words(new)}: part of {self.own.words}, which cannot finish "
                "before this step does"
            )
        self.left_out.update((check.name, check) for check in mine)
        return [check for check in checks if not self.own.holds(check)]

    def _metrics(self, checks: Sequence[Check]) -> dict[str, Any]:
        metrics: dict[str, Any] = {
            "checks": [{"name": c.name, "conclusion": c.conclusion} for c in checks]
        }
        if self.left_out:
            metrics["left_out"] = [
                {"name": c.name, "conclusion": c.conclusion} for c in self.left_out.values()
            ]
        return metrics

    def _left_out_words(self) -> str:
        if not self.left_out or self.own is None:
            return ""
        return f"; left out, as part of {self.own.words}: {_words(list(self.left_out.values()))}"


def _words(checks: Sequence[Check]) -> str:
    shown = ", ".join(f"{c.name} ({c.conclusion})" for c in checks[:_SHOWN_CHECKS])
    more = len(checks) - _SHOWN_CHECKS
    return shown + (f" and {more} more" if more > 0 else "")


def _passed_words(checks: Sequence[Check], short: str) -> str:
    if not checks:
        return f"no statuses or checks on {short}: nothing to wait for"
    count = f"{len(checks)} check{'s' if len(checks) != 1 else ''}"
    return f"{count} passed on {short}: {_words(checks)}"
