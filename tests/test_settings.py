"""`[tool.relcheck]` in pyproject.toml: read when present, flags win, bad values exit 2."""

from __future__ import annotations

import json

import pytest
from conftest import Invoke, Repo
from test_terminal import Terminal

from relcheck.settings import project_settings

_CHECKLIST = """\
version: 1
steps:
  - id: build
    run: "true"
    rollback: none
  - id: sign
    manual: Sign it.
    owner: Grace
    rollback: none
"""


def _pyproject(repo: Repo, table: str, folder: str = "") -> None:
    repo.write(f"{folder}pyproject.toml", f'[project]\nname = "svc"\n\n[tool.relcheck]\n{table}')


def _owners(relcheck: Invoke, *args: str) -> dict[str, str | None]:
    plan = json.loads(relcheck("plan", "--json", *args).stdout)
    return {step["id"]: step["owner"] for step in plan["steps"]}


def test_configured_checklist_is_used_and_a_path_argument_wins(
    relcheck: Invoke, repo: Repo
) -> None:
    repo.checklist(_CHECKLIST, name="release/checklist.yaml")
    repo.checklist(_CHECKLIST.replace("build", "other"))
    _pyproject(repo, 'checklist = "release/checklist.yaml"\n')
    assert "release/checklist.yaml: valid, 2 steps" in relcheck("validate").stdout
    assert list(_owners(relcheck)) == ["build", "sign"]
    assert list(_owners(relcheck, "relcheck.yaml")) == ["other", "sign"]


