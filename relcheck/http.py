"""The one module that imports requests: sessions with timeouts, plain responses, clear failures.

:func:`request` sends one request and reads the whole body under one
deadline (``timeout`` covers connecting, waiting and reading). A response of
any status is returned as an :class:`HttpResponse`; a request that gets no
response raises :class:`HttpFailure`, whose text says what happened in words
("connection refused by 127.0.0.1:9", "no response within 5 s") and never
holds the URL's path or query (they may carry secrets).

requests is imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from msgspec import Struct

from relcheck import __version__
from relcheck.errors import RelcheckError

if TYPE_CHECKING:
    import requests

MAX_BODY_BYTES = 16 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")

# HttpFailure.kind values.
REFUSED = "refused"
DNS = "dns"
TIMEOUT = "timeout"
CANCELLED = "cancelled"
_POLL_S = 0.05
_GRACE_S = 0.25
TLS = "tls"
CONNECTION = "connection"
INVALID_URL = "invalid-url"
TOO_LARGE = "too-large"


class HttpFailure(RelcheckError):
    """A request that got no (usable) response; ``kind`` says which way it failed."""

    def __init__(self, message: str, *, kind: str, retry_safe: bool | None = None) -> None:
        super().__init__(message, retry_safe=retry_safe)
        self.kind = kind


class Headers(Mapping[str, str]):
    """Response headers: read-only, names case-insensitive, original spelling kept."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            self._items[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class HttpResponse(Struct, frozen=True):
    """One response, read whole; ``elapsed_ms`` runs from sending to the last body byte."""

    status: int
    reason: str
    headers: Headers
    body: bytes
    elapsed_ms: float

    def text(self) -> str:
        return self.body.decode(_charset(self.headers), errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; ValueError (with a short reason) when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"the body is not UTF-8 ({exc.reason})") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"the body is not JSON ({exc.msg} at line {exc.lineno})") from None


def _charset(headers: Headers) -> str:
    content_type = headers.get("Content-Type", "")
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def new_session() -> requests.Session:
    """A session that never retries on its own and says who is calling.

    Callers that want retries (a forge client) mount their own adapter; every
    call still needs its own ``timeout`` (see :func:`request`).
    """
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"relcheck/{__version__}"
    return session


