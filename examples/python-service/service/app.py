"""The HTTP handler and server factory: /health and /items/<id>, JSON only."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from service import __version__

ITEMS: dict[int, dict[str, Any]] = {
    1: {"id": 1, "name": "teapot", "price": 12.5},
    2: {"id": 2, "name": "kettle", "price": 30.0},
    3: {"id": 3, "name": "mug", "price": 4.25},
}

_ITEM_PATH = re.compile(r"^/items/(?P<id>[^/]+)$")


class Handler(BaseHTTPRequestHandler):
    """Serves the two routes; everything else is a JSON 404."""

    server_version = f"python-service/{__version__}"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send_json(
                HTTPStatus.OK,
                {"ok": True, "version": __version__},
                headers={"Cache-Control": "max-age=60"},
            )
            return
        match = _ITEM_PATH.match(path)
        if match:
            self._send_item(match.group("id"))
            return
        self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no route for {path}"})

    def _send_item(self, raw_id: str) -> None:
        if not raw_id.isdigit():
            self._send_json(
                HTTPStatus.BAD_REQUEST, {"error": f"item id must be a number, got {raw_id!r}"}
            )
            return
        item = ITEMS.get(int(raw_id))
        if item is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no item {raw_id}"})
            return
        self._send_json(HTTPStatus.OK, item)

    def _send_json(
        self,
        status: HTTPStatus,
        payload: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Keep the demo's output readable; access logs are noise here.
        return


def make_server(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Bind the server (port 0 picks a free port); the caller serves and closes it."""
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
