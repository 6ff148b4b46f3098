"""`run --junit`: the checklist as test cases any CI system can show, parsed as a CI would."""

from __future__ import annotations

import json
import re
import signal
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Invoke, Repo, relcheck_process

from relcheck.errors import UsageError
from relcheck.files import write_atomic

CHECKLIST = """\
version: 1
name: Payments API release
secrets: [DEPLOY_TOKEN]
defaults: {owner: Ada}
steps:
  - id: lint
    title: Run linting
    run: echo lint ok
    rollback: none
  - id: docs
    title: Build the docs
    run: echo docs
    required: false
    rollback: none
  - id: unit
    title: Run unit tests
    run: |
      printf '\\033[31mFAILED\\033[0m test_pay with token %s\\n' "$DEPLOY_TOKEN"
      printf 'bell \\007 and form feed \\014 here\\n'
      exit 4
    owner: Grace
    rollback: none
  - id: tag
    run: git tag v1
    rollback: git tag -d v1
"""


def cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {case.attrib["name"]: case for case in root.iter("testcase")}


def test_every_step_is_a_test_case(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(CHECKLIST)
    relcheck(
        "run",
        "--release",
        "1.0.0",
        "--skip",
        "docs",
        "--junit",
        "reports/junit.xml",
        env={"DEPLOY_TOKEN": "tok-very-secret-1"},
        code=1,
    )
    path = repo.path / "reports" / "junit.xml"
    text = path.read_text()
    assert "tok-very-secret-1" not in text
    root = ET.fromstring(text)
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "2")
    started = json.loads(relcheck("status", "--json").output)["started_at"]
    # The JUnit schema's timestamp: no zone, no fraction (in UTC here).
    assert suite.get("timestamp") == started[:19]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
    found = cases(path)
    assert list(found) == ["lint", "docs", "unit", "tag"]
    assert {case.get("classname") for case in found.values()} == {
        "relcheck.yaml/lint",
        "relcheck.yaml/docs",
        "relcheck.yaml/unit",
        "relcheck.yaml/tag",
    }
    data = json.loads(relcheck("status", "--json").output)
    unit_record = next(step for step in data["steps"] if step["id"] == "unit")

    unit = found["unit"]
    assert float(unit.get("time", "")) == round(unit_record["duration_s"], 3)
    failure = unit.find("failure")
    assert failure is not None
    assert failure.get("message") == "expected exit code 0, got 4" == unit_record["reason"]
    body = failure.text or ""
    assert "FAILED test_pay with token ***" in body  # colour codes out, secret masked
    assert "\x1b" not in body and "\x07" not in body
    out = unit.findtext("system-out") or ""
    assert "Run unit tests" in out and "owner:    Grace" in out

    assert found["lint"].find("failure") is None and found["lint"].find("skipped") is None
    skipped = found["docs"].find("skipped")
    assert skipped is not None and skipped.get("message") == "left out by --skip"
    pending = found["tag"].find("skipped")
    assert pending is not None and "not run" in (pending.get("message") or "")


def test_resume_rewrites_the_report_with_the_run_as_it_ends(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: unit
    run: test -f fixed
    rollback: none
""")
    relcheck("run", "--release", "1.0.0", "--junit", "junit.xml", code=1)
    assert cases(repo.path / "junit.xml")["unit"].find("failure") is not None
    repo.write("fixed", "")
    relcheck("resume", "--junit", "junit.xml", "--report", "report.json")
    unit = cases(repo.path / "junit.xml")["unit"]
    assert unit.find("failure") is None
    report = json.loads((repo.path / "report.json").read_text())
    assert report == json.loads(relcheck("status", "--json").output)
    assert report["state"] == "passed"
    assert sorted(p.name for p in repo.path.iterdir() if p.name.startswith(".junit")) == []


def test_an_interrupted_run_still_writes_its_report(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("""\
version: 1
defaults: {owner: Ada}
steps:
  - id: quick
    run: echo quick
    rollback: none
  - id: slow
    title: Wait for the deploy
    run: touch started; sleep 30
    rollback: none
""")
    proc = relcheck_process(repo.path, "run", "--release", "1.0.0", "--junit", "junit.xml")
    deadline = time.monotonic() + 20
    while not (repo.path / "started").exists():
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 130, output
    root = ET.parse(repo.path / "junit.xml").getroot()
    assert root.find("testsuite/properties/property[@name='state']").get("value") == "interrupted"  # type: ignore[union-attr]
    slow = cases(repo.path / "junit.xml")["slow"]
    error = slow.find("error")
    assert error is not None and error.get("message") == "interrupted by Ctrl-C"


def test_a_folder_for_the_report_is_refused_before_anything_runs(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist("version: 1\nsteps:\n  - id: a\n    run: touch ran\n    rollback: none\n")
    (repo.path / "out").mkdir()
    result = relcheck("run", "--release", "1.0.0", "--report", "out", code=2)
    assert "out" in result.output
    assert not (repo.path / "ran").exists()
    result = relcheck("run", "--dry-run", "--junit", "j.xml", code=2)
    assert "--dry-run" in result.output


def test_a_report_under_a_file_is_refused_before_anything_runs(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist("version: 1\nsteps:\n  - id: a\n    run: touch ran\n    rollback: none\n")
    result = relcheck("run", "--release", "1.0.0", "--junit", "relcheck.yaml/out/j.xml", code=2)
    assert "relcheck.yaml is a file, not a folder" in result.output
    assert not (repo.path / "ran").exists()


def test_write_atomic_names_a_folder_it_cannot_make(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match=r"cannot write .*file/out/j\.xml"):
        write_atomic(tmp_path / "file" / "out" / "j.xml", "x")
