"""relcheck publish against fake GitHub, GitLab and Gitea servers on 127.0.0.1 (tests/forges.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from conftest import GIT_ENV, Invoke, Repo, git
from forges import FakeForge, FakeGitea, FakeGitHub, FakeGitLab, silent_server

TOKEN = "tok-9f8e7d6c5b4a-DISTINCTIVE"
FORGE_VARIABLES = (
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
    "GITEA_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITEA_ACTIONS",
    "CI_PROJECT_ID",
    "CI_API_V4_URL",
)
CHECKLIST = """\
version: 1
steps:
  - id: tests
    title: Unit tests
    run: test -f ready
    rollback: none
"""
LOOKUP = r"/releases/(tags/)?v1\.4\.0$"
CREATE = r"/releases$"
RECORD = "relcheck-1.4.0.json"


@dataclass(frozen=True)
class Case:
    provider: str
    label: str
    fake: type[FakeForge]
    token_variable: str
    host: str

    def remote(self, credentials: str = "") -> str:
        return f"https://{credentials}{self.host}/acme/service.git"


GITHUB = Case("github", "GitHub", FakeGitHub, "GITHUB_TOKEN", "github.com")
GITLAB = Case("gitlab", "GitLab", FakeGitLab, "GITLAB_TOKEN", "gitlab.example.com")
GITEA = Case("gitea", "Gitea", FakeGitea, "GITEA_TOKEN", "gitea.example.com")


@pytest.fixture(autouse=True)
def _no_forge_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FORGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with one passed run of release 1.4.0, made once and copied per test."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("[commit]\n\tgpgSign = false\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", *FORGE_VARIABLES)}
    env.update(GIT_ENV, HOME=str(home))
    path = tmp_path_factory.mktemp("template") / "service"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, env=env, check=True)
    (path / "relcheck.yaml").write_text(CHECKLIST)
    (path / ".gitignore").write_text("ready\n")
    (path / "ready").write_text("")
    subprocess.run(["git", "add", "-A"], cwd=path, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", "feat: a release"], cwd=path, env=env, check=True)
    subprocess.run(
        [sys.executable, "-m", "relcheck", "run", "--release", "1.4.0", "--non-interactive"],
        cwd=path,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


@pytest.fixture
def released(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    path = tmp_path / "service"
    shutil.copytree(template, path, symlinks=True)
    monkeypatch.chdir(path)
    return Repo(path)


@pytest.fixture(params=[GITHUB, GITLAB, GITEA], ids=lambda case: case.provider)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def fake(case: Case) -> Iterator[FakeForge]:
    server = case.fake(TOKEN)
    yield server
    server.close()


def setup_forge(
    repo: Repo,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
    *,
    token: str | None = TOKEN,
    credentials: str = "",
) -> list[str]:
    """The origin remote on the forge's host, the token in its variable; the publish flags."""
    git(repo.path, "remote", "add", "origin", case.remote(credentials))
    if token is not None:
        monkeypatch.setenv(case.token_variable, token)
    return ["--api-url", fake.api_url]


def status_json(relcheck: Invoke) -> str:
    return relcheck("status", "--json").stdout


def published_events(repo: Repo) -> list[dict[str, object]]:
    return [event for event in repo.journal() if event["event"] == "published"]


# ---------------------------------------------------------------- every forge


def test_first_publish_creates_the_release_with_the_note_and_the_record(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch)
    result = relcheck("publish", *args)
    run = released.runs()[-1]
    [release] = fake.summary()
    assert release["tag"] == release["name"] == "v1.4.0"
    assert release["body"] == (run / "note.md").read_text()
    assert release["body"].startswith("# Release 1.4.0\n")
    assert release["assets"] == {RECORD: status_json(relcheck)}
    assert not release["draft"]
    assert f"Created {case.label} release v1.4.0: " in result.stdout
    assert all(fake.authorized(got.headers) for got in fake.received)
    [create] = fake.requests("POST", CREATE)
    commit = git(released.path, "rev-parse", "HEAD")
    assert commit in (create.json().get("target_commitish"), create.json().get("ref"))
    [event] = published_events(released)
    assert event["action"] == "created" and event["provider"] == case.provider
    assert (run / "logs" / "publish.log").read_text().count(" -> 201") >= 2


