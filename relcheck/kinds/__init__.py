"""The registry of step kinds: a new kind is one module plus one line here."""

from __future__ import annotations

from relcheck.kinds.base import StepKind
from relcheck.kinds.ci import CiKind
from relcheck.kinds.config import ConfigKind
from relcheck.kinds.git import GitKind
from relcheck.kinds.http import HttpKind
from relcheck.kinds.manual import ManualKind
from relcheck.kinds.run import RunKind
from relcheck.kinds.tag import TagKind

KINDS: dict[str, StepKind] = {
    "run": RunKind(),
    "manual": ManualKind(),
    "http": HttpKind(),
    "config": ConfigKind(),
    "git": GitKind(),
    "tag": TagKind(),
    "ci": CiKind(),
}

__all__ = ["KINDS", "StepKind"]
