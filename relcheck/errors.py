"""The project's exceptions: each carries text a user can act on and an exit code."""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import Struct

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class Problem(Struct, frozen=True):
    """One problem found in an input file, pointing at where it is.

    ``line`` and ``col`` are 1-based; ``path`` is a key path such as
    ``steps[2].timeout`` or ``(root)`` for the whole file.
    """

    file: str
    line: int
    col: int
    path: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {prefix}{self.path}: {self.message}"


class RelcheckError(Exception):
    """Base of every error relcheck reports to a user (never with a traceback)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, retry_safe: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_safe = retry_safe

    def __str__(self) -> str:
        if self.retry_safe is None:
            return self.message
        hint = "retrying is safe" if self.retry_safe else "do not simply retry"
        return f"{self.message} ({hint})"


class UsageError(RelcheckError):
    """Bad arguments, versions, answers files or environment."""


class ConfigError(RelcheckError):
    """A checklist (or another input file) has one or more problems."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in self.problems), retry_safe=None)
        self.error_count = len(errors)


class RunLockedError(RelcheckError):
    """Another relcheck process holds the repository's run lock."""


class RecordError(RelcheckError):
    """A run record is missing or cannot be used for what was asked."""


class StepFailed(RelcheckError):
    """Raised where a failure of a step must end a command (e.g. rollback --execute)."""

    exit_code = EXIT_FAILED


class PublishError(RelcheckError):
    """Publishing a release failed or was refused; re-running ``relcheck publish`` is safe."""

    exit_code = EXIT_FAILED


class Interrupted(RelcheckError):
    """The user pressed Ctrl-C; whatever was running has been stopped and saved."""

    exit_code = EXIT_INTERRUPTED