def test_publish_again_updates_the_one_release_and_replaces_the_record(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch)
    relcheck("publish", *args)
    (released.runs()[-1] / "note.md").write_text("# Release 1.4.0\n\nEdited by hand.\n")
    result = relcheck("publish", *args)
    [release] = fake.summary()
    assert release["body"] == "# Release 1.4.0\n\nEdited by hand.\n"
    assert release["assets"] == {RECORD: status_json(relcheck)}
    assert len(fake.requests("POST", CREATE)) == 1
    assert len(fake.requests("DELETE")) == 1  # the first record, replaced
    assert f"Updated {case.label} release v1.4.0" in result.stdout
    assert [event["action"] for event in published_events(released)] == ["created", "updated"]


def test_two_bad_gateways_then_created_once(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch)
    fake.fail("POST", CREATE, 502, times=2, body={"message": "Bad Gateway"})
    result = relcheck("publish", *args, "--timeout", "0.3")
    assert len(fake.summary()) == 1
    creates = fake.requests("POST", CREATE)
    assert len(creates) == 3
    sent = ["create" if got in creates else got.method for got in fake.received]
    # Between two creates relcheck looked the release up (GETs), never POSTed blindly.
    between = "".join(sent[sent.index("create") :]).split("create")[1:-1]
    lookup = "GET" if case == GITLAB else "GETGET"  # get-by-tag, plus the list elsewhere
    assert len(between) == 2
    assert all(re.fullmatch(f"({lookup})+", gap) for gap in between), between
    assert result.stdout.count("looking it up before sending anything again") == 2


def test_429_with_retry_after_is_waited_out(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch)
    fake.fail("GET", LOOKUP, 429, headers={"Retry-After": "1"})
    result = relcheck("publish", *args)
    assert "trying again in 1.0 s (Retry-After)" in result.stdout
    assert len(fake.requests("GET", LOOKUP)) == 2
    assert len(fake.summary()) == 1


def test_a_create_whose_answer_is_lost_is_looked_up_not_sent_again(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch)
    fake.slow("POST", CREATE, 1.5)  # created, but the answer comes after --timeout
    result = relcheck("publish", *args, "--timeout", "0.5")
    assert len(fake.requests("POST", CREATE)) == 1
    [release] = fake.summary()
    assert release["assets"] == {RECORD: status_json(relcheck)}
    assert "the answer to creating release v1.4.0 was lost" in result.stdout
    assert "it was created:" in result.stdout


def test_a_create_that_lands_after_the_timeout_makes_one_release(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch)
    # The forge takes the create only after relcheck gave up on it (0.4 s + 0.25 s grace);
    # relcheck keeps looking for as long as the request timeout, so it never sends another.
    fake.late("POST", CREATE, 0.8)
    draft = [] if case == GITLAB else ["--draft"]  # GitHub takes any number of drafts per tag
    result = relcheck("publish", *args, *draft, "--timeout", "0.4")
    assert len(fake.requests("POST", CREATE)) == 1
    [release] = fake.summary()
    assert release["assets"] == {RECORD: status_json(relcheck)}
    assert "is not there yet; trying again in" in result.stdout
    assert "it was created:" in result.stdout


@pytest.mark.parametrize("case", [GITHUB, GITEA], ids=["github", "gitea"])
def test_a_create_sent_again_and_refused_as_existing_is_looked_up(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch)
    fake.fail("POST", CREATE, 502, body={"message": "Bad Gateway"})
    # The first create lands just before the second arrives, which the forge refuses.
    exists = (
        (422, {"message": "Validation Failed", "errors": [{"code": "already_exists"}]})
        if case == GITHUB
        else (409, {"message": "Release has the same tag"})
    )

    def first_create_lands() -> None:
        fake._create(fake.requests("POST", CREATE)[0])  # type: ignore[attr-defined]

    fake.fail("POST", CREATE, exists[0], body=exists[1], action=first_create_lands)
    result = relcheck("publish", *args, "--timeout", "0.2")
    assert len(fake.requests("POST", CREATE)) == 2
    [release] = fake.summary()
    assert release["body"].startswith("# Release 1.4.0") and RECORD in release["assets"]
    assert "is not there: creating it again" in result.stdout
    assert "it was created after all:" in result.stdout


def test_without_a_token_it_exits_2_naming_the_variables(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch, token=None)
    result = relcheck("publish", *args, code=2)
    names = {"github": "GH_TOKEN or GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN or CI_JOB_TOKEN"}
    assert f"no {case.label} token: looked for {names.get(case.provider, 'GITEA_TOKEN')}" in (
        result.stderr
    )
    assert fake.received == []


