"""Command line: python -m service --port N --host 127.0.0.1."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from service.app import make_server


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    server = make_server(args.host, args.port)
    host, port = server.server_address[:2]

    def _stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGTERM (what the demo's trap sends) shuts down as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, _stop)
    try:
        # Inside the try: a SIGTERM right after this line still shuts down cleanly.
        print(f"listening on http://{host}:{port}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
