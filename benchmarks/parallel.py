"""Eight independent `sleep 0.5` steps with --jobs 4: the critical path is 1.0 s.

Baseline: a plain Python loop running the same eight commands four at a time
(the floor: process start-up plus the sleeps, no record, no checks).
Run: .venv/bin/python benchmarks/parallel.py [--runs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    RELCHECK,
    add_against_option,
    against_env,
    bench_env,
    machine,
    medians,
    release_repo,
    table,
    time_command,
    verdict,
)

STEPS = 8
JOBS = 4
TARGET_S = 1.15


def _checklist(folder: Path) -> None:
    steps = "".join(
        f"  - id: sleep-{i}\n    run: sleep 0.5\n    needs: []\n    rollback: none\n"
        for i in range(STEPS)
    )
    (folder / "relcheck.yaml").write_text(
        f"version: 1\ndefaults: {{owner: bench}}\nsteps:\n{steps}"
    )
    release_repo(folder)


def _plain_loop() -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(JOBS) as pool:
        list(
            pool.map(lambda _: subprocess.run(["sh", "-c", "sleep 0.5"], check=True), range(STEPS))
        )
    return time.perf_counter() - started


def _walk_seconds(folder: Path, env: dict[str, str]) -> float:
    """Start to finish of the latest run as its record says: the walk without start-up."""
    import json
    from datetime import datetime

    out = subprocess.run(
        [*RELCHECK, "status", "--json"],
        cwd=folder,
        env=env,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    data = json.loads(out)
    start, end = (
        datetime.fromisoformat(data[k].replace("Z", "+00:00"))
        for k in ("started_at", "finished_at")
    )
    return (end - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    add_against_option(parser)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _checklist(folder)
        argv = [*RELCHECK, "run", "--release", "1.0.0", "--non-interactive", "--jobs", str(JOBS)]
        env = bench_env()
        cases = {
            "plain loop, 4 at a time": _plain_loop,
            "relcheck run --jobs 4": lambda: time_command(argv, cwd=folder, env=env),
            "  of which the walk (record)": lambda: _walk_seconds(folder, env),
        }
        if args.against:
            other = against_env(args.against, env)
            cases[f"relcheck of {args.against}"] = lambda: time_command(argv, cwd=folder, env=other)
            cases["  of which the walk (record) "] = lambda: _walk_seconds(folder, other)
        results = medians(cases, args.runs)
    table(
        f"{STEPS} x `sleep 0.5`, {JOBS} side by side (target: relcheck <= 1.15 s)",
        results,
        "plain loop, 4 at a time",
    )
    whole = results["relcheck run --jobs 4"]
    verdict("whole command <= 1.15 s", whole <= TARGET_S, f"{whole:.2f} s")
    walk = results["  of which the walk (record)"]
    print(f"  start-up and record outside the walk: {(whole - walk) * 1000:.0f} ms")
    if args.against:
        theirs = results[f"relcheck of {args.against}"]
        outside = theirs - results["  of which the walk (record) "]
        print(
            f"  relcheck of {args.against}: {theirs:.2f} s, {outside * 1000:.0f} ms outside "
            f"the walk; this relcheck takes {whole / theirs:.2f}x its time"
        )


if __name__ == "__main__":
    main()