def test_dry_run_sends_nothing_and_shows_each_request(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch, token=None)
    result = relcheck("publish", *args, "--dry-run")
    assert fake.received == []
    out = result.stdout
    assert "no token: none of" in out and "(a real publish needs one)" in out
    assert "Dry run: nothing is sent." in out
    assert f"  GET {fake.api_url}/" in out
    create = next(line for line in out.splitlines() if line.startswith(f"  POST {fake.api_url}"))
    assert create.endswith("has no release)" if case == GITLAB else "no release has the tag)")
    assert "body " in create and " bytes" in create
    assert "      | # Release 1.4.0" in out
    assert RECORD in out
    assert published_events(released) == []
    assert not (released.runs()[-1] / "logs" / "publish.log").exists()


def test_the_token_appears_nowhere(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch, credentials=f"oauth2:{TOKEN}@")
    results: list[Result] = [relcheck("publish", *args, "--dry-run")]
    assert f"the origin remote https://***@{case.host}/acme/service.git" in results[0].stdout
    results.append(relcheck("publish", *args))
    # A forge that quotes the token back in its error message.
    fake.fail("PUT" if case == GITLAB else "PATCH", r".", 403, body={"message": f"bad {TOKEN}"})
    results.append(relcheck("publish", *args, code=1))
    assert "403" in results[-1].stderr and "bad ***" in results[-1].stderr
    for result in results:
        assert TOKEN not in result.stdout + result.stderr
    for path in (released.path / ".relcheck").rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(errors="replace"), path


# ---------------------------------------------------------------- drafts and duplicates


@pytest.mark.parametrize("case", [GITHUB, GITEA], ids=["github", "gitea"])
def test_an_existing_draft_is_found_and_updated_in_place(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch)
    fake.seed("v1.4.0", draft=True)
    for version in ("1.1.0", "1.2.0", "1.3.0"):
        fake.seed(f"v{version}", draft=False)
    fake.max_page = 2  # the draft, the oldest, is on the second page
    result = relcheck("publish", *args)
    assert len(fake.summary()) == 4
    [release] = [r for r in fake.summary() if r["tag"] == "v1.4.0"]
    assert not release["draft"] and release["body"].startswith("# Release 1.4.0")
    assert fake.requests("POST", CREATE) == []
    assert "Found draft " in result.stdout and "updating it in place" in result.stdout
    # The draft's tag does not exist yet: publishing it tags the run's commit, not "main".
    [patch] = fake.requests("PATCH", r"/releases/\d+$")
    assert patch.json()["target_commitish"] == git(released.path, "rev-parse", "HEAD")


