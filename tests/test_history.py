"""Git history for notes and the changelog, read from real repositories made here."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pytest

from relcheck import gitrepo
from relcheck.errors import UsageError
from relcheck.history import (
    OTHER_TITLE,
    Commit,
    GroupSpec,
    Links,
    NotesOptions,
    Person,
    ReleaseHistory,
    links_from_url,
    parse_commit,
    read_changelog,
    read_release,
    release_tags,
)

TEMPLATE = "v{{ version }}"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
ME = ("Test Captain", "captain@example.invalid")


class History:
    """A git repository whose commits get increasing, fixed dates (one minute apart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = 1_700_000_000
        path.mkdir()
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, when: int | None = None, author: tuple[str, str] = ME) -> str:
        stamp = f"{when or self.clock} +0000"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        done = subprocess.run(
            ["git", "-c", "commit.gpgSign=false", "-c", "tag.gpgSign=false", *args],
            cwd=self.path,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.stdout.strip()

    def commit(self, message: str, *, author: tuple[str, str] = ME, when: int | None = None) -> str:
        self.clock += 60
        self.git("commit", "-q", "--allow-empty", "-m", message, when=when, author=author)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, *, annotated: bool = True, at: str = "HEAD") -> None:
        self.clock += 60
        if annotated:
            self.git("tag", "-a", name, "-m", f"Release {name}", at)
        else:
            self.git("tag", name, at)

    def merge(self, branch: str, message: str) -> str:
        self.clock += 60
        self.git("merge", "-q", "--no-ff", "-m", message, branch)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "history")


def _release(history: History, **kwargs: object) -> ReleaseHistory:
    return read_release(history.path, tag_template=TEMPLATE, now=NOW, **kwargs)  # type: ignore[arg-type]


def _subjects(commits: Sequence[Commit]) -> list[str]:
    return [commit.subject for commit in commits]


def _groups(release: ReleaseHistory) -> dict[str, list[str]]:
    return {group.title: _subjects(group.commits) for group in release.groups}


# -- parsing messages --------------------------------------------------------------------------


def _parse(message: str, parents: int = 1) -> Commit:
    author = Person(*ME)
    return parse_commit("a" * 40, ("b" * 40,) * parents, author, "2024-01-01T00:00:00Z", message)


def test_conventional_header_type_scope_and_description() -> None:
    commit = _parse("Feat(API): add the login endpoint (#12)\n\nLonger text.\n")
    assert (commit.type, commit.scope, commit.description) == (
        "feat",
        "API",
        "add the login endpoint",
    )
    assert commit.subject == "Feat(API): add the login endpoint (#12)"
    assert commit.body == "Longer text."
    assert commit.pull_requests == (12,)
    assert not commit.breaking


def test_a_parsed_commit_is_a_plain_frozen_commit() -> None:
    commit = _parse("fix(db): retry (#9)\n\nCo-authored-by: Ann <ann@example.com>")
    assert type(commit) is Commit
    assert vars(commit).keys() == {field.name for field in dataclasses.fields(Commit)}
    rebuilt = Commit(
        **{field.name: getattr(commit, field.name) for field in dataclasses.fields(Commit)}
    )
    assert rebuilt == commit and hash(rebuilt) == hash(commit)
    assert dataclasses.replace(commit, scope="api").scope == "api"
    with pytest.raises(dataclasses.FrozenInstanceError):
        commit.scope = "api"  # type: ignore[misc]


@pytest.mark.parametrize(
    "message",
    [
        "Fix the thing",
        "Update README.md: typo",
        "feat:no space",
        "http://example.com is down",
        "WIP",
    ],
)
def test_free_form_messages_have_no_type(message: str) -> None:
    commit = _parse(message)
    assert commit.type is None and commit.scope is None
    assert commit.description == message


