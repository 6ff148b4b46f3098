#!/usr/bin/env bash
# Release the example service end to end: copy it to a fresh temp git repo,
# start it on a free loopback port, and run its checklist without prompts.
# Run through `make demo`, which installs relcheck into .venv first.
# Exits with relcheck's exit code; the service is stopped whatever happens.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
EXAMPLE="$ROOT/examples/python-service"
VERSION="${DEMO_VERSION:-1.0.0}"
# .venv/bin first, so the checklist's `ruff` and `python` are the venv's.
export PATH="$ROOT/.venv/bin:$PATH"

say() { printf '\n==> %s\n' "$*"; }

if ! command -v relcheck >/dev/null 2>&1; then
    echo "relcheck is not installed in $ROOT/.venv: run 'make venv' (or 'make demo')." >&2
    exit 2
fi

WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/relcheck-demo.XXXXXX")"
DEMO="$WORKDIR/python-service"
SERVICE_LOG="$WORKDIR/service.log"
SERVICE_PID=""

stop_service() {
    if [[ -n "$SERVICE_PID" ]] && kill -0 "$SERVICE_PID" 2>/dev/null; then
        kill -TERM "$SERVICE_PID" 2>/dev/null || true
        # Bounded wait for a clean exit, then make sure.
        for _ in $(seq 50); do
            kill -0 "$SERVICE_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVICE_PID" 2>/dev/null || true
        wait "$SERVICE_PID" 2>/dev/null || true
        echo "stopped the service (pid $SERVICE_PID)"
    fi
    SERVICE_PID=""
}
trap stop_service EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "copying the example to $DEMO"
cp -R "$EXAMPLE" "$DEMO"
rm -rf "$DEMO/.relcheck" "$DEMO/.pytest_cache" "$DEMO/.ruff_cache"
find "$DEMO" -name __pycache__ -type d -prune -exec rm -rf {} +

say "creating a git repository with one commit"
cd "$DEMO"
git -c init.defaultBranch=main init -q
git config user.name "Demo Captain"
git config user.email demo@example.invalid
git config commit.gpgSign false
git config tag.gpgSign false
git add -A
git commit -q -m "python-service $VERSION"
git log --oneline -1

say "starting the service on a free 127.0.0.1 port"
PORT="$(python -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')"
python -m service --host 127.0.0.1 --port "$PORT" >"$SERVICE_LOG" 2>&1 &
SERVICE_PID=$!
export SERVICE_URL="http://127.0.0.1:$PORT"

# Wait (at most ~10 s) until /health answers; give up early if the service died.
ready=""
for _ in $(seq 100); do
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
        break
    fi
    if python -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/health", timeout=1).close()' "$SERVICE_URL" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
if [[ -z "$ready" ]]; then
    echo "the service did not answer on $SERVICE_URL/health; its output:" >&2
    cat "$SERVICE_LOG" >&2
    exit 1
fi
cat "$SERVICE_LOG"
echo "SERVICE_URL=$SERVICE_URL"

say "relcheck run --non-interactive --answers answers.yaml --release $VERSION"
rc=0
relcheck run --non-interactive --answers answers.yaml --release "$VERSION" || rc=$?

stop_service

say "the run record"
run_dir="$(ls -1dt .relcheck/runs/*/ 2>/dev/null | head -n 1 || true)"
if [[ -n "$run_dir" ]]; then
    echo "record: $DEMO/$run_dir"
    relcheck status || true
    say "the release note (also saved as $DEMO/${run_dir}note.md)"
    relcheck notes || true
else
    echo "no run record under $DEMO/.relcheck/runs/" >&2
fi
echo
echo "demo folder: $DEMO (remove it with: rm -rf '$WORKDIR')"
echo "relcheck exited with $rc"
exit "$rc"
