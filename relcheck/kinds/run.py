"""The ``run`` kind: a shell command whose exit code and output are checked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.model import FAILED, INTERRUPTED, PASSED, Release, Step


class RunKind:
    key = "run"
    automated = True
    gated = True  # its command waits behind relcheck.proc's gate for on_process_start
    waits_for_every_step = False
    summary = "a shell command, checked by exit code and output"
    spec_schema: Mapping[str, Any] = {
        "type": "string",
        "minLength": 1,
        "description": "Shell command to run (a Jinja2 template).",
    }
    expect_schema: Mapping[str, Any] = {
        "exit_code": {
            "type": "integer",
            "description": "Exit code the command must end with (default 0).",
        },
        "output_contains": {
            "type": "string",
            "description": "Text the combined output must contain.",
        },
        "output_matches": {
            "type": "string",
            "format": "regex",
            "description": "Regular expression the combined output must match somewhere.",
        },
    }

    def default_expected(self, step: Step) -> str:
        expect = step.expect
        parts = [f"exit code {int(expect.get('exit_code', 0))}"]
        if "output_contains" in expect:
            parts.append(f"output contains {expect['output_contains']!r}")
        if "output_matches" in expect:
            parts.append(f"output matches /{expect['output_matches']}/")
        return ", ".join(parts)

    def describe(self, resolved: ResolvedStep) -> str:
        return resolved.shown

    def default_rollback(self, resolved: ResolvedStep, release: Release) -> str | None:
        return None

    def execute(self, resolved: ResolvedStep, ctx: StepContext) -> Outcome:
        from relcheck.proc import run_command

        if not resolved.cwd.is_dir():
            return Outcome(
                FAILED,
                "not started",
                reason=f"working folder {resolved.cwd} does not exist; check the step's `cwd`",
            )
        result = run_command(
            resolved.spec,
            shell=resolved.shell,
            cwd=resolved.cwd,
            env=resolved.env,
            timeout=resolved.timeout,
            on_output=ctx.output,
            on_start=ctx.on_process_start,
            cancel=ctx.cancel,
        )
        actual = result.describe()
        if result.interrupted:
            return Outcome(INTERRUPTED, actual, reason="interrupted by Ctrl-C")
        if result.timed_out:
            return Outcome(
                FAILED,
                actual,
                reason=f"timed out after {resolved.timeout:g} s; raise `timeout` "
                "if the step needs longer",
            )
        output = ctx.captured_output()
        metrics = reported_metrics(output)
        failures = _unmet(resolved.step.expect, result.exit_code, output)
        if failures:
            return Outcome(FAILED, actual, reason="; ".join(failures), metrics=metrics)
        return Outcome(PASSED, actual, metrics=metrics)


_METRIC_LINE = re.compile(
    r"^relcheck-metric:\s*(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>\S*)\s*$",
    re.MULTILINE,
)


def reported_metrics(output: str) -> dict[str, dict[str, Any]]:
    """Figures a command reported with lines ``relcheck-metric: NAME=VALUE UNIT``
    (the last line of a name wins)."""
    return {
        match["name"]: {"value": float(match["value"]), "unit": match["unit"]}
        for match in _METRIC_LINE.finditer(output)
    }


def _unmet(expect: Mapping[str, Any], exit_code: int | None, output: str) -> list[str]:
    failures = []
    wanted = int(expect.get("exit_code", 0))
    if exit_code != wanted:
        got = "no exit code" if exit_code is None else str(exit_code)
        failures.append(f"expected exit code {wanted}, got {got}")
    contains = expect.get("output_contains")
    if contains is not None and str(contains) not in output:
        failures.append(f"expected the output to contain {str(contains)!r}; it did not")
    pattern = expect.get("output_matches")
    if pattern is not None and re.search(str(pattern), output, re.MULTILINE) is None:
        failures.append(f"expected the output to match /{pattern}/; it did not")
    return failures