def test_breaking_bang_and_both_footer_spellings() -> None:
    bang = _parse("refactor(core)!: drop Python 3.9")
    assert bang.breaking and bang.breaking_notes == () and bang.type == "refactor"

    footer = _parse("feat: new config\n\nBody.\n\nBREAKING CHANGE: the `x` key is gone.\nUse `y`.")
    assert footer.breaking
    assert footer.breaking_notes == ("the `x` key is gone.\nUse `y`.",)

    hyphen = _parse("fix: y\n\nBREAKING-CHANGE: z moved\nRefs: #4")
    assert hyphen.breaking_notes == ("z moved",)
    assert hyphen.trailers == (("BREAKING-CHANGE", "z moved"), ("Refs", "#4"))

    paragraph = _parse("perf: faster\n\nBREAKING CHANGE: cache format changed\n\nReviewed-by: Ann")
    assert paragraph.breaking_notes == ("cache format changed",)
    assert paragraph.trailers == (("Reviewed-by", "Ann"),)


def test_a_breaking_footer_makes_a_free_form_commit_breaking_too() -> None:
    commit = _parse("Rework storage\n\nBREAKING CHANGE: data must be migrated")
    assert commit.type is None and commit.breaking


def test_trailers_only_from_a_paragraph_of_trailers() -> None:
    prose = _parse("fix: x\n\nThis paragraph: is prose,\nnot trailers.")
    assert prose.trailers == ()
    commit = _parse(
        "fix: x\n\nText.\n\nCo-authored-by: Ann Lee <ann@example.com>\n"
        "Co-Authored-By: dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>\n"
        "Fixes #7"
    )
    assert [person.name for person in commit.co_authors] == ["Ann Lee", "dependabot[bot]"]
    assert [person.bot for person in commit.co_authors] == [False, True]
    assert ("Fixes", "#7") in commit.trailers


def test_pull_request_references_and_merges() -> None:
    assert _parse("fix: a (#3) (#4)").pull_requests == (3, 4)
    assert _parse("fix: a (#3) (#4)").description == "a"
    github = _parse("Merge pull request #41 from ann/login\n\nfeat(auth): log in with SSO", 2)
    assert (github.type, github.scope, github.description) == ("feat", "auth", "log in with SSO")
    assert github.pull_requests == (41,) and github.is_merge
    gitlab = _parse("Merge branch 'login' into 'main'\n\nLog in\n\nSee merge request team/app!9", 2)
    assert gitlab.pull_requests == (9,) and gitlab.type is None


def test_git_revert_messages_are_reverts() -> None:
    commit = _parse('Revert "feat: login"\n\nThis reverts commit abc.')
    assert commit.type == "revert"


# -- reading a release ------------------------------------------------------------------------


def test_no_tags_reads_the_whole_history_and_groups_it(history: History) -> None:
    history.commit("chore: start")
    history.commit("feat(api): add users")
    history.commit("Tidy things up")
    history.commit("fix: off by one (#5)")
    history.commit("feat!: new storage")
    history.commit("wip: not a known type")
    release = _release(history)
    assert release.previous is None and release.compare_url is None
    assert release.version is None and release.tag is None
    assert release.commit == history.git("rev-parse", "HEAD")
    assert release.date == "2030-01-02T03:04:05+00:00"
    assert _subjects(release.commits) == [
        "wip: not a known type",
        "feat!: new storage",
        "fix: off by one (#5)",
        "Tidy things up",
        "feat(api): add users",
        "chore: start",
    ]
    assert _groups(release) == {
        "Features": ["feat!: new storage", "feat(api): add users"],
        "Bug fixes": ["fix: off by one (#5)"],
        "Chores": ["chore: start"],
        OTHER_TITLE: ["wip: not a known type", "Tidy things up"],
    }
    assert list(_groups(release))[-1] == OTHER_TITLE
    assert _subjects(release.breaking) == ["feat!: new storage"]


def test_configured_groups_and_order(history: History) -> None:
    history.commit("fix: one")
    history.commit("feat: two")
    history.commit("docs: three")
    groups = (GroupSpec("Fixed", ("fix",)), GroupSpec("Added", ("feat", "docs")))
    release = _release(history, options=NotesOptions(groups=groups))
    assert [group.title for group in release.groups] == ["Fixed", "Added"]
    assert _groups(release)["Added"] == ["docs: three", "feat: two"]


