"""Writing a file whole or not at all: the one way relcheck replaces a file."""

from __future__ import annotations

import os
from pathlib import Path

from relcheck.errors import UsageError


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temp file beside ``path``, flush it to disk, then ``os.replace``.

    A crash leaves either the old file or the new one, never half of either.
    """
    import tempfile  # here, not at the top: it costs every command's start-up 8 ms

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise _cannot_write(path, exc) from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _cannot_write(path: Path, exc: OSError) -> UsageError:
    return UsageError(
        f"cannot write {path} ({exc.strerror or exc}); expected a writable folder there",
        retry_safe=True,
    )
