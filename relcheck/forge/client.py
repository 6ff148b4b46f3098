"""The forge client: every request to a forge goes through here, over :mod:`relcheck.http`.

- Every request has a timeout (``timeout`` seconds, the whole request).
- Connection errors, 429, 5xx and rate-limit 403s are retried with exponential
  backoff and jitter, honouring ``Retry-After`` and ``x-ratelimit-reset``
  (``RateLimit-Reset`` on GitLab). One deadline (``max_wait`` seconds after
  the client was made, or the caller's own) bounds everything: each attempt's
  timeout and each wait are cut to what is left of it, and past it the
  request fails saying so.
- A request that creates something (``creates=True``) is never sent twice on
  the client's own: when its answer is lost (timeout, connection dropped, 5xx)
  it raises :class:`AnswerLost`, and the caller looks the thing up first.
- The token goes only to the API's own origin and origins the API itself named
  (GitHub's upload host); redirects are followed only within them. A next-page
  link on another host whose path lies under the API's path is fetched from
  the API's own origin instead (a forge behind a proxy names its inner host).
- Messages never hold the token: every line and error goes through the masker.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, NoReturn

from relcheck.errors import Interrupted, PublishError
from relcheck.http import (
    CANCELLED,
    DNS,
    INVALID_URL,
    REFUSED,
    TIMEOUT,
    TLS,
    TOO_LARGE,
    HttpFailure,
    HttpResponse,
    new_session,
    request,
)
from relcheck.secrets import Masker

if TYPE_CHECKING:
    import requests

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_WAIT_S = 120.0
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 30.0
MAX_ATTEMPTS = 8
MAX_PAGES = 100
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_MESSAGE_CHARS = 300


class ForgeError(PublishError):
    """A forge request failed: what was sent, the HTTP status and the forge's own message."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_safe: bool | None = True
    ) -> None:
        super().__init__(message, retry_safe=retry_safe)
        self.status = status


class AnswerLost(ForgeError):
    """A request that creates something got no usable answer: it may or may not have worked."""


class OutOfTime(ForgeError):
    """The deadline came before a request got a usable answer."""


def origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def multipart(field: str, filename: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one file: (body, Content-Type header)."""
    boundary = f"relcheck-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


class ForgeClient:
    """One forge's requests: headers, timeouts, retries and the shared wait budget."""

    def __init__(
        self,
        *,
        label: str,
        api_url: str,
        headers: Mapping[str, str],
        masker: Masker,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_wait: float = DEFAULT_MAX_WAIT_S,
        deadline: float | None = None,
        limit_words: str | None = None,
        needs: str = "may write releases of this repository",
        say: Callable[[str], None] | None = None,
        log_requests: bool = True,
        cancel: threading.Event | None = None,
    ) -> None:
        """``deadline`` is a ``time.monotonic()`` moment (default: now + ``max_wait``);
        ``limit_words`` names it in messages; ``needs`` says what the token must allow."""
        self.label = label
        self.api_url = api_url.rstrip("/")
        self.headers = dict(headers)
        self.masker = masker
        self.timeout = timeout
        self.started = time.monotonic()
        self.deadline = deadline if deadline is not None else self.started + max_wait
        self.limit_words = limit_words or f"--max-wait {max_wait:g} s"
        self.needs = needs
        self.cancel = cancel
        self._say = say
        self._log_requests = log_requests
        self._trusted = {origin(self.api_url)}
        self._session: requests.Session | None = None

    # -- public ---------------------------------------------------------------------

    def url(self, path: str, **query: Any) -> str:
        """An API URL: ``path`` below the API URL, with ``query`` encoded."""
        url = self.api_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return url

    def trust(self, url: str) -> None:
        """Let the token go to ``url``'s origin too (one the API named itself)."""
        self._trusted.add(origin(url))

    def say(self, text: str) -> None:
        if self._say is not None:
            self._say(self.masker.mask(text))

    def send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        missing_ok: bool = False,
        creates: bool = False,
    ) -> HttpResponse | None:
        """Send a request until it gets a 2xx answer (None for a 404 when ``missing_ok``).

        Raises ForgeError with the forge's message for any other answer, and
        AnswerLost when a request that ``creates`` something lost its answer.
        """
        headers = dict(self.headers)
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            content_type = "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        attempt = 0
        last = ""
        while True:
            attempt += 1
            self._before_attempt(method, url, attempt - 1, last)
            outcome = self._attempt(method, url, headers, data, creates=creates)
            if isinstance(outcome, HttpResponse):
                if 200 <= outcome.status <= 299:
                    return outcome
                if outcome.status == 404 and missing_ok:
                    return None
                if not _retryable(outcome):
                    raise ForgeError(self._refused(method, url, outcome), status=outcome.status)
                if creates and outcome.status >= 500:
                    raise AnswerLost(self._refused(method, url, outcome), status=outcome.status)
                last = f"{outcome.status} {outcome.reason}".strip()
                self._retry_wait(attempt, outcome, method, url, last)
            else:
                last = outcome
                self._retry_wait(attempt, None, method, url, outcome)

    def get_json(self, url: str, *, missing_ok: bool = False) -> Any:
        response = self.send("GET", url, missing_ok=missing_ok)
        return None if response is None else self.json_of(response, "GET", url)

    def pages(self, url: str) -> Iterator[Any]:
        """Each page's JSON, following ``X-Next-Page`` (GitLab) or ``Link: rel="next"``."""
        for _ in range(MAX_PAGES):
            response = self.send("GET", url)
            assert response is not None
            yield self.json_of(response, "GET", url)
            following = _next_page(url, response)
            if following is None:
                return
            url = self._own_origin(url, following)
        raise ForgeError(
            f"{url}: more than {MAX_PAGES} pages of results; relcheck stops there. Check that "
            "--api-url is the forge's API, not a proxy that loops its Link headers",
            retry_safe=None,
        )

    def left(self) -> float:
        """Seconds left before the deadline (negative once it has passed)."""
        return self.deadline - time.monotonic()

    def wait(self, seconds: float, context: str, why: str) -> None:
        """Sleep ``seconds``, or fail at once when that would pass the deadline."""
        if seconds > self.left():
            spent = time.monotonic() - self.started
            raise ForgeError(
                self.masker.mask(
                    f"{context}; waiting {seconds:.1f} s more ({why}) would pass "
                    f"{self.limit_words} ({spent:.1f} s spent already)"
                )
            )
        self.say(f"  {context}; trying again in {seconds:.1f} s ({why})")
        if self.cancel is not None:
            if self.cancel.wait(seconds):
                raise Interrupted("stopped while waiting to try again")
        else:
            time.sleep(seconds)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- one attempt ----------------------------------------------------------------

    def _before_attempt(self, method: str, url: str, tries: int, last: str) -> None:
        """Fail when the deadline has passed; ``tries`` made so far, the ``last`` outcome."""
        if self.left() <= 0:
            self._out_of_time(method, url, tries, last)

    def _out_of_time(self, method: str, url: str, tries: int, last: str) -> NoReturn:
        done = f" ({tries} tr{'y' if tries == 1 else 'ies'}; last: {last})" if tries else ""
        raise OutOfTime(
            self.masker.mask(
                f"{self.label} gave no usable answer to {method} {url} before "
                f"{self.limit_words} ran out{done}; relcheck stopped there"
            )
        )

    def _own_origin(self, url: str, following: str) -> str:
        """``following`` if its origin is trusted, else the same path on the API's own origin."""
        if origin(following) in self._trusted:
            return following
        api = urllib.parse.urlsplit(self.api_url)
        parts = urllib.parse.urlsplit(following)
        if parts.path == api.path or parts.path.startswith(api.path.rstrip("/") + "/"):
            own = urllib.parse.urlunsplit(parts._replace(scheme=api.scheme, netloc=api.netloc))
            self.say(
                f"  {self.label} named the next page on {origin(following)}; asking its API's "
                f"own host instead: {own}"
            )
            return own
        raise ForgeError(
            f"{self.label} pointed the next page of {url} at another host "
            f"({origin(following)}) outside its API ({self.api_url}); relcheck sends the "
            "token nowhere else: set --api-url to the address the API answers on",
            retry_safe=None,
        )

    def _attempt(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        data: bytes | None,
        *,
        creates: bool,
    ) -> HttpResponse | str:
        """The response (following redirects within trusted origins), or why none came."""
        for _ in range(_MAX_REDIRECTS + 1):
            if origin(url) not in self._trusted:
                raise ForgeError(
                    f"{method} {url}: not an address of {self.label}'s API ({self.api_url}); "
                    "relcheck sends the token nowhere else: set --api-url to the address "
                    "the API answers on",
                    retry_safe=None,
                )
            try:
                response = self._once(method, url, headers, data, max(0.001, self.left()))
            except HttpFailure as failure:
                return self._no_answer(method, url, failure, creates=creates)
            size = f" ({len(data)} bytes)" if data else ""
            if self._log_requests:
                self.say(f"{method} {url}{size} -> {response.status} {response.reason}".rstrip())
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                return response
            if method not in ("GET", "HEAD") and response.status not in (307, 308):
                return response
            url = urllib.parse.urljoin(url, location)
        raise ForgeError(
            f"{method} {url}: more than {_MAX_REDIRECTS} redirects; --api-url probably names "
            "a web page, not the API (e.g. https://HOST/api/v4 for GitLab, "
            "https://HOST/api/v1 for Gitea)",
            retry_safe=None,
        )

    def _once(
        self, method: str, url: str, headers: Mapping[str, str], data: bytes | None, left: float
    ) -> HttpResponse:
        if self._session is None:
            self._session = new_session()
        try:
            return request(
                method,
                url,
                headers=headers,
                body=data,
                timeout=max(0.01, round(min(self.timeout, left), 2)),
                session=self._session,
                cancel=self.cancel,
                follow_redirects=False,
            )
        except HttpFailure as failure:
            if failure.kind in (TIMEOUT, CANCELLED):
                # The abandoned request may still be using the session: start a new one.
                self._session = None
            raise

    def _no_answer(self, method: str, url: str, failure: HttpFailure, *, creates: bool) -> str:
        what = f"{method} {url}: {failure.message}"
        if failure.kind == CANCELLED:
            raise Interrupted(f"{method} {url} was stopped")
        if failure.kind in (INVALID_URL, TLS, TOO_LARGE):
            raise ForgeError(self.masker.mask(what), retry_safe=failure.retry_safe)
        self.say(f"{method} {url} -> no answer: {failure.message}")
        # Refused or unresolved means nothing was sent; otherwise it may have arrived.
        if creates and failure.kind not in (REFUSED, DNS):
            raise AnswerLost(self.masker.mask(what))
        return failure.message

    def _retry_wait(
        self, attempt: int, response: HttpResponse | None, method: str, url: str, reason: str
    ) -> None:
        if attempt >= MAX_ATTEMPTS:
            raise ForgeError(
                self.masker.mask(f"{method} {url} failed {attempt} times, last: {reason}")
            )
        seconds, why = _delay(attempt, response)
        if why == "backoff" and seconds > self.left():
            self._out_of_time(method, url, attempt, reason)  # not a wait the forge asked for
        self.wait(seconds, f"{method} {url}: {reason}", why)

    # -- words ----------------------------------------------------------------------

    def _refused(self, method: str, url: str, response: HttpResponse) -> str:
        status = f"{response.status} {response.reason}".strip()
        message = _provider_message(response)
        text = f"{self.label} answered {method} {url} with {status}"
        if message:
            text += f": {message}"
        if response.status in (401, 403):
            text += f"; check the token and that it {self.needs}"
        elif response.status == 404:
            text += "; check the repository name and that the token can see it"
        return self.masker.mask(text)

    def json_of(self, response: HttpResponse, method: str, url: str) -> Any:
        """The answer's JSON; a ForgeError naming the request when it is not JSON."""
        try:
            return response.json()
        except ValueError as exc:
            raise ForgeError(
                self.masker.mask(
                    f"{self.label} answered {method} {url} with something that is not JSON "
                    f"({exc}); check that --api-url names the forge's API"
                ),
                status=response.status,
            ) from None


