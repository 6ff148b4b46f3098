"""Checklist files: finding, reading and checking them, and the JSON Schema of their format."""

from __future__ import annotations

from relcheck.checklist.load import load_checklist, load_checklist_file, resolve_checklist_path
from relcheck.checklist.schema import checklist_schema

__all__ = [
    "checklist_schema",
    "load_checklist",
    "load_checklist_file",
    "resolve_checklist_path",
]