def test_one_tag_starts_the_range(history: History) -> None:
    history.commit("feat: before")
    history.tag("v1.0.0")
    history.commit("fix: after one")
    history.commit("fix: after two")
    release = _release(history)
    assert release.previous is not None and release.previous.name == "v1.0.0"
    assert release.previous.version == "1.0.0"
    assert _subjects(release.commits) == ["fix: after two", "fix: after one"]

    named = _release(history, version="1.0.1")
    assert (named.version, named.tag) == ("1.0.1", "v1.0.1")
    assert named.date == "2030-01-02T03:04:05+00:00"  # no tag yet: now
    assert named.previous is not None and named.previous.name == "v1.0.0"


def test_contributors_once_each_sorted_with_bots_apart(history: History) -> None:
    ann, bob = ("Ann Lee", "ann@example.com"), ("Bob Ray", "bob@example.com")
    history.commit("feat: one", author=("ann lee (old name)", "ANN@example.com"))
    history.commit("feat: two", author=bob)
    history.commit(
        "build: bump x",
        author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
    )
    history.commit("ci: update", author=("Renovate Bot", "bot@renovateapp.com"))
    history.commit("chore: sync", author=("Release Robot", "robot@ci.example.com"))
    history.commit(
        "fix: three\n\nCo-authored-by: Cy Dee <cy@example.com>\n"
        "Co-authored-by: Bob Ray <BOB@example.com>",
        author=ann,
    )
    release = _release(history, options=NotesOptions(bots=("*robot*",)))
    assert [(p.name, p.email) for p in release.contributors] == [
        ann,
        bob,
        ("Cy Dee", "cy@example.com"),
    ]
    assert [p.name for p in release.bots] == ["dependabot[bot]", "Release Robot", "Renovate Bot"]
    assert all(p.bot for p in release.bots)


def test_merges_are_left_out_unless_asked(history: History) -> None:
    history.commit("feat: base")
    history.tag("v1.0.0")
    history.git("switch", "-q", "-c", "topic")
    history.commit("feat: on the topic")
    history.git("switch", "-q", "main")
    history.commit("fix: on main")
    history.merge("topic", "Merge pull request #8 from ann/topic\n\nfeat: the topic")
    left_out = _release(history)
    assert sorted(_subjects(left_out.commits)) == ["feat: on the topic", "fix: on main"]
    included = _release(history, options=NotesOptions(include_merges=True))
    merge = [commit for commit in included.commits if commit.is_merge]
    assert len(included.commits) == 3 and len(merge) == 1
    assert merge[0].pull_requests == (8,) and merge[0].description == "the topic"


def test_a_tag_off_the_first_parent_line_is_the_previous_release(history: History) -> None:
    history.commit("feat: start")
    history.git("switch", "-q", "-c", "release/1.0")
    history.commit("fix: stabilise")
    history.tag("v1.0.0")
    history.git("switch", "-q", "main")
    history.commit("feat: next thing")
    history.merge("release/1.0", "Merge branch 'release/1.0'")
    history.commit("fix: after the merge")
    release = _release(history)
    assert release.previous is not None and release.previous.name == "v1.0.0"
    assert _subjects(release.commits) == ["fix: after the merge", "feat: next thing"]


def test_an_existing_release_tag_gives_version_date_and_range(history: History) -> None:
    history.commit("feat: one")
    history.tag("v1.0.0")
    history.commit("feat: two")
    history.commit("fix: three")
    history.tag("v1.1.0")
    tagged_at = history.clock
    history.commit("feat: later, not in 1.1.0")
    history.tag("v1.2.0", annotated=False)
    release = _release(history, to_ref="v1.1.0")
    assert (release.version, release.tag) == ("1.1.0", "v1.1.0")
    assert release.date == datetime.fromtimestamp(tagged_at, timezone.utc).isoformat()
    assert release.commit == history.git("rev-parse", "v1.1.0^{commit}")
    assert release.previous is not None and release.previous.name == "v1.0.0"
    assert _subjects(release.commits) == ["fix: three", "feat: two"]

    lightweight = _release(history, to_ref="v1.2.0")
    commit_date = history.git("log", "-1", "--format=%cI", "v1.2.0")
    assert lightweight.date == commit_date.replace("Z", "+00:00")
    assert lightweight.previous is not None and lightweight.previous.name == "v1.1.0"

    # HEAD is on v1.2.0: without a version, that tag is the release.
    at_head = _release(history)
    assert (at_head.version, at_head.tag) == ("1.2.0", "v1.2.0")
    assert _subjects(at_head.commits) == ["feat: later, not in 1.1.0"]

    with pytest.raises(UsageError, match="give one or the other"):
        _release(history, to_ref="v1.1.0", version="1.3.0")


