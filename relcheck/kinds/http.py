"""The ``http`` kind: requests sent to a service, checked by status, body, headers and latency.

``status`` is checked on every sample (no ``status`` means any 2xx); the body
checks (``json``, ``headers``, ``body_contains``, ``shape``) on the first
response; ``max_ms`` on the p95 latency over all samples (nearest rank).
``timeout`` is per request; the step's own timeout caps all samples together.
See :mod:`relcheck.kinds.shape` for what ``json`` and ``shape`` match.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct

from relcheck.http import CANCELLED, TIMEOUT, HttpFailure, HttpResponse, request
from relcheck.kinds import shape
from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.model import FAILED, INTERRUPTED, NO_ROLLBACK, PASSED, Release, Step

DEFAULT_METHOD = "GET"
DEFAULT_REQUEST_TIMEOUT_S = 10.0
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
HEADER_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"

_SENSITIVE_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie")
_SENSITIVE_WORDS = ("token", "secret", "password", "api-key", "apikey", "auth")
_BODY_EXCERPT_CHARS = 500
_SHOWN_CHARS = 80


def _described(schema: dict[str, Any], description: str, expected: str) -> dict[str, Any]:
    return {**schema, "description": description, "x-expected": expected}


_HEADER_NAMES = {"pattern": HEADER_NAME_PATTERN, "x-expected": "an HTTP header name"}

_SPEC_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "x-expected": "a request: a mapping with at least 'url'",
    "properties": {
        "url": _described(
            {
                "type": "string",
                "minLength": 1,
                "pattern": "^([hH][tT][tT][pP][sS]?://|\\{[{%])",
                "format": "jinja2-template",
            },
            "The URL to request, http:// or https:// (a Jinja2 template).",
            "an http:// or https:// URL",
        ),
        "method": _described(
            {"type": "string", "enum": list(METHODS)},
            f"The HTTP method (default {DEFAULT_METHOD}).",
            "an HTTP method: " + ", ".join(METHODS),
        ),
        "headers": _described(
            {
                "type": "object",
                "propertyNames": _HEADER_NAMES,
                "additionalProperties": _described(
                    {"type": ["string", "integer"], "format": "jinja2-template"},
                    "A header value (a Jinja2 template).",
                    "a header value (text)",
                ),
            },
            "Request headers: name -> value (values are templates).",
            "a mapping of header name to value",
        ),
        "body": _described(
            {"type": "string", "format": "jinja2-template"},
            "The request body as text (a Jinja2 template); or give 'json'.",
            "the body as text",
        ),
        "json": {
            "description": (
                "A request body sent as JSON (strings in it are templates); "
                "sets Content-Type: application/json unless the headers say otherwise."
            ),
        },
        "timeout": _described(
            {"type": "number", "exclusiveMinimum": 0},
            f"Seconds each request may take (default {DEFAULT_REQUEST_TIMEOUT_S:g}).",
            "a number of seconds",
        ),
        "samples": _described(
            {"type": "integer", "minimum": 1},
            "How many times to send the request, for the latency figures (default 1).",
            "a whole number of requests",
        ),
    },
    "required": ["url"],
    "additionalProperties": False,
    "not": {"type": "object", "required": ["body", "json"]},
    "x-not": "give either 'body' or 'json', not both",
}

_STATUS_CODE = {"type": "integer", "minimum": 100, "x-expected": "an HTTP status code"}

_EXPECT_SCHEMA: Mapping[str, Any] = {
    "status": _described(
        {"type": ["integer", "array"], "minimum": 100, "minItems": 1, "items": _STATUS_CODE},
        "Status code (or list of codes) every response must have (default: any 2xx).",
        "an HTTP status code or a list of codes",
    ),
    "json": {
        "description": (
            "JSON the first response must contain: mappings may have more keys, each "
            "listed item must match a different item of the response's list."
        ),
    },
    "headers": _described(
        {
            "type": "object",
            "propertyNames": _HEADER_NAMES,
            "additionalProperties": _described(
                {"type": "string", "format": "regex"},
                "A regular expression the header's value must match somewhere.",
                "a regular expression",
            ),
        },
        "Headers of the first response: name (any case) -> regular expression.",
        "a mapping of header name to regular expression",
    ),
    "body_contains": _described(
        {"type": "string", "minLength": 1},
        "Text the first response's body must contain.",
        "text",
    ),
    "max_ms": _described(
        {"type": "number", "exclusiveMinimum": 0},
        "Highest p95 latency allowed over the samples, in milliseconds.",
        "a number of milliseconds",
    ),
    "shape": _described(
        {"type": "string", "minLength": 1, "pattern": "^(?!/)"},
        "Snapshot file of the JSON shape, relative to the checklist's folder; "
        "record it with `relcheck run --update-snapshots`.",
        "a snapshot file relative to the checklist's folder (like snapshots/health.json)",
    ),
}


class HttpRequest(Struct, frozen=True):
    """The request of one step, read from its rendered spec."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout: float
    samples: int

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> HttpRequest:
        headers = {str(name): str(value) for name, value in (spec.get("headers") or {}).items()}
        body: bytes | None = None
        if "json" in spec:
            body = json.dumps(spec["json"], ensure_ascii=False).encode("utf-8")
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        elif spec.get("body") is not None:
            body = str(spec["body"]).encode("utf-8")
        return cls(
            method=str(spec.get("method") or DEFAULT_METHOD).upper(),
            url=str(spec["url"]),
            headers=headers,
            body=body,
            timeout=float(spec.get("timeout") or DEFAULT_REQUEST_TIMEOUT_S),
            samples=int(spec.get("samples") or 1),
        )


