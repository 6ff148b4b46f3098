"""What CI systems and pipes see: GitHub and GitLab markers, plain lines, -q/-v, JSON fields."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Invoke, Repo

from relcheck.ci_output import EscapeStripper, github_error

CHECKLIST = """\
version: 1
defaults: {owner: Ada}
steps:
  - id: build
    title: Build the package
    run: printf '\\033[1;32mbuilt\\033[0m ok\\n'
    rollback: none
  - id: unit
    title: "Unit tests: fast, then slow"
    run: echo 'collected 3 items'; echo '1 failed'; exit 1
    owner: Grace
    rollback: none
  - id: tag
    run: echo tagging
    rollback: none
"""


def run_relcheck(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """relcheck as a real process with its output on a pipe, as in a CI job.

    Decoded by hand: text mode would turn the ``\\r`` of GitLab's markers into newlines.
    """
    done = subprocess.run(
        [sys.executable, "-m", "relcheck", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def group_output(lines: list[str], title: str) -> list[str]:
    """What a step printed in its GitHub group, checked to sit between a stop-commands
    line and the line with its token, which start workflow commands again."""
    start = lines.index(f"::group::{title}")
    stop = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", lines[start + 1])
    assert stop, lines[start : start + 2]
    end = lines.index(f"::{stop[1]}::", start)
    assert lines[end + 1] == "::endgroup::"
    return lines[start + 2 : end]


def test_github_actions_groups_annotations_and_summary(repo: Repo, tmp_path: Path) -> None:
    repo.checklist(CHECKLIST)
    summary = tmp_path / "step-summary.md"
    summary.write_text("# Earlier step\n")
    done = run_relcheck(
        repo.path,
        "run",
        "--release",
        "1.0.0",
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert group_output(lines, "Build the package") == ["built ok"]  # colour codes stripped
    assert group_output(lines, "Unit tests: fast, then slow") == ["collected 3 items", "1 failed"]
    errors = [line for line in lines if line.startswith("::error")]
    assert errors == [
        "::error title=Unit tests%3A fast%2C then slow::expected exit code 0, got 1",
    ]
    text = summary.read_text()
    assert text.startswith("# Earlier step\n")  # appended, never replaced
    assert "release 1.0.0, ❌ not release-ready" in text
    assert "| ✅ | Build the package (`build`) | passed | Ada |" in text
    assert "| ❌ | Unit tests: fast, then slow (`unit`) | **failed** | Grace |" in text
    assert "| ⏸️ | tag (`tag`) | **pending** |" in text


def test_github_groups_of_steps_side_by_side_hold_their_own_log(repo: Repo) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: a
    run: echo from-a; sleep 0.3; echo a-again
    needs: []
    rollback: none
  - id: b
    run: echo from-b
    needs: []
    rollback: none
""")
    done = run_relcheck(
        repo.path, "run", "--release", "1.0.0", "-j", "2", env={"GITHUB_ACTIONS": "true"}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    groups = re.findall(r"^::group::(\w+)\n(.*?)^::endgroup::$", done.stdout, re.M | re.S)
    body = dict(groups)
    assert sorted(body) == ["a", "b"]
    assert "from-a\na-again" in body["a"] and "from-b" not in body["a"]
    assert "from-b" in body["b"]


def test_a_steps_output_cannot_issue_github_workflow_commands(repo: Repo) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: build
    run: echo '::error::x'; echo '::endgroup::'
    rollback: none
""")
    done = run_relcheck(repo.path, "run", "--release", "1.0.0", env={"GITHUB_ACTIONS": "true"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert group_output(done.stdout.splitlines(), "build") == ["::error::x", "::endgroup::"]


def test_gitlab_sections_and_no_other_escape_codes(repo: Repo) -> None:
    repo.checklist(CHECKLIST)
    done = run_relcheck(repo.path, "run", "--release", "1.0.0", env={"GITLAB_CI": "true"})
    out = done.stdout
    start = re.search(
        r"^\x1b\[0Ksection_start:(\d+):relcheck_build\[collapsed=true\]\r\x1b\[0K"
        r"Build the package\n",
        out,
        re.M,
    )
    end = re.search(r"^\x1b\[0Ksection_end:(\d+):relcheck_build\r\x1b\[0K$", out, re.M)
    assert start and end, out
    assert out[start.end() : end.start()] == "built ok\n"
    assert "relcheck_unit[collapsed=true]" in out
    markers = re.sub(r"\x1b\[0Ksection_(start|end):[^\r]*\r\x1b\[0K", "", out)
    assert "\x1b" not in markers  # every other escape code is stripped


def test_without_a_terminal_lines_are_plain_and_timestamped(repo: Repo) -> None:
    repo.checklist(CHECKLIST)
    done = run_relcheck(repo.path, "run", "--release", "1.0.0", env={})
    assert "\x1b" not in done.stdout
    assert re.search(r"^\[\d\d:\d\d:\d\d\] ▶ build: Build the package", done.stdout, re.M)
    assert re.search(r"^\[\d\d:\d\d:\d\d\] ✗ unit failed: expected exit code 0", done.stdout, re.M)
    assert "::group::" not in done.stdout and "section_start" not in done.stdout


def test_quiet_prints_only_failures_and_the_summary(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    out = relcheck("run", "--release", "1.0.0", "-q", code=1).output
    assert "▶" not in out and "built ok" not in out and "build passed" not in out
    assert "✗ unit failed: expected exit code 0, got 1" in out
    assert "  | 1 failed" in out  # the failed step's log, since it was not streamed
    assert "Run " in out and "FAILED" in out and "build " in out  # the summary
    result = relcheck("run", "-q", "-v", code=2)
    assert "-q/--quiet and -v/--verbose" in result.output


def test_verbose_streams_every_command_side_by_side(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: a
    run: printf 'from-%s\\n' a
    needs: []
    rollback: none
  - id: b
    run: printf 'from-%s\\n' b
    needs: []
    rollback: none
""")
    normal = relcheck("run", "--release", "1.0.0", "-j", "2").output
    assert "from-a" not in normal
    verbose = relcheck("run", "--release", "1.0.0", "-j", "2", "-v").output
    assert "[a] from-a" in verbose and "[b] from-b" in verbose