def test_pre_releases_are_left_out_for_a_final_release(history: History) -> None:
    history.commit("feat: one")
    history.tag("v1.0.0")
    history.commit("feat!: two")
    history.tag("v2.0.0-rc.1")
    history.commit("fix: rc fix")
    history.tag("v2.0.0-rc.2")
    history.commit("fix: last fix")
    final = _release(history, version="2.0.0")
    assert final.previous is not None and final.previous.name == "v1.0.0"
    assert _subjects(final.commits) == ["fix: last fix", "fix: rc fix", "feat!: two"]
    candidate = _release(history, version="2.0.0-rc.3")
    assert candidate.previous is not None and candidate.previous.name == "v2.0.0-rc.2"
    assert _subjects(candidate.commits) == ["fix: last fix"]


def test_a_newer_version_is_never_the_previous_release(history: History) -> None:
    history.commit("feat: one")
    history.tag("v2.0.0")
    history.commit("fix: backport")
    patch = _release(history, version="1.9.1")
    assert patch.previous is None


def test_a_higher_tag_not_reachable_is_skipped(history: History, git_calls: Path) -> None:
    history.commit("feat: one")
    history.tag("v1.0.0")
    history.commit("feat: two")
    history.tag("v1.1.0")
    history.git("switch", "-q", "-c", "next")
    history.commit("feat!: next major")
    history.tag("v2.0.0-beta.1")  # the highest version, on a branch main never merged
    history.git("switch", "-q", "main")
    history.commit("fix: on main")
    git_calls.unlink()
    release = _release(history)
    assert release.previous is not None and release.previous.name == "v1.1.0"
    assert _subjects(release.commits) == ["fix: on main"]
    used = _subcommands(git_calls)
    assert (used.count("log"), used.count("for-each-ref")) == (2, 2), used
    named = _release(history, version="1.2.0")  # 2.0.0-beta.1 is above 1.2.0: not a candidate
    assert named.previous is not None and named.previous.name == "v1.1.0"


def test_two_releases_on_one_commit(history: History) -> None:
    history.commit("feat: one")
    history.tag("v1.0.0")
    history.tag("v1.0.1")
    release = _release(history)
    assert (release.tag, release.previous and release.previous.name) == ("v1.0.1", "v1.0.0")
    assert release.commits == ()


def test_from_ref_overrides_the_previous_tag(history: History) -> None:
    history.commit("feat: one")
    history.tag("v1.0.0")
    start = history.commit("fix: two")
    history.commit("fix: three")
    release = _release(history, from_ref=start)
    assert _subjects(release.commits) == ["fix: three"]
    assert release.previous is not None
    assert (release.previous.name, release.previous.commit) == (start[:12], start)
    tagged = _release(history, from_ref="v1.0.0")
    assert tagged.previous is not None and tagged.previous.date  # a tag keeps its date
    assert _subjects(tagged.commits) == ["fix: three", "fix: two"]


def test_refs_that_name_no_commit_are_reported(history: History, tmp_path: Path) -> None:
    history.commit("feat: one")
    with pytest.raises(UsageError, match=r"--to 'nope' does not name a commit"):
        _release(history, to_ref="nope")
    with pytest.raises(UsageError, match=r"--from '--all' does not name a commit"):
        _release(history, from_ref="--all")
    empty = History(tmp_path / "empty")
    with pytest.raises(UsageError, match="has no commits yet"):
        _release(empty)