def where(url: str) -> str:
    """``host:port`` of a URL, for messages: never its path or query."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the given address"
    return f"{parts.hostname}:{port}" if parts.hostname else "the given address"


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    timeout: float,
    session: requests.Session | None = None,
    max_bytes: int = MAX_BODY_BYTES,
    cancel: threading.Event | None = None,
    follow_redirects: bool = True,
) -> HttpResponse:
    """Send one request and read the whole response within ``timeout`` seconds.

    Raises HttpFailure when no complete response came; any status is a response.
    ``follow_redirects=False`` returns a redirect as it is (requests would carry
    custom credential headers such as ``PRIVATE-TOKEN`` to another host).
    """
    _check_url(url)
    _check_headers(headers or {})
    own = session is None
    active = session or new_session()
    data = body.encode("utf-8") if isinstance(body, str) else body
    started = time.perf_counter()
    outcome: list[HttpResponse | BaseException] = []

    def send() -> None:
        try:
            outcome.append(
                _send(
                    active,
                    method,
                    url,
                    headers=dict(headers or {}),
                    data=data,
                    timeout=timeout,
                    started=started,
                    max_bytes=max_bytes,
                    follow_redirects=follow_redirects,
                )
            )
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)

    # requests' timeout applies to each read, so a server that trickles bytes
    # could hold a request for ever; the request runs in a thread and the
    # caller stops waiting at the deadline (or at Ctrl-C) whatever it does.
    worker = threading.Thread(target=send, name="relcheck-http", daemon=True)
    worker.start()
    try:
        # A little past the timeout, so requests' own read timeout names a silent server.
        _wait(
            worker, deadline=started + timeout + _GRACE_S, cancel=cancel, url=url, timeout=timeout
        )
    finally:
        if own:
            active.close()
    result = outcome[0]
    if isinstance(result, HttpResponse):
        return result
    if isinstance(result, HttpFailure):
        raise result
    if isinstance(result, Exception):  # requests raises many types; each becomes words
        raise _failure(result, url, timeout) from None
    raise result


def _wait(
    worker: threading.Thread,
    *,
    deadline: float,
    cancel: threading.Event | None,
    url: str,
    timeout: float,
) -> None:
    while worker.is_alive():
        if cancel is not None and cancel.is_set():
            raise HttpFailure(f"the request to {where(url)} was stopped", kind=CANCELLED)
        left = deadline - time.perf_counter()
        if left <= 0:
            raise HttpFailure(
                f"no complete response from {where(url)} within {timeout:g} s",
                kind=TIMEOUT,
                retry_safe=True,
            )
        worker.join(min(left, _POLL_S))


def _check_url(url: str) -> None:
    shown = url.split("?", 1)[0][:80]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range
    except ValueError as exc:
        raise HttpFailure(
            f"not a valid URL ({exc}): {shown!r}", kind=INVALID_URL, retry_safe=False
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise HttpFailure(
            f"not an http:// or https:// URL with a host: {shown!r}",
            kind=INVALID_URL,
            retry_safe=False,
        )


def _check_headers(headers: Mapping[str, str]) -> None:
    # requests would refuse these too, but quote the value (a secret) in its message.
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise HttpFailure(
                f"header name {name!r} is not valid; expected letters, digits and '-'",
                kind=INVALID_URL,
                retry_safe=False,
            )
        if "\r" in value or "\n" in value or value[:1].isspace():
            raise HttpFailure(
                f"the value of header {name} has a line break or starts with a space; "
                "check the variable it is made from (a trailing newline, say)",
                kind=INVALID_URL,
                retry_safe=False,
            )


def _send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    data: bytes | None,
    timeout: float,
    started: float,
    max_bytes: int,
    follow_redirects: bool = True,
) -> HttpResponse:
    with session.request(
        method,
        url,
        headers=headers,
        data=data,
        timeout=timeout,
        stream=True,
        allow_redirects=follow_redirects,
    ) as response:
        body = _read_body(response, deadline=started + timeout, timeout=timeout, limit=max_bytes)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return HttpResponse(
            status=response.status_code,
            reason=response.reason or "",
            headers=Headers(response.headers.items()),
            body=body,
            elapsed_ms=elapsed_ms,
        )


def _read_body(
    response: requests.Response, *, deadline: float, timeout: float, limit: int
) -> bytes:
    chunks = bytearray()
    for chunk in response.iter_content(_CHUNK_BYTES):
        chunks.extend(chunk)
        if len(chunks) > limit:
            raise HttpFailure(
                f"the response body from {where(response.url)} is larger than "
                f"{_size_words(limit)}; relcheck reads at most that much",
                kind=TOO_LARGE,
            )
        if time.perf_counter() > deadline:
            raise HttpFailure(
                f"the response from {where(response.url)} did not arrive in full within "
                f"{timeout:g} s",
                kind=TIMEOUT,
            )
    return bytes(chunks)


def _size_words(size: int) -> str:
    mib = 1024 * 1024
    return f"{size / mib:g} MiB" if size >= mib else f"{size} bytes"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (requests -> urllib3 -> socket)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        wrapped += list(current.args)
        todo += [item for item in wrapped if isinstance(item, BaseException)]


def _failure(exc: Exception, url: str, timeout: float) -> HttpFailure:
    import socket
    import ssl

    import requests

    at = where(url)
    causes = list(_causes(exc))
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return HttpFailure(
            f"connection refused by {at}; is the service running and listening there?",
            kind=REFUSED,
        )
    if any(isinstance(c, socket.gaierror) for c in causes):
        host = urlsplit(url).hostname
        return HttpFailure(
            f"could not resolve host {host!r} (DNS); check the URL's host name", kind=DNS
        )
    if any(isinstance(c, requests.exceptions.ConnectTimeout) for c in causes):
        return HttpFailure(f"could not connect to {at} within {timeout:g} s", kind=TIMEOUT)
    if any(_is_timeout(c) for c in causes):
        return HttpFailure(f"no response from {at} within {timeout:g} s", kind=TIMEOUT)
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls is not None or isinstance(exc, requests.exceptions.SSLError):
        return HttpFailure(_tls_words(tls, at), kind=TLS)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidHeader):
        # Their text quotes the URL or a header value: either may hold a secret.
        return HttpFailure(
            "the request is not valid (its URL or a header); check the host, port and headers",
            kind=INVALID_URL,
            retry_safe=False,
        )
    return HttpFailure(
        f"the connection to {at} failed without a response ({_short(causes)})", kind=CONNECTION
    )


def _tls_words(error: BaseException | None, at: str) -> str:
    reason = getattr(error, "reason", None)
    if reason == "WRONG_VERSION_NUMBER":
        return f"TLS with {at} failed: the server does not speak TLS there; did you mean http://?"
    detail = getattr(error, "verify_message", None) or reason or "handshake failed"
    return f"TLS with {at} failed ({detail}); check the server's certificate and the URL"


def _is_timeout(exc: BaseException) -> bool:
    import requests
    import urllib3.exceptions

    # urllib3 makes NewConnectionError a ConnectTimeoutError, for old callers' sake.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return False
    timeouts = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
    return isinstance(exc, timeouts)


def _short(causes: list[BaseException]) -> str:
    """The innermost cause in a few words (its type), not a urllib3 repr with the URL."""
    innermost = causes[-1]
    if isinstance(innermost, OSError) and innermost.strerror:
        return innermost.strerror
    return type(innermost).__name__
