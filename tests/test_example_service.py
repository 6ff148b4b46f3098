"""The example service in examples/python-service: its own suite, and a real process."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "python-service"
_LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:(\d+))$")


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    # The outer pytest's settings must not leak into the example's own run.
    for name in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST", "PYTHONPATH"):
        env.pop(name, None)
    # Leave no __pycache__ or .pytest_cache behind in the source tree.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"the service printed nothing within {timeout} s")
    return proc.stdout.readline().strip()


@pytest.fixture()
def service() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "--port", "0", "--host", "127.0.0.1"],
        cwd=EXAMPLE,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        line = _read_line(proc, timeout=15)
        match = _LISTENING.match(line)
        assert match, f"unexpected first line from the service: {line!r}"
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_example_suite_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"\b\d+ passed\b", output), output
    assert "failed" not in output, output


def test_service_process_serves_health(service: tuple[subprocess.Popen[str], str]) -> None:
    _, base_url = service
    with urllib.request.urlopen(f"{base_url}/health", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Cache-Control"] == "max-age=60"
        body = json.loads(response.read())
    assert body["ok"] is True
    assert isinstance(body["version"], str) and body["version"]


def test_service_process_serves_items(service: tuple[subprocess.Popen[str], str]) -> None:
    _, base_url = service
    with urllib.request.urlopen(f"{base_url}/items/1", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["id"] == 1


def test_service_process_stops_cleanly_on_sigterm(
    service: tuple[subprocess.Popen[str], str],
) -> None:
    proc, _ = service
    proc.terminate()
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.returncode == 0
