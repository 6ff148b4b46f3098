"""Fake GitHub, GitLab and Gitea servers on 127.0.0.1 for the publish and ci tests.

Each is a real ``ThreadingHTTPServer`` in a thread that implements the
endpoints relcheck uses as the public API documentation describes them:
status codes, error bodies, pagination (GitHub and Gitea ``Link`` headers,
GitLab ``X-Next-Page`` beside ``Link``), drafts hidden from GitHub's
get-by-tag, GitHub's ``upload_url`` template on a host of its own (a second
port, like uploads.github.com), Gitea attachments, GitLab uploads, generic
packages and release links, and what GitLab's CI job token may not use.
Every request received is recorded in ``received`` (with the port it came
to). Faults are queued with ``fail`` (answer a status instead of doing the
work), ``slow`` (do the work, then answer late, so the client gives up and
the answer is lost) and ``late`` (wait, then do the work: it lands after the
client gave up). ``link_base`` makes pagination links name another origin, as
a forge behind a proxy does.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], Any]
Route = tuple[str, re.Pattern[str], Callable[..., Answer]]


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    port: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    times: int
    status: int | None = None  # answer this instead of doing the work
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    late_by: float = 0.0  # do the work, then answer this many seconds late
    work_after: float = 0.0  # wait this many seconds, then do the work and answer
    action: Callable[[], Any] | None = None  # run (under the lock) before answering


class FakeForge:
    """The shared machinery: routing, auth, recording, faults."""

    api_prefix = ""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.received: list[Received] = []
        self.faults: list[Fault] = []
        self.max_page = 100
        self.lock = threading.RLock()
        self.poll_counts: dict[str, int] = {}
        self.check_script: list[Any] = []
        self.link_base: str | None = None  # pagination links name this origin instead
        self.servers: list[ThreadingHTTPServer] = []
        self.server = self.start_server()

    def start_server(self) -> ThreadingHTTPServer:
        """One more listening port for this forge (GitHub's upload host is a second one)."""
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                forge._serve(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # a late answer must not hold up the teardown
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        self.servers.append(server)
        return server

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base + self.api_prefix

    @property
    def polls(self) -> int:
        """How many times the commit's checks were looked at (the busiest endpoint's count)."""
        return max(self.poll_counts.values(), default=0)

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    # -- test controls --------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        action: Callable[[], Any] | None = None,
    ) -> None:
        """Answer ``status`` instead of doing the work; ``action`` runs first (a side effect)."""
        default = {"message": f"{status} from the fake"}
        fault = Fault(method, re.compile(path), times, status, headers or {}, body or default)
        fault.action = action
        self.faults.append(fault)

    def slow(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """Do the work, then answer ``seconds`` late."""
        self.faults.append(Fault(method, re.compile(path), times, late_by=seconds))

    def late(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """Wait ``seconds``, then do the work and answer (after the client gave up)."""
        self.faults.append(Fault(method, re.compile(path), times, work_after=seconds))

    def requests(self, method: str | None = None, path: str = "") -> list[Received]:
        with self.lock:
            return [
                r
                for r in self.received
                if (method is None or r.method == method) and re.search(path, r.path)
            ]

    # -- serving --------------------------------------------------------------------

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def authorized(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def seed(self, tag: str, *, draft: bool) -> None:
        """Put a release of ``tag`` there, as if made before relcheck came."""
        raise NotImplementedError

    def summary(self) -> list[dict[str, Any]]:
        """Every release as tests compare them: tag, name, body, draft, assets (name -> text)."""
        raise NotImplementedError

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        got = Received(
            handler.command,
            parts.path,
            dict(urllib.parse.parse_qsl(parts.query)),
            {k.lower(): v for k, v in handler.headers.items()},
            body,
            int(handler.server.server_address[1]),  # type: ignore[index]
        )
        with self.lock:
            self.received.append(got)
            fault = self._fault(got)
            if fault is not None and fault.action is not None:
                fault.action()
        if fault is not None and fault.status is not None:
            self._write(handler, (fault.status, fault.headers, fault.body))
            return
        if fault is not None:
            time.sleep(fault.work_after)
        answer = self._answer(got)
        if fault is not None:
            time.sleep(fault.late_by)
        self._write(handler, answer)

    def _fault(self, got: Received) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == got.method and fault.pattern.search(got.path):
                fault.times -= 1
                return fault
        return None

    def _answer(self, got: Received) -> Answer:
        if self.token is not None and not self.authorized(got.headers):
            return 401, {}, {"message": "Bad credentials"}
        for method, pattern, handle in self.routes():
            match = pattern.fullmatch(got.path)
            if method == got.method and match:
                with self.lock:
                    return handle(got, *match.groups())
        return 404, {}, {"message": "Not Found"}

    def _write(self, handler: BaseHTTPRequestHandler, answer: Answer) -> None:
        status, headers, body = answer
        raw = isinstance(body, bytes)
        data = body if raw else b"" if body is None else json.dumps(body).encode()
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            if data:
                kind = "application/octet-stream" if raw else "application/json; charset=utf-8"
                handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting: the answer is lost, as intended

    # -- helpers for subclasses -----------------------------------------------------

    def page(self, got: Received, items: list[Any], size_param: str) -> tuple[list[Any], int, int]:
        """(items of the page asked for, page number, number of pages)."""
        size = min(int(got.query.get(size_param, 30)), self.max_page)
        number = int(got.query.get("page", 1))
        pages = max(1, -(-len(items) // size))
        return items[(number - 1) * size : number * size], number, pages

    def link_header(self, got: Received, number: int, pages: int) -> dict[str, str]:
        if number >= pages:
            return {}
        base = self.link_base or self.base
        query = dict(got.query, page=str(number + 1))
        following = f"{base}{got.path}?{urllib.parse.urlencode(query)}"
        last = f"{base}{got.path}?{urllib.parse.urlencode(dict(got.query, page=str(pages)))}"
        return {"Link": f'<{following}>; rel="next", <{last}>; rel="last"'}

    def next_poll(self, endpoint: str, got: Received) -> Any:
        """This look's step of ``check_script`` (the last one repeats), counted per endpoint.

        A look starts with page 1; later pages of it get the same step.
        """
        with self.lock:
            if got.query.get("page", "1") == "1":
                self.poll_counts[endpoint] = self.poll_counts.get(endpoint, 0) + 1
            count = self.poll_counts.get(endpoint, 1)
            return self.check_script[min(count, len(self.check_script)) - 1]


def multipart_file(got: Received, field_name: str) -> tuple[str, bytes]:
    """(file name, bytes) of one field of a multipart/form-data body."""
    head = f"Content-Type: {got.headers['content-type']}\r\n\r\n".encode()
    message = email.message_from_bytes(head + got.body, policy=email.policy.HTTP)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == field_name:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return str(part.get_filename()), payload
    raise AssertionError(f"no multipart field {field_name!r}")


def _route(method: str, pattern: str, handle: Callable[..., Answer]) -> Route:
    return method, re.compile(pattern), handle


def _summary(release: dict[str, Any], body: str) -> dict[str, Any]:
    return {
        "tag": release["tag_name"],
        "name": release["name"],
        "body": body,
        "draft": release["draft"],
        "assets": {asset["name"]: asset["data"] for asset in release["assets"]},
    }


# ---------------------------------------------------------------- GitHub


class FakeGitHub(FakeForge):
    """GitHub's REST API under /api/v3; uploads on a host of their own, like uploads.github.com."""

    api_prefix = "/api/v3"
    repo = "acme/service"
    max_body = 125_000

    def __init__(self, token: str | None) -> None:
        super().__init__(token)
        self.releases: dict[int, dict[str, Any]] = {}
        self.next_id = 1
        self.upload_server = self.start_server()

    @property
    def upload_port(self) -> int:
        return int(self.upload_server.server_address[1])

    @property
    def upload_base(self) -> str:
        return f"http://127.0.0.1:{self.upload_port}"

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") in (f"Bearer {self.token}", f"token {self.token}")

    def add_release(self, tag: str, *, draft: bool = False, **fields: Any) -> dict[str, Any]:
        release_id = self.next_id
        self.next_id += 1
        owner_repo = self.repo
        release = {
            "id": release_id,
            "tag_name": tag,
            "target_commitish": "main",
            "name": tag,
            "body": "",
            "draft": draft,
            "prerelease": False,
            "html_url": f"{self.base}/{owner_repo}/releases/"
            + (f"untagged-{uuid.uuid4().hex[:20]}" if draft else f"tag/{tag}"),
            "upload_url": f"{self.upload_base}/api/uploads/repos/{owner_repo}/releases/"
            f"{release_id}/assets{{?name,label}}",
            "assets": [],
            **fields,
        }
        self.releases[release_id] = release
        return release

    def by_tag(self, tag: str) -> list[dict[str, Any]]:
        return [r for r in self.releases.values() if r["tag_name"] == tag]

    def seed(self, tag: str, *, draft: bool) -> None:
        self.add_release(tag, draft=draft, body="an older body")

    def summary(self) -> list[dict[str, Any]]:
        return [_summary(r, r["body"]) for r in self.releases.values()]

    def routes(self) -> list[Route]:
        repo = r"/api/v3/repos/acme/service"
        return [
            _route("GET", repo + r"/releases/tags/(.+)", self._get_by_tag),
            _route("GET", repo + r"/releases", self._list),
            _route("POST", repo + r"/releases", self._create),
            _route("PATCH", repo + r"/releases/(\d+)", self._update),
            _route("GET", repo + r"/releases/(\d+)/assets", self._assets),
            _route("DELETE", repo + r"/releases/assets/(\d+)", self._delete_asset),
            _route("PATCH", repo + r"/releases/assets/(\d+)", self._rename_asset),
            _route("POST", r"/api/uploads/repos/acme/service/releases/(\d+)/assets", self._upload),
            _route("GET", repo + r"/commits/(\w+)/status", self._status),
            _route("GET", repo + r"/commits/(\w+)/check-runs", self._check_runs),
        ]

    def _answer(self, got: Received) -> Answer:
        # Each host serves its own part: uploads only on the upload host, the rest elsewhere.
        if (got.port == self.upload_port) != got.path.startswith("/api/uploads/"):
            return 404, {}, {"message": "Not Found"}
        return super()._answer(got)

    def _get_by_tag(self, got: Received, tag: str) -> Answer:
        tag = urllib.parse.unquote(tag)
        published = [r for r in self.by_tag(tag) if not r["draft"]]  # drafts stay hidden
        if not published:
            return 404, {}, {"message": "Not Found", "status": "404"}
        return 200, {}, published[0]

    def _list(self, got: Received) -> Answer:
        newest_first = sorted(self.releases.values(), key=lambda r: -r["id"])
        items, number, pages = self.page(got, newest_first, "per_page")
        return 200, self.link_header(got, number, pages), items

    def _invalid(self, data: dict[str, Any]) -> Answer | None:
        if len(data.get("body") or "") > self.max_body:
            error = {
                "resource": "Release",
                "code": "custom",
                "field": "body",
                "message": "body is too long (maximum is 125000 characters)",
            }
            return 422, {}, {"message": "Validation Failed", "errors": [error]}
        return None

    def _create(self, got: Received) -> Answer:
        data = got.json()
        invalid = self._invalid(data)
        if invalid:
            return invalid
        tag = data["tag_name"]
        if not data.get("draft") and any(not r["draft"] for r in self.by_tag(tag)):
            error = {"resource": "Release", "code": "already_exists", "field": "tag_name"}
            return 422, {}, {"message": "Validation Failed", "errors": [error]}
        release = self.add_release(tag, **{k: v for k, v in data.items() if k != "tag_name"})
        return 201, {}, release

    def _update(self, got: Received, release_id: str) -> Answer:
        release = self.releases.get(int(release_id))
        if release is None:
            return 404, {}, {"message": "Not Found"}
        data = got.json()
        invalid = self._invalid(data)
        if invalid:
            return invalid
        release.update(data)
        if not release["draft"]:
            release["html_url"] = f"{self.base}/{self.repo}/releases/tag/{release['tag_name']}"
        return 200, {}, release

    def _assets(self, got: Received, release_id: str) -> Answer:
        release = self.releases.get(int(release_id))
        if release is None:
            return 404, {}, {"message": "Not Found"}
        items, number, pages = self.page(got, release["assets"], "per_page")
        return 200, self.link_header(got, number, pages), items

    def _delete_asset(self, got: Received, asset_id: str) -> Answer:
        for release in self.releases.values():
            for asset in release["assets"]:
                if asset["id"] == int(asset_id):
                    release["assets"].remove(asset)
                    return 204, {}, None
        return 404, {}, {"message": "Not Found"}

    def _rename_asset(self, got: Received, asset_id: str) -> Answer:
        name = got.json().get("name")
        for release in self.releases.values():
            for asset in release["assets"]:
                if asset["id"] == int(asset_id):
                    if any(a["name"] == name and a is not asset for a in release["assets"]):
                        error = {"resource": "ReleaseAsset", "code": "already_exists"}
                        return 422, {}, {"message": "Validation Failed", "errors": [error]}
                    asset["name"] = name
                    return 200, {}, asset
        return 404, {}, {"message": "Not Found"}

    def _upload(self, got: Received, release_id: str) -> Answer:
        release = self.releases.get(int(release_id))
        if release is None:
            return 404, {}, {"message": "Not Found"}
        name = got.query.get("name")
        if not name or "content-type" not in got.headers:
            return 422, {}, {"message": "Validation Failed"}
        if any(a["name"] == name for a in release["assets"]):
            error = {"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}
            return 422, {}, {"message": "Validation Failed", "errors": [error]}
        asset = {
            "id": 1000 + self.next_id,
            "name": name,
            "size": len(got.body),
            "state": "uploaded",
            "content_type": got.headers["content-type"],
            "browser_download_url": f"{self.base}/{self.repo}/releases/download/"
            f"{release['tag_name']}/{name}",
            "data": got.body.decode("utf-8"),
        }
        self.next_id += 1
        release["assets"].append(asset)
        return 201, {}, asset

    def _status(self, got: Received, sha: str) -> Answer:
        statuses, _ = self.next_poll("status", got)
        states = {s["state"] for s in statuses}
        combined = (
            "pending"
            if not statuses or "pending" in states
            else "failure"
            if states & {"failure", "error"}
            else "success"
        )
        shown, number, pages = self.page(got, statuses, "per_page")
        body = {"state": combined, "sha": sha, "total_count": len(statuses), "statuses": shown}
        return 200, self.link_header(got, number, pages), body

    def _check_runs(self, got: Received, sha: str) -> Answer:
        _, runs = self.next_poll("check-runs", got)
        shown, number, pages = self.page(got, runs, "per_page")
        body = {"total_count": len(runs), "check_runs": shown}
        return 200, self.link_header(got, number, pages), body


# ---------------------------------------------------------------- GitLab


class FakeGitLab(FakeForge):
    """GitLab's REST API v4 for project 42, acme/service."""

    api_prefix = "/api/v4"
    project_keys = ("42", "acme/service")

    def __init__(self, token: str | None, *, header: str = "private-token") -> None:
        super().__init__(token)
        self.header = header
        self.releases: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.packages: dict[tuple[str, str, str], list[bytes]] = {}
        self.pipelines: list[dict[str, Any]] = []
        self.next_id = 1

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get(self.header) == self.token

    def seed(self, tag: str, *, draft: bool) -> None:
        assert not draft, "GitLab releases have no drafts"
        self.releases[tag] = {
            "tag_name": tag,
            "name": tag,
            "description": "an older body",
            "_links": {"self": f"{self.base}/acme/service/-/releases/{tag}"},
            "assets": {"count": 0, "sources": [], "links": []},
        }

    def summary(self) -> list[dict[str, Any]]:
        found = []
        for release in self.releases.values():
            assets = {}
            for link in release["assets"]["links"]:
                assets[link["name"]] = self.download(link["url"]).decode()
            found.append(
                {
                    "tag": release["tag_name"],
                    "name": release["name"],
                    "body": release["description"],
                    "draft": False,
                    "assets": assets,
                }
            )
        return found

    def download(self, url: str) -> bytes:
        """What a link's address serves: an upload, or the newest file of a package."""
        if url.startswith(self.base + "/-/project/42/uploads/"):
            return self.uploads[url.split("/uploads/", 1)[1].split("/")[0]]
        package = re.fullmatch(
            re.escape(self.api_url) + r"/projects/[^/]+/packages/generic/([^/]+)/([^/]+)/([^/]+)",
            url,
        )
        assert package is not None, f"a link to neither an upload nor a package: {url}"
        key = tuple(urllib.parse.unquote(part) for part in package.groups())
        return self.packages[key][-1]  # type: ignore[index]

    def routes(self) -> list[Route]:
        project = r"/api/v4/projects/([^/]+)"
        package = project + r"/packages/generic/([^/]+)/([^/]+)/([^/]+)"
        return [
            _route("GET", project, self._project),
            _route("GET", project + r"/releases/([^/]+)", self._get),
            _route("POST", project + r"/releases", self._create),
            _route("PUT", project + r"/releases/([^/]+)", self._update),
            _route("POST", project + r"/uploads", self._upload),
            _route("PUT", package, self._put_package_file),
            _route("GET", package, self._get_package_file),
            _route("GET", project + r"/releases/([^/]+)/assets/links", self._links),
            _route("POST", project + r"/releases/([^/]+)/assets/links", self._add_link),
            _route("PUT", project + r"/releases/([^/]+)/assets/links/(\d+)", self._edit_link),
            _route("DELETE", project + r"/releases/([^/]+)/assets/links/(\d+)", self._drop_link),
            _route("GET", project + r"/pipelines", self._pipelines),
        ]

    # What the CI job token may not use (GitLab's "job token access" list leaves them out).
    _NOT_FOR_JOB_TOKEN = (
        ("POST", re.compile(r".*/uploads")),
        ("GET", re.compile(r"/api/v4/projects/[^/]+")),
    )

    def _answer(self, got: Received) -> Answer:
        if self.header == "job-token" and any(
            got.method == method and pattern.fullmatch(got.path)
            for method, pattern in self._NOT_FOR_JOB_TOKEN
        ):
            return 401, {}, {"message": "401 Unauthorized"}
        return super()._answer(got)

    def _project(self, got: Received, project: str) -> Answer:
        if not self._known(project):
            return 404, {}, {"message": "404 Project Not Found"}
        return (
            200,
            {},
            {
                "id": 42,
                "path_with_namespace": "acme/service",
                "web_url": f"{self.base}/acme/service",
            },
        )

    def _known(self, project: str) -> bool:
        return urllib.parse.unquote(project) in self.project_keys

    def _release(self, project: str, tag: str) -> dict[str, Any] | None:
        if not self._known(project):
            return None
        return self.releases.get(urllib.parse.unquote(tag))

    def _get(self, got: Received, project: str, tag: str) -> Answer:
        release = self._release(project, tag)
        if release is None:
            return 404, {}, {"message": "404 Not Found"}
        return 200, {}, release

    def _create(self, got: Received, project: str) -> Answer:
        if not self._known(project):
            return 404, {}, {"message": "404 Project Not Found"}
        data = got.json()
        tag = data["tag_name"]
        if tag in self.releases:
            return 409, {}, {"message": "Release already exists"}
        release = {
            "tag_name": tag,
            "name": data.get("name") or tag,
            "description": data.get("description") or "",
            "_links": {"self": f"{self.base}/acme/service/-/releases/{tag}"},
            "assets": {"count": 0, "sources": [], "links": []},
        }
        self.releases[tag] = release
        return 201, {}, release

    def _update(self, got: Received, project: str, tag: str) -> Answer:
        release = self._release(project, tag)
        if release is None:
            return 404, {}, {"message": "404 Not Found"}
        release.update({k: v for k, v in got.json().items() if k in ("name", "description")})
        return 200, {}, release

    def _upload(self, got: Received, project: str) -> Answer:
        name, data = multipart_file(got, "file")
        secret = uuid.uuid4().hex
        self.uploads[secret] = data
        answer = {
            "id": len(self.uploads),
            "alt": name,
            "url": f"/uploads/{secret}/{name}",
            "full_path": f"/-/project/42/uploads/{secret}/{name}",
            "markdown": f"[{name}](/uploads/{secret}/{name})",
        }
        return 201, {}, answer

    def _put_package_file(
        self, got: Received, project: str, name: str, version: str, file_name: str
    ) -> Answer:
        if not self._known(project):
            return 404, {}, {"message": "404 Project Not Found"}
        version, file_name = urllib.parse.unquote(version), urllib.parse.unquote(file_name)
        if not re.fullmatch(r"(\.?[\w+-]+\.?)+", version) or not re.fullmatch(
            r"[A-Za-z0-9._+-]+", file_name
        ):
            return 400, {}, {"error": "package_version or file_name is invalid"}
        # A version may hold one file name many times; downloads get the newest.
        self.packages.setdefault((name, version, file_name), []).append(got.body)
        return 201, {}, {"message": "201 Created"}

    def _get_package_file(
        self, got: Received, project: str, name: str, version: str, file_name: str
    ) -> Answer:
        key = (name, urllib.parse.unquote(version), urllib.parse.unquote(file_name))
        if not self._known(project) or key not in self.packages:
            return 404, {}, {"message": "404 Not Found"}
        return 200, {}, self.packages[key][-1]

    def _links(self, got: Received, project: str, tag: str) -> Answer:
        release = self._release(project, tag)
        if release is None:
            return 404, {}, {"message": "404 Not Found"}
        return self._paged(got, release["assets"]["links"])

    def _add_link(self, got: Received, project: str, tag: str) -> Answer:
        release = self._release(project, tag)
        if release is None:
            return 404, {}, {"message": "404 Not Found"}
        data = got.json()
        links = release["assets"]["links"]
        if any(link["name"] == data["name"] for link in links):
            return 400, {}, {"message": {"name": ["has already been taken"]}}
        if any(link["url"] == data["url"] for link in links):
            return 400, {}, {"message": {"url": ["has already been taken"]}}
        link = {
            "id": self.next_id,
            "name": data["name"],
            "url": data["url"],
            "link_type": data.get("link_type", "other"),
        }
        self.next_id += 1
        links.append(link)
        return 201, {}, link

    def _edit_link(self, got: Received, project: str, tag: str, link_id: str) -> Answer:
        release = self._release(project, tag)
        links = release["assets"]["links"] if release else []
        data = got.json()
        for link in links:
            if link["id"] == int(link_id):
                if any(other["name"] == data.get("name") and other is not link for other in links):
                    return 400, {}, {"message": {"name": ["has already been taken"]}}
                link.update({k: v for k, v in data.items() if k in ("name", "url", "link_type")})
                return 200, {}, link
        return 404, {}, {"message": "404 Not Found"}

    def _drop_link(self, got: Received, project: str, tag: str, link_id: str) -> Answer:
        release = self._release(project, tag)
        links = release["assets"]["links"] if release else []
        for link in links:
            if link["id"] == int(link_id):
                links.remove(link)
                return 200, {}, link
        return 404, {}, {"message": "404 Not Found"}

    def _pipelines(self, got: Received, project: str) -> Answer:
        pipelines = self.next_poll("pipelines", got) if self.check_script else self.pipelines
        found = [
            {"source": "push", "web_url": f"{self.base}/acme/service/-/pipelines/{p['id']}", **p}
            for p in pipelines
            if p.get("sha") == got.query.get("sha")
        ]
        return self._paged(got, found)

    def _paged(self, got: Received, items: list[Any]) -> Answer:
        """Offset pagination as GitLab sends it: X-* headers and a Link header too."""
        shown, number, pages = self.page(got, items, "per_page")
        headers = {
            "X-Page": str(number),
            "X-Per-Page": str(len(shown)),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(pages),
            "X-Next-Page": str(number + 1) if number < pages else "",
            **self.link_header(got, number, pages),
        }
        return 200, headers, shown


# ---------------------------------------------------------------- Gitea


class FakeGitea(FakeForge):
    """Gitea's API v1 for acme/service."""

    api_prefix = "/api/v1"

    def __init__(self, token: str | None) -> None:
        super().__init__(token)
        self.releases: dict[int, dict[str, Any]] = {}
        self.next_id = 1

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"token {self.token}"

    def routes(self) -> list[Route]:
        repo = r"/api/v1/repos/acme/service"
        return [
            _route("GET", repo + r"/releases/tags/(.+)", self._get_by_tag),
            _route("GET", repo + r"/releases", self._list),
            _route("POST", repo + r"/releases", self._create),
            _route("PATCH", repo + r"/releases/(\d+)", self._update),
            _route("GET", repo + r"/releases/(\d+)/assets", self._assets),
            _route("POST", repo + r"/releases/(\d+)/assets", self._attach),
            _route("DELETE", repo + r"/releases/(\d+)/assets/(\d+)", self._delete_asset),
            _route("PATCH", repo + r"/releases/(\d+)/assets/(\d+)", self._rename_asset),
            _route("GET", repo + r"/commits/(\w+)/status", self._status),
        ]

    def add_release(self, tag: str, **fields: Any) -> dict[str, Any]:
        release_id = self.next_id
        self.next_id += 1
        release = {
            "id": release_id,
            "tag_name": tag,
            "target_commitish": "main",
            "name": tag,
            "body": "",
            "draft": False,
            "prerelease": False,
            "html_url": f"{self.base}/acme/service/releases/tag/{tag}",
            "assets": [],
            **fields,
        }
        self.releases[release_id] = release
        return release

    def seed(self, tag: str, *, draft: bool) -> None:
        self.add_release(tag, draft=draft, body="an older body")

    def summary(self) -> list[dict[str, Any]]:
        return [_summary(r, r["body"]) for r in self.releases.values()]

    def _get_by_tag(self, got: Received, tag: str) -> Answer:
        tag = urllib.parse.unquote(tag)
        found = [r for r in self.releases.values() if r["tag_name"] == tag]
        if not found:
            return 404, {}, {"message": "The target couldn't be found.", "errors": []}
        return 200, {}, found[0]

    def _list(self, got: Received) -> Answer:
        newest_first = sorted(self.releases.values(), key=lambda r: -r["id"])
        items, number, pages = self.page(got, newest_first, "limit")
        headers = {**self.link_header(got, number, pages), "X-Total-Count": str(len(newest_first))}
        return 200, headers, items

    def _create(self, got: Received) -> Answer:
        data = got.json()
        if any(r["tag_name"] == data["tag_name"] for r in self.releases.values()):
            return 409, {}, {"message": "Release is has no Tag"}
        fields = {k: v for k, v in data.items() if k != "tag_name"}
        return 201, {}, self.add_release(data["tag_name"], **fields)

    def _update(self, got: Received, release_id: str) -> Answer:
        release = self.releases.get(int(release_id))
        if release is None:
            return 404, {}, {"message": "The target couldn't be found."}
        release.update(got.json())
        return 200, {}, release

    def _assets(self, got: Received, release_id: str) -> Answer:
        release = self.releases.get(int(release_id))
        if release is None:
            return 404, {}, {"message": "The target couldn't be found."}
        return 200, {}, release["assets"]

    def _attach(self, got: Received, release_id: str) -> Answer:
        release = self.releases.get(int(release_id))
        if release is None:
            return 404, {}, {"message": "The target couldn't be found."}
        filename, data = multipart_file(got, "attachment")
        name = got.query.get("name") or filename
        asset = {
            "id": 500 + self.next_id,
            "name": name,
            "size": len(data),
            "uuid": uuid.uuid4().hex,
            "browser_download_url": f"{self.base}/attachments/{uuid.uuid4().hex}",
            "data": data.decode("utf-8"),
        }
        self.next_id += 1
        release["assets"].append(asset)
        return 201, {}, asset

    def _delete_asset(self, got: Received, release_id: str, asset_id: str) -> Answer:
        release = self.releases.get(int(release_id))
        for asset in release["assets"] if release else []:
            if asset["id"] == int(asset_id):
                release["assets"].remove(asset)  # type: ignore[index]
                return 204, {}, None
        return 404, {}, {"message": "The target couldn't be found."}

    def _rename_asset(self, got: Received, release_id: str, asset_id: str) -> Answer:
        release = self.releases.get(int(release_id))
        for asset in release["assets"] if release else []:
            if asset["id"] == int(asset_id):
                asset["name"] = got.json().get("name") or asset["name"]
                return 201, {}, asset
        return 404, {}, {"message": "The target couldn't be found."}

    def _status(self, got: Received, sha: str) -> Answer:
        statuses = self.next_poll("status", got)
        body = {
            "state": "pending" if not statuses else statuses[0]["status"],
            "sha": sha,
            "total_count": len(statuses),
            "statuses": statuses,
        }
        return 200, {}, body


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """``http://127.0.0.1:PORT``: a port that takes connections and never answers."""
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # connections queue up; none is ever accepted
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def serve(kind: type[FakeForge], token: str | None, **options: Any) -> Iterator[FakeForge]:
    """For fixtures: a started fake that is shut down afterwards."""
    fake = kind(token, **options)
    try:
        yield fake
    finally:
        fake.close()
