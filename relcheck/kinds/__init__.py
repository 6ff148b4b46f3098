"""The registry of step kinds: a new kind is one module plus one line here."""

from __future__ import annotations

from relcheck.kinds.base import StepKind
from relcheck.kinds.manual import ManualKind
from relcheck.kinds.run import RunKind

KINDS: dict[str, StepKind] = {
    "run": RunKind(),
    "manual": ManualKind(),
}

__all__ = ["KINDS", "StepKind"]
