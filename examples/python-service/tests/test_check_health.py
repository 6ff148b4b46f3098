"""The integration script the checklist runs, against a live and a dead server."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_health.py"


def _run(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), url], capture_output=True, text=True, timeout=30
    )


def test_passes_against_a_healthy_service(base_url: str) -> None:
    result = _run(base_url)
    assert result.returncode == 0, result.stderr
    assert "-> 200" in result.stdout
    assert "ok" in result.stdout


def test_fails_when_nothing_listens() -> None:
    # Bind then close to get a port that nothing is listening on.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _run(f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert "failed" in result.stderr


def test_fails_on_a_non_health_endpoint(base_url: str) -> None:
    # /items/1 has no "ok": point the script at a base whose /health is a 404.
    result = _run(f"{base_url}/items/1")
    assert result.returncode == 1
