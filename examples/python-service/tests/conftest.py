"""A real server on 127.0.0.1, on a free port, in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from service.app import make_server


@pytest.fixture()
def base_url() -> Iterator[str]:
    server = make_server("127.0.0.1", 0)
    # A short poll interval keeps shutdown() (and so each test's teardown) quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