class HttpKind:
    key = "http"
    automated = True
    gated = False
    waits_for_every_step = False
    summary = "an HTTP request, checked by status, body, headers and latency"
    spec_schema: Mapping[str, Any] = _SPEC_SCHEMA
    expect_schema: Mapping[str, Any] = _EXPECT_SCHEMA

    def default_expected(self, step: Step) -> str:
        return ", ".join(_expectation_words(step.expect, _samples_of(step.spec)))

    def describe(self, resolved: ResolvedStep) -> str:
        shown = HttpRequest.from_spec(_shown_spec(resolved))
        expected = self.default_expected(resolved.step)
        return f"{_request_words(shown)}; expect {expected}"

    def default_rollback(self, resolved: ResolvedStep, release: Release) -> str | None:
        return NO_ROLLBACK  # a check changes nothing, so there is nothing to undo

    def execute(self, resolved: ResolvedStep, ctx: StepContext) -> Outcome:
        wanted = HttpRequest.from_spec(resolved.spec)
        _say_request(ctx, HttpRequest.from_spec(_shown_spec(resolved)))
        sampled = _Sampler(wanted, step_timeout=resolved.timeout, ctx=ctx).run()
        if sampled.interrupted:
            return Outcome(
                INTERRUPTED, _actual(sampled.responses, wanted), reason="interrupted by Ctrl-C"
            )
        if sampled.failure is not None:
            return _no_response(sampled, wanted)
        return _checked(resolved, ctx, sampled.responses, wanted)


def _shown_spec(resolved: ResolvedStep) -> Mapping[str, Any]:
    """The spec with secrets masked, as the plan recorded it."""
    try:
        shown = json.loads(resolved.shown)
    except ValueError:
        shown = None
    return shown if isinstance(shown, Mapping) else {"url": resolved.shown}


def _samples_of(spec: Any) -> int:
    samples = spec.get("samples") if isinstance(spec, Mapping) else None
    return samples if isinstance(samples, int) and samples > 1 else 1


# -- words ------------------------------------------------------------------


