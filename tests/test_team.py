"""Sign-off across a team: `relcheck sign` and `relcheck sync` with a bare remote and two clones."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from conftest import Invoke, Repo, git

from relcheck.journal import Journal, RunLock, replay
from relcheck.secrets import Masker

CHECKLIST = """\
version: 1
steps:
  - id: staging-config
    manual: Copy the production settings to staging.
    owner: Grace
    rollback: none
  - id: smoke-test
    manual: Click through the checkout on staging.
    owner: Ada
    rollback: none
  - id: announce
    run: echo released
    rollback: none
"""

At = Callable[..., Result]


@dataclass
class Team:
    a: Path
    b: Path
    commit: str


@pytest.fixture
def at(relcheck: Invoke, monkeypatch: pytest.MonkeyPatch) -> At:
    """Run relcheck in-process in one clone or the other."""

    def invoke(clone: Path, *args: str, code: int = 0) -> Result:
        monkeypatch.chdir(clone)
        return relcheck(*args, code=code)

    return invoke


@pytest.fixture
def waiting(repo: Repo, at: At) -> Path:
    """A run started without a terminal: its first manual step failed for want of an
    answer, the rest wait (pending)."""
    checklist = repo.checklist(CHECKLIST)
    repo.commit("add the release checklist")
    # Named by absolute paths, which the run's record then holds (and sync must not share).
    answers = repo.path / ".release" / "answers.yaml"
    answers.parent.mkdir()
    answers.write_text("owner: Release Captain\n")
    run = ("run", str(checklist), "--release", "1.0.0", "--answers", str(answers))
    at(repo.path, *run, "--non-interactive", code=1)
    return repo.path


@pytest.fixture
def team(waiting: Path, origin: Path, tmp_path: Path, at: At) -> Team:
    """Clone A synced its waiting run; clone B is a fresh clone of the same remote."""
    git(waiting, "push", "-q", "origin", "main")
    at(waiting, "sync")
    clone = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return Team(waiting, clone, git(waiting, "rev-parse", "HEAD"))


def status(at: At, clone: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(at(clone, "status", "--json").stdout)
    return data


def steps(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in data["steps"]}


def sign_then_sync(clone: Path, step: str, who: str, note: str) -> subprocess.Popen[str]:
    relcheck = f"{shlex.quote(sys.executable)} -m relcheck"
    script = (
        f"{relcheck} sign {step} --by {shlex.quote(who)} --note {shlex.quote(note)}"
        f" && {relcheck} sync"
    )
    return subprocess.Popen(
        ["/bin/sh", "-c", script],
        cwd=clone,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )


def test_two_clones_sign_at_once_and_both_see_every_signoff(
    team: Team, at: At, tmp_path: Path
) -> None:
    brought = at(team.b, "sync").output
    assert "brought in" in brought and "(new here)" in brought
    assert steps(status(at, team.b))["smoke-test"]["status"] == "pending"

    grace = sign_then_sync(team.a, "staging-config", "Grace", "copied prod settings")
    ada = sign_then_sync(team.b, "smoke-test", "Ada", "checkout works on staging")
    for process in (grace, ada):
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
    at(team.a, "sync")
    at(team.b, "sync")

    for clone in (team.a, team.b):
        data = status(at, clone)
        by_id = steps(data)
        assert by_id["staging-config"]["status"] == "passed"
        assert by_id["staging-config"]["confirmed_by"] == "Grace"
        assert by_id["staging-config"]["note"] == "copied prod settings"
        assert by_id["smoke-test"]["status"] == "passed"
        assert by_id["smoke-test"]["confirmed_by"] == "Ada"
        assert by_id["smoke-test"]["note"] == "checkout works on staging"
        signed = {s["step"]: s for s in data["signoffs"] if s["via"] == "sign"}
        assert signed["staging-config"]["who"] == "Grace"
        assert signed["smoke-test"]["note"] == "checkout works on staging"
        assert signed["smoke-test"]["when"] == by_id["smoke-test"]["finished_at"]
        assert signed["staging-config"]["when"].startswith("20")
        text = at(clone, "status").output
        assert 'smoke-test: confirmed done by Ada (with relcheck sign): "checkout works' in text

    note = git(team.a, "notes", "--ref", "relcheck", "show", team.commit)
    assert str(tmp_path) not in note
    assert '"Grace"' in note and '"Ada"' in note

    resumed = at(team.a, "resume", "--non-interactive")
    assert "echo released" in resumed.output
    final = status(at, team.a)
    assert final["state"] == "passed"
    assert steps(final)["announce"]["status"] == "passed"


def test_a_push_refused_because_a_teammate_pushed_first_is_merged_and_retried(
    team: Team, at: At, monkeypatch: pytest.MonkeyPatch
) -> None:
    import relcheck.team

    at(team.b, "sync")
    at(team.a, "sign", "staging-config", "--by", "Grace")
    real_publish = relcheck.team.publish
    calls: list[int] = []

    def teammate_pushes_first(*args: Any, **kwargs: Any) -> Any:
        # Between A's fetch and A's push, B signs and pushes: A's push is refused.
        if not calls:
            ada = sign_then_sync(team.b, "smoke-test", "Ada", "fine")
            output, _ = ada.communicate(timeout=60)
            assert ada.returncode == 0, output
        calls.append(1)
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(relcheck.team, "publish", teammate_pushes_first)
    out = at(team.a, "sync").output
    assert len(calls) == 2
    assert "merged and pushed on try 2" in out
    monkeypatch.undo()

    at(team.b, "sync")
    for clone in (team.a, team.b):
        by_id = steps(status(at, clone))
        assert by_id["staging-config"]["confirmed_by"] == "Grace"
        assert by_id["smoke-test"]["confirmed_by"] == "Ada"


def test_sync_twice_brings_nothing_twice(team: Team, at: At) -> None:
    at(team.b, "sync")
    assert "Up to date" in at(team.b, "sync").output
    assert "Up to date" in at(team.a, "sync").output
    journals = [sorted(c.glob(".relcheck/runs/*/journal.jsonl")) for c in (team.a, team.b)]
    lines = [len(files[0].read_text().splitlines()) for files in journals]
    assert lines[0] == lines[1] > 0


def test_runs_recorded_before_events_had_ids_sync_without_duplicates(
    team: Team, at: At, repo: Repo
) -> None:
    # A journal written by an older relcheck: no id, no seq on any line.
    journal = repo.runs()[-1] / "journal.jsonl"
    old = [{k: v for k, v in e.items() if k not in ("id", "seq")} for e in repo.journal()]
    journal.write_text("".join(json.dumps(e) + "\n" for e in old))
    at(team.a, "sign", "smoke-test", "--by", "Ada")
    at(team.a, "sync")
    at(team.b, "sync")
    assert "Up to date" in at(team.a, "sync").output
    assert steps(status(at, team.b))["smoke-test"]["confirmed_by"] == "Ada"
    assert status(at, team.a)["steps"] == status(at, team.b)["steps"]


def test_the_latest_signoff_decides(waiting: Path, at: At) -> None:
    at(waiting, "sign", "staging-config", "--by", "Grace", "--note", "looks right")
    failed = ("--answer", "failed", "--by", "Ada", "--note", "wrong DSN")
    at(waiting, "sign", "staging-config", *failed)
    data = status(at, waiting)
    step = steps(data)["staging-config"]
    assert (step["status"], step["confirmed_by"], step["note"]) == ("failed", "Ada", "wrong DSN")
    assert step["reason"] == "reported failed by Ada: wrong DSN"
    signed = [(s["who"], s["status"]) for s in data["signoffs"] if s["via"] == "sign"]
    assert signed == [("Grace", "passed"), ("Ada", "failed")]


def test_sign_defaults_to_git_user_name(waiting: Path, at: At) -> None:
    out = at(waiting, "sign", "smoke-test").output
    assert "confirmed done by Test Captain" in out
    assert steps(status(at, waiting))["smoke-test"]["confirmed_by"] == "Test Captain"


def test_sign_refuses_a_step_that_is_not_manual_or_does_not_exist(
    waiting: Path, at: At, repo: Repo
) -> None:
    before = repo.journal()
    assert "manual steps only" in at(waiting, "sign", "announce", code=2).output
    assert "did you mean 'smoke-test'" in at(waiting, "sign", "smoke-tset", code=2).output
    assert repo.journal() == before


def test_sign_refuses_a_run_that_passed(repo: Repo, at: At) -> None:
    repo.checklist(CHECKLIST)
    repo.commit("add the release checklist")
    answers = repo.write(
        "answers.yaml",
        "steps:\n  staging-config: {answer: done}\n  smoke-test: {answer: done}\n",
    )
    at(repo.path, "run", "--release", "1.0.0", "--answers", str(answers))
    out = at(repo.path, "sign", "smoke-test", "--answer", "failed", code=2).output
    assert "already ended passed" in out
    assert status(at, repo.path)["state"] == "passed"


def test_sign_while_a_run_is_live_here_is_refused(waiting: Path, at: At) -> None:
    lock = RunLock(waiting / ".relcheck")
    lock.acquire("someone-elses-run")
    try:
        out = at(waiting, "sign", "smoke-test", code=2).output
    finally:
        lock.release()
    assert "in progress" in out and "someone-elses-run" in out
    assert steps(status(at, waiting))["smoke-test"]["status"] == "pending"


def test_sync_names_a_missing_remote(repo: Repo, at: At) -> None:
    out = at(repo.path, "sync", "--remote", "upstream", code=2).output
    assert "no git remote named 'upstream'" in out


def test_clones_agree_on_the_latest_signoff_of_a_step_both_signed(team: Team, at: At) -> None:
    at(team.b, "sync")
    at(team.a, "sign", "smoke-test", "--by", "Grace", "--note", "fine here")
    at(team.b, "sign", "smoke-test", "--answer", "failed", "--by", "Ada", "--note", "broken")
    for clone in (team.a, team.b, team.a):
        at(clone, "sync")
    for clone in (team.a, team.b):
        data = status(at, clone)
        step = steps(data)["smoke-test"]
        assert (step["status"], step["confirmed_by"], step["note"]) == ("failed", "Ada", "broken")
        assert [s["who"] for s in data["signoffs"] if s["via"] == "sign"] == ["Grace", "Ada"]


def test_a_signoff_made_on_an_older_copy_still_wins_when_it_is_the_latest(
    team: Team, at: At
) -> None:
    at(team.b, "sync")  # B's copy stops here; A signs twice, then B once, last of all
    at(team.a, "sign", "staging-config", "--by", "Grace")
    at(team.a, "sign", "staging-config", "--answer", "failed", "--by", "Grace")
    at(team.b, "sign", "staging-config", "--by", "Ada", "--note", "fixed")
    for clone in (team.a, team.b, team.a):
        at(clone, "sync")
    for clone in (team.a, team.b):
        data = status(at, clone)
        step = steps(data)["staging-config"]
        assert (step["status"], step["confirmed_by"], step["note"]) == ("passed", "Ada", "fixed")
        signed = [(s["who"], s["status"]) for s in data["signoffs"] if s["via"] == "sign"]
        assert signed == [("Grace", "passed"), ("Grace", "failed"), ("Ada", "passed")]


def test_a_journal_begun_before_events_had_a_seq_replays_in_file_order(tmp_path: Path) -> None:
    # Lines from an older relcheck (no seq, no id), then lines this one appends.
    run = tmp_path / "run-1"
    run.mkdir()
    start = {"event": "run_started", "run_id": "run-1", "steps": [{"id": "x", "kind": "manual"}]}
    signed = {"event": "step_signed", "step": "x", "status": "failed", "confirmed_by": "Grace"}
    old = [
        {**start, "at": "2026-01-01T00:00:00.000Z"},
        {**signed, "at": "2026-01-01T00:00:01.000Z"},
    ]
    (run / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in old))
    journal = Journal(run, Masker(()))
    journal.append({**signed, "status": "passed", "confirmed_by": "Ada"})
    journal.append({"event": "run_finished", "state": "passed"})
    journal.close()
    record = replay(run, live=False)
    assert (record.state, record.steps["x"].status, record.steps["x"].confirmed_by) == (
        "passed",
        "passed",
        "Ada",
    )
    assert [signoff.who for signoff in record.signoffs] == ["Grace", "Ada"]


def test_sync_shares_no_absolute_path_of_an_answers_file_or_a_note(
    repo: Repo, origin: Path, tmp_path: Path, at: At
) -> None:
    repo.checklist(CHECKLIST)
    repo.commit("add the release checklist")
    git(repo.path, "push", "-q", "origin", "main")
    answers = tmp_path / "elsewhere" / "ans.yaml"
    answers.parent.mkdir()
    answers.write_text("steps:\n  staging-config: {answer: done}\n")
    at(
        repo.path,
        "run",
        "--release",
        "1.0.0",
        "--answers",
        str(answers),
        "--non-interactive",
        code=1,
    )
    at(repo.path, "sign", "smoke-test", "--note", "log in /srv/ci/build-7/out.log")
    assert "(from ans.yaml)" in steps(status(at, repo.path))["staging-config"]["actual"]
    at(repo.path, "sync")
    note = git(repo.path, "notes", "--ref", "relcheck", "show", "HEAD")
    assert str(tmp_path) not in note and "/srv/ci" not in note
    assert "log in out.log" in note


def test_sync_holds_the_repository_lock_while_it_writes_and_pushes(
    team: Team, at: At, monkeypatch: pytest.MonkeyPatch
) -> None:
    import relcheck.team

    real_publish = relcheck.team.publish
    held: list[bool] = []

    def publish(root: Path, state: Path, *args: Any) -> Any:
        held.append(RunLock(state).is_held())
        return real_publish(root, state, *args)

    monkeypatch.setattr(relcheck.team, "publish", publish)
    at(team.a, "sign", "smoke-test", "--by", "Ada")
    at(team.a, "sync")
    assert held == [True]


def _push_note(clone: Path, commit: str, doc: dict[str, Any], tmp_path: Path) -> str:
    """Write a note by hand on ``commit`` and push it; the remote's notes tip."""
    text = tmp_path / "hand-made-note.json"
    text.write_text(json.dumps(doc))
    git(clone, "notes", "--ref", "relcheck", "add", "-f", "-F", str(text), commit)
    git(clone, "push", "-q", "-f", "origin", "refs/notes/relcheck")
    return git(clone, "ls-remote", "origin", "refs/notes/relcheck")


