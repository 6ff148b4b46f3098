"""The checklist and run model: plain frozen records (msgspec Structs), no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from relcheck.errors import Problem

DEFAULT_TIMEOUT_S = 600.0
DEFAULT_SHELL = "/bin/sh"
DEFAULT_TAG_TEMPLATE = "v{{ version }}"

# Step states in a run record.
PENDING = "pending"
RUNNING = "running"
PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"
INTERRUPTED = "interrupted"
STEP_STATES = (PENDING, RUNNING, PASSED, FAILED, SKIPPED, INTERRUPTED)

# Run states.
RUN_RUNNING = "running"
RUN_PASSED = "passed"
RUN_FAILED = "failed"
RUN_PARTIAL = "partial"
RUN_INTERRUPTED = "interrupted"

# The literal value a step's rollback takes when nothing needs undoing.
NO_ROLLBACK = "none"


class Mark(Struct, frozen=True):
    """Where something was written: 1-based line and column in ``file``."""

    file: str
    line: int
    col: int


class Release(Struct, frozen=True):
    """What a run releases: the version, its tag, and the commit the run started on."""

    version: str
    tag: str
    commit: str | None
    branch: str | None


class Defaults(Struct, frozen=True):
    owner: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    shell: str = DEFAULT_SHELL


class Step(Struct, frozen=True):
    """One checklist step as written (templates not yet rendered).

    ``spec`` is the value of the step's kind key: the command for ``run``,
    the instructions for ``manual``, a mapping for kinds that take options.
    """

    id: str
    title: str
    kind: str
    spec: Any
    owner: str | None = None
    expected: str | None = None
    rollback: str | None = None
    expect: Mapping[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    required: bool = True
    when: str | bool | None = None
    cwd: str | None = None
    description: str | None = None
    needs: tuple[str, ...] | None = None
    retries: int = 0
    retry_delay: float = 1.0
    mark: Mark | None = None


class NoteGroup(Struct, frozen=True):
    """A section of the release note: Conventional Commit types -> its title."""

    title: str
    types: tuple[str, ...]


class NotesSettings(Struct, frozen=True):
    """The checklist's ``notes:`` mapping (None: the built-in defaults)."""

    groups: tuple[NoteGroup, ...] | None = None
    template: str | None = None
    merges: bool = False
    bots: tuple[str, ...] = ()


LOWER_IS_BETTER = "lower"
HIGHER_IS_BETTER = "higher"


class Checklist(Struct, frozen=True):
    """A validated checklist.

    ``source`` is how the user named it (a path or ``builtin:NAME``);
    ``base_dir`` is the folder its commands run in.
    """

    source: str
    path: Path
    base_dir: Path
    sha256: str
    version: int
    steps: tuple[Step, ...]
    name: str | None = None
    description: str | None = None
    vars: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    tag: str = DEFAULT_TAG_TEMPLATE
    notes: NotesSettings = field(default_factory=NotesSettings)
    metrics: Mapping[str, str] = field(default_factory=dict)  # metric name -> lower | higher
    warnings: tuple[Problem, ...] = ()

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
