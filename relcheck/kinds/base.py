"""The one small interface every step kind implements."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from msgspec import Struct, field

from relcheck.model import Release, Step


class ResolvedStep(Struct, frozen=True):
    """A step with its templates rendered for one run.

    ``spec`` holds the rendered kind value (secrets in clear: only for
    execution); ``shown`` is the same text with secrets masked, for output
    and the record.
    """

    step: Step
    spec: Any
    shown: str
    owner: str | None
    expected: str
    rollback: str | None
    env: Mapping[str, str]
    timeout: float
    cwd: Path
    shell: str
    skip_reason: str | None = None

    @property
    def id(self) -> str:
        return self.step.id

    @property
    def kind(self) -> str:
        return self.step.kind


class Outcome(Struct, frozen=True):
    """What a step kind reports back to the engine."""

    status: str
    actual: str
    reason: str | None = None
    note: str | None = None
    confirmed_by: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)


class Prompter(Protocol):
    """How the engine asks a person; a terminal in real runs, a script in tests."""

    def choice(self, question: str, choices: tuple[str, ...], default: str) -> str: ...

    def text(self, question: str, default: str = "") -> str: ...

    def show(self, text: str) -> None: ...


class StepContext(Struct):
    """What a kind may use while executing one step.

    ``output`` takes raw bytes for the step's log (and the terminal); it is
    masked on the way. ``say`` writes one line of evidence the same way.
    ``base_dir`` is the checklist's folder (snapshots live beside it) and
    ``repo_root`` the git work tree the run is in, if any.
    """

    output: Callable[[bytes], None]
    captured_output: Callable[[], str]
    on_process_start: Callable[[int], None] = field(default=lambda pgid: None)
    cancel: threading.Event = field(default_factory=threading.Event)
    prompter: Prompter | None = None  # None: nobody to ask (answers come from a file)
    answer: Mapping[str, Any] | None = None
    answers_file: str | None = None
    release: Release | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    repo_root: Path | None = None
    update_snapshots: bool = False

    def say(self, text: str) -> None:
        self.output((text.rstrip("\n") + "\n").encode("utf-8"))


class StepKind(Protocol):
    """A kind of step: ``run``, ``manual``, and later ``http``, ``config``...

    ``key`` is the checklist key that selects the kind. A kind that
    ``waits_for_every_step`` (the tag) starts only when every required step
    before it passed, whatever its ``needs`` says. A ``gated`` kind's command waits
    behind :mod:`relcheck.proc`'s gate until ``on_process_start`` returned, so the
    record of its start is synced there, once the process exists; any other kind's
    start is synced before ``execute`` is called. ``spec_schema`` is
    the JSON Schema of that key's value and ``expect_schema`` the properties
    its ``expect`` mapping allows; the validator and ``relcheck schema`` are
    both derived from them.
    """

    key: str
    automated: bool
    gated: bool
    waits_for_every_step: bool
    summary: str
    spec_schema: Mapping[str, Any]
    expect_schema: Mapping[str, Any]

    def default_expected(self, step: Step) -> str:
        """The expected result in words, when the step does not say it."""
        ...

    def describe(self, resolved: ResolvedStep) -> str:
        """One line saying exactly what will happen (plan, dry-run), secrets masked."""
        ...

    def default_rollback(self, resolved: ResolvedStep, release: Release) -> str | None:
        """A rollback derived from the step itself (e.g. deleting a tag), or None."""
        ...

    def execute(self, resolved: ResolvedStep, ctx: StepContext) -> Outcome: ...
