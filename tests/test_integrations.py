"""The pre-commit hook, the GitHub Action and the GitLab CI example: they call relcheck as it is."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml
from click.testing import CliRunner
from conftest import Repo

from relcheck.cli import cli

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"
ACTION = ROOT / "action.yml"
GITLAB = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"

_COMMAND = re.compile(r"(?:^|[\s;&|(!])relcheck\s+([a-z][a-z-]*)")
_LONG_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _hook() -> dict[str, Any]:
    hooks = _load(HOOKS)
    assert [hook["id"] for hook in hooks] == ["relcheck-validate"]
    return dict(hooks[0])


# ---------------------------------------------------------------- pre-commit


def test_hook_manifest_is_one_pre_commit_accepts() -> None:
    from pre_commit import clientlib  # in the test extra: a missing one fails, never skips

    (hook,) = clientlib.load_manifest(str(HOOKS))
    assert hook["entry"] == "relcheck validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True


@pytest.mark.parametrize(
    ("path", "matched"),
    [
        ("relcheck.yaml", True),
        (".relcheck.yaml", True),
        ("services/api/relcheck.yml", True),
        ("checklists/web-cache.yaml", True),
        ("deploy/checklists/api.yaml", True),
        ("answers.yaml", False),
        ("myrelcheck.yaml", False),
        ("relcheck.yaml.bak", False),
        ("checklists/old/api.yaml", False),
        ("checklists/relcheck.schema.json", False),
    ],
)
def test_hook_files_pattern(path: str, matched: bool) -> None:
    # pre-commit matches `files` with re.search on the path from the repository root.
    assert bool(re.search(_hook()["files"], path)) is matched


def _entry() -> list[str]:
    program, *rest = shlex.split(_hook()["entry"])
    installed = shutil.which(program, path=str(Path(sys.executable).parent))
    return [installed, *rest] if installed else [sys.executable, "-m", "relcheck", *rest]


def test_hook_entry_checks_every_file_it_is_given(repo: Repo) -> None:
    good = "version: 1\nsteps:\n  - id: build\n    run: make\n    rollback: none\n"
    repo.write("relcheck.yaml", good)
    repo.write("services/api/.relcheck.yaml", good)
    repo.write("checklists/broken.yaml", good.replace("run: make", "comand: make"))
    files = ["relcheck.yaml", "checklists/broken.yaml", "services/api/.relcheck.yaml"]

    done = subprocess.run(
        [*_entry(), *files], cwd=repo.path, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert "relcheck.yaml: valid, 1 steps" in done.stdout
    assert "services/api/.relcheck.yaml: valid, 1 steps" in done.stdout
    assert "checklists/broken.yaml:4:5: steps[0].comand: unknown key" in done.stderr
    assert "2 problems found" in done.stderr

    fine = subprocess.run(
        [*_entry(), files[0], files[2]], cwd=repo.path, capture_output=True, timeout=60
    )
    assert fine.returncode == 0


# ---------------------------------------------------------------- commands in CI files


@cache
def _help_options(command: str) -> frozenset[str] | None:
    """The long options `relcheck COMMAND --help` lists; None when there is no such command."""
    result = CliRunner().invoke(cli, [command, "--help"])
    if result.exit_code != 0:
        assert "No such command" in result.output, result.output
        return None
    # Option lines start with the option; its help text follows after two spaces.
    heads = [re.split(r"\s{2,}", line.strip())[0] for line in result.output.splitlines()]
    return frozenset(
        o for head in heads if head.startswith("-") for o in _LONG_OPTION.findall(head)
    )


def _action_scripts() -> list[tuple[str, str]]:
    steps = _load(ACTION)["runs"]["steps"]
    return [(f"action.yml: {s.get('name', s.get('id'))}", s["run"]) for s in steps if "run" in s]


def _gitlab_scripts() -> list[tuple[str, str]]:
    found = []
    for name, job in _load(GITLAB).items():
        if not isinstance(job, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            for index, entry in enumerate(job.get(key, [])):
                found.append((f".gitlab-ci.yml: {name}.{key}[{index}]", entry))
    return found


_SCRIPTS = _action_scripts() + _gitlab_scripts()


@pytest.mark.parametrize("prefix", ["action.yml", ".gitlab-ci.yml"])
def test_the_ci_files_run_the_checklist_and_publish(prefix: str) -> None:
    scripts = [script for where, script in _SCRIPTS if where.startswith(prefix)]
    assert {command for script in scripts for command in _COMMAND.findall(script)} == {
        "run",
        "publish",
    }


@pytest.mark.parametrize(("where", "script"), _SCRIPTS, ids=[where for where, _ in _SCRIPTS])
def test_relcheck_options_in_ci_files_exist(where: str, script: str) -> None:
    commands = set(_COMMAND.findall(script))
    assert len(commands) <= 1, f"{where}: one relcheck command per script, found {commands}"
    options = set(_LONG_OPTION.findall(script))
    if not commands:
        assert not options & {"--junit", "--report", "--release", "--answers"}, where
        return
    (command,) = commands
    known = _help_options(command)
    assert known is not None, f"{where}: relcheck has no command `{command}`"
    assert options <= known, f"{where}: `relcheck {command}` has no {sorted(options - known)}"


# ---------------------------------------------------------------- the action and the job


def test_action_takes_the_documented_inputs_and_never_pastes_them_into_scripts() -> None:
    action = _load(ACTION)
    assert action["runs"]["using"] == "composite"
    inputs = set(action["inputs"])
    assert {"checklist", "release", "answers", "python-version", "publish", "token"} <= inputs
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            # An input pasted into a script is a script injection; inputs go through env.
            assert "${{" not in step["run"], step["run"]
    install = next(s for s in action["runs"]["steps"] if s.get("name") == "Install relcheck")
    assert '"$GITHUB_ACTION_PATH"' in install["run"]
    publish = next(s for s in action["runs"]["steps"] if "relcheck publish" in s.get("run", ""))
    assert publish["if"] == "inputs.publish == 'true'"
    assert publish["env"]["GH_TOKEN"] == "${{ inputs.token }}"


@pytest.mark.parametrize("given", [True, False], ids=["inputs given", "inputs empty"])
def test_action_run_script_runs_the_checklist_with_reports(
    repo: Repo, tmp_path: Path, given: bool
) -> None:
    script = next(
        s["run"] for s in _load(ACTION)["runs"]["steps"] if "relcheck run" in s.get("run", "")
    )
    checklist = "version: 1\nsteps:\n  - id: build\n    run: 'true'\n    rollback: none\n"
    repo.write(
        "relcheck.yaml", checklist + "  - id: sign\n    manual: Sign it.\n    rollback: none\n"
    )
    repo.write("release/answers.yaml", "owner: Ada\nsteps:\n  sign: {answer: done}\n")
    repo.commit("checklist")
    inputs = {
        "RELCHECK_CHECKLIST": "relcheck.yaml" if given else "",
        "RELCHECK_RELEASE": "2.0.0" if given else "",
        "RELCHECK_ANSWERS": "release/answers.yaml" if given else "",
    }
    env = {
        **os.environ,
        **inputs,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "RELCHECK_JUNIT": str(tmp_path / "junit.xml"),
        "RELCHECK_REPORT": str(tmp_path / "report.json"),
    }

    done = subprocess.run(
        ["bash", "-c", script], cwd=repo.path, env=env, capture_output=True, text=True, timeout=60
    )

    # Without the answers file the manual step cannot be confirmed: the run fails, reported.
    assert done.returncode == (0 if given else 1), done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["release"]["version"] == ("2.0.0" if given else "0.1.0")
    cases = ElementTree.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert [case.get("name") for case in cases] == ["build", "sign"]


def test_gitlab_job_keeps_the_junit_report_and_publishes_on_tags() -> None:
    jobs = _load(GITLAB)
    check = jobs["release-check"]
    script = "\n".join(check["script"])
    junit = re.search(r"--junit\s+(\S+)", script)
    assert junit and check["artifacts"]["reports"]["junit"] == junit[1]
    assert check["artifacts"]["when"] == "always"
    publish = jobs["publish-release-note"]
    assert publish["rules"] == [{"if": "$CI_COMMIT_TAG"}]
    assert publish["needs"] == ["release-check"]
    assert ".relcheck/runs/" in check["artifacts"]["paths"]