def test_configured_checklist_wins_over_one_in_the_current_folder(
    relcheck: Invoke, repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.checklist(_CHECKLIST, name="release/checklist.yaml")
    repo.checklist(_CHECKLIST.replace("build", "other"), name="svc/relcheck.yaml")
    _pyproject(repo, 'checklist = "release/checklist.yaml"\n')
    monkeypatch.chdir(repo.path / "svc")
    assert list(_owners(relcheck)) == ["build", "sign"]
    assert list(_owners(relcheck, "relcheck.yaml")) == ["other", "sign"]


def test_settings_at_the_git_root_apply_in_a_subfolder(relcheck: Invoke, repo: Repo) -> None:
    repo.checklist(_CHECKLIST, name="release/checklist.yaml")
    _pyproject(repo, 'checklist = "release/checklist.yaml"\nprovider = "gitlab"\n')
    sub = repo.path / "src" / "pkg"
    sub.mkdir(parents=True)
    assert project_settings(sub).provider == "gitlab"
    assert project_settings(sub).source == repo.path / "pyproject.toml"
    assert project_settings(sub).checklist_arg(sub) == "../../release/checklist.yaml"


def _started_owners(repo: Repo) -> dict[str, str]:
    return {e["step"]: e["owner"] for e in repo.journal() if e.get("event") == "step_started"}


def test_owner_comes_after_the_checklist_and_the_answers_file(relcheck: Invoke, repo: Repo) -> None:
    repo.checklist(
        _CHECKLIST.replace(
            "  - id: sign", "  - id: deploy\n    run: 'true'\n    rollback: none\n  - id: sign"
        )
    )
    repo.write("answers.yaml", "steps:\n  deploy: {owner: Ada}\n  sign: {answer: done}\n")
    _pyproject(repo, 'owner = "release-captain"\n')
    relcheck("run", "--release", "1.0.0", "--answers", "answers.yaml", "--non-interactive")
    assert _started_owners(repo) == {"build": "release-captain", "deploy": "Ada", "sign": "Grace"}


def test_owner_is_the_default_the_owner_prompt_offers(relcheck: Invoke, repo: Repo) -> None:
    repo.checklist(_CHECKLIST)
    _pyproject(repo, 'owner = "release-captain"\n')
    term = Terminal(repo.path, "run", "--release", "1.0.0", "--only", "build")
    term.expect("Owner of 'build' [release-captain]")
    term.send("Bob")
    assert term.close() == 0, term.seen.decode()
    assert _started_owners(repo) == {"build": "Bob"}


def test_the_checklists_own_default_owner_wins(relcheck: Invoke, repo: Repo) -> None:
    repo.checklist(_CHECKLIST.replace("steps:", "defaults: {owner: Ada}\nsteps:"))
    _pyproject(repo, 'owner = "release-captain"\n')
    assert _owners(relcheck) == {"build": "Ada", "sign": "Grace"}


def test_templates_folder_comes_before_the_builtins(relcheck: Invoke, repo: Repo) -> None:
    repo.checklist(_CHECKLIST)
    repo.write("release/templates/runbook.md.j2", "Our runbook: {{ steps | length }} steps\n")
    repo.write("release/templates/short.md.j2", "Note for {{ release.version }}\n")
    _pyproject(repo, 'templates = "release/templates"\n')
    assert relcheck("runbook").stdout == "Our runbook: 2 steps\n"
    note = relcheck("notes", "--no-run", "--to", "HEAD", "--template", "short.md.j2").stdout
    assert note.startswith("Note for ")
    # A template beside the current folder still wins over the project's folder.
    repo.write("short.md.j2", "Mine\n")
    assert relcheck("notes", "--no-run", "--template", "short.md.j2").stdout == "Mine\n"


def test_no_table_means_no_settings(repo: Repo) -> None:
    repo.write("pyproject.toml", '[project]\nname = "svc"\n[tool.ruff]\nline-length = 100\n')
    assert project_settings(repo.path).owner is None
    assert project_settings(repo.path).source is None


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("owner = 3\n", "pyproject.toml:5:1: tool.relcheck.owner: expected a name, got 3"),
        (
            'provider = "bitbucket"\n',
            "pyproject.toml:5:1: tool.relcheck.provider: expected one of github, gitlab, "
            "gitea, got 'bitbucket'",
        ),
        (
            'owner = "Ada"\nownr = "Ada"\n',
            "pyproject.toml:6:1: tool.relcheck.ownr: unknown key; did you mean 'owner'?",
        ),
        (
            'templates = "nowhere"\n',
            "pyproject.toml:5:1: tool.relcheck.templates: no such folder 'nowhere'",
        ),
        (
            'checklist = "builtin:nope"\n',
            "pyproject.toml:5:1: tool.relcheck.checklist: no built-in checklist 'builtin:nope'",
        ),
        ('owner = "Ada\n', "pyproject.toml:5:"),
    ],
)
def test_bad_values_exit_2_naming_file_line_and_key(
    relcheck: Invoke, repo: Repo, table: str, expected: str
) -> None:
    repo.checklist(_CHECKLIST)
    _pyproject(repo, table)
    result = relcheck("validate", code=2)
    assert expected in result.stderr
    assert "problem found" in result.stderr


def test_a_configured_checklist_that_is_missing_says_how_to_make_it(
    relcheck: Invoke, repo: Repo
) -> None:
    _pyproject(repo, 'checklist = "release/checklist.yaml"\n')
    result = relcheck("plan", code=2)
    assert "tool.relcheck.checklist names" in result.stderr
    assert "relcheck init" in result.stderr
    relcheck("init")
    assert (repo.path / "release" / "checklist.yaml").is_file()
    assert (repo.path / "release" / "relcheck.schema.json").is_file()
    relcheck("validate")


def test_builtin_checklist_can_be_configured(relcheck: Invoke, repo: Repo) -> None:
    _pyproject(repo, 'checklist = "builtin:web-cache"\n')
    assert "web-cache.yaml: valid" in relcheck("validate").stdout
    # `init` still writes relcheck.yaml here, from the built-in it is told.
    relcheck("init", "--from", "web-cache")
    assert (repo.path / "relcheck.yaml").is_file()


def test_settings_path_is_shown_relative_from_a_subfolder(relcheck: Invoke, repo: Repo) -> None:
    _pyproject(repo, "owner = []\n")
    sub = repo.path / "docs"
    sub.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(sub)
        result = relcheck("validate", code=2)
    assert "../pyproject.toml:5:1: tool.relcheck.owner: expected a name, got a list" in (
        result.stderr
    )
