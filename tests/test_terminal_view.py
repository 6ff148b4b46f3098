"""The live view at a real terminal (a pty), and the plain lines when colour is unwanted."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest
from conftest import Invoke, Repo
from test_terminal import Terminal

from relcheck.ci_output import strip_escapes

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

CHECKLIST = """\
version: 1
defaults: {owner: Ada}
steps:
  - id: build
    title: Build the package
    run: sleep 0.5; printf 'built-%s\\n' output
    rollback: none
  - id: docs
    title: Build the docs
    run: printf 'docs-%s\\n' broken; exit 2
    required: false
    rollback: none
  - id: staging
    title: Verify staging config
    manual: Copy the production settings to staging.
    owner: Grace
    expected: staging matches production
    rollback: restore staging.env from git
"""


def test_live_view_lines_marks_prompt_and_summary(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    term = Terminal(repo.path, "run", "--release", "1.0.0", env={"TERM": "xterm"})
    screen = term.expect("done, failed or skip?")
    # The first frame already has one line per step, the later ones still pending.
    first = screen[screen.index("steps done") :]
    first = first[: first.index("\x1b[1A")]
    assert all(title in first for title in ("Build the package", "Build the docs", "Verify"))
    assert any(frame in screen for frame in SPINNER)
    # The running step's line: its spinner, title, owner and elapsed time.
    assert re.search(rf"[{SPINNER}] Build the package +Ada +\d+\.\ds\b", strip_escapes(screen))
    assert "✗ Build the docs: expected exit code 0, got 2" in screen
    assert "docs-broken" in screen  # a failed step's log, shown when it fails
    assert "built-output" not in screen  # passed steps' output stays in their log
    assert "owner:    Grace" in screen and "rollback: restore staging.env from git" in screen
    term.send("y")
    term.expect("What did you observe?")
    term.send("flags copied")
    assert term.close() == 0, term.seen.decode()
    summary = strip_escapes(term.seen.decode()[len(screen) :])
    assert re.search(r"Step\s.*Status\s.*Owner\s.*Took", summary)
    assert re.search(r"✓.*Build the package.*passed.*Ada.*\d\.\ds", summary)
    assert re.search(r"✓.*Verify staging config.*passed.*Grace", summary)
    assert "\x1b[?25h" in term.seen.decode()[len(screen) :]  # the cursor is back
    staging = json.loads(relcheck("status", "--json").output)["steps"][2]
    assert (staging["status"], staging["note"]) == ("passed", "flags copied")


def test_verbose_streams_output_above_the_live_view(repo: Repo) -> None:
    repo.checklist(CHECKLIST)
    term = Terminal(
        repo.path, "run", "--release", "1.0.0", "--skip", "staging", "-v", env={"TERM": "xterm"}
    )
    assert term.close() == 0
    assert "built-output" in term.seen.decode()


@pytest.mark.parametrize("env", [{"NO_COLOR": "1", "TERM": "xterm"}, {"TERM": "dumb"}])
def test_no_color_and_dumb_terminals_get_plain_timestamped_lines(
    repo: Repo, env: dict[str, str]
) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: build
    title: Build the package
    run: printf '\\033[1;32mgreen\\033[0m and \\033[2Kplain\\n'
    rollback: none
""")
    term = Terminal(repo.path, "run", "--release", "1.0.0", env=env)
    assert term.close() == 0
    screen = term.seen.decode()
    assert "\x1b" not in screen
    assert "green and plain" in screen
    assert re.search(r"^\[\d\d:\d\d:\d\d\] ▶ build: Build the package", screen, re.M)
    assert re.search(r"^\[\d\d:\d\d:\d\d\] ✓ build passed", screen, re.M)


def test_ctrl_c_in_the_live_view_gives_the_cursor_back(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: slow
    title: Wait for the deploy
    run: sleep 30
    rollback: none
""")
    term = Terminal(repo.path, "run", "--release", "1.0.0", env={"TERM": "xterm"})
    term.expect("Wait for the deploy")
    term.proc.send_signal(signal.SIGINT)
    assert term.close() == 130
    screen = term.seen.decode()
    assert screen.rindex("\x1b[?25h") > screen.rindex("\x1b[?25l")
    assert json.loads(relcheck("status", "--json").output)["state"] == "interrupted"


def test_rich_is_imported_only_for_a_terminal(repo: Repo) -> None:
    repo.checklist(CHECKLIST)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "relcheck", "run", "--skip", "staging"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Build the package" in done.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "relcheck.ui" in imported
    assert not [name for name in imported if name.split(".")[0] == "rich"]


def _drain(screen: Terminal, quiet_s: float) -> str:
    """Everything on the screen once nothing more came for ``quiet_s``."""
    while select.select([screen.master], [], [], quiet_s)[0]:
        screen.seen += os.read(screen.master, 4096)
    return screen.seen.decode()


@pytest.mark.parametrize("term", ["xterm", "dumb"])
def test_steps_running_beside_a_prompt_print_after_it(repo: Repo, term: str) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: flaky
    run: sleep 0.2; echo noisy-$(wc -l < tries); echo x >> tries; exit 1
    retries: 1
    retry_delay: 0.1
    required: false
    needs: []
    rollback: none
  - id: confirm
    manual: Check the dashboard.
    owner: Grace
    needs: []
    rollback: none
""")
    (repo.path / "tries").write_text("")
    screen = Terminal(repo.path, "run", "--release", "1.0.0", "-v", "-j", "2", env={"TERM": term})
    screen.expect("done, failed or skip?")
    deadline = time.monotonic() + 20
    while (repo.path / "tries").read_text().count("x") < 2:  # both attempts printed
        assert time.monotonic() < deadline
        time.sleep(0.05)
    asked = _drain(screen, 0.3)
    prompt = strip_escapes(asked[asked.index("Check the dashboard") :])
    assert "noisy" not in prompt and "retrying" not in prompt
    screen.send("y")
    screen.expect("What did you observe?")
    screen.send("")
    assert screen.close() == 0, screen.seen.decode()
    after = strip_escapes(screen.seen.decode()[len(asked) :])
    assert "noisy-0" in after and "noisy-1" in after
    assert "flaky: attempt 1 failed" in after