def test_report_is_the_status_object(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "1.0.0", "--report", "out/run.json", code=1)
    report = json.loads((repo.path / "out" / "run.json").read_text())
    assert report == json.loads(relcheck("status", "--json").output)


# The field names scripts rely on (README, "JSON output"): never renamed or removed.
PLAN_FIELDS = {"checklist", "checklist_sha256", "release", "steps"}
PLAN_STEP_FIELDS = {
    "id",
    "title",
    "kind",
    "required",
    "owner",
    "expected",
    "rollback",
    "command",
    "action",
    "needs",
    "retries",
    "timeout_s",
    "skipped_by_when",
}
STATUS_FIELDS = {
    "run_id",
    "state",
    "checklist",
    "checklist_sha256",
    "release",
    "started_at",
    "finished_at",
    "steps",
    "rollbacks",
    "signoffs",
}
STATUS_STEP_FIELDS = {
    "id",
    "title",
    "kind",
    "required",
    "status",
    "owner",
    "expected",
    "actual",
    "rollback",
    "command",
    "reason",
    "note",
    "confirmed_by",
    "attempts",
    "flaky",
    "blocked",
    "metrics",
    "started_at",
    "finished_at",
    "duration_s",
    "log",
}
HISTORY_FIELDS = {"run_id", "state", "version", "started_at", "finished_at"}


def test_json_field_names_are_stable_and_documented(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck("run", "--release", "1.0.0", code=1)
    plan = json.loads(relcheck("plan", "--json").output)
    status = json.loads(relcheck("status", "--json").output)
    history = json.loads(relcheck("history", "--json").output)
    missing = {
        "plan": PLAN_FIELDS - set(plan),
        "plan step": PLAN_STEP_FIELDS - set(plan["steps"][0]),
        "plan release": {"version", "tag", "commit"} - set(plan["release"]),
        "status": STATUS_FIELDS - set(status),
        "status step": STATUS_STEP_FIELDS - set(status["steps"][0]),
        "status release": {"version", "tag", "commit"} - set(status["release"]),
        "history": HISTORY_FIELDS - set(history[0]),
    }
    assert {name: fields for name, fields in missing.items() if fields} == {}
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    start = readme.index("## JSON output")
    section = readme[start : readme.index("\n## ", start)]
    documented = set(re.findall(r"`([a-z_0-9]+)(?:\[\])?`", section))
    every = PLAN_FIELDS | PLAN_STEP_FIELDS | STATUS_FIELDS | STATUS_STEP_FIELDS | HISTORY_FIELDS
    assert every - documented == set()


ANNOTATIONS = [
    (
        "Deploy: eu, us",
        "50% done\nthen: failed",
        "::error title=Deploy%3A eu%2C us::50%25 done%0Athen: failed",
    ),
    ("a\r\nb", "c,d", "::error title=a%0D%0Ab::c,d"),
]


@pytest.mark.parametrize(("title", "message", "line"), ANNOTATIONS)
def test_annotation_escaping(title: str, message: str, line: str) -> None:
    assert github_error(title, message) == line


def test_escape_codes_split_between_chunks_are_stripped() -> None:
    stripper = EscapeStripper()
    chunks = ["\x1b[1", ";31mred\x1b", "[0m plain \x1b]0;title", "\x07end\n"]
    assert "".join(stripper.feed(chunk) for chunk in chunks) == "red plain end\n"
