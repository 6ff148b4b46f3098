"""Eight independent `sleep 0.5` steps with --jobs 4: the critical path is 1.0 s.

Baseline: a plain Python loop running the same eight commands four at a time
(the floor: process start-up plus the sleeps, no record, no checks). Beside it,
the same loop in a new Python process that imports click: what any tool built on
Python and click pays before doing anything of its own.
`relcheck run --jobs 4` is timed in two states of the user cache folder, side by
side: the checklist unchanged since the last run (kept there: no YAML read) and
the first run on this machine, as in CI (a new, empty folder for every run: the
checklist checked in full). For each: the whole command, and the walk alone as
its record says (the rest is start-up, checks and the record's opening and close).
Target: the whole command <= 1.15 s in both states.
Run: make bench, or .venv/bin/python benchmarks/parallel.py [--runs N] [--against SRC]
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import tempfile
from collections.abc import Callable
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
    machine,
    medians,
    python_floor,
    release_repo,
    table,
    time_command,
    time_in_process,
    timed,
    verdict_each,
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


# The plain loop (timed in this process, and in a new one that imports click): four
# threads taking the eight commands in turn.
_LOOP = f"""
import subprocess, threading
commands = list(range({STEPS}))
def work():
    while True:
        try:
            commands.pop()
        except IndexError:
            return
        subprocess.run(["sh", "-c", "sleep 0.5"], check=True)
threads = [threading.Thread(target=work) for _ in range({JOBS})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""
_CLICK_FLOOR = "new Python process importing click, same loop"


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    add_against_option(parser)
    args = parser.parse_args()
    print(machine())
    argv = [*RELCHECK, "run", "--release", "1.0.0", "--non-interactive", "--jobs", str(JOBS)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "release"
        folder.mkdir()
        _checklist(folder)
        # Each tree its own cache folder: two sharing one replace each other's kept checklist.
        trees = {"relcheck": bench_env(XDG_CACHE_HOME=str(root / "cache"))}
        if args.against:
            other = bench_env(XDG_CACHE_HOME=str(root / "cache-other"))
            trees[f"relcheck of {args.against}"] = against_env(args.against, other)
        cases: dict[str, Callable[[], float]] = {
            "plain loop, 4 at a time": lambda: time_in_process(_LOOP),
            _CLICK_FLOOR: lambda: time_command(python_floor(_LOOP), cwd=root),
        }
        for tree, env in trees.items():
            for state, env_of in cache_states(env, root).items():
                cases[f"{tree} run --jobs 4, {state}"] = timed(argv, cwd=folder, env=env_of)
                # Read right after that run (cases run in order): its record.
                cases[f"  of which the walk, {state}{_tag(tree)}"] = functools.partial(
                    _walk_seconds, folder, env
                )
        results = medians(cases, args.runs)
    table(
        f"{STEPS} x `sleep 0.5`, {JOBS} side by side, median of {args.runs} runs "
        f"(target: relcheck <= {TARGET_S} s)",
        results,
        "plain loop, 4 at a time",
    )
    cache_legend()
    figures = {tree: _figures(results, tree) for tree in trees}
    ours = figures["relcheck"]
    verdict_each(
        f"whole command <= {TARGET_S} s",
        {state: (whole <= TARGET_S, f"{whole:.2f} s") for state, (whole, _) in ours.items()},
    )
    print(
        "  start-up, checks and record outside the walk: "
        + "; ".join(f"{state}: {outside * 1000:.0f} ms" for state, (_, outside) in ours.items())
    )
    floor = results[_CLICK_FLOOR]
    rest = "; ".join(f"{(whole - floor) * 1000:.0f} ms {name}" for name, (whole, _) in ours.items())
    print(
        f"  a new Python process importing click runs the same commands in {floor:.2f} s: "
        f"the target leaves {(TARGET_S - floor) * 1000:.0f} ms for everything else relcheck "
        f"does; it takes {rest}"
    )
    if args.against:
        theirs = figures[f"relcheck of {args.against}"]
        for state, (whole, outside) in theirs.items():
            print(
                f"  relcheck of {args.against}, {state}: {whole:.2f} s, {outside * 1000:.0f} ms "
                f"outside the walk; this relcheck takes {ours[state][0] / whole:.2f}x its time"
            )


def _tag(tree: str) -> str:
    """Tells the walk rows of another tree apart from this one's."""
    return "" if tree == "relcheck" else f" ({tree.removeprefix('relcheck of ')})"


def _figures(results: dict[str, float], tree: str) -> dict[str, tuple[float, float]]:
    """For each cache state: the whole command, and the time outside the walk."""
    figures = {}
    for state in (CACHED, EMPTY_CACHE):
        whole = results[f"{tree} run --jobs 4, {state}"]
        figures[state] = (whole, whole - results[f"  of which the walk, {state}{_tag(tree)}"])
    return figures


if __name__ == "__main__":
    main()
