"""The registry of step kinds: a new kind is one module plus one line here.

``KINDS`` maps each checklist key to its kind, like a dict. A kind's module is
imported the first time the kind is looked up, not when the registry is: a
checklist of ``run`` steps never loads the HTTP client, the forge API or the
config parsers (start-up time is most of what a short run costs). Checking
whether a key names a kind, and listing the keys, imports nothing.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, MutableMapping

from relcheck.kinds.base import StepKind

# Checklist key -> "module:class" of the kind, in the order kinds are listed to users.
_PLACES = {
    "run": "relcheck.kinds.run:RunKind",
    "manual": "relcheck.kinds.manual:ManualKind",
    "http": "relcheck.kinds.http:HttpKind",
    "config": "relcheck.kinds.config:ConfigKind",
    "git": "relcheck.kinds.git:GitKind",
    "tag": "relcheck.kinds.tag:TagKind",
    "ci": "relcheck.kinds.ci:CiKind",
}


class _Registry(MutableMapping[str, StepKind]):
    """Step kinds by key; each is imported and made on its first lookup."""

    def __init__(self, places: dict[str, str]) -> None:
        self._kinds: dict[str, str | StepKind] = dict(places)
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> StepKind:
        kind = self._kinds[key]
        if isinstance(kind, str):
            with self._lock:  # steps side by side may look up a kind at once
                kind = self._kinds[key]
                if isinstance(kind, str):
                    module, _, name = kind.partition(":")
                    kind = getattr(importlib.import_module(module), name)()
                    self._kinds[key] = kind
        return kind

    def __setitem__(self, key: str, kind: StepKind) -> None:
        self._kinds[key] = kind

    def __delitem__(self, key: str) -> None:
        del self._kinds[key]

    def __contains__(self, key: object) -> bool:
        return key in self._kinds

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def __repr__(self) -> str:
        return f"KINDS({', '.join(self._kinds)})"


KINDS: MutableMapping[str, StepKind] = _Registry(_PLACES)

__all__ = ["KINDS", "StepKind"]