def test_a_hostile_note_cannot_lead_outside_the_run_folders(
    team: Team, at: At, tmp_path: Path
) -> None:
    git(team.b, "fetch", "-q", "origin", "refs/notes/relcheck:refs/notes/relcheck")
    doc = json.loads(git(team.b, "notes", "--ref", "relcheck", "show", team.commit))
    [(run_id, events)] = doc["runs"].items()
    for event in events:
        if event["event"] == "step_started":
            event["log"] = "../../x"
    doc["runs"]["../x"] = [{**e, "run_id": "../x", "id": f"{e['id']}-x"} for e in events]
    _push_note(team.b, team.commit, doc, tmp_path)
    at(team.b, "sync")
    assert [p.name for p in (team.b / ".relcheck" / "runs").iterdir()] == [run_id]
    assert not (team.b / ".relcheck" / "x").exists()
    assert steps(status(at, team.b))["staging-config"]["log"] is None


def test_a_note_in_a_newer_format_is_left_alone(
    waiting: Path, origin: Path, at: At, tmp_path: Path
) -> None:
    git(waiting, "push", "-q", "origin", "main")
    tip = _push_note(waiting, "HEAD", {"relcheck": 99, "runs": {"later": "stuff"}}, tmp_path)
    out = at(waiting, "sync").output
    assert "is left alone: it is in note format 99" in out and "upgrade relcheck" in out
    assert git(waiting, "ls-remote", "origin", "refs/notes/relcheck") == tip