def test_release_tags_are_versions_only_highest_first(history: History) -> None:
    history.commit("feat: one")
    for name in ("v1.0.0", "v1.10.0", "v1.2.0", "vnext", "nightly", "v2.0.0-rc.1", "release-3.0.0"):
        history.tag(name, annotated=name != "v1.2.0")
    found = release_tags(history.path, TEMPLATE)
    assert [tag.name for tag in found] == ["v2.0.0-rc.1", "v1.10.0", "v1.2.0", "v1.0.0"]
    assert {tag.commit for tag in found} == {history.git("rev-parse", "HEAD")}
    assert [tag.name for tag in release_tags(history.path, "release-{{ version }}")] == [
        "release-3.0.0"
    ]


# -- links ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base", "forge"),
    [
        ("https://github.com/octo/app.git", "https://github.com/octo/app", "github"),
        ("git@github.com:octo/app.git", "https://github.com/octo/app", "github"),
        ("ssh://git@ssh.github.com:443/octo/app.git", "https://github.com/octo/app", "github"),
        ("https://user:s3cret@github.com/octo/app", "https://github.com/octo/app", "github"),
        ("https://gitlab.com/group/sub/app.git", "https://gitlab.com/group/sub/app", "gitlab"),
        (
            "ssh://git@gitlab.example.com:2222/group/sub/app.git",
            "https://gitlab.example.com/group/sub/app",
            "gitlab",
        ),
        (
            "https://oauth2:glpat-xyz@gitlab.example.com:8443/g/app/",
            "https://gitlab.example.com:8443/g/app",
            "gitlab",
        ),
        ("https://user:token@gitea.example.com/o/app", "https://gitea.example.com/o/app", "gitea"),
        ("git@gitea.example.com:o/app.git", "https://gitea.example.com/o/app", "gitea"),
        ("http://gitea.local:3000/o/app.git", "http://gitea.local:3000/o/app", "gitea"),
        ("https://codeberg.org/o/app.git", "https://codeberg.org/o/app", "gitea"),
    ],
)
def test_links_from_forge_remotes(url: str, base: str, forge: str) -> None:
    assert links_from_url(url) == Links(base=base, forge=forge)


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/o/app.git",
        "git@bitbucket.org:o/app.git",
        "/srv/git/app.git",
        "file:///srv/git/app.git",
        "C:\\repos\\app",
        "https://github.com/",
        "https://github.com:notaport/o/app",
    ],
)
def test_no_links_for_other_hosts_or_paths(url: str) -> None:
    assert links_from_url(url) is None


def test_links_and_compare_url_come_from_origin(history: History) -> None:
    history.commit("feat: one (#3)")
    history.tag("v1.0.0")
    history.commit("fix: two")
    history.git("remote", "add", "origin", "https://bot:ghp_SECRET@github.com/octo/app.git")
    release = _release(history, version="1.0.1")
    assert release.links == Links("https://github.com/octo/app", "github")
    # v1.0.1 does not exist yet, so the comparison ends at the commit...
    assert release.compare_url == f"https://github.com/octo/app/compare/v1.0.0...{release.commit}"
    assert "SECRET" not in repr(release)
    history.tag("v1.0.1")
    tagged = _release(history, version="1.0.1")
    # ...and at the tag once it is there.
    assert tagged.compare_url == "https://github.com/octo/app/compare/v1.0.0...v1.0.1"
    assert tagged.tagged and not release.tagged
    history.commit("fix: three")
    history.git("remote", "set-url", "origin", "git@gitlab.com:team/sub/app.git")
    untagged = _release(history)
    assert untagged.links is not None
    assert untagged.compare_url == (
        f"https://gitlab.com/team/sub/app/-/compare/v1.0.1...{untagged.commit}"
    )
    history.git("remote", "set-url", "origin", "https://git.example.com/app.git")
    assert _release(history).links is None


# -- the changelog ---------------------------------------------------------------------------


