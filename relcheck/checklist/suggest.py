"""The "did you mean" hint for an unknown key: names people reach for, then edit distance."""

from __future__ import annotations

import difflib
from collections.abc import Collection

# Names people write for a key the format calls something else. A hint is
# only given when its target is allowed where the unknown key stands.
REACHED_FOR: dict[str, str] = {
    "command": "run",
    "commands": "run",
    "cmd": "run",
    "script": "run",
    "comand": "run",
    "shell_command": "run",
    "owners": "owner",
    "rollback_command": "rollback",
    "rollback_cmd": "rollback",
    "undo": "rollback",
    "depends_on": "needs",
    "depends": "needs",
    "name": "title",
    "if": "when",
    "condition": "when",
    "timeout_seconds": "timeout",
    "variables": "vars",
    "environment": "env",
    "expect_output": "expect",
    "expectation": "expected",
    "working_directory": "cwd",
    "workdir": "cwd",
    "checks": "steps",
    "tasks": "steps",
}


def did_you_mean(key: str, allowed: Collection[str]) -> str | None:
    """The allowed key ``key`` was most likely meant to be, or None."""
    folded = key.strip().lower().replace("-", "_")
    reached = REACHED_FOR.get(folded)
    if reached in allowed:
        return reached
    if folded in allowed and folded != key:
        return folded
    close = difflib.get_close_matches(folded, sorted(allowed), n=1, cutoff=0.6)
    return close[0] if close else None
