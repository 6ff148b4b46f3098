"""Where the built-in checklists and templates live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
BUILTIN_PREFIX = "builtin:"  # `builtin:NAME` names a built-in checklist


def _data_dir(name: str) -> Path:
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    # Running from a checkout or an editable install: the top-level folder.
    return _PACKAGE_DIR.parent / name


def checklists_dir() -> Path:
    return _data_dir("checklists")


def templates_dir() -> Path:
    return _data_dir("templates")


def builtin_checklists() -> dict[str, Path]:
    """Built-in checklists by name (file stem), sorted."""
    folder = checklists_dir()
    found = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    return {path.stem: path for path in found}
