"""The ``http`` kind against a real server on 127.0.0.1: checks, figures, failures, snapshots."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Invoke, Repo

from relcheck import http
from relcheck.checklist import load_checklist_file
from relcheck.kinds import KINDS
from relcheck.kinds.base import Outcome, ResolvedStep, StepContext
from relcheck.kinds.http import HttpKind, nearest_rank
from relcheck.model import FAILED, INTERRUPTED, PASSED, Release
from relcheck.plan import build_plan
from relcheck.secrets import Masker

SECRET = "s3cr3t-token-value-42"
HEALTH: dict[str, Any] = {
    "ok": True,
    "user": {"id": 7, "name": "Ada", "roles": ["admin", "dev"]},
    "n": 1.5,
}


@dataclass
class Route:
    body: Any = field(default_factory=lambda: HEALTH)
    statuses: tuple[int, ...] = (200,)
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "application/json", "Cache-Control": "max-age=60"}
    )
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout tests) breaks the pipe; that is expected


class Server:
    """A real HTTP server on 127.0.0.1 (port 0) that records what it was sent."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {"/health": Route()}
        self.seen: list[Seen] = []
        self.release = threading.Event()
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/health") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def hits(self, path: str = "/health") -> int:
        return sum(1 for seen in self.seen if seen.path == path)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            route = server.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.delay:
                server.release.wait(route.delay)
            status = route.statuses[(server.hits(self.path) - 1) % len(route.statuses)]
            data = route.body if isinstance(route.body, bytes) else json.dumps(route.body).encode()
            self.send_response(status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    started = Server()
    started.thread.start()
    yield started
    started.release.set()
    started.httpd.shutdown()
    started.httpd.server_close()
    started.thread.join(timeout=5)


@dataclass
class Ran:
    outcome: Outcome
    log: str
    resolved: ResolvedStep


def resolve(
    tmp_path: Path,
    http: dict[str, Any],
    expect: dict[str, Any] | None = None,
    *,
    env: dict[str, str] | None = None,
    step: dict[str, Any] | None = None,
    vars: dict[str, str] | None = None,
) -> tuple[ResolvedStep, Masker]:
    """Load and plan a one-step checklist as `relcheck run` does."""
    document: dict[str, Any] = {"version": 1, "vars": vars or {"v": "1"}}
    document["steps"] = [{"id": "health", "http": http, **({"expect": expect} if expect else {})}]
    document["steps"][0].update(step or {})
    path = tmp_path / "relcheck.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    checklist = load_checklist_file(path, source="relcheck.yaml", base_dir=tmp_path)
    environ = {**os.environ, **(env or {})}
    masker = Masker.from_env(environ, checklist.secrets)
    release = Release(version="1.0.0", tag="v1.0.0", commit=None, branch=None)
    [resolved] = build_plan(checklist, release=release, environ=environ, masker=masker)
    return resolved, masker


def execute(
    tmp_path: Path,
    http: dict[str, Any],
    expect: dict[str, Any] | None = None,
    *,
    update: bool = False,
    on_line: Callable[[str, threading.Event], None] | None = None,
    **options: Any,
) -> Ran:
    """Run the step through the kind with a StepContext built like the engine's."""
    resolved, masker = resolve(tmp_path, http, expect, **options)
    stream = masker.stream()
    log = bytearray()
    cancel = threading.Event()

    def output(data: bytes) -> None:
        log.extend(stream.feed(data))
        if on_line is not None:
            on_line(data.decode(), cancel)

    ctx = StepContext(
        output=output,
        captured_output=lambda: log.decode(),
        cancel=cancel,
        base_dir=tmp_path,
        update_snapshots=update,
    )
    outcome = KINDS["http"].execute(resolved, ctx)
    log.extend(stream.flush())
    return Ran(outcome, log.decode(), resolved)


def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


# -- status -----------------------------------------------------------------


def test_a_healthy_endpoint_passes_with_figures(tmp_path: Path, server: Server) -> None:
    ran = execute(tmp_path, {"url": server.url()}, {"status": 200, "json": {"ok": True}})
    assert ran.outcome.status == PASSED, ran.outcome.reason
    assert ran.outcome.actual.startswith("200 in ") and ran.outcome.actual.endswith(" ms")
    metrics = ran.outcome.metrics
    assert set(metrics) == {"status", "p50_ms", "p95_ms", "max_ms", "size_bytes", "samples"}
    assert metrics["status"] == 200
    assert metrics["samples"] == 1
    assert metrics["size_bytes"] == len(json.dumps(HEALTH))
    assert f"> GET {server.url()}" in ran.log
    assert "< 200 OK in " in ran.log
    assert server.seen[0].headers["User-Agent"].startswith("relcheck/")


def test_a_wrong_status_fails(tmp_path: Path, server: Server) -> None:
    server.routes["/health"] = Route(statuses=(503,))
    ran = execute(tmp_path, {"url": server.url()}, {"status": 200})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason == "expected status 200, got 503"
    assert ran.outcome.actual.startswith("503 in ")


def test_status_may_be_a_list_and_defaults_to_any_2xx(tmp_path: Path, server: Server) -> None:
    server.routes["/health"] = Route(statuses=(204,), body=b"")
    assert execute(tmp_path, {"url": server.url()}, {"status": [200, 204]}).outcome.status == PASSED
    assert execute(tmp_path, {"url": server.url()}).outcome.status == PASSED
    server.routes["/health"] = Route(statuses=(404,))
    ran = execute(tmp_path, {"url": server.url()}, {"status": [200, 204]})
    assert ran.outcome.reason == "expected status 200 or 204, got 404"
    ran = execute(tmp_path, {"url": server.url()})
    assert ran.outcome.reason == "expected a 2xx status, got 404"


def test_status_is_checked_on_every_sample(tmp_path: Path, server: Server) -> None:
    server.routes["/health"] = Route(statuses=(200, 503, 200, 503, 200))
    ran = execute(tmp_path, {"url": server.url(), "samples": 5}, {"status": 200})
    assert server.hits() == 5
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason == "expected status 200, got 503 on 2 of 5 requests"
    assert ran.outcome.actual.startswith("200 (3), 503 (2) in p95 ")
    assert ran.outcome.actual.endswith(" ms over 5 requests")
    assert ran.outcome.metrics["samples"] == 5
    assert ran.outcome.metrics["statuses"] == {"200": 3, "503": 2}
    assert ran.log.count("< 200 OK") == 3


def test_samples_send_exactly_that_many_requests(tmp_path: Path, server: Server) -> None:
    ran = execute(tmp_path, {"url": server.url(), "samples": 5})
    assert ran.outcome.status == PASSED
    assert server.hits() == 5
    assert ran.outcome.metrics["samples"] == 5
    assert " over 5 requests" in ran.outcome.actual
    metrics = ran.outcome.metrics
    assert metrics["p50_ms"] <= metrics["p95_ms"] <= metrics["max_ms"]


def test_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank(values, 95) == 19.0
    assert nearest_rank(values, 50) == 10.0
    assert nearest_rank([5.0], 95) == 5.0
    assert nearest_rank([3.0, 1.0, 2.0], 95) == 3.0


# -- body checks ------------------------------------------------------------


def test_json_subset_nested_and_lists(tmp_path: Path, server: Server) -> None:
    url = {"url": server.url()}
    good = {"ok": True, "user": {"id": 7, "roles": ["dev"]}, "n": 1.5}
    assert execute(tmp_path, url, {"json": good}).outcome.status == PASSED
    bad = {"ok": False, "user": {"id": 7, "roles": ["root"], "email": "x"}}
    ran = execute(tmp_path, url, {"json": bad})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason == (
        "JSON $.ok: expected false, got true; "
        'JSON $.user.roles: no item matches "root"; '
        "JSON $.user.email: missing"
    )


def test_json_expected_but_the_body_is_not_json(tmp_path: Path, server: Server) -> None:
    server.routes["/health"] = Route(body=b"<html>fine</html>", headers={})
    ran = execute(tmp_path, {"url": server.url()}, {"json": {"ok": True}})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason is not None
    assert ran.outcome.reason.startswith('expected a JSON body containing {"ok": true}; ')
    assert "not JSON" in ran.outcome.reason


def test_header_names_are_case_insensitive_and_values_are_regexes(
    tmp_path: Path, server: Server
) -> None:
    url = {"url": server.url()}
    ran = execute(tmp_path, url, {"headers": {"cache-CONTROL": "max-age=\\d+"}})
    assert ran.outcome.status == PASSED, ran.outcome.reason
    ran = execute(tmp_path, url, {"headers": {"Cache-Control": "^no-store$", "X-Trace": "."}})
    assert ran.outcome.reason == (
        "expected header Cache-Control to match /^no-store$/, got 'max-age=60'; "
        "expected header X-Trace matching /./; the response has none"
    )


def test_body_contains(tmp_path: Path, server: Server) -> None:
    url = {"url": server.url()}
    assert execute(tmp_path, url, {"body_contains": '"name": "Ada"'}).outcome.status == PASSED
    ran = execute(tmp_path, url, {"body_contains": "Grace"})
    assert ran.outcome.reason == "expected the body to contain 'Grace'; it did not"


def test_a_json_body_is_sent_with_its_content_type(tmp_path: Path, server: Server) -> None:
    server.routes["/deploy"] = Route(statuses=(201,))
    http = {"url": server.url("/deploy"), "method": "POST", "json": {"version": "{{ version }}"}}
    ran = execute(tmp_path, http, {"status": 201})
    assert ran.outcome.status == PASSED, ran.outcome.reason
    [seen] = server.seen
    assert seen.method == "POST"
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {"version": "1.0.0"}


# -- latency ----------------------------------------------------------------


def test_a_slow_endpoint_fails_max_ms_on_p95(tmp_path: Path, server: Server) -> None:
    server.routes["/health"] = Route(delay=0.3)
    ran = execute(tmp_path, {"url": server.url(), "samples": 2}, {"max_ms": 100})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason is not None
    assert ran.outcome.reason.startswith("p95 ")
    assert ran.outcome.reason.endswith(" ms is over max_ms 100 (2 requests)")


# -- no response ------------------------------------------------------------


def test_connection_refused_gives_a_clear_reason(tmp_path: Path) -> None:
    port = closed_port()
    ran = execute(tmp_path, {"url": f"http://127.0.0.1:{port}/health", "samples": 3})
    assert ran.outcome.status == FAILED
    assert ran.outcome.actual == "no response"
    assert ran.outcome.reason is not None
    assert ran.outcome.reason.startswith(f"connection refused by 127.0.0.1:{port}")
    assert ran.outcome.reason.endswith("(request 1 of 3)")
    assert "Traceback" not in ran.log
    assert ran.outcome.metrics == {"samples": 0}


def test_a_response_that_never_comes(tmp_path: Path, server: Server) -> None:
    server.routes["/health"] = Route(delay=30)
    ran = execute(tmp_path, {"url": server.url(), "timeout": 0.5})
    assert ran.outcome.status == FAILED
    port = server.httpd.server_address[1]
    assert ran.outcome.reason == f"no response from 127.0.0.1:{port} within 0.5 s"
    assert f"< no response: {ran.outcome.reason}" in ran.log


def test_the_step_timeout_caps_all_samples(tmp_path: Path, server: Server) -> None:
    server.routes["/health"] = Route(delay=0.4)
    ran = execute(tmp_path, {"url": server.url(), "samples": 10}, step={"timeout": 1})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason is not None
    assert ran.outcome.reason.startswith("the step's timeout of 1 s ran out during request ")
    assert server.hits() < 10
    assert ran.outcome.actual.startswith("200 in")
    assert ", then no response to request " in ran.outcome.actual


def test_cancel_stops_between_samples(tmp_path: Path, server: Server) -> None:
    def cancel_after_first(line: str, cancel: threading.Event) -> None:
        if line.startswith("< 200"):
            cancel.set()

    ran = execute(tmp_path, {"url": server.url(), "samples": 5}, on_line=cancel_after_first)
    assert ran.outcome.status == INTERRUPTED
    assert server.hits() == 1


def test_a_rendered_url_that_is_not_http_fails_before_sending(tmp_path: Path) -> None:
    ran = execute(tmp_path, {"url": "{{ vars.base }}/health"}, vars={"base": "localhost:8080"})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason == (
        "not an http:// or https:// URL with a host: 'localhost:8080/health'"
    )


def test_tls_to_a_plain_http_server_says_so(tmp_path: Path, server: Server) -> None:
    url = server.url().replace("http://", "https://")
    ran = execute(tmp_path, {"url": url})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason is not None
    assert ran.outcome.reason.startswith("TLS with 127.0.0.1:")


# -- relcheck.http itself ---------------------------------------------------


def test_request_returns_any_status_as_a_plain_response(server: Server) -> None:
    response = http.request("GET", server.url("/nowhere"), timeout=5)
    assert response.status == 404
    assert isinstance(response.body, bytes)
    assert response.elapsed_ms > 0
    assert response.headers["content-TYPE"] == response.headers["Content-Type"]
    assert "content-length" in response.headers
    response = http.request("GET", server.url(), timeout=5)
    assert response.json() == HEALTH


def test_request_refuses_a_header_with_a_line_break_without_showing_it(server: Server) -> None:
    with pytest.raises(http.HttpFailure) as caught:
        http.request("GET", server.url(), headers={"X-Key": f"{SECRET}\n"}, timeout=5)
    assert caught.value.kind == http.INVALID_URL
    assert "header X-Key" in caught.value.message
    assert SECRET not in str(caught.value)
    assert server.seen == []


def test_request_caps_the_body_it_reads(server: Server) -> None:
    with pytest.raises(http.HttpFailure) as caught:
        http.request("GET", server.url(), timeout=5, max_bytes=10)
    assert caught.value.kind == http.TOO_LARGE


# -- secrets and words ------------------------------------------------------


def test_secret_headers_never_reach_the_log_or_describe(tmp_path: Path, server: Server) -> None:
    http = {
        "url": server.url(),
        "headers": {"Authorization": "Bearer {{ env.FOO_TOKEN }}", "X-Request": "r-{{ version }}"},
        "samples": 2,
    }
    ran = execute(tmp_path, http, {"status": 200}, env={"FOO_TOKEN": SECRET})
    assert ran.outcome.status == PASSED
    assert server.seen[0].headers["Authorization"] == f"Bearer {SECRET}"
    described = HttpKind().describe(ran.resolved)
    for text in (ran.log, described, ran.outcome.actual, ran.resolved.shown):
        assert SECRET not in text
    assert "> Authorization: ***" in ran.log
    assert "> X-Request: r-1.0.0" in ran.log
    assert described == (
        f"GET {server.url()} with Authorization: ***, X-Request: r-1.0.0 "
        "(2 requests, timeout 10 s); expect status 200 on all 2 requests"
    )


def test_credentials_are_hidden_even_outside_secret_variables(
    tmp_path: Path, server: Server
) -> None:
    http = {"url": server.url(), "headers": {"X-Api-Token": "literal-in-the-file"}}
    ran = execute(tmp_path, http)
    assert "literal-in-the-file" not in ran.log
    assert "literal-in-the-file" not in HttpKind().describe(ran.resolved)
    assert "> X-Api-Token: ***" in ran.log


def test_default_expected_in_words(tmp_path: Path) -> None:
    expect = {
        "status": 200,
        "json": {"ok": True},
        "headers": {"Cache-Control": "max-age=\\d+"},
        "body_contains": "ok",
        "max_ms": 300,
        "shape": "snapshots/health.json",
    }
    resolved, _ = resolve(tmp_path, {"url": "http://127.0.0.1:1/", "samples": 20}, expect)
    assert resolved.expected == (
        'status 200 on all 20 requests, JSON contains {"ok": true}, header Cache-Control '
        "matches /max-age=\\d+/, body contains 'ok', p95 under 300 ms, JSON shape matches "
        "snapshots/health.json"
    )
    assert HttpKind().default_rollback(resolved, Release("1", "v1", None, None)) == "none"
    resolved, _ = resolve(tmp_path, {"url": "http://127.0.0.1:1/"})
    assert resolved.expected == "a 2xx status"


# -- snapshots --------------------------------------------------------------

SNAPSHOT = "snapshots/health.json"


def test_a_missing_snapshot_fails_with_the_hint(tmp_path: Path, server: Server) -> None:
    ran = execute(tmp_path, {"url": server.url()}, {"shape": SNAPSHOT})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason == (
        f"snapshot {SNAPSHOT} does not exist yet; record it with "
        "`relcheck run --update-snapshots` and commit it"
    )
    assert not (tmp_path / SNAPSHOT).exists()


def test_update_records_the_snapshot_and_then_it_passes(tmp_path: Path, server: Server) -> None:
    ran = execute(tmp_path, {"url": server.url()}, {"shape": SNAPSHOT}, update=True)
    assert ran.outcome.status == PASSED, ran.outcome.reason
    assert ran.outcome.actual.endswith(f"; recorded snapshot {SNAPSHOT}")
    document = json.loads((tmp_path / SNAPSHOT).read_text())
    assert document["shape"] == {
        "ok": "boolean",
        "user": {"id": "integer", "name": "string", "roles": ["string"]},
        "n": "number",
    }
    ran = execute(tmp_path, {"url": server.url()}, {"shape": SNAPSHOT})
    assert ran.outcome.status == PASSED, ran.outcome.reason
    assert f"snapshot {SNAPSHOT}: the shape is unchanged" in ran.log


def _record(tmp_path: Path, server: Server) -> None:
    execute(tmp_path, {"url": server.url()}, {"shape": SNAPSHOT}, update=True)


def test_a_breaking_change_fails_naming_each_path(tmp_path: Path, server: Server) -> None:
    _record(tmp_path, server)
    server.routes["/health"] = Route(body={"ok": True, "user": {"id": "7", "roles": []}, "n": 2})
    ran = execute(tmp_path, {"url": server.url()}, {"shape": SNAPSHOT})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason == (
        f"$.user.id: was integer, now string (snapshot {SNAPSHOT}); "
        f"$.user.name: removed (was string) (snapshot {SNAPSHOT})"
    )
    assert "breaking: $.user.id: was integer, now string" in ran.log


def test_added_keys_and_integers_for_numbers_pass(tmp_path: Path, server: Server) -> None:
    _record(tmp_path, server)
    body = {**HEALTH, "n": 2, "version": "1.0", "user": {**HEALTH["user"], "email": "a@b.c"}}
    server.routes["/health"] = Route(body=body)
    ran = execute(tmp_path, {"url": server.url()}, {"shape": SNAPSHOT})
    assert ran.outcome.status == PASSED, ran.outcome.reason
    assert ran.outcome.actual.endswith("; shape adds $.user.email (string), $.version (string)")
    assert "added: $.version (string)" in ran.log


def test_update_overwrites_a_changed_snapshot_and_says_what_changed(
    tmp_path: Path, server: Server
) -> None:
    _record(tmp_path, server)
    server.routes["/health"] = Route(body={"ok": "yes"})
    ran = execute(tmp_path, {"url": server.url()}, {"shape": SNAPSHOT}, update=True)
    assert ran.outcome.status == PASSED
    assert "breaking: $.ok: was boolean, now string" in ran.log
    assert json.loads((tmp_path / SNAPSHOT).read_text())["shape"] == {"ok": "string"}


# -- through the CLI --------------------------------------------------------

CHECKLIST = """\
version: 1
vars:
  base: "{url}"
steps:
  - id: health
    title: Check the health endpoint
    http: {{url: "{{{{ vars.base }}}}/health", samples: 3, timeout: 5,
           headers: {{Authorization: "Bearer {{{{ env.FOO_TOKEN }}}}"}}}}
    expect: {{status: 200, json: {{ok: true}}, max_ms: 10000}}
"""


def test_run_records_the_figures(
    repo: Repo, relcheck: Invoke, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOO_TOKEN", SECRET)
    repo.checklist(CHECKLIST.format(url=server.url("")))
    output = relcheck("run", "--release", "1.0.0").output
    assert SECRET not in output
    status = json.loads(relcheck("status", "--json").output)
    [step] = status["steps"]
    assert step["status"] == "passed"
    assert step["expected"] == 'status 200 on all 3 requests, JSON contains {"ok": true}, ' + (
        "p95 under 10000 ms"
    )
    assert step["actual"].startswith("200 in p95 ") and step["actual"].endswith(" over 3 requests")
    assert step["metrics"]["samples"] == 3 and step["metrics"]["status"] == 200
    assert server.hits() == 3
    run_folder = repo.runs()[-1]
    log = (run_folder / step["log"]).read_text()
    assert "> Authorization: ***" in log
    assert SECRET not in log
    assert SECRET not in (run_folder / "journal.jsonl").read_text()


SNAPSHOT_CHECKLIST = """\
version: 1
steps:
  - id: health
    http: {{url: "{url}"}}
    expect: {{shape: snapshots/health.json}}
"""


def test_run_with_update_snapshots_records_then_checks(
    repo: Repo, relcheck: Invoke, server: Server
) -> None:
    repo.checklist(SNAPSHOT_CHECKLIST.format(url=server.url()))
    output = relcheck("run", "--release", "1.0.0", code=1).output
    assert "--update-snapshots" in output
    relcheck("run", "--release", "1.0.1", "--update-snapshots")
    assert (repo.path / "snapshots" / "health.json").is_file()
    relcheck("run", "--release", "1.0.2")
    server.routes["/health"] = Route(body={"ok": True})
    output = relcheck("run", "--release", "1.0.3", code=1).output
    assert "$.user: removed (was object)" in output


# -- validation -------------------------------------------------------------


def test_validation_errors_point_at_the_key(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(
        """\
        version: 1
        steps:
          - id: health
            http:
              url: localhost/health
              methd: GET
              samples: 0
              timeout: soon
            expect:
              status: [200, 42]
              headers: {Cache-Control: "max-age=("}
              exit_code: 0
        """
    )
    output = relcheck("validate", code=2).output
    for line in [
        "relcheck.yaml:5:7: steps[0].http.url: expected an http:// or https:// URL, "
        "got 'localhost/health'",
        "relcheck.yaml:6:7: steps[0].http.methd: unknown key; did you mean 'method'?",
        "relcheck.yaml:7:7: steps[0].http.samples: expected a whole number of requests of "
        "at least 1, got 0",
        "relcheck.yaml:8:7: steps[0].http.timeout: expected a number of seconds, got 'soon'",
        "relcheck.yaml:10:21: steps[0].expect.status[1]: expected an HTTP status code of at "
        "least 100, got 42",
        "relcheck.yaml:11:17: steps[0].expect.headers.Cache-Control: not a valid regular "
        "expression",
        "relcheck.yaml:12:7: steps[0].expect.exit_code: unknown key;",
    ]:
        assert line in output


def test_body_and_json_together_are_refused(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(
        """\
        version: 1
        steps:
          - id: deploy
            http: {url: "http://127.0.0.1:1/", method: POST, body: "x", json: {a: 1}}
        """
    )
    output = relcheck("validate", code=2).output
    assert (
        "relcheck.yaml:4:5: steps[0].http: not allowed here; give either 'body' or 'json', "
        "not both" in output
    )


def test_a_trickling_response_is_stopped_at_the_request_timeout(tmp_path: Path) -> None:
    import http.server
    import threading
    import time as clock

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                clock.sleep(0.2)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        started = clock.monotonic()
        ran = execute(tmp_path, {"url": url, "timeout": 1}, {"status": 200})
        took = clock.monotonic() - started
    finally:
        httpd.shutdown()
    assert ran.outcome.status == FAILED
    assert "no complete response from 127.0.0.1" in (ran.outcome.reason or "")
    assert took < 10  # a bound against hanging, not a speed figure


def test_a_cookie_value_never_reaches_a_failure_reason(tmp_path: Path, server: Server) -> None:
    server.routes["/health"] = Route(headers={"Set-Cookie": "sid=SECRETCOOKIE42; Path=/"})
    ran = execute(tmp_path, {"url": server.url()}, {"headers": {"Set-Cookie": "HttpOnly"}})
    assert ran.outcome.status == FAILED
    assert ran.outcome.reason == (
        "expected header Set-Cookie to match /HttpOnly/, got 'sid=***; Path=/'"
    )
    assert "SECRETCOOKIE42" not in ran.log


def test_an_echoed_credential_is_masked_in_the_log(
    repo: Repo, relcheck: Invoke, server: Server
) -> None:
    server.routes["/health"] = Route(body={"echo": "Bearer plain-cred-7781"})
    repo.checklist(f"""\
version: 1
steps:
  - id: echo
    http:
      url: {server.url()}
      headers: {{Authorization: "Bearer plain-cred-7781"}}
""")
    relcheck("run", "--release", "1.0.0")
    for path in (repo.path / ".relcheck").rglob("*"):
        if path.is_file():
            assert "plain-cred-7781" not in path.read_text(errors="replace"), path
