"""The one module that talks to git (through GitPython, imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relcheck.errors import RelcheckError


def find_root(start: Path) -> Path | None:
    """The top of the git work tree holding ``start``, found without running git."""
    current = start.resolve()
    for folder in (current, *current.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _repo(root: Path) -> Any:
    try:
        import git
    except ImportError as exc:  # GitPython raises ImportError when git is missing
        raise RelcheckError(
            f"git failed: {exc}. Is git installed and on PATH?", retry_safe=True
        ) from None
    try:
        return git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RelcheckError(
            f"{root} is not a git repository. Run relcheck inside one, or `git init` first.",
            retry_safe=True,
        ) from None


@dataclass(frozen=True)
class Head:
    branch: str | None
    commit: str | None


def head(root: Path | None) -> Head:
    """Current branch (None when detached) and commit (None before the first commit)."""
    if root is None:
        return Head(None, None)
    repo = _repo(root)
    commit = repo.head.commit.hexsha if repo.head.is_valid() else None
    try:
        branch: str | None = repo.active_branch.name
    except TypeError:  # detached HEAD
        branch = None
    return Head(branch, commit)


def user_name(root: Path | None) -> str | None:
    """git's user.name for this repository (or globally), if set."""
    if root is None:
        return None
    reader = _repo(root).config_reader()
    value = reader.get_value("user", "name", default="")
    return str(value) or None
