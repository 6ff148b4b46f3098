"""A person at a real terminal (a pty): the prompts a run asks and what it records."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Invoke, Repo


class Terminal:
    """relcheck running with a pseudo-terminal on stdin and stdout."""

    def __init__(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relcheck", *args],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "TERM": "dumb", **(env or {})},
        )
        os.close(slave)
        self.master = master
        self.seen = b""

    def expect(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r}; the screen shows:\n{self.seen.decode()}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk and self.proc.poll() is not None:
                    continue
                self.seen += chunk
        return self.seen.decode()

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if ready:
                    chunk = os.read(self.master, 4096)
                    if not chunk:
                        break
                    self.seen += chunk
                elif self.proc.poll() is not None:
                    break
        except OSError:
            pass
        try:
            code = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"relcheck did not end within {timeout} s; the screen shows:\n{self.seen.decode()}"
            ) from None
        finally:
            os.close(self.master)
        return code


CHECKLIST = """\
version: 1
steps:
  - id: build
    title: Build the package
    run: echo built
  - id: staging
    title: Verify staging config
    manual: Copy the production settings to staging for {{ version }}.
    owner: Grace
    expected: staging matches production
    rollback: restore staging.env from git
"""


def test_a_person_answers_every_prompt(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    term = Terminal(repo.path, "run")
    term.expect("Release version")
    term.send("2.0.0")
    term.expect("Owner of 'Build the package' [Test Captain]")
    term.send("")
    term.expect("Rollback command for 'Build the package'")
    term.send("make unbuild")
    screen = term.expect("done, failed or skip?")
    assert "Copy the production settings to staging for 2.0.0." in screen
    assert "owner:    Grace" in screen
    assert "expected: staging matches production" in screen
    assert "rollback: restore staging.env from git" in screen
    term.send("y")
    term.expect("What did you observe?")
    term.send("flags and limits copied")
    assert term.close() == 0, term.seen.decode()

    data = json.loads(relcheck("status", "--json").output)
    build, staging = data["steps"]
    assert data["release"]["version"] == "2.0.0"
    assert (build["owner"], build["rollback"]) == ("Test Captain", "make unbuild")
    assert staging["status"] == "passed"
    assert staging["note"] == "flags and limits copied"
    assert staging["confirmed_by"] == "Grace"


def test_an_unusual_answer_is_asked_again(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    term = Terminal(repo.path, "run", "--release", "1.0.0", "--skip", "build")
    term.expect("done, failed or skip?")
    term.send("maybe")
    term.expect("please answer one of: done, failed, skip")
    term.send("f")
    term.expect("What did you observe?")
    term.send("prod flags missing")
    assert term.close() == 1
    staging = json.loads(relcheck("status", "--json").output)["steps"][1]
    assert staging["status"] == "failed"
    assert staging["reason"] == "reported failed by Grace: prod flags missing"


def test_ci_true_never_prompts_even_at_a_terminal(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    term = Terminal(repo.path, "run", "--release", "1.0.0", env={"CI": "true"})
    assert term.close() == 1
    assert "done, failed or skip?" not in term.seen.decode()
    assert "Owner of" not in term.seen.decode()
    staging = json.loads(relcheck("status", "--json").output)["steps"][1]
    assert "needs a person and no answer was given" in staging["reason"]


def test_ctrl_c_at_a_prompt_saves_the_run(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    term = Terminal(repo.path, "run", "--release", "1.0.0", "--skip", "build")
    term.expect("done, failed or skip?")
    # At once: a Ctrl-C right as the prompt appears must stop the run too.
    term.proc.send_signal(signal.SIGINT)
    assert term.close() == 130
    data = json.loads(relcheck("status", "--json").output)
    assert data["state"] == "interrupted"
    assert data["steps"][1]["status"] == "interrupted"


def test_steps_side_by_side_show_live_lines_at_a_terminal(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: slow-a
    title: First slow step
    run: sleep 0.6
    needs: []
    rollback: none
  - id: slow-b
    run: sleep 0.6
    needs: []
    rollback: none
""")
    term = Terminal(repo.path, "run", "--release", "1.0.0", "--jobs", "2", env={"TERM": "xterm"})
    assert term.close() == 0
    screen = term.seen.decode()
    assert "First slow step" in screen
    assert "\x1b[1A\x1b[2K" in screen  # the live lines are redrawn in place
    assert any(frame in screen for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")  # with a spinner while they run
    data = json.loads(relcheck("status", "--json").output)
    assert [s["status"] for s in data["steps"]] == ["passed", "passed"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_step_that_ends_during_a_prompt_is_recorded_at_once(
    repo: Repo, relcheck: Invoke, sig: signal.Signals
) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: deploy
    run: sleep 0.5; echo deployed >> effects.txt
    needs: []
    rollback: none
  - id: confirm
    manual: Check the dashboard.
    needs: []
    rollback: none
""")
    term = Terminal(repo.path, "run", "--release", "1.0.0", "--jobs", "2")
    term.expect("done, failed or skip?")
    deadline = time.monotonic() + 5
    while '"step": "deploy", "status"' not in _journal_text(repo) and time.monotonic() < deadline:
        time.sleep(0.05)
    term.proc.send_signal(sig)
    term.close()
    assert '"step": "deploy", "status": "passed"' in _journal_text(repo)
    deploy, confirm = json.loads(relcheck("status", "--json").output)["steps"]
    assert (deploy["status"], confirm["status"]) == ("passed", "interrupted")
    relcheck("resume", "--non-interactive", code=1)  # the prompt is not answered here
    assert (repo.path / "effects.txt").read_text() == "deployed\n"


def _journal_text(repo: Repo) -> str:
    return "".join(p.joinpath("journal.jsonl").read_text() for p in repo.runs())