def _retryable(response: HttpResponse) -> bool:
    if response.status == 429 or response.status >= 500:
        return True
    if response.status == 403:
        return "Retry-After" in response.headers or _remaining(response) == "0"
    return False


def _remaining(response: HttpResponse) -> str | None:
    headers = response.headers
    return headers.get("x-ratelimit-remaining") or headers.get("RateLimit-Remaining")


def _delay(attempt: int, response: HttpResponse | None) -> tuple[float, str]:
    """Seconds to wait before the next attempt, and why that long."""
    if response is not None:
        after = _retry_after(response.headers.get("Retry-After"))
        if after is not None:
            return after, "Retry-After"
        reset = response.headers.get("x-ratelimit-reset") or response.headers.get("RateLimit-Reset")
        if reset and (_remaining(response) == "0" or response.status == 429):
            try:
                # Half a second past the reset, so the window has surely turned.
                return max(0.0, float(reset) - time.time()) + 0.5, "rate limit reset"
            except ValueError:
                pass
    return backoff(attempt), "backoff"


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: half to all of 0.25 s, 0.5 s, 1 s ... up to 30 s."""
    base: float = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
    return base * (0.5 + random.random() / 2)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _next_page(url: str, response: HttpResponse) -> str | None:
    """The next page's URL: GitLab's ``X-Next-Page`` (on the URL just used) when sent, else
    ``Link: rel="next"`` (GitHub, Gitea; GitLab's keyset pagination)."""
    if "X-Next-Page" in response.headers:
        page = response.headers["X-Next-Page"].strip()
        if not page:
            return None
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        query["page"] = page
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    for part in (response.headers.get("Link") or "").split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return urllib.parse.urljoin(url, target.strip().strip("<>"))
    return None


def _provider_message(response: HttpResponse) -> str:
    """The forge's own explanation: GitHub/Gitea ``message`` and ``errors``, GitLab ``error``."""
    try:
        data = response.json()
    except ValueError:
        text = response.text().strip()
        return text[:_MESSAGE_CHARS]
    if not isinstance(data, Mapping):
        return json.dumps(data)[:_MESSAGE_CHARS]
    parts: list[str] = []
    for key in ("message", "error", "error_description"):
        value = data.get(key)
        if value:
            parts.append(value if isinstance(value, str) else json.dumps(value))
    for item in data.get("errors") or []:
        if isinstance(item, Mapping):
            detail = item.get("message") or " ".join(
                str(item[k]) for k in ("resource", "field", "code") if item.get(k)
            )
            parts.append(str(detail))
        else:
            parts.append(str(item))
    return "; ".join(parts)[:_MESSAGE_CHARS]
