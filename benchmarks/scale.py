"""Scale: a 2,000-step checklist validates and plans in under a second, and a run's time
and record grow linearly with its steps (500 / 1,000 / 2,000).

`validate` and `plan` of the 2,000 steps are timed side by side in two states of
the user cache folder: empty for every run (the full check: YAML read, schema and
rules checked; the under-a-second target is judged on these figures) and holding
the checklist, unchanged since the last run (read back from the cache: no YAML).
Each run of the growth part starts with an empty cache folder: it checks its
checklist in full, as a first run on a machine does.

The baseline for reading is PyYAML itself loading the same file (with libyaml,
and in pure Python): the floor for any tool that reads it. The checklists are
written in block style, as `relcheck init` writes them; relcheck reads block
style with libyaml and a document with flow collections ({...}, [...]) with
PyYAML's pure-Python reader, whose error messages and positions it reports.
Run: make bench, or .venv/bin/python benchmarks/scale.py [--runs N] [--sizes 500,1000,2000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    CACHED,
    EMPTY_CACHE,
    RELCHECK,
    add_against_option,
    against_env,
    bench_env,
    cache_legend,
    cache_states,
    fresh_cache_env,
    machine,
    medians,
    release_repo,
    table,
    time_command,
    timed,
    verdict,
)

STEP = (
    "  - id: s{i}\n"
    "    title: Step {i}\n"
    "    run: 'true'\n"
    "    owner: team-{team}\n"
    "    expected: exits 0\n"
    "    rollback: none\n"
)
COMMANDS = {"validate": [*RELCHECK, "validate"], "plan": [*RELCHECK, "plan", "--release", "1.0.0"]}


def checklist(folder: Path, steps: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(STEP.format(i=i, team=i % 7) for i in range(steps))
    path = folder / "relcheck.yaml"
    path.write_text(f"version: 1\nname: {steps} steps\ndefaults:\n  owner: bench\nsteps:\n{body}")
    release_repo(folder)
    return path


def _reading(root: Path, runs: int, env: dict[str, str], against: Path | None) -> None:
    folder = root / "read"
    path = checklist(folder, 2000)
    load = "import sys, yaml; yaml.load(open(sys.argv[1]), Loader=yaml.{})"
    cases = {
        "PyYAML load (libyaml)": lambda: time_command(
            [sys.executable, "-c", load.format("CSafeLoader"), str(path)], cwd=folder, env=env
        ),
        "PyYAML load (pure Python)": lambda: time_command(
            [sys.executable, "-c", load.format("SafeLoader"), str(path)], cwd=folder, env=env
        ),
    }
    trees = {"relcheck ": env}
    if against is not None:
        # Its own cache folder: two trees sharing one replace each other's kept checklist.
        other = against_env(against, bench_env(XDG_CACHE_HOME=str(root / "cache-other")))
        trees[f"{against}: "] = other
    for tree, tree_env in trees.items():
        states = cache_states(tree_env, root)
        for name, argv in COMMANDS.items():
            for state in (EMPTY_CACHE, CACHED):
                cases[f"{tree}{name}, {state}"] = timed(argv, cwd=folder, env=states[state])
    results = medians(cases, runs)
    table(
        f"A 2,000-step checklist, read whole (median of {runs} runs)",
        results,
        "PyYAML load (libyaml)",
    )
    cache_legend()
    for name in COMMANDS:
        full, kept = (
            results[f"relcheck {name}, {EMPTY_CACHE}"],
            results[f"relcheck {name}, {CACHED}"],
        )
        verdict(
            f"relcheck {name} under 1 s with an empty cache (the full check)",
            full < 1.0,
            f"{full:.2f} s; {kept:.2f} s {CACHED}",
        )
    if against is not None:
        for name in COMMANDS:
            for state in (EMPTY_CACHE, CACHED):
                ratio = (
                    results[f"relcheck {name}, {state}"] / results[f"{against}: {name}, {state}"]
                )
                print(f"  relcheck {name}, {state}: {ratio:.2f}x the time of {against}'s")


def _record_bytes(folder: Path) -> int:
    runs = sorted((folder / ".relcheck" / "runs").iterdir())
    return sum(path.stat().st_size for path in runs[-1].rglob("*") if path.is_file())


def _run_once(folder: Path, env: dict[str, str]) -> tuple[float, int, str]:
    seconds = time_command(
        [*RELCHECK, "run", "--release", "1.0.0", "--non-interactive"], cwd=folder, env=env
    )
    status = subprocess.run(
        [*RELCHECK, "status", "--json"], cwd=folder, env=env, capture_output=True, check=True
    )
    return seconds, _record_bytes(folder), json.loads(status.stdout)["state"]


def _growth(root: Path, sizes: list[int], runs: int, env: dict[str, str]) -> None:
    print(
        f"\nRuns of N steps of `true` (median of {runs} runs each, each with an empty cache "
        "folder: the checklist checked in full)"
    )
    print(f"  {'steps':>6}  {'time':>9}  {'per step':>9}  {'record':>10}  {'per step':>9}")
    rows = []
    for size in sizes:
        folder = root / f"run-{size}"
        checklist(folder, size)
        found = [_run_once(folder, fresh_cache_env(env, root)) for _ in range(runs)]
        seconds = sorted(s for s, _, _ in found)[len(found) // 2]
        size_bytes, state = found[-1][1], found[-1][2]
        rows.append((size, seconds, size_bytes))
        print(
            f"  {size:>6}  {seconds:8.2f}s  {seconds / size * 1000:7.2f}ms  "
            f"{size_bytes / 1024:8.0f}KiB  {size_bytes / size:7.0f} B  ({state})"
        )
    (small, small_s, small_b), (large, large_s, large_b) = rows[0], rows[-1]
    time_ratio = (large_s / large) / (small_s / small)
    bytes_ratio = (large_b / large) / (small_b / small)
    verdict(
        f"time per step at {large} within 1.25x of that at {small}",
        time_ratio <= 1.25,
        f"{time_ratio:.2f}x",
    )
    verdict(
        f"record per step at {large} within 1.05x of that at {small}",
        bytes_ratio <= 1.05,
        f"{bytes_ratio:.2f}x",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="500,1000,2000")
    parser.add_argument(
        "--no-growth", action="store_true", help="time reading the 2,000 steps only, not runs"
    )
    add_against_option(parser)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = bench_env(XDG_CACHE_HOME=str(root / "cache"))
        started = time.perf_counter()
        _reading(root, args.runs, env, args.against)
        if not args.no_growth:
            _growth(root, [int(size) for size in args.sizes.split(",")], args.runs, env)
        print(f"\n(all of it took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
