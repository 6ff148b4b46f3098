"""The user's cache folder (``$XDG_CACHE_HOME/relcheck``): work worth keeping between runs.

Nothing in it is needed for a correct answer: a cache that is missing, stale,
unreadable or unwritable only means the work is done again. Because what is read
back is trusted (help text is printed, compiled templates are executed), a
folder is used only when it is a real folder, owned by this user, that nobody
else can write to; a cache somebody else could write to is ignored, not repaired.
"""

from __future__ import annotations

import contextlib
import os
import stat

# The longest text read_text returns (in bytes): a kept checklist holds the file's text
# and the checked checklist, two to three times the file (a checklist of 1 MB is kept).
MAX_TEXT = 4 << 20
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def cache_dir(*parts: str) -> str | None:
    """``$XDG_CACHE_HOME/relcheck[/parts]`` (else ``~/.cache/relcheck``), made if missing.

    None when there is no home folder, it cannot be made, or it is not private
    (a symlink, another owner, or writable by group or others).
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    folder = os.path.join(base, "relcheck")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not _is_private_folder(folder):
            return None
        for part in parts:
            folder = os.path.join(folder, part)
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder, 0o700)
            if not _is_private_folder(folder):
                return None
    except OSError:
        return None
    return folder


def package_stamp() -> str:
    """Newest change among relcheck's modules, and their total size: a key part that
    changes whenever relcheck's code could (an upgrade, or an edit to a checkout)."""
    newest, total = 0, 0
    folders = [_PACKAGE_DIR]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    info = entry.stat()
                    newest, total = max(newest, info.st_mtime_ns), total + info.st_size
                elif entry.is_dir() and not entry.name.startswith(("_", ".")):
                    folders.append(entry.path)
    return f"{newest}:{total}"


def installed_stamp(package: str) -> str | None:
    """Where ``import package`` finds it (the first ``sys.path`` folder holding
    ``package/__init__.py``), with that file's change time and size: a key part that
    changes when the package is upgraded. None when it is not found."""
    import sys

    for folder in sys.path:
        try:
            info = os.stat(os.path.join(folder or ".", package, "__init__.py"))
        except OSError:
            continue
        return f"{folder}:{info.st_mtime_ns}:{info.st_size}"
    return None


def _is_private_folder(path: str) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and stat.S_IMODE(info.st_mode) & 0o022 == 0
    )


def read_text(path: str) -> str | None:
    """A cached text, or None when there is none (or it is not a plain file of this user)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_TEXT + 1)
        if len(data) > MAX_TEXT:
            return None
        return data.decode("utf-8") or None
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


def write_text(path: str, text: str) -> None:
    """Keep ``text`` at ``path``, whole or not at all; nothing happens when it cannot be written.

    Not :func:`relcheck.files.write_atomic`: a cache needs no fsync (losing it
    costs only the work again) and must never turn a failed write into an error.
    The temporary file is made as :func:`tempfile.mkstemp` makes one (a random
    name, created only if new, private), without importing tempfile: 6 ms of a
    command that reads a checklist for the first time.
    """
    temp = os.path.join(os.path.dirname(path), f".{os.urandom(8).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temp, flags, 0o600)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except (OSError, ValueError):  # ValueError: text that is not Unicode (lone surrogates)
        with contextlib.suppress(OSError):
            os.unlink(temp)
