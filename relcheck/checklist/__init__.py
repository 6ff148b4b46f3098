"""Checklist files: finding, reading and checking them, and the JSON Schema of their format."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relcheck.checklist.load import (
        load_checklist,
        load_checklist_file,
        resolve_checklist_path,
    )
    from relcheck.checklist.schema import checklist_schema

__all__ = [
    "checklist_schema",
    "load_checklist",
    "load_checklist_file",
    "resolve_checklist_path",
]


def __getattr__(name: str) -> Any:
    """Import on first use: finding a checklist must not load YAML and every step kind."""
    if name == "checklist_schema":
        from relcheck.checklist import schema

        return schema.checklist_schema
    if name in __all__:
        from relcheck.checklist import load

        return getattr(load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
