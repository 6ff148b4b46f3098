"""Terminal output and prompts: the only module that writes to the user's screen.

A run is shown one of three ways:

- at a terminal that takes colour, a live view (rich, imported only then): one
  line per step with a spinner and the elapsed time while it runs, its mark
  when it ends, and a summary table with owners and durations at the end;
- otherwise (``NO_COLOR``, ``TERM=dumb``, a pipe, a CI log) plain timestamped
  lines, with the escape codes of step output stripped;
- in GitHub Actions or GitLab CI, the plain lines with each step's log in a
  collapsible group (section), and an annotation for each failed step.

``-q`` keeps only failures and the summary; ``-v`` streams every command's output.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from msgspec import Struct, field

from relcheck.ci_output import (
    GITHUB,
    GITHUB_ENDGROUP,
    EscapeStripper,
    ci_system,
    github_error,
    github_group,
    github_stop_commands,
    gitlab_section_end,
    gitlab_section_name,
    gitlab_section_start,
    strip_escapes,
)
from relcheck.model import FAILED, INTERRUPTED, PASSED, PENDING, RUNNING, SKIPPED

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from relcheck.journal import RunRecord, StepRecord
    from relcheck.kinds.base import ResolvedStep

QUIET = -1
NORMAL = 0
VERBOSE = 1

_MARKS = {PASSED: "✓", FAILED: "✗", SKIPPED: "-", INTERRUPTED: "!", PENDING: "·"}
_COLORS = {PASSED: "green", FAILED: "red", SKIPPED: "yellow", INTERRUPTED: "magenta"}
# What the plain output and a CI group show of a step's log, at most.
_SHOWN_LOG_BYTES = 1024 * 1024


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


class _StepView(Struct):
    """What the screen knows of a step in this walk."""

    started: float  # time.monotonic() at its first attempt in this walk
    log: Path
    log_offset: int  # where this walk's attempts begin in the log
    streamed: bool  # its output is shown as it comes
    grouped: bool = False  # a CI group (section) is open for it


class _WalkView(Struct):
    record: RunRecord
    jobs: int
    steps: dict[str, _StepView] = field(default_factory=dict)
    board: _Board | None = None


class UI:
    """Everything a command shows; the engine calls its hooks as steps start and end."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        verbosity: int = NORMAL,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.stream = stream or sys.stdout
        env = os.environ if environ is None else environ
        is_tty = _isatty(self.stream)
        self.ci = ci_system(env)
        self.color = is_tty and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
        self.timestamps = not self.color
        # A CI log cannot redraw lines, even when the job gives it a terminal.
        self.live_view = self.color and self.ci is None
        self.quiet = verbosity <= QUIET
        self.verbose = verbosity >= VERBOSE
        self._lock = threading.RLock()
        self._walk: _WalkView | None = None
        self._strippers: dict[str | None, EscapeStripper] = {}
        self._partial: dict[str | None, str] = {}  # step output not yet ended by a newline
        self._at_line_start = True
        # While a person is asked something, what steps running meanwhile print waits
        # here (None: nobody is being asked), so it never lands in the prompt's line.
        self._held: list[str] | None = None
        self._commands_on: dict[str, str] = {}  # per open GitHub group: the line ending it

    # ------------------------------------------------------------ plain writing

    def _style(self, text: str, color: str, bold: bool = False) -> str:
        if not self.color:
            return text
        import click

        return click.style(text, fg=color, bold=bold)

    def print(self, text: str = "") -> None:
        """A line of a report (status, plan, history): never timestamped."""
        with self._lock:
            self._write(text + "\n")

    def line(self, text: str = "") -> None:
        """A line about something happening now: timestamped in plain output."""
        if self.timestamps and text:
            text = f"[{datetime.now().strftime('%H:%M:%S')}] {text}"
        with self._lock:
            board = self._board()
            if board is not None:
                board.say(text)
                return
            self._write(text + "\n")

    def _raw_line(self, text: str) -> None:
        """A line that must start the line as it is: CI workflow commands and section markers."""
        with self._lock:
            self._write(text + "\n")

    def _write(self, text: str) -> None:
        if not self._at_line_start and not text.startswith("\n"):
            text = "\n" + text  # a step's last output line had no newline of its own
        self._emit(text)

    def _emit(self, text: str) -> None:
        self._at_line_start = text.endswith("\n")
        if self._held is not None and threading.current_thread() is not threading.main_thread():
            self._held.append(text)
            return
        self.stream.write(text)
        self.stream.flush()

    def info(self, text: str) -> None:
        if not self.quiet:
            self.line(text)

    def warn(self, text: str) -> None:
        self.line(self._style("warning: ", "yellow") + text)

    # ------------------------------------------------------------ a walk

    def walk_started(self, record: RunRecord, *, jobs: int) -> None:
        """A walk of ``record`` begins: the live view starts (at a terminal)."""
        with self._lock:
            self._walk = _WalkView(record, jobs)
            if self.live_view and not self.quiet:
                self._walk.board = _Board(self, self._walk)
                self._walk.board.start()

    def streams_output(self, *, parallel: bool) -> bool:
        """Whether an automated step's output is shown as it comes (else its log, later)."""
        if self.quiet:
            return False
        if self.ci is not None:
            return not parallel  # groups cannot interleave
        if self.live_view:
            return self.verbose
        return self.verbose or not parallel

    def step_start(self, step: ResolvedStep, attempt: int, *, describe: str) -> None:
        with self._lock:
            automated = step.kind != "manual"
            view = self._view(step, automated)
            if self.quiet:
                return
            again = f" (attempt {attempt})" if attempt > 1 else ""
            owner = f"  [owner: {step.owner}]" if step.owner else ""
            board = self._board()
            if board is not None:
                # The board shows it; a person about to be asked, or -v, needs a heading.
                if not automated or self.verbose:
                    board.say(f"▶ {step.step.title}{again}{owner}", style="bold cyan")
                    if automated and describe:
                        board.say(f"  {'$ ' if step.kind == 'run' else ''}{describe}")
                return
            title = self._style(f"▶ {step.id}", "cyan", bold=True)
            self.line(f"{title}: {step.step.title}{again}{owner}")
            if automated:
                self.line(f"  {'$ ' if step.kind == 'run' else ''}{describe}")
            if view is not None and view.streamed and automated and not view.grouped:
                self._open_group(step.id, step.step.title)
                view.grouped = True

    def _view(self, step: ResolvedStep, automated: bool) -> _StepView | None:
        walk = self._walk
        if walk is None:
            return None
        view = walk.steps.get(step.id)
        if view is None:
            log = walk.record.folder / "logs" / f"{step.id}.log"
            streamed = not automated or self.streams_output(parallel=walk.jobs > 1)
            view = _StepView(time.monotonic(), log, _size(log), streamed)
            walk.steps[step.id] = view
        return view

    def output(self, text: str, *, step: str | None = None) -> None:
        """A step's own output (already masked), as it comes, without timestamps."""
        if not text:
            return
        with self._lock:
            board = self._board()
            if board is not None:
                lines = self._lines(step, text)
                if lines:
                    board.say_output("\n".join(lines))
                return
            if not self.color:
                text = self._strippers.setdefault(step, EscapeStripper()).feed(text)
            walk = self._walk
            if step is not None and walk is not None and walk.jobs > 1:
                # Side by side (-v): whole lines, each labelled with its step.
                text = "".join(f"[{step}] {line}\n" for line in self._lines(step, text))
            if text:
                self._emit(text)

    def _lines(self, step: str | None, text: str) -> list[str]:
        """Complete lines of a step's output; the unfinished rest waits for more."""
        *lines, rest = (self._partial.pop(step, "") + text).split("\n")
        if rest:
            self._partial[step] = rest
        return lines

    def _end_output(self, step: str) -> None:
        """The step ended: what it printed without a final newline is shown now."""
        self._strippers.pop(step, None)
        rest = self._partial.pop(step, None)
        if rest:
            board = self._board()
            if board is not None:
                board.say_output(rest)
            else:
                self._emit(f"[{step}] {rest}\n")

    def step_end(self, step_id: str, status: str, detail: str) -> None:
        with self._lock:
            self._resume_board()
            self._end_output(step_id)
            view = self._walk.steps.get(step_id) if self._walk else None
            if view is not None and view.grouped:
                self._close_group(step_id)
                view.grouped = False
            failed = status in (FAILED, INTERRUPTED)
            if self.quiet and not failed:
                return
            self._step_end_line(step_id, status, detail)
            if view is not None and not view.streamed and status != SKIPPED:
                if self.ci is not None and not self.quiet:
                    self._grouped_log(step_id, view)
                elif failed:
                    self._show_log(view)
            if status == FAILED and self.ci == GITHUB:
                self._raw_line(github_error(self._title(step_id), detail))

    def _step_end_line(self, step_id: str, status: str, detail: str) -> None:
        mark = _MARKS.get(status, "?")
        board = self._board()
        if board is not None:
            if status in (FAILED, INTERRUPTED):  # the board shows the rest
                board.say(f"{mark} {self._title(step_id)}: {detail}", style=_COLORS[status])
            return
        text = self._style(f"{mark} {step_id} {status}", _COLORS.get(status, "white"), bold=True)
        self.line(f"{text}: {detail}")

    def _title(self, step_id: str) -> str:
        record = self._walk.record if self._walk else None
        step = record.steps.get(step_id) if record else None
        return step.title if step else step_id

    def _open_group(self, step_id: str, title: str) -> None:
        if self.ci == GITHUB:
            self._raw_line(github_group(title))
            stop, self._commands_on[step_id] = github_stop_commands()
            self._raw_line(stop)
        elif self.ci is not None:
            self._raw_line(gitlab_section_start(gitlab_section_name(step_id), title))

    def _close_group(self, step_id: str) -> None:
        if self.ci == GITHUB:
            self._raw_line(self._commands_on.pop(step_id))
            self._raw_line(GITHUB_ENDGROUP)
        elif self.ci is not None:
            self._raw_line(gitlab_section_end(gitlab_section_name(step_id)))

    def _grouped_log(self, step_id: str, view: _StepView) -> None:
        """A step that ran side by side: its log in a group, once it ended."""
        self._open_group(step_id, self._title(step_id))
        self._write(_log_since(view.log, view.log_offset, prefix=""))
        self._close_group(step_id)

    def _show_log(self, view: _StepView) -> None:
        text = _log_since(view.log, view.log_offset, prefix="  | ")
        board = self._board()
        if board is not None:
            board.say_output(text.rstrip("\n"))
        else:
            self._write(text)

    def log_tail(self, path: Path, lines: int = 200) -> None:
        """The end of a log, for output that was not shown live."""
        from relcheck.journal import iter_tail

        tail = list(iter_tail(path, limit=64 * 1024))[-lines:]
        with self._lock:
            self._write("".join(f"  | {strip_escapes(text)}\n" for text in tail))

    def live(self, rows: list[tuple[str, str, float]]) -> None:
        """Called while steps run: the live view redraws itself; this resumes it after a prompt."""
        with self._lock:
            self._resume_board()

    def live_clear(self) -> None:
        """The walk is over: the live view goes (the summary table follows)."""
        with self._lock:
            walk, self._walk = self._walk, None
            if walk is not None and walk.board is not None:
                walk.board.stop()
            self._release_held()
            for step in list(self._partial):
                if step is not None:
                    self._end_output(step)

    @contextlib.contextmanager
    def prompting(self) -> Iterator[None]:
        """A person is asked something: the live view makes way until the walk goes on,
        and what steps running meanwhile print waits until then, out of the prompt's line."""
        with self._lock:
            board = self._board()
            if board is not None:
                board.pause()
            elif self._walk is not None:
                self._release_held()  # what came since the last answer, before this prompt
                self._held = []
        yield

    def _board(self) -> _Board | None:
        return self._walk.board if self._walk is not None else None

    def _resume_board(self) -> None:
        # Only the main thread resumes: it is the one that prompts, so when it is
        # here again the prompt is over. What steps running meanwhile printed waited
        # (see ``prompting``) and shows now, above the board.
        if threading.current_thread() is not threading.main_thread():
            return
        board = self._board()
        if board is not None:
            board.resume()
        self._release_held()

    def _release_held(self) -> None:
        held, self._held = self._held, None
        if held:
            self.stream.write("".join(held))
            self.stream.flush()

    # ------------------------------------------------------------ the end

    def summary(self, run: RunRecord) -> None:
        if self.live_view:
            with self._lock:
                _summary_table(self, run)
            return
        self.print()
        self.print(
            f"Run {run.run_id}: {self._run_state(run.state)}  "
            f"(release {run.version}, tag {run.tag})"
        )
        for step in run.ordered_steps():
            self.print("  " + _summary_row(step))

    def _run_state(self, state: str) -> str:
        color = {"passed": "green", "failed": "red", "partial": "yellow"}.get(state, "magenta")
        return self._style(state.upper(), color, bold=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _log_since(path: Path, offset: int, *, prefix: str) -> str:
    """The log from ``offset`` (this walk's attempts), at most its last MiB, escape codes out."""
    try:
        with open(path, "rb") as log:
            size = log.seek(0, os.SEEK_END)
            start = max(offset, size - _SHOWN_LOG_BYTES)
            log.seek(start)
            data = log.read()
    except OSError:
        return ""
    text = strip_escapes(data.decode("utf-8", errors="replace"))
    lines = text.splitlines()
    if start > offset:
        lines.insert(0, f"... (the first {start - offset} bytes are left out; the log has all)")
    return "".join(f"{prefix}{line}\n" for line in lines)


def _summary_row(step: StepRecord) -> str:
    mark = _MARKS.get(step.status, " ")
    owner = step.owner or "-"
    took = f"{step.duration_s:.1f}s" if step.duration_s is not None else ""
    detail = _detail(step)
    return f"{mark} {step.id:<20} {step.status:<11} {owner:<16} {took:>7}  {detail}"


def _detail(step: StepRecord) -> str:
    detail = step.reason if step.status != PASSED and step.reason else (step.actual or "")
    if step.flaky:
        detail = f"{detail} (flaky: passed on attempt {step.attempts})"
    return detail


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError, AttributeError):
        return False


