"""Compiled templates kept in the user cache folder: same output, edits seen, never needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Repo
from jinja2.bccache import bc_magic


def _notes(repo: Repo, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relcheck", "notes", "--no-run", *args],
        cwd=repo.path,
        env={**os.environ, "XDG_CACHE_HOME": str(cache)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_kept_template_renders_alike_and_an_edited_one_anew(repo: Repo, tmp_path: Path) -> None:
    repo.commit("feat: add the thing")
    template = repo.write(
        "note.md.j2", '{% extends "release-note.md.j2" %}{% block title %}A\n{% endblock %}'
    )
    cache = tmp_path / "cache"
    first = _notes(repo, cache, "--template", "note.md.j2")
    kept = sorted((cache / "relcheck" / "templates").iterdir())
    second = _notes(repo, cache, "--template", "note.md.j2")
    template.write_text(template.read_text().replace("A\n", "B\n"))
    edited = _notes(repo, cache, "--template", "note.md.j2")
    assert first.returncode == second.returncode == edited.returncode == 0, first.stderr
    assert kept and first.stdout == second.stdout and first.stdout.startswith("A\n")
    assert edited.stdout.startswith("B\n") and edited.stdout[1:] == first.stdout[1:]


def test_a_template_error_names_its_line_with_or_without_a_cache(
    repo: Repo, tmp_path: Path
) -> None:
    repo.write("bad.md.j2", "fine\n{{ no_such_name }}\n")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    for cache in (tmp_path / "cache", tmp_path / "cache", blocker):
        done = _notes(repo, cache, "--template", "bad.md.j2")
        assert done.returncode == 2
        assert "bad.md.j2:2: 'no_such_name' is undefined" in done.stderr


def test_a_damaged_or_foreign_template_cache_is_never_loaded(repo: Repo, tmp_path: Path) -> None:
    """Compiled templates are code: a damaged file is compiled anew, a shared folder unused."""
    repo.commit("feat: add the thing")
    cache = tmp_path / "cache"
    clean = _notes(repo, cache)
    kept = sorted((cache / "relcheck" / "templates").glob("*.cache"))
    assert clean.returncode == 0 and kept, clean.stderr
    for path in kept:
        path.write_bytes(path.read_bytes()[:20])  # torn: a pickle cut short
    damaged = _notes(repo, cache)
    assert damaged.returncode == 0 and damaged.stdout == clean.stdout, damaged.stderr
    marker = tmp_path / "planted-code-ran"
    # A file Jinja would accept: its header, then a pickle that runs a command when loaded.
    planted = bc_magic + b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    for path in sorted((cache / "relcheck" / "templates").glob("*.cache")):
        path.write_bytes(planted)
    (cache / "relcheck" / "templates").chmod(0o777)
    shared = _notes(repo, cache)
    assert shared.returncode == 0 and shared.stdout == clean.stdout, shared.stderr
    assert not marker.exists()