def _status_words(status: Any) -> str:
    if status is None:
        return "a 2xx status"
    codes = status if isinstance(status, list) else [status]
    return "status " + " or ".join(str(code) for code in codes)


def _expectation_words(expect: Mapping[str, Any], samples: int) -> list[str]:
    status = _status_words(expect.get("status"))
    parts = [f"{status} on all {samples} requests" if samples > 1 else status]
    if "json" in expect:
        parts.append(f"JSON contains {shape.shown(expect['json'])}")
    for name, pattern in (expect.get("headers") or {}).items():
        parts.append(f"header {name} matches /{pattern}/")
    if "body_contains" in expect:
        parts.append(f"body contains {expect['body_contains']!r}")
    if "max_ms" in expect:
        parts.append(f"p95 under {expect['max_ms']:g} ms")
    if "shape" in expect:
        parts.append(f"JSON shape matches {expect['shape']}")
    return parts


def _masked_header(name: str, value: str) -> str:
    """Credentials are never shown, even when they are not in a secret variable."""
    lower = name.lower()
    if lower in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.partition(" ")
        return f"{scheme} ***" if credentials else "***"
    if lower == "set-cookie":
        # Keep the attributes (Secure, HttpOnly, Max-Age): they are what a check looks at.
        cookie, _, attributes = value.partition(";")
        name_part = cookie.split("=", 1)[0]
        return f"{name_part}=***" + (f";{attributes}" if attributes else "")
    if lower in _SENSITIVE_HEADERS or any(word in lower for word in _SENSITIVE_WORDS):
        return "***"
    return value


def _request_words(req: HttpRequest) -> str:
    words = f"{req.method} {req.url}"
    if req.headers:
        shown = ", ".join(f"{n}: {_masked_header(n, v)}" for n, v in req.headers.items())
        words += f" with {shown}"
    if req.body is not None:
        words += f" and a body of {len(req.body)} bytes"
    count = f"{req.samples} requests" if req.samples > 1 else "1 request"
    return f"{words} ({count}, timeout {req.timeout:g} s)"


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


# -- sampling ---------------------------------------------------------------


class _Sampled(Struct):
    responses: list[HttpResponse]
    failure: str | None = None
    interrupted: bool = False


class _Sampler:
    """Sends the request ``samples`` times within the step's timeout."""

    def __init__(self, req: HttpRequest, *, step_timeout: float, ctx: StepContext) -> None:
        self.req = req
        self.ctx = ctx
        self.step_timeout = step_timeout
        self.deadline = time.monotonic() + step_timeout

    def run(self) -> _Sampled:
        done = _Sampled(responses=[])
        for number in range(1, self.req.samples + 1):
            if self.ctx.cancel.is_set():
                done.interrupted = True
                return done
            done.failure = self._one(number, done.responses)
            if self.ctx.cancel.is_set():
                done.interrupted = True
                return done
            if done.failure is not None:
                return done
        return done

    def _one(self, number: int, responses: list[HttpResponse]) -> str | None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return self._out_of_time(number)
        timeout = min(self.req.timeout, remaining)
        try:
            response = request(
                self.req.method,
                self.req.url,
                headers=self.req.headers,
                body=self.req.body,
                timeout=timeout,
                cancel=self.ctx.cancel,
            )
        except HttpFailure as failure:
            if failure.kind == CANCELLED:
                return None
            self.ctx.say(f"< no response: {failure.message}")
            if failure.kind == TIMEOUT and timeout < self.req.timeout:
                return self._out_of_time(number)
            which = f" (request {number} of {self.req.samples})" if self.req.samples > 1 else ""
            return failure.message + which
        responses.append(response)
        _say_response(self.ctx, response, first=number == 1)
        return None

    def _out_of_time(self, number: int) -> str:
        return (
            f"the step's timeout of {self.step_timeout:g} s ran out during request "
            f"{number} of {self.req.samples}; raise the step's `timeout` or lower `samples`"
        )


