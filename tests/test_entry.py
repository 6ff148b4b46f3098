"""The relcheck program's quick answers: --version, and --help kept in the user cache folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from relcheck import __version__


def _relcheck(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m relcheck ARGS` (the entry point a user's `relcheck` runs)."""
    return subprocess.run(
        [sys.executable, "-m", "relcheck", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _click_help(cwd: Path, **env: str) -> str:
    """What click itself prints for --help, with no cache in the way."""
    code = "import sys; sys.argv = ['relcheck', '--help']; from relcheck.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_version(tmp_path: Path) -> None:
    assert _relcheck(tmp_path, "--version").stdout == f"relcheck {__version__}\n"


def test_help_is_clicks_text_first_and_from_the_cache_after(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = _click_help(tmp_path, COLUMNS="100")
    first = _relcheck(tmp_path, "--help", XDG_CACHE_HOME=str(cache), COLUMNS="100")
    kept = list((cache / "relcheck").glob("help-*.txt"))
    second = _relcheck(tmp_path, "-h", XDG_CACHE_HOME=str(cache), COLUMNS="100")
    assert first.stdout == second.stdout == expected
    assert "Commands:" in expected and len(kept) == 1
    assert kept[0].read_text() == expected


def test_a_narrower_terminal_gets_its_own_help(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _relcheck(tmp_path, "--help", XDG_CACHE_HOME=str(cache), COLUMNS="100")
    narrow = _relcheck(tmp_path, "--help", XDG_CACHE_HOME=str(cache), COLUMNS="60")
    assert narrow.stdout == _click_help(tmp_path, COLUMNS="60")
    assert len(list((cache / "relcheck").glob("help-*.txt"))) == 2


def test_help_without_a_writable_cache_still_answers(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    done = _relcheck(tmp_path, "--help", XDG_CACHE_HOME=str(blocker))
    assert done.stdout == _click_help(tmp_path) and done.stderr == ""


def test_a_cache_others_can_write_to_is_never_read(tmp_path: Path) -> None:
    """What the cache holds is printed as is, so a folder open to others is ignored."""
    cache = tmp_path / "cache"
    _relcheck(tmp_path, "--help", XDG_CACHE_HOME=str(cache), COLUMNS="100")
    (kept,) = (cache / "relcheck").glob("help-*.txt")
    kept.write_text("planted text\n")
    (cache / "relcheck").chmod(0o777)
    done = _relcheck(tmp_path, "--help", XDG_CACHE_HOME=str(cache), COLUMNS="100")
    assert done.stdout == _click_help(tmp_path, COLUMNS="100")
    assert kept.read_text() == "planted text\n"  # ignored, not rewritten


def test_a_cached_help_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _relcheck(tmp_path, "--help", XDG_CACHE_HOME=str(cache), COLUMNS="100")
    (kept,) = (cache / "relcheck").glob("help-*.txt")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("text from elsewhere\n")
    kept.unlink()
    kept.symlink_to(elsewhere)
    done = _relcheck(tmp_path, "--help", XDG_CACHE_HOME=str(cache), COLUMNS="100")
    assert done.stdout == _click_help(tmp_path, COLUMNS="100")
    assert elsewhere.read_text() == "text from elsewhere\n"
