"""The ``relcheck`` program: answers ``--version`` and ``--help`` without loading click.

Why: start-up is most of what these two cost, and importing click alone takes
longer than the 60 ms a command line tool may take to answer. ``--version``
needs nothing. ``--help`` is click's own text, kept after its first use in the
user's cache folder (``$XDG_CACHE_HOME/relcheck``) under a key that changes
whenever the text could: relcheck's version and modules, click's installed
files, the terminal width and the language settings. Everything else, and any
cache that cannot be read or written, goes to :mod:`relcheck.cli` as usual.
"""

from __future__ import annotations

import os
import sys

from relcheck import __version__
from relcheck.usercache import cache_dir, installed_stamp, package_stamp, read_text, write_text

_HELP_FLAGS = (["--help"], ["-h"])
_LANGUAGE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def main() -> None:
    _no_collection_passes()
    argv = sys.argv[1:]
    if argv == ["--version"]:
        sys.stdout.write(f"relcheck {__version__}\n")
        return
    cached = help_cache_file() if argv in _HELP_FLAGS else None
    if cached is not None:
        text = read_text(cached)
        if text is not None:
            sys.stdout.write(text)
            return
    from relcheck.cli import cli, help_text

    if cached is not None:
        text = help_text()
        write_text(cached, text)
        sys.stdout.write(text)
        return
    cli(prog_name="relcheck")


def _no_collection_passes() -> None:
    """No cyclic garbage collection while a command starts, nor at exit.

    Why: a command makes tens of thousands of objects that live until it exits
    (modules, classes, functions); every pass of the cycle collector walks them
    all, during the imports and once more at exit, about a sixth of a short
    command's time. Garbage that is not a cycle is still freed at once. A run's
    walk turns collection back on (relcheck.engine): a run can last for hours.
    """
    import atexit
    import gc

    gc.disable()
    atexit.register(gc.freeze)  # registered first, so it runs after every other exit hook


def help_cache_file() -> str | None:
    """Where ``relcheck --help`` is kept for this version, terminal width and language."""
    folder = cache_dir()
    click_stamp = installed_stamp("click")
    if folder is None or click_stamp is None or "_RELCHECK_COMPLETE" in os.environ:
        return None
    key = "|".join(
        [
            __version__,
            package_stamp(),
            click_stamp,
            str(_help_width()),
            *(os.environ.get(name, "") for name in _LANGUAGE_VARIABLES),
        ]
    )
    import zlib

    return os.path.join(folder, f"help-{zlib.crc32(key.encode()):08x}-{len(key)}.txt")


def _help_width() -> int:
    """The width click wraps help to, worked out as click and shutil do."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return max(min(columns, 80) - 2, 50)
