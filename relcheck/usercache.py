"""The user's cache folder (``$XDG_CACHE_HOME/relcheck``): work worth keeping between runs.

Nothing in it is needed for a correct answer: a cache that is missing, stale,
unreadable or unwritable only means the work is done again.
"""

from __future__ import annotations

import contextlib
import os


def cache_dir() -> str | None:
    """``$XDG_CACHE_HOME/relcheck`` (else ``~/.cache/relcheck``); None without a home folder."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "relcheck")


def read_text(path: str) -> str | None:
    """A cached text, or None when there is none (or it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read() or None
    except (OSError, UnicodeDecodeError):
        return None


def write_text(path: str, text: str) -> None:
    """Keep ``text`` at ``path``, whole or not at all; nothing happens when it cannot be written."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
