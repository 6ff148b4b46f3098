"""Integration check: GET <base_url>/health and fail unless 200 with ok true."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python scripts/check_health.py BASE_URL", file=sys.stderr)
        return 2
    url = argv[1].rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status = response.status
            body = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"GET {url} failed: {exc}", file=sys.stderr)
        return 1
    print(f"GET {url} -> {status} {json.dumps(body)}")
    if status != 200 or body.get("ok") is not True:
        print("health check failed: expected 200 with ok true", file=sys.stderr)
        return 1
    print(f"ok: version {body.get('version')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