def _say_request(ctx: StepContext, shown: HttpRequest) -> None:
    ctx.say(f"> {shown.method} {shown.url}")
    for name, value in shown.headers.items():
        ctx.say(f"> {name}: {_masked_header(name, value)}")
    if shown.body is not None:
        ctx.say(f"> ({len(shown.body)} bytes of body)")


def _say_response(ctx: StepContext, response: HttpResponse, *, first: bool) -> None:
    ctx.say(
        f"< {response.status} {response.reason} in {_ms(response.elapsed_ms)}, "
        f"{len(response.body)} bytes"
    )
    if not first:
        return
    for name, value in response.headers.items():
        ctx.say(f"< {name}: {_masked_header(name, value)}")
    text = response.text()
    if text:
        excerpt = text[:_BODY_EXCERPT_CHARS] + (" ..." if len(text) > _BODY_EXCERPT_CHARS else "")
        ctx.say(f"< body: {excerpt}")


# -- figures and checks -----------------------------------------------------


def nearest_rank(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with ``percent`` % at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _metrics(responses: Sequence[HttpResponse]) -> dict[str, Any]:
    if not responses:
        return {"samples": 0}
    times = [r.elapsed_ms for r in responses]
    metrics: dict[str, Any] = {
        "status": responses[0].status,
        "p50_ms": round(nearest_rank(times, 50), 1),
        "p95_ms": round(nearest_rank(times, 95), 1),
        "max_ms": round(max(times), 1),
        "size_bytes": len(responses[0].body),
        "samples": len(responses),
    }
    counts = Counter(r.status for r in responses)
    if len(counts) > 1:
        metrics["statuses"] = {str(code): n for code, n in sorted(counts.items())}
    return metrics


def _actual(responses: Sequence[HttpResponse], req: HttpRequest) -> str:
    if not responses:
        return "no response"
    counts = Counter(r.status for r in responses)
    statuses = (
        str(responses[0].status)
        if len(counts) == 1
        else ", ".join(f"{code} ({n})" for code, n in sorted(counts.items()))
    )
    times = [r.elapsed_ms for r in responses]
    if len(responses) == 1:
        return f"{statuses} in {_ms(times[0])}"
    return f"{statuses} in p95 {_ms(nearest_rank(times, 95))} over {len(responses)} requests"


def _no_response(sampled: _Sampled, req: HttpRequest) -> Outcome:
    got = len(sampled.responses)
    actual = _actual(sampled.responses, req)
    if got:
        actual += f", then no response to request {got + 1} of {req.samples}"
    return Outcome(
        FAILED, actual, reason=sampled.failure or "no response", metrics=_metrics(sampled.responses)
    )


def _checked(
    resolved: ResolvedStep, ctx: StepContext, responses: list[HttpResponse], req: HttpRequest
) -> Outcome:
    expect = resolved.step.expect
    failures = _status_failures(expect.get("status"), responses)
    failures += _body_failures(expect, responses[0])
    failures += _latency_failures(expect.get("max_ms"), responses)
    notes: list[str] = []
    if "shape" in expect:
        failures += _shape_failures(resolved, ctx, responses[0], notes)
    actual = "; ".join([_actual(responses, req), *notes])
    metrics = _metrics(responses)
    if failures:
        return Outcome(FAILED, actual, reason="; ".join(failures), metrics=metrics)
    return Outcome(PASSED, actual, metrics=metrics)


def _status_ok(wanted: Any, status: int) -> bool:
    if wanted is None:
        return 200 <= status <= 299
    codes = wanted if isinstance(wanted, list) else [wanted]
    return status in codes


def _status_failures(wanted: Any, responses: Sequence[HttpResponse]) -> list[str]:
    bad = Counter(r.status for r in responses if not _status_ok(wanted, r.status))
    if not bad:
        return []
    got = ", ".join(f"{code} ({n})" for code, n in sorted(bad.items()))
    if len(bad) == 1:
        got = str(next(iter(bad)))
    message = f"expected {_status_words(wanted)}, got {got}"
    if len(responses) > 1:
        message += f" on {sum(bad.values())} of {len(responses)} requests"
    return [message]


def _body_failures(expect: Mapping[str, Any], first: HttpResponse) -> list[str]:
    failures: list[str] = []
    if "json" in expect:
        failures += _json_failures(expect["json"], first)
    for name, pattern in (expect.get("headers") or {}).items():
        value = first.headers.get(name)
        if value is None:
            failures.append(f"expected header {name} matching /{pattern}/; the response has none")
        elif re.search(str(pattern), value) is None:
            shown = _cut(_masked_header(name, value))
            failures.append(f"expected header {name} to match /{pattern}/, got {shown!r}")
    contains = expect.get("body_contains")
    if contains is not None and str(contains) not in first.text():
        failures.append(f"expected the body to contain {str(contains)!r}; it did not")
    return failures


def _json_failures(wanted: Any, first: HttpResponse) -> list[str]:
    try:
        document = first.json()
    except ValueError as exc:
        return [f"expected a JSON body containing {shape.shown(wanted)}; {exc}"]
    return [f"JSON {problem}" for problem in shape.subset_problems(wanted, document)]


def _latency_failures(max_ms: Any, responses: Sequence[HttpResponse]) -> list[str]:
    if max_ms is None:
        return []
    p95 = nearest_rank([r.elapsed_ms for r in responses], 95)
    if p95 <= float(max_ms):
        return []
    count = f"{len(responses)} requests" if len(responses) > 1 else "1 request"
    return [f"p95 {_ms(p95)} is over max_ms {float(max_ms):g} ({count})"]


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


# -- shape snapshots --------------------------------------------------------


def _shape_failures(
    resolved: ResolvedStep, ctx: StepContext, first: HttpResponse, notes: list[str]
) -> list[str]:
    name = str(resolved.step.expect["shape"])
    path = Path(ctx.base_dir) / name
    try:
        current = shape.shape_of(first.json())
    except ValueError as exc:
        return [f"expected a JSON body to compare with snapshot {name}; {exc}"]
    if ctx.update_snapshots:
        return _record(resolved, ctx, path, name, current, notes)
    if not path.is_file():
        return [
            f"snapshot {name} does not exist yet; record it with "
            "`relcheck run --update-snapshots` and commit it"
        ]
    try:
        recorded = shape.read_snapshot(path, shown_as=name)
    except shape.SnapshotError as exc:
        return [str(exc)]
    found = shape.compare(recorded, current)
    _say_comparison(ctx, name, found)
    if found.additions:
        notes.append(f"shape adds {', '.join(found.additions)}")
    return [f"{change} (snapshot {name})" for change in found.breaking]


def _record(
    resolved: ResolvedStep,
    ctx: StepContext,
    path: Path,
    name: str,
    current: shape.Shape,
    notes: list[str],
) -> list[str]:
    if path.is_file():
        # Say what changes; a snapshot that cannot be read is replaced all the same.
        with contextlib.suppress(shape.SnapshotError):
            recorded = shape.read_snapshot(path, shown_as=name)
            _say_comparison(ctx, name, shape.compare(recorded, current))
    try:
        shape.write_snapshot(path, current, step_id=resolved.id)
    except OSError as exc:
        return [f"could not write snapshot {name} ({exc.strerror or exc}); check the folder"]
    ctx.say(f"recorded snapshot {name}")
    notes.append(f"recorded snapshot {name}")
    return []


def _say_comparison(ctx: StepContext, name: str, found: shape.Comparison) -> None:
    for change in found.breaking:
        ctx.say(f"snapshot {name}: breaking: {change}")
    for addition in found.additions:
        ctx.say(f"snapshot {name}: added: {addition}")
    if not found.breaking and not found.additions:
        ctx.say(f"snapshot {name}: the shape is unchanged")
