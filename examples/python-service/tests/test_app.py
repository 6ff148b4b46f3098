"""The two routes, their status codes, bodies and headers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from service import __version__


def _get(url: str) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_health_reports_ok_and_version(base_url: str) -> None:
    status, headers, body = _get(f"{base_url}/health")
    assert status == 200
    assert body == {"ok": True, "version": __version__}
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "max-age=60"


def test_health_ignores_query_string(base_url: str) -> None:
    status, _, body = _get(f"{base_url}/health?probe=1")
    assert status == 200
    assert body["ok"] is True


def test_known_item_is_returned(base_url: str) -> None:
    status, _, body = _get(f"{base_url}/items/2")
    assert status == 200
    assert body == {"id": 2, "name": "kettle", "price": 30.0}


def test_unknown_item_is_404(base_url: str) -> None:
    status, _, body = _get(f"{base_url}/items/999")
    assert status == 404
    assert body == {"error": "no item 999"}


@pytest.mark.parametrize("raw_id", ["abc", "-1", "1.5"])
def test_non_numeric_item_id_is_400(base_url: str, raw_id: str) -> None:
    status, _, body = _get(f"{base_url}/items/{raw_id}")
    assert status == 400
    assert raw_id in body["error"]


def test_unknown_route_is_json_404(base_url: str) -> None:
    status, headers, body = _get(f"{base_url}/nope")
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert "error" in body
