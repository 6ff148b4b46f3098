"""Shared bits of the benchmarks: the machine, timing a command, and a table of medians."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELCHECK = [sys.executable, "-m", "relcheck"]


def machine() -> str:
    return (
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )


def time_command(argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=600,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def medians(cases: dict[str, Callable[[], float]], runs: int) -> dict[str, float]:
    """Run every case ``runs`` times, interleaved so load on the machine hits them alike."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            samples[name].append(case())
    return {name: statistics.median(values) for name, values in samples.items()}


def table(title: str, results: dict[str, float], baseline: str) -> None:
    print(f"\n{title}")
    base = results[baseline]
    width = max(len(name) for name in results)
    print(f"  {'case':<{width}}  {'median':>10}  {'ratio':>8}")
    for name, value in results.items():
        print(f"  {name:<{width}}  {value * 1000:8.1f}ms  {value / base:7.2f}x")
    print(f"  (ratio against {baseline})")