def _changelog_repo(history: History) -> None:
    """main: one -> v1.0.0 -> two -> v1.1.0 -> merge(side) -> three -> v1.2.0 -> four;
    side branches off before v1.0.0's successor and is merged after v1.1.0;
    maintenance: a backport tagged v1.0.1 on its own branch, never merged."""
    history.commit("feat: one")
    history.tag("v1.0.0")
    history.git("switch", "-q", "-c", "side")
    history.commit("fix: side work")
    history.git("switch", "-q", "-c", "maint", "v1.0.0")
    history.commit("fix: backport")
    history.tag("v1.0.1")
    history.git("switch", "-q", "main")
    history.commit("feat: two")
    history.tag("v1.1.0")
    history.merge("side", "Merge branch 'side'")
    history.commit("fix: three")
    history.tag("v1.2.0")
    history.commit("docs: four")


def test_changelog_assigns_each_commit_to_its_oldest_release(history: History) -> None:
    _changelog_repo(history)
    changelog = read_changelog(history.path, tag_template=TEMPLATE, now=NOW)
    by_tag = {release.tag: release for release in changelog.releases}
    assert list(by_tag) == ["v1.2.0", "v1.1.0", "v1.0.1", "v1.0.0"]
    assert {tag: _subjects(r.commits) for tag, r in by_tag.items()} == {
        "v1.2.0": ["fix: three", "fix: side work"],
        "v1.1.0": ["feat: two"],
        "v1.0.1": ["fix: backport"],
        "v1.0.0": ["feat: one"],
    }
    previous = {tag: r.previous.name if r.previous else None for tag, r in by_tag.items()}
    assert previous == {"v1.2.0": "v1.1.0", "v1.1.0": "v1.0.0", "v1.0.1": "v1.0.0", "v1.0.0": None}
    assert by_tag["v1.1.0"].version == "1.1.0"
    assert by_tag["v1.1.0"].date == history.git(
        "for-each-ref", "--format=%(creatordate:iso-strict)", "refs/tags/v1.1.0"
    ).replace("Z", "+00:00")
    assert changelog.unreleased is not None
    assert _subjects(changelog.unreleased.commits) == ["docs: four"]
    assert changelog.unreleased.previous is not None
    assert changelog.unreleased.previous.name == "v1.2.0"
    assert changelog.unreleased.date == "2030-01-02T03:04:05+00:00"
    assert read_changelog(history.path, tag_template=TEMPLATE, unreleased=False).unreleased is None


def test_changelog_matches_read_release_for_each_linear_release(history: History) -> None:
    _changelog_repo(history)
    changelog = read_changelog(history.path, tag_template=TEMPLATE)
    for release in changelog.releases:
        assert release.tag is not None
        alone = _release(history, to_ref=release.tag)
        assert _subjects(alone.commits) == _subjects(release.commits), release.tag


def test_changelog_with_merges_included_and_without_tags(history: History) -> None:
    _changelog_repo(history)
    merged = read_changelog(
        history.path, tag_template=TEMPLATE, options=NotesOptions(include_merges=True)
    )
    assert "Merge branch 'side'" in _subjects(merged.releases[0].commits)
    untagged = read_changelog(history.path, tag_template="release-{{ version }}")
    assert untagged.releases == ()
    assert untagged.unreleased is not None
    assert len(untagged.unreleased.commits) == 5  # main's history, merge left out


def test_changelog_is_right_when_commit_dates_are_out_of_order(history: History) -> None:
    # s2 is dated before its parent s1, so git's date order lists a (s1's parent)
    # before s1, and a would hand the wrong release down to root.
    history.commit("chore: root", when=1_600_000_000)
    history.commit("feat: a", when=1_600_000_100)
    history.git("switch", "-q", "-c", "side")
    history.commit("fix: s1", when=1_600_000_300)
    history.commit("fix: s2", when=1_600_000_050)
    history.tag("v0.9.0")
    history.git("switch", "-q", "main")
    history.commit("feat: b", when=1_600_000_200)
    history.clock = 1_600_000_400
    history.merge("side", "Merge branch 'side'")
    history.tag("v1.0.0")
    changelog = read_changelog(history.path, tag_template=TEMPLATE)
    by_tag = {release.tag: release for release in changelog.releases}
    assert sorted(_subjects(by_tag["v0.9.0"].commits)) == [
        "chore: root",
        "feat: a",
        "fix: s1",
        "fix: s2",
    ]
    assert _subjects(by_tag["v1.0.0"].commits) == ["feat: b"]
    assert by_tag["v1.0.0"].previous is not None
    assert by_tag["v1.0.0"].previous.name == "v0.9.0"


