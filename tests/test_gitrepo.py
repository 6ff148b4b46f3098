"""The git module: work tree, upstream, tags and pushes, on real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Repo, git

from relcheck import gitrepo


def test_head_and_user_name_still_work(repo: Repo) -> None:
    head = gitrepo.head(repo.path)
    assert head.branch == "main"
    assert head.commit == git(repo.path, "rev-parse", "HEAD")
    assert gitrepo.user_name(repo.path) == "Test Captain"
    assert gitrepo.find_root(repo.path / "sub") == repo.path.resolve()


def test_head_when_detached_and_before_the_first_commit(repo: Repo, tmp_path: Path) -> None:
    commit = git(repo.path, "rev-parse", "HEAD")
    git(repo.path, "checkout", "-q", "--detach")
    assert gitrepo.head(repo.path) == gitrepo.Head(None, commit)
    git(repo.path, "tag", "main")  # a tag named like the branch: git says which it means
    git(repo.path, "checkout", "-q", "main")
    assert gitrepo.head(repo.path) == gitrepo.Head("heads/main", commit)
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", "-b", "trunk", str(empty))
    assert gitrepo.head(empty) == gitrepo.Head("trunk", None)


def test_worktree_changes_lists_changed_and_untracked_files(repo: Repo) -> None:
    assert gitrepo.worktree_changes(repo.path) == gitrepo.Changes((), ())
    repo.write("README.md", "changed\n")
    repo.write("staged.txt", "new\n")
    git(repo.path, "add", "staged.txt")
    repo.write("docs/new file.txt", "untracked\n")
    changes = gitrepo.worktree_changes(repo.path)
    assert sorted(changes.changed) == ["README.md", "staged.txt"]
    assert changes.untracked == ("docs/new file.txt",)
    assert not changes.clean


def test_worktree_changes_reads_a_rename_as_one_change(repo: Repo) -> None:
    git(repo.path, "mv", "README.md", "README.rst")
    assert gitrepo.worktree_changes(repo.path) == gitrepo.Changes(("README.rst",), ())


def test_worktree_changes_leaves_out_relchecks_own_folder(repo: Repo) -> None:
    # No .gitignore inside: the folder is left out by name, not by git's rules.
    repo.write(".relcheck/runs/1/journal.jsonl", "{}\n")
    repo.write("sub/.relcheck/lock", "1\n")
    assert gitrepo.worktree_changes(repo.path).clean


def test_upstream_is_none_without_one(repo: Repo) -> None:
    assert gitrepo.upstream(repo.path, "main") is None


def test_upstream_names_the_remote_branch(repo: Repo, origin: Path) -> None:
    tracked = gitrepo.upstream(repo.path, "main")
    assert tracked == gitrepo.Upstream(
        name="origin/main", ref="refs/remotes/origin/main", remote="origin", gone=False
    )


def test_upstream_is_gone_when_the_tracking_ref_is_missing(repo: Repo, origin: Path) -> None:
    git(repo.path, "update-ref", "-d", "refs/remotes/origin/main")
    tracked = gitrepo.upstream(repo.path, "main")
    assert tracked is not None and tracked.gone


def test_ahead_behind_counts_both_sides(repo: Repo, origin: Path) -> None:
    assert gitrepo.ahead_behind(repo.path, "refs/remotes/origin/main") == (0, 0)
    repo.commit("local one")
    repo.commit("local two")
    assert gitrepo.ahead_behind(repo.path, "refs/remotes/origin/main") == (2, 0)
    git(repo.path, "reset", "-q", "--hard", "HEAD~2")
    git(repo.path, "update-ref", "refs/remotes/origin/main", repo.commit("elsewhere"))
    git(repo.path, "reset", "-q", "--hard", "HEAD~1")
    assert gitrepo.ahead_behind(repo.path, "refs/remotes/origin/main") == (0, 1)


def test_remotes_put_origin_first(repo: Repo, origin: Path) -> None:
    git(repo.path, "remote", "add", "aaa", str(origin))
    assert gitrepo.remotes(repo.path) == ("origin", "aaa")


def test_fetch_failure_carries_gits_message(repo: Repo, tmp_path: Path) -> None:
    git(repo.path, "remote", "add", "gone", str(tmp_path / "missing.git"))
    with pytest.raises(gitrepo.GitError) as caught:
        gitrepo.fetch(repo.path, "gone", timeout=30)
    assert "`git fetch --quiet gone` failed:" in caught.value.message
    assert "does not appear to be a git repository" in caught.value.message


def test_a_hung_fetch_is_stopped_at_its_timeout(repo: Repo) -> None:
    # An ssh "transport" that never answers stands in for an unreachable host.
    git(repo.path, "remote", "add", "slow", "ssh://example.invalid/repo.git")
    git(repo.path, "config", "core.sshCommand", "sleep 30; true")
    with pytest.raises(gitrepo.GitError) as caught:
        gitrepo.fetch(repo.path, "slow", timeout=0.5)
    assert "did not finish within 0.5 s and was stopped" in caught.value.message
    assert caught.value.retry_safe is True


def test_find_tag_tells_annotated_from_lightweight(repo: Repo) -> None:
    head = git(repo.path, "rev-parse", "HEAD")
    assert gitrepo.find_tag(repo.path, "v1.0.0") is None
    git(repo.path, "tag", "-a", "v1.0.0", "-m", "one")
    git(repo.path, "tag", "light")
    assert gitrepo.find_tag(repo.path, "v1.0.0") == gitrepo.Tag("v1.0.0", head, annotated=True)
    assert gitrepo.find_tag(repo.path, "light") == gitrepo.Tag("light", head, annotated=False)


def test_create_tag_puts_an_annotated_tag_on_the_given_commit(repo: Repo) -> None:
    first = git(repo.path, "rev-parse", "HEAD")
    repo.commit("later")
    made = gitrepo.create_tag(
        repo.path, "v2.0.0", commit=first, message="Release 2.0.0", sign=False
    )
    assert made == gitrepo.Tag("v2.0.0", first, annotated=True)
    assert git(repo.path, "rev-parse", "v2.0.0^{commit}") == first
    assert git(repo.path, "cat-file", "-t", "v2.0.0") == "tag"
    assert git(repo.path, "tag", "-l", "--format=%(contents:subject)", "v2.0.0") == "Release 2.0.0"


@pytest.mark.parametrize("name", ["v1..0", "has space", "-v1", "v1.lock"])
def test_create_tag_refuses_a_name_git_cannot_use(repo: Repo, name: str) -> None:
    head = git(repo.path, "rev-parse", "HEAD")
    with pytest.raises(gitrepo.GitError, match="is not a valid git tag name"):
        gitrepo.create_tag(repo.path, name, commit=head, message="m", sign=False)
    assert git(repo.path, "tag", "--list") == ""


def test_push_tag_and_ask_the_remote_for_it(repo: Repo, origin: Path) -> None:
    head = git(repo.path, "rev-parse", "HEAD")
    assert gitrepo.remote_tag_commit(repo.path, "origin", "v1.0.0", timeout=30) is None
    gitrepo.create_tag(repo.path, "v1.0.0", commit=head, message="m", sign=False)
    gitrepo.push_tag(repo.path, "origin", "v1.0.0", timeout=30)
    assert git(origin, "rev-parse", "v1.0.0^{commit}") == head
    # The annotated tag's object is not the commit; the answer is the commit.
    assert gitrepo.remote_tag_commit(repo.path, "origin", "v1.0.0", timeout=30) == head
    gitrepo.push_tag(repo.path, "origin", "v1.0.0", timeout=30)  # up to date: no error


def test_push_tag_refused_by_the_remote_raises_with_gits_message(repo: Repo, origin: Path) -> None:
    first = git(repo.path, "rev-parse", "HEAD")
    gitrepo.create_tag(repo.path, "v1.0.0", commit=first, message="m", sign=False)
    gitrepo.push_tag(repo.path, "origin", "v1.0.0", timeout=30)
    git(repo.path, "tag", "-d", "v1.0.0")
    second = repo.commit("other")
    gitrepo.create_tag(repo.path, "v1.0.0", commit=second, message="m", sign=False)
    with pytest.raises(gitrepo.GitError, match=r"already exists"):
        gitrepo.push_tag(repo.path, "origin", "v1.0.0", timeout=30)


def test_short_hash() -> None:
    assert gitrepo.short_hash("0123456789abcdef") == "0123456"
