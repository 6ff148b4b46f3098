"""`relcheck changelog`: every release from the tags, newest first, each with its own commits."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Invoke, Repo, git

from relcheck.history import Changelog, Commit, Group, Person, ReleaseHistory
from relcheck.notes import changelog_context
from relcheck.render import render_document


def _sections(text: str) -> dict[str, str]:
    """The changelog cut at its `## ` headings: heading -> the text under it."""
    found: dict[str, str] = {}
    heading = None
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:]
            found[heading] = ""
        elif heading is not None:
            found[heading] += line + "\n"
    return found


def _tag(repo: Repo, name: str) -> None:
    git(repo.path, "tag", "-a", name, "-m", f"Release {name}")


def test_each_release_lists_the_commits_since_the_one_before(repo: Repo, relcheck: Invoke) -> None:
    repo.commit("feat: login")
    _tag(repo, "v1.0.0")
    repo.commit("fix: logout <b>twice</b>")
    repo.commit("chore: not a release tag")
    git(repo.path, "tag", "nightly")
    _tag(repo, "v1.1.0")
    repo.commit("feat!: drop the old API")
    _tag(repo, "v2.0.0")
    repo.commit("docs: later")
    text = relcheck("changelog").output
    assert text.startswith("# Changelog\n")
    sections = _sections(text)
    assert [heading.split(" (")[0] for heading in sections] == ["2.0.0", "1.1.0", "1.0.0"]
    newest, middle, oldest = sections.values()
    assert "### Breaking changes\n\n- drop the old API (**breaking**)" in newest
    assert "logout" not in newest and "later" not in newest
    assert "### Bug fixes\n\n- logout &lt;b&gt;twice&lt;/b&gt;" in middle
    assert "not a release tag" in middle and "- login (" not in middle
    assert "- login (" in oldest and "- first commit (" in oldest
    assert "Unreleased" not in text


def test_unreleased_commits_come_first_when_asked(repo: Repo, relcheck: Invoke) -> None:
    _tag(repo, "v0.1.0")
    repo.commit("feat: pending work")
    text = relcheck("changelog", "--unreleased").output
    sections = _sections(text)
    assert next(iter(sections)) == "Unreleased"
    assert "- pending work (" in sections["Unreleased"]
    assert "pending work" not in relcheck("changelog").output


def test_a_side_branch_lands_in_the_release_that_merged_it(repo: Repo, relcheck: Invoke) -> None:
    _tag(repo, "v1.0.0")
    git(repo.path, "checkout", "-q", "-b", "side")
    repo.commit("feat: from the side branch")
    git(repo.path, "checkout", "-q", "main")
    repo.commit("fix: on main")
    _tag(repo, "v1.1.0")
    git(repo.path, "merge", "-q", "--no-ff", "-m", "Merge side", "side")
    _tag(repo, "v1.2.0")
    sections = _sections(relcheck("changelog").output)
    keys = {heading.split(" (")[0]: body for heading, body in sections.items()}
    assert "from the side branch" in keys["1.2.0"] and "on main" not in keys["1.2.0"]
    assert "on main" in keys["1.1.0"] and "side branch" not in keys["1.1.0"]


def test_the_changelog_uses_the_checklists_tag_template(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(
        "version: 1\ntag: 'release-{{ version }}'\nsteps:\n  - id: a\n    run: 'true'\n"
        "    rollback: none\n"
    )
    repo.commit("feat: one")
    _tag(repo, "v9.9.9")
    _tag(repo, "release-1.0.0")
    sections = _sections(relcheck("changelog").output)
    assert [heading.split(" (")[0] for heading in sections] == ["1.0.0"]


def test_no_tags_yet_and_output_to_a_file(repo: Repo, relcheck: Invoke) -> None:
    assert "No releases yet" in relcheck("changelog").output
    assert relcheck("changelog", "-o", "CHANGELOG.md").output == "Wrote CHANGELOG.md\n"
    assert (repo.path / "CHANGELOG.md").read_text().startswith("# Changelog\n")


def test_changelog_outside_git_exits_2(
    tmp_path: Path, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert "not in a git repository" in relcheck("changelog", code=2).output


def test_the_template_links_releases_to_their_comparison() -> None:
    person = Person("Ada", "ada@example.invalid")
    commit = Commit(
        sha="a" * 40,
        parents=(),
        author=person,
        date="2026-01-01T00:00:00+00:00",
        subject="fix: x",
        body="",
        type="fix",
        description="x",
    )
    release = ReleaseHistory(
        version="1.0.1",
        tag="v1.0.1",
        commit="a" * 40,
        date="2026-01-02T00:00:00+00:00",
        previous=None,
        commits=(commit,),
        groups=(Group("Bug fixes", ("fix",), (commit,)),),
        breaking=(),
        contributors=(person,),
        bots=(),
        compare_url="https://example.com/compare/v1.0.0...v1.0.1",
    )
    text = render_document("changelog.md.j2", changelog_context(Changelog(releases=(release,))))
    assert "## [1.0.1](https://example.com/compare/v1.0.0...v1.0.1) (2026-01-02)\n" in text
    assert "### Bug fixes\n\n- x (`aaaaaaa`)\n" in text
