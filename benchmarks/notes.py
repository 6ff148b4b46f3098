"""Release notes and changelog on a generated 100,000-commit repository, against git-cliff.

Side by side in one run, on the same repository (a tag every 500 commits):
  - the note for the latest release: `relcheck notes --no-run` vs `git-cliff --latest`
  - the full changelog: `relcheck changelog` vs `git-cliff` (every release)
and the peak memory (max RSS) of each. Targets: the note within 2x git-cliff's
time, the changelog within 2 s and at least 20x faster than git-cliff, peak
memory under 200 MiB.
Run: make bench  (installs git-cliff), or .venv/bin/python benchmarks/notes.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import RELCHECK, machine
from gen_history import generate


def _measure(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak memory (MiB) of one run of ``argv``."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(
            f"{' '.join(argv)} failed: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return elapsed, usage.ru_maxrss / 1024


def _cases(cliff: str | None) -> dict[str, tuple[list[str], int]]:
    cases = {
        "relcheck notes (latest release)": ([*RELCHECK, "notes", "--no-run"], 5),
        "relcheck changelog (all releases)": ([*RELCHECK, "changelog"], 5),
    }
    if cliff:
        cases["git-cliff --latest"] = ([cliff, "--latest"], 3)
        cases["git-cliff (all releases)"] = ([cliff], 1)
    return cases


def _table(results: dict[str, tuple[float, float]]) -> None:
    width = max(map(len, results))
    print(f"  {'case':<{width}}  {'median':>10}  {'peak RSS':>10}")
    for name, (seconds, mib) in results.items():
        print(f"  {name:<{width}}  {seconds * 1000:8.0f}ms  {mib:7.1f}MiB")


def _ratios(results: dict[str, tuple[float, float]]) -> None:
    pairs = (
        ("relcheck notes (latest release)", "git-cliff --latest", "note: relcheck / git-cliff"),
        (
            "relcheck changelog (all releases)",
            "git-cliff (all releases)",
            "changelog: git-cliff / relcheck",
        ),
    )
    for ours, theirs, label in pairs:
        if ours in results and theirs in results:
            a, b = results[ours][0], results[theirs][0]
            ratio = a / b if label.startswith("note") else b / a
            print(f"  {label}: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--tag-every", type=int, default=500)
    args = parser.parse_args()
    print(machine())
    cliff = shutil.which("git-cliff") or shutil.which(
        "git-cliff", path=str(Path(sys.executable).parent)
    )
    if cliff is None:
        print("git-cliff is not installed (make bench installs it): relcheck figures only")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "history"
        started = time.perf_counter()
        generate(repo, commits=args.commits, tag_every=args.tag_every)
        print(
            f"generated {args.commits} commits, a tag every {args.tag_every}, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        results: dict[str, tuple[float, float]] = {}
        for name, (argv, runs) in _cases(cliff).items():
            samples = [_measure(argv, repo) for _ in range(runs)]
            results[name] = (statistics.median(s for s, _ in samples), max(m for _, m in samples))
    print(f"\nNotes and changelog on {args.commits} commits (medians; git-cliff full: 1 run)")
    _table(results)
    _ratios(results)


if __name__ == "__main__":
    main()