def test_github_hides_drafts_from_get_by_tag_so_pages_are_followed(
    released: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_fake = FakeGitHub(TOKEN)
    try:
        args = setup_forge(released, GITHUB, with_fake, monkeypatch)
        with_fake.seed("v1.4.0", draft=True)
        for version in ("1.1.0", "1.2.0", "1.3.0"):
            with_fake.seed(f"v{version}", draft=False)
        with_fake.max_page = 2
        relcheck("publish", *args, "--draft", "--prerelease")
        [by_tag] = with_fake.requests("GET", LOOKUP)
        pages = [got.query.get("page", "1") for got in with_fake.requests("GET", r"/releases$")]
        assert pages == ["1", "2"]
        [patch] = with_fake.requests("PATCH")
        assert patch.json()["draft"] is True and patch.json()["prerelease"] is True
        assert by_tag is with_fake.received[0]
    finally:
        with_fake.close()


def test_two_releases_for_one_tag_stop_with_both_listed(
    released: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub(TOKEN)
    try:
        args = setup_forge(released, GITHUB, github, monkeypatch)
        github.seed("v1.4.0", draft=True)
        github.seed("v1.4.0", draft=True)
        result = relcheck("publish", *args, code=1)
        assert "GitHub has 2 releases for tag v1.4.0: draft 2 " in result.stderr
        assert "; draft 1 " in result.stderr
        assert "so it changed nothing: delete all but one of them on GitHub, then run" in (
            result.stderr
        )
        assert "retrying is safe" not in result.stderr  # unchanged, it fails the same way
        assert [got.method for got in github.received] == ["GET", "GET"]
    finally:
        github.close()


# ---------------------------------------------------------------- GitHub details


@pytest.fixture
def github(
    released: Repo, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeGitHub, list[str]]]:
    server = FakeGitHub(TOKEN)
    args = setup_forge(released, GITHUB, server, monkeypatch)
    yield server, args
    server.close()


def test_a_rate_limit_403_waits_for_the_reset(
    relcheck: Invoke, github: tuple[FakeGitHub, list[str]]
) -> None:
    import time

    server, args = github
    reset = str(int(time.time()))  # relcheck waits until half a second past it
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    server.fail("GET", LOOKUP, 403, headers=headers, body={"message": "API rate limit exceeded"})
    result = relcheck("publish", *args)
    assert "(rate limit reset)" in result.stdout
    assert len(server.summary()) == 1


def test_a_wait_longer_than_max_wait_fails_at_once_saying_so(
    relcheck: Invoke, github: tuple[FakeGitHub, list[str]]
) -> None:
    server, args = github
    server.fail("GET", LOOKUP, 429, headers={"Retry-After": "3600"})
    result = relcheck("publish", *args, "--max-wait", "5", code=1)
    assert (
        "429 Too Many Requests; waiting 3600.0 s more (Retry-After) would pass --max-wait 5 s"
        in result.stderr
    )
    assert "(retrying is safe)" in result.stderr
    assert server.summary() == []


def test_a_forge_that_never_answers_is_given_up_at_max_wait(
    released: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(released.path, "remote", "add", "origin", GITHUB.remote())
    monkeypatch.setenv(GITHUB.token_variable, TOKEN)
    with silent_server() as url:
        started = time.monotonic()
        result = relcheck("publish", "--api-url", url, "--max-wait", "1", "--timeout", "5", code=1)
        took = time.monotonic() - started
    # Not 8 tries of --timeout each: every try is cut to what is left of --max-wait.
    assert took < 3.0, took
    assert (
        f"GitHub gave no usable answer to GET {url}/repos/acme/service/releases/tags/v1.4.0 "
        "before --max-wait 1 s ran out (1 try; last: no " in result.stderr
    )
    # The try got what was left of --max-wait, not --timeout.
    [given] = re.findall(
        rf"response from {url.removeprefix('http://')} within ([\d.]+) s\)", result.stderr
    )
    assert float(given) <= 1, result.stderr
    assert result.stderr.rstrip().endswith("relcheck stopped there (retrying is safe)")


def test_the_token_goes_to_the_upload_host_github_names_but_not_to_a_foreign_link(
    relcheck: Invoke, github: tuple[FakeGitHub, list[str]]
) -> None:
    server, args = github
    foreign = FakeGitHub(TOKEN)  # another host, that records whatever reaches it
    try:
        for version in ("1.1.0", "1.2.0", "1.3.0"):
            server.seed(f"v{version}", draft=False)
        server.max_page = 2
        server.link_base = foreign.base  # the next page, named on another host (a proxy's)
        relcheck("publish", *args)
        assert foreign.received == []
        pages = server.requests("GET", r"/releases$")
        assert [got.query.get("page", "1") for got in pages] == ["1", "2"]
        assert {got.port for got in pages} == {server.port}
        [upload] = server.requests("POST", r"/assets$")
        assert upload.port == server.upload_port != server.port
        assert upload.headers["authorization"] == f"Bearer {TOKEN}"
    finally:
        foreign.close()


def test_a_failed_upload_on_publishing_again_keeps_the_old_record(
    released: Repo,
    relcheck: Invoke,
    case: Case,
    fake: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = setup_forge(released, case, fake, monkeypatch)
    relcheck("publish", *args)
    record = status_json(relcheck)
    fake.fail("POST", r"/assets$|/uploads$", 400, body={"message": "upload refused"})
    result = relcheck("publish", *args, code=1)
    assert "upload refused" in result.stderr and "(retrying is safe)" in result.stderr
    [release] = fake.summary()
    assert release["assets"] == {RECORD: record}
    relcheck("publish", *args)  # and running it again finishes the job
    [release] = fake.summary()
    assert release["assets"] == {RECORD: record}


def test_a_refusal_names_the_status_and_the_forges_message(
    released: Repo, relcheck: Invoke, github: tuple[FakeGitHub, list[str]]
) -> None:
    server, args = github
    server.fail("POST", CREATE, 403, body={"message": "Resource not accessible by integration"})
    result = relcheck("publish", *args, code=1)
    assert (
        f"relcheck: GitHub answered POST {server.api_url}/repos/acme/service/releases with 403 "
        "Forbidden: Resource not accessible by integration; check the token" in result.stderr
    )
    assert result.stderr.rstrip().endswith("(retrying is safe)")
    log = (released.runs()[-1] / "logs" / "publish.log").read_text()
    assert "failed: GitHub answered POST " in log and "with 403 Forbidden" in log


def test_gh_token_comes_before_github_token(
    relcheck: Invoke, github: tuple[FakeGitHub, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, args = github
    monkeypatch.setenv("GITHUB_TOKEN", "not-the-one-to-use")
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    relcheck("publish", *args)
    assert len(server.summary()) == 1


def test_github_actions_variables_name_the_repository_and_api(
    released: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeGitHub(TOKEN)
    try:
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/service")
        monkeypatch.setenv("GITHUB_API_URL", server.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        result = relcheck("publish")  # no origin remote, no flags
        assert "provider and repository from GITHUB_REPOSITORY; API from GITHUB_API_URL" in (
            result.stdout
        )
        assert len(server.summary()) == 1
    finally:
        server.close()


def test_a_host_relcheck_does_not_know_needs_provider(released: Repo, relcheck: Invoke) -> None:
    git(released.path, "remote", "add", "origin", "git@code.example.com:acme/service.git")
    result = relcheck("publish", "--dry-run", code=2)
    assert "is on code.example.com, which relcheck cannot tell the forge of; pass --provider" in (
        result.stderr
    )
    result = relcheck("publish", "--dry-run", "--provider", "gitea")
    assert "  GET https://code.example.com/api/v1/repos/acme/service/releases/tags/v1.4.0" in (
        result.stdout
    )


def test_a_run_that_did_not_pass_is_refused_unless_allow_failed(
    released: Repo, relcheck: Invoke, github: tuple[FakeGitHub, list[str]]
) -> None:
    server, args = github
    (released.path / "ready").unlink()
    relcheck("run", "--release", "1.4.0", "--non-interactive", code=1)
    run = released.runs()[-1].name
    result = relcheck("publish", *args, code=1)
    assert f"run {run} (release 1.4.0) is failed, not passed" in result.stderr
    assert "--allow-failed publishes it anyway" in result.stderr
    assert server.received == []
    relcheck("publish", *args, "--allow-failed")
    [release] = server.summary()
    assert release["body"].startswith(
        f"> **Warning: published with `--allow-failed`.** Run `{run}` ended **failed**"
    )
    assert json.loads(release["assets"][RECORD])["state"] == "failed"


def test_a_note_too_long_for_github_is_cut_at_a_heading_and_attached_whole(
    released: Repo, relcheck: Invoke, github: tuple[FakeGitHub, list[str]]
) -> None:
    server, args = github
    sections = [f"## Section {n}\n\n" + ("word " * 2000) + "\n\n" for n in range(20)]
    note = "# Release 1.4.0\n\n" + "".join(sections)
    assert len(note) > 125_000
    (released.runs()[-1] / "note.md").write_text(note)
    relcheck("publish", *args)
    [release] = server.summary()
    body = release["body"]
    assert len(body) <= 125_000
    kept = body[: body.index("---\n\n**The note is cut here:**")]
    assert note.startswith(kept.rstrip("\n")) and note[len(kept.rstrip("\n")) :].startswith(
        "\n\n## Section 12\n"
    )
    assert "The full note is attached as `relcheck-1.4.0-note.md`." in body
    assert release["assets"]["relcheck-1.4.0-note.md"] == note
    # A note that fits again takes the attached full note away.
    (released.runs()[-1] / "note.md").write_text("# Release 1.4.0\n\nShort.\n")
    relcheck("publish", *args)
    assert set(server.summary()[0]["assets"]) == {RECORD}


# ---------------------------------------------------------------- GitLab details


def test_gitlab_ci_variables_and_the_job_token(
    released: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake refuses the job token on /uploads and GET /projects/:id, as GitLab does.
    server = FakeGitLab(TOKEN, header="job-token")
    try:
        monkeypatch.setenv("CI_PROJECT_ID", "42")
        monkeypatch.setenv("CI_API_V4_URL", server.api_url)
        monkeypatch.setenv("CI_JOB_TOKEN", TOKEN)
        relcheck("publish")
        assert all(got.headers.get("job-token") == TOKEN for got in server.received)
        assert server.received[0].path == "/api/v4/projects/42/releases/v1.4.0"
        package = "/api/v4/projects/42/packages/generic/relcheck/1.4.0/" + RECORD
        [link] = server.releases["v1.4.0"]["assets"]["links"]
        assert (link["name"], link["url"]) == (RECORD, server.base + package)
        (released.runs()[-1] / "note.md").write_text("# Release 1.4.0\n\nAgain.\n")
        relcheck("publish")  # the same package address: the link stays, and serves the new file
        assert [got.method for got in server.requests(path=package)] == ["PUT", "PUT"]
        assert (
            server.requests("POST", r"/uploads$") == [] == server.requests("GET", r"/projects/42$")
        )
        assert server.releases["v1.4.0"]["assets"]["links"] == [link]
        assert server.requests("DELETE") == []
        [release] = server.summary()
        assert release["body"].endswith("Again.\n")
        assert release["assets"] == {RECORD: status_json(relcheck)}
    finally:
        server.close()


def test_gitlab_links_are_paged_with_x_next_page_and_only_ours_replaced(
    released: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeGitLab(TOKEN)
    try:
        args = setup_forge(released, GITLAB, server, monkeypatch)
        server.seed("v1.4.0", draft=False)
        links = server.releases["v1.4.0"]["assets"]["links"]
        links += [
            {"id": 90, "name": "docs", "url": "https://docs.example.com", "link_type": "other"},
            {"id": 91, "name": RECORD, "url": "https://old.example.com", "link_type": "other"},
        ]
        server.max_page = 1
        relcheck("publish", *args)
        names = [link["name"] for link in server.releases["v1.4.0"]["assets"]["links"]]
        assert names == ["docs", RECORD]
        assert [got.path.rsplit("/", 1)[1] for got in server.requests("DELETE")] == ["91"]
        pages = [got.query.get("page") for got in server.requests("GET", r"/links$")]
        assert pages[:2] == [None, "2"]
    finally:
        server.close()


def test_gitlab_has_no_drafts(
    released: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeGitLab(TOKEN)
    try:
        args = setup_forge(released, GITLAB, server, monkeypatch)
        result = relcheck("publish", *args, "--draft", code=2)
        assert "GitLab releases have no draft flag; leave out --draft" in result.stderr
        assert server.received == []
    finally:
        server.close()


def test_an_upload_whose_answer_is_lost_is_not_sent_twice(
    relcheck: Invoke, github: tuple[FakeGitHub, list[str]]
) -> None:
    server, args = github
    server.slow("POST", r"/assets$", 1.5)
    result = relcheck("publish", *args, "--timeout", "0.5")
    assert len(server.requests("POST", r"/assets$")) == 1
    assert set(server.summary()[0]["assets"]) == {RECORD}
    assert f"the answer to uploading {RECORD} was lost" in result.stdout


# ---------------------------------------------------------------- detection and cutting


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        (
            "git@github.com:acme/service.git",
            ("github", "acme/service", "https://api.github.com"),
        ),
        (
            "ssh://git@gitlab.com/group/sub/service.git",
            ("gitlab", "group/sub/service", "https://gitlab.com/api/v4"),
        ),
        (
            "https://user:pw@gitea.example.com:3000/acme/service",
            ("gitea", "acme/service", "https://gitea.example.com:3000/api/v1"),
        ),
        (
            "https://codeberg.org/acme/service.git",
            ("gitea", "acme/service", "https://codeberg.org/api/v1"),
        ),
    ],
)
def test_the_target_is_read_from_the_origin_remote(
    repo: Repo, remote: str, expected: tuple[str, str, str]
) -> None:
    from relcheck.forge.detect import detect_target

    git(repo.path, "remote", "add", "origin", remote)
    target = detect_target(provider=None, repo=None, api_url=None, environ={}, root=repo.path)
    assert (target.provider, target.repo, target.api_url) == expected
    assert "pw" not in " ".join(target.found)


def test_a_note_is_never_cut_at_a_heading_inside_a_code_block() -> None:
    from relcheck.forge.release import cut_body

    note = "# Title\n\n## One\n\n" + "a\n" * 40 + "```\n## not a heading\n```\n" + "b\n" * 40
    body, cut = cut_body(note, 120, "NOTICE\n")
    assert cut and body == note[: note.index("## One")] + "NOTICE\n"
    assert cut_body("short\n", 120, "NOTICE\n") == ("short\n", False)