# ---------------------------------------------------------------- the live view (rich)


class _Board:
    """One line per step, redrawn in place; lines printed meanwhile go above it."""

    def __init__(self, ui: UI, walk: _WalkView) -> None:
        self.walk = walk
        self.console = _console(ui.stream)
        self._live: Live | None = None
        self._spinners: dict[str, Any] = {}
        # Lines said while a prompt has the screen, shown when the board comes back.
        self._held: list[RenderableType] | None = None

    def start(self) -> None:
        from rich.live import Live

        if self._live is None:
            self._live = Live(
                console=self.console,
                get_renderable=self.render,
                refresh_per_second=10,
                transient=True,  # the summary table takes its place
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()
        self._show_held()

    def pause(self) -> None:
        """A prompt takes the screen: the board goes, and lines said meanwhile wait."""
        self.stop()
        self._held = []

    def resume(self) -> None:
        self._show_held()
        self.start()

    def _show_held(self) -> None:
        held, self._held = self._held, None
        for item in held or ():
            self.console.print(item, soft_wrap=True)

    def _say(self, item: RenderableType) -> None:
        # The main thread is the one that prompts: what it says comes between prompts.
        if self._held is not None and threading.current_thread() is not threading.main_thread():
            self._held.append(item)
        else:
            self.console.print(item, soft_wrap=True)

    def say(self, text: str, *, style: str | None = None) -> None:
        from rich.text import Text

        self._say(Text(text, style=style or ""))

    def say_output(self, text: str) -> None:
        """Lines of step output, in one print: the board is redrawn once below them."""
        from rich.text import Text

        self._say(Text.from_ansi(text))

    def render(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        steps = list(self.walk.record.steps.values())
        done = sum(1 for step in steps if step.status in (PASSED, FAILED, SKIPPED))
        record = self.walk.record
        head = Text(f"release {record.version}: {done}/{len(steps)} steps done", style="dim")
        table = Table.grid(padding=(0, 1))
        table.add_column(width=1, no_wrap=True)
        table.add_column(no_wrap=True, overflow="ellipsis", max_width=48)
        table.add_column(no_wrap=True, overflow="ellipsis", style="dim", max_width=20)
        table.add_column(no_wrap=True, justify="right")
        table.add_column(no_wrap=True, overflow="ellipsis", style="dim")
        for step in steps:
            table.add_row(*self._row(step))
        return Group(head, table)

    def _row(self, step: StepRecord) -> tuple[Any, ...]:
        from rich.text import Text

        if step.status == RUNNING:
            view = self.walk.steps.get(step.id)
            elapsed = time.monotonic() - view.started if view else 0.0
            spinner = self._spinner(step.id)
            return (
                spinner,
                Text(step.title, style="bold"),
                step.owner or "",
                f"{elapsed:.1f}s",
                "",
            )
        self._spinners.pop(step.id, None)
        mark = Text(_MARKS.get(step.status, "?"), style=_COLORS.get(step.status, "dim"))
        took = f"{step.duration_s:.1f}s" if step.duration_s is not None else ""
        title = Text(step.title, style="dim" if step.status == PENDING else "")
        detail = "" if step.status in (PASSED, PENDING) else (step.reason or step.actual or "")
        return (mark, title, step.owner or "", took, detail)

    def _spinner(self, step_id: str) -> Any:
        from rich.spinner import Spinner

        spinner = self._spinners.get(step_id)
        if spinner is None:
            spinner = self._spinners[step_id] = Spinner("dots", style="cyan")
        return spinner


def _console(stream: IO[str]) -> Console:
    from rich.console import Console

    return Console(file=stream, highlight=False, emoji=False, markup=False)


def _summary_table(ui: UI, run: RunRecord) -> None:
    """The summary at a terminal: a table with each step's owner and duration."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    color = {"passed": "green", "failed": "red", "partial": "yellow"}.get(run.state, "magenta")
    title = Text.assemble(
        f"Run {run.run_id}: ",
        (run.state.upper(), f"bold {color}"),
        f"  (release {run.version}, tag {run.tag})",
    )
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("")
    table.add_column("Step", overflow="fold")
    table.add_column("Status")
    table.add_column("Owner", overflow="fold")
    table.add_column("Took", justify="right")
    table.add_column("Result", overflow="fold")
    for step in run.ordered_steps():
        style = _COLORS.get(step.status, "dim")
        took = f"{step.duration_s:.1f}s" if step.duration_s is not None else ""
        table.add_row(
            Text(_MARKS.get(step.status, " "), style=style),
            Text(step.title) + Text(f"  {step.id}", style="dim")
            if step.title != step.id
            else Text(step.id),
            Text(step.status, style=style),
            step.owner or "-",
            took,
            _detail(step),
        )
    console = _console(ui.stream)
    console.print()
    console.print(table)
    ui._at_line_start = True


# The usual ways people say yes and no at a prompt.
_ALIASES = {
    "y": "done",
    "yes": "done",
    "ok": "done",
    "n": "failed",
    "no": "failed",
    "fail": "failed",
}


def _read_line(prompt: str) -> str:
    """One line from the terminal, waiting in short slices.

    A plain blocking read can miss a Ctrl-C that lands between the prompt being
    printed and the read starting (Python only acts on a signal between
    instructions); waiting in slices returns to Python often enough to act on
    it. End of input (a closed terminal) counts as Ctrl-C: the run is saved.
    """
    import select

    sys.stdout.write(prompt)
    sys.stdout.flush()
    while not select.select([sys.stdin], [], [], 0.2)[0]:
        pass
    line = sys.stdin.readline()
    if not line:
        raise KeyboardInterrupt
    return line.rstrip("\r\n")


def _answer(value: str, choices: tuple[str, ...], default: str) -> str | None:
    """The choice an answer means: empty is the default; y/yes/n/no and any unique prefix work."""
    value = value.strip().lower()
    if not value:
        return default
    alias = _ALIASES.get(value)
    answer = alias if alias in choices else value
    matches = [c for c in choices if c == answer] or [c for c in choices if c.startswith(answer)]
    return matches[0] if len(matches) == 1 else None


def _accepted(choices: tuple[str, ...], default: str) -> str:
    """The answers a choice accepts, said after an answer it did not."""
    short = []
    for choice in choices:
        letter = next((a for a, c in _ALIASES.items() if c == choice and len(a) == 1), None)
        if letter is None and sum(1 for c in choices if c[0] == choice[0]) == 1:
            letter = choice[0]
        if letter:
            short.append(f"{letter} = {choice}")
    hints = ", ".join([*short, f"empty = {default}"])
    return f"please answer one of: {', '.join(choices)} ({hints})"


class TerminalPrompter:
    """Asks a person at the terminal; the live view makes way while it asks."""

    def __init__(self, ui: UI | None = None) -> None:
        self.ui = ui

    def _prompting(self) -> contextlib.AbstractContextManager[None]:
        return self.ui.prompting() if self.ui is not None else contextlib.nullcontext()

    def _question(self, text: str) -> str:
        if self.ui is not None and self.ui.color:
            import click

            return click.style(text, bold=True)
        return text

    def choice(self, question: str, choices: tuple[str, ...], default: str) -> str:
        with self._prompting():
            while True:
                shown = f"{self._question(question)} [{'/'.join(choices)}] ({default}): "
                answer = _answer(_read_line(shown), choices, default)
                if answer is not None:
                    return answer
                sys.stdout.write(f"Error: {_accepted(choices, default)}\n")

    def text(self, question: str, default: str = "") -> str:
        with self._prompting():
            question = self._question(question)
            shown = f"{question} [{default}]: " if default else f"{question}: "
            return _read_line(shown).strip() or default

    def show(self, text: str) -> None:
        with self._prompting():
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
