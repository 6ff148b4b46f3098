"""Redaction of secret values: which variables are secret, and masking text, bytes and streams.

Values shorter than 4 characters are never masked (they would scramble all
output); their variable names are kept in ``Masker.too_short`` so the caller
can warn once. A multi-line secret is masked whole and line by line, so it is
masked in line-by-line output too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
MIN_SECRET_LEN = 4

_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD")
_MASK_BYTES = MASK.encode()


def secret_names(environ: Mapping[str, str], declared: Iterable[str]) -> set[str]:
    """The declared names plus every variable whose name looks secret."""
    return set(declared) | {name for name in environ if _looks_secret(name)}


def _looks_secret(name: str) -> bool:
    upper = name.upper()
    return upper.endswith("_KEY") or any(word in upper for word in _SECRET_WORDS)


# Substrings that make a key part secret anywhere in it (case-insensitive).
_KEY_SECRET_TEXT = ("token", "secret", "password", "passwd", "credential", "apikey", "privatekey")
# Whole words (split on '_', '-' and camelCase) that make a key part secret.
_KEY_SECRET_WORDS = frozenset({"auth", "oauth", "authorization", "dsn", "pwd", "cookie"})
_KEY_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def key_looks_secret(dotted: str) -> bool:
    """Whether any part of a dotted key looks like it names a secret.

    A part is secret when it contains token, secret, password, passwd,
    credential, apikey or privatekey; when one of its words is auth, oauth,
    authorization, dsn, pwd or cookie; or when its last word is ``key``
    (``api_key``, ``private_key``, ``apiKey``, ``KEY``, but not ``key_prefix``
    or ``monkey``). Case is ignored.
    """
    return any(_part_looks_secret(part) for part in dotted.split("."))


def _part_looks_secret(part: str) -> bool:
    folded = part.lower()
    if any(text in folded for text in _KEY_SECRET_TEXT):
        return True
    words = [word.lower() for word in _KEY_WORDS.findall(part)]
    return bool(words) and (words[-1] == "key" or any(w in _KEY_SECRET_WORDS for w in words))


class Masker:
    """Replaces every secret value with ``***``, longest values first."""

    def __init__(self, values: Iterable[str], *, too_short: Iterable[str] = ()) -> None:
        self.values = _maskable(values)
        self.too_short = tuple(too_short)
        self._text_re = re.compile("|".join(map(re.escape, self.values))) if self.values else None
        # A stream is masked line by line, so it looks only for single-line pieces.
        self._line_values = tuple(v.encode() for v in self.values if "\n" not in v)
        self._bytes_re = _bytes_pattern(self._line_values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], declared: Iterable[str]) -> Masker:
        """A masker for the secret variables of ``environ`` (see :func:`secret_names`)."""
        names = sorted(n for n in secret_names(environ, declared) if environ.get(n))
        short = [n for n in names if len(environ[n]) < MIN_SECRET_LEN]
        return cls((environ[n] for n in names), too_short=short)

    def mask(self, text: str) -> str:
        if self._text_re is None:
            return text
        return self._text_re.sub(MASK, text)

    def mask_bytes(self, data: bytes) -> bytes:
        if self._bytes_re is None:
            return data
        return self._bytes_re.sub(_MASK_BYTES, data)

    def mask_value(self, value: Any) -> Any:
        """Mask strings anywhere inside dicts, lists and tuples (for journal events)."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, bytes):
            return self.mask_bytes(value)
        if isinstance(value, dict):
            return {self.mask_value(k): self.mask_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask_value(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.mask_value(v) for v in value)
        return value

    def stream(self) -> MaskingStream:
        return MaskingStream(self._bytes_re, self._line_values)


class MaskingStream:
    """Masks a byte stream fed in chunks that may split a secret anywhere.

    ``feed`` returns what is safe to emit now: it holds back only a tail that
    could be the start of a secret (never more than the longest secret less one
    byte, and never a complete line), so output keeps flowing.
    """

    def __init__(self, pattern: re.Pattern[bytes] | None, values: Iterable[bytes]) -> None:
        self._re = pattern
        values = tuple(values)
        self._prefixes = {v[:i] for v in values for i in range(1, len(v))}
        self._starts = {v[0] for v in values}
        self._longest = max((len(v) for v in values), default=0)
        self._pending = b""

    def feed(self, data: bytes) -> bytes:
        if self._re is None:
            return data
        buf = self._pending + data
        out, self._pending = self._split(buf, self._hold_from(buf))
        return out

    def flush(self) -> bytes:
        buf, self._pending = self._pending, b""
        if self._re is None:
            return buf
        return self._re.sub(_MASK_BYTES, buf)

    def _hold_from(self, buf: bytes) -> int:
        """Where the earliest tail starts that a secret could begin with."""
        start = max(len(buf) - self._longest + 1, buf.rfind(b"\n") + 1, 0)
        for i in range(start, len(buf)):
            if buf[i] in self._starts and buf[i:] in self._prefixes:
                return i
        return len(buf)

    def _split(self, buf: bytes, hold_from: int) -> tuple[bytes, bytes]:
        """Mask ``buf`` up to ``hold_from``; return (masked, still pending).

        A match that starts before ``hold_from`` is final: no more data can make
        an earlier or longer match there, or that tail would have been held.
        """
        assert self._re is not None
        parts: list[bytes] = []
        pos = 0
        for match in self._re.finditer(buf):
            if match.start() >= hold_from:
                break
            parts += [buf[pos : match.start()], _MASK_BYTES]
            pos = match.end()
        cut = max(pos, hold_from)
        parts.append(buf[pos:cut])
        return b"".join(parts), buf[cut:]


def _maskable(values: Iterable[str]) -> tuple[str, ...]:
    """Values worth masking, longest first; multi-line ones also line by line."""
    found: set[str] = set()
    for value in values:
        found.add(value)
        if "\n" in value:
            found.update(line.strip() for line in value.splitlines())
    return tuple(sorted((v for v in found if len(v) >= MIN_SECRET_LEN), key=lambda v: (-len(v), v)))


def _bytes_pattern(values: tuple[bytes, ...]) -> re.Pattern[bytes] | None:
    if not values:
        return None
    return re.compile(b"|".join(re.escape(v) for v in values))
