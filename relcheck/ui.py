"""Terminal output and prompts: the only module that writes to the user's screen."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from relcheck.model import FAILED, INTERRUPTED, PASSED, SKIPPED

if TYPE_CHECKING:
    from relcheck.journal import RunRecord, StepRecord
    from relcheck.kinds.base import ResolvedStep

_MARKS = {PASSED: "✓", FAILED: "✗", SKIPPED: "-", INTERRUPTED: "!"}
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_COLORS = {PASSED: "green", FAILED: "red", SKIPPED: "yellow", INTERRUPTED: "magenta"}


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


class UI:
    """Plain, line-oriented output; timestamps when the output is not a terminal."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        is_tty = _isatty(self.stream)
        self.color = is_tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        self.timestamps = not is_tty
        self.live_view = self.color
        self._lock = threading.RLock()
        self._board_lines = 0

    def _style(self, text: str, color: str, bold: bool = False) -> str:
        if not self.color:
            return text
        import click

        return click.style(text, fg=color, bold=bold)

    def print(self, text: str = "") -> None:
        """A line of a report (status, plan, history): never timestamped."""
        self.stream.write(text + "\n")
        self.stream.flush()

    def line(self, text: str = "") -> None:
        """A line about something happening now: timestamped when not on a terminal."""
        if self.timestamps and text:
            text = f"[{datetime.now().strftime('%H:%M:%S')}] {text}"
        with self._lock:
            self._clear_board()
            self.stream.write(text + "\n")
            self.stream.flush()

    def info(self, text: str) -> None:
        self.line(text)

    def warn(self, text: str) -> None:
        self.line(self._style("warning: ", "yellow") + text)

    def step_start(self, step: ResolvedStep, attempt: int, *, describe: str) -> None:
        again = f" (attempt {attempt})" if attempt > 1 else ""
        owner = f"  [owner: {step.owner}]" if step.owner else ""
        title = self._style(f"▶ {step.id}", "cyan", bold=True)
        self.line(f"{title}: {step.step.title}{again}{owner}")
        if step.kind != "manual":
            self.line(f"  {'$ ' if step.kind == 'run' else ''}{describe}")

    def output(self, text: str) -> None:
        """A step's own output (already masked), as it comes, without timestamps."""
        if not text:
            return
        with self._lock:
            self._clear_board()
            self.stream.write(text)
            self.stream.flush()

    def step_end(self, step_id: str, status: str, detail: str) -> None:
        mark = _MARKS.get(status, "?")
        text = self._style(f"{mark} {step_id} {status}", _COLORS.get(status, "white"), bold=True)
        self.line(f"{text}: {detail}")

    def log_tail(self, path: Path, lines: int = 200) -> None:
        """The end of a failed step's log, for steps whose output was not shown live."""
        from relcheck.journal import iter_tail

        tail = list(iter_tail(path, limit=64 * 1024))[-lines:]
        with self._lock:
            self._clear_board()
            for text in tail:
                self.stream.write(f"  | {text}\n")
            self.stream.flush()

    def live(self, rows: list[tuple[str, str, float]]) -> None:
        """One line per running step with its elapsed time, redrawn in place on a terminal."""
        if not self.live_view:
            return
        with self._lock:
            self._clear_board()
            spin = _SPINNER[int(time.monotonic() * 8) % len(_SPINNER)]
            # A wrapped line would throw off the redraw, so each line fits the width.
            width = max(20, shutil.get_terminal_size().columns - 1)
            for step_id, title, elapsed in rows:
                text = f"{spin} {step_id}: {title}"[: width - 8]
                self.stream.write(f"{text}  {elapsed:5.1f}s\n")
            self._board_lines = len(rows)
            self.stream.flush()

    def live_clear(self) -> None:
        with self._lock:
            self._clear_board()
            self.stream.flush()

    def _clear_board(self) -> None:
        if self._board_lines:
            # Cursor up over the board, then erase to the end of the screen.
            self.stream.write(f"\x1b[{self._board_lines}F\x1b[J")
            self._board_lines = 0

    def summary(self, run: RunRecord) -> None:
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


def _summary_row(step: StepRecord) -> str:
    mark = _MARKS.get(step.status, " ")
    owner = step.owner or "-"
    took = f"{step.duration_s:.1f}s" if step.duration_s is not None else ""
    detail = step.reason if step.status != PASSED and step.reason else (step.actual or "")
    if step.flaky:
        detail = f"{detail} (flaky: passed on attempt {step.attempts})"
    return f"{mark} {step.id:<20} {step.status:<11} {owner:<16} {took:>7}  {detail}"


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError, AttributeError):
        return False


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


class TerminalPrompter:
    """Asks a person at the terminal."""

    def choice(self, question: str, choices: tuple[str, ...], default: str) -> str:
        while True:
            value = _read_line(f"{question} [{'/'.join(choices)}] ({default}): ").strip().lower()
            alias = _ALIASES.get(value)
            answer = (alias if alias in choices else value) if value else default
            matches = [c for c in choices if c == answer or c.startswith(answer)]
            if len(matches) == 1:
                return matches[0]
            sys.stdout.write(f"Error: please answer one of: {', '.join(choices)}\n")

    def text(self, question: str, default: str = "") -> str:
        shown = f"{question} [{default}]: " if default else f"{question}: "
        return _read_line(shown).strip() or default

    def show(self, text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