# -- how many git processes -------------------------------------------------------------------


@pytest.fixture
def git_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``git`` first on PATH that writes its arguments to a file, then runs the real git."""
    real = shutil.which("git")
    assert real is not None
    shims = tmp_path / "shims"
    shims.mkdir()
    calls = tmp_path / "git-calls.txt"
    shim = shims / "git"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{calls}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    return calls


def _subcommands(calls: Path) -> list[str]:
    lines = calls.read_text().splitlines() if calls.exists() else []
    words = [next(word for word in line.split() if not word.startswith("-")) for line in lines]
    # GitPython runs `git version` when first imported (by whichever test reads a log first).
    return [word for word in words if word != "version"]


def test_changelog_runs_one_log_and_one_for_each_ref(history: History, git_calls: Path) -> None:
    _changelog_repo(history)
    git_calls.unlink()  # count from here
    changelog = read_changelog(history.path, tag_template=TEMPLATE)
    assert len(changelog.releases) == 4
    used = _subcommands(git_calls)
    assert used.count("log") == 1, used
    assert used.count("for-each-ref") == 1, used
    assert len(used) <= 4, used  # plus rev-parse HEAD and remote get-url


def test_read_release_runs_one_log_and_one_for_each_ref(history: History, git_calls: Path) -> None:
    _changelog_repo(history)
    git_calls.unlink()
    release = _release(history)
    assert release.previous is not None
    used = _subcommands(git_calls)
    assert (used.count("log"), used.count("for-each-ref")) == (1, 1), used


# -- the log reader ---------------------------------------------------------------------------


def test_log_reports_gits_own_message(history: History) -> None:
    history.commit("feat: one")
    with pytest.raises(gitrepo.GitError, match=r"`git log` failed: .*nope"):
        gitrepo.log_fields(history.path, ["nope"], ["%H"])
    with pytest.raises(gitrepo.GitError, match="would be read as an option"):
        gitrepo.log_fields(history.path, ["--all"], ["%H"])


def test_log_records_across_many_reads_arrive_whole(tmp_path: Path) -> None:
    # About 3 MiB of output: several reads of the pipe, records cut between them.
    path = tmp_path / "big"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, timeout=30)
    lines = []
    for number in range(1, 3001):
        message = f"fix: change {number}\n\n" + "é" * (number % 700) + "\n"
        lines.append(f"commit refs/heads/main\nmark :{number}\n")
        lines.append(f"committer A <a@example.com> {1_600_000_000 + number} +0000\n")
        lines.append(f"data {len(message.encode())}\n{message}\n")
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=path,
        input="".join(lines),
        text=True,
        check=True,
        timeout=60,
    )
    batches = list(gitrepo.log_batches(path, ["main"], ["%H", "%s", "%b"]))
    assert len(batches) > 1
    values = [value for batch in batches for value in batch]
    subjects = values[1::3]
    assert subjects == [f"fix: change {number}" for number in range(3000, 0, -1)]
    assert all(len(sha) == 40 for sha in values[0::3])
    assert [len(body.strip()) for body in values[2::3]][:3] == [3000 % 700, 2999 % 700, 2998 % 700]


def test_breaking_notes_are_found_after_prose_and_kept_in_order() -> None:
    from relcheck.history import parse_commit

    author = Person("A", "a@example.com")
    inline = parse_commit(
        "a" * 40,
        (),
        author,
        "2026-01-01T00:00:00+00:00",
        "fix: a\n\nSome explanation.\nBREAKING CHANGE: x is gone",
    )
    assert inline.breaking and inline.breaking_notes == ("x is gone",)
    two = parse_commit(
        "b" * 40,
        (),
        author,
        "2026-01-01T00:00:00+00:00",
        "feat: b\n\nBREAKING CHANGE: first\n\nBREAKING CHANGE: second",
    )
    assert two.breaking_notes == ("first", "second")
