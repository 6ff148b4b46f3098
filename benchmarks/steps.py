"""Step overhead: 200 steps running `true`, non-interactive, against go-task and a plain loop.

Cases, side by side in one run:
  - a plain Python loop of 200 `sh -c true` subprocesses (the floor for a tool
    that starts a process per step, as relcheck does)
  - go-task (go-task-bin) running 200 tasks of `true`: its shell interpreter
    runs `true` as a builtin, so it starts no process at all
  - go-task running 200 tasks of `/bin/true`: a process per task, like relcheck
  - `relcheck run` of a 200-step checklist of `true`, the journal synced to disk
    as always; and of a 1-step one, to show start-up apart from the per-step cost
Target: relcheck no slower than go-task (`true`).
Run: make bench, or .venv/bin/python benchmarks/steps.py [--runs N] [--steps N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
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
    script,
    table,
    time_command,
    verdict,
)


def checklist(folder: Path, steps: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"  - id: s{i}\n    run: 'true'\n    rollback: none\n" for i in range(steps))
    path = folder / "relcheck.yaml"
    path.write_text(f"version: 1\ndefaults: {{owner: bench}}\nsteps:\n{body}")
    release_repo(folder)
    return path


def taskfile(folder: Path, steps: int, command: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    calls = "".join(f"      - task: t{i}\n" for i in range(steps))
    tasks = "".join(f"  t{i}:\n    cmds:\n      - {command}\n" for i in range(steps))
    (folder / "Taskfile.yml").write_text(
        f"version: '3'\ntasks:\n  default:\n    cmds:\n{calls}{tasks}"
    )


def plain_loop(steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        subprocess.run(["sh", "-c", "true"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    add_against_option(parser)
    args = parser.parse_args()
    print(machine())
    task, n = script("task"), args.steps
    run = [*RELCHECK, "run", "--release", "1.0.0", "--non-interactive"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        many, one = root / "many", root / "one"
        checklist(many, n)
        checklist(one, 1)
        taskfile(root / "builtin", n, "true")
        taskfile(root / "process", n, "/bin/true")
        env = bench_env(XDG_CACHE_HOME=str(root / "cache"))
        cases = {
            f"plain loop, {n} x sh -c true": lambda: plain_loop(n),
            f"go-task, {n} tasks of true": lambda: time_command(
                [task], cwd=root / "builtin", env=env
            ),
            f"go-task, {n} tasks of /bin/true": lambda: time_command(
                [task], cwd=root / "process", env=env
            ),
            f"relcheck run, {n} steps": lambda: time_command(run, cwd=many, env=env),
            "relcheck run, 1 step": lambda: time_command(run, cwd=one, env=env),
        }
        if args.against:
            other = against_env(args.against, env)
            cases[f"{args.against}: {n} steps"] = lambda: time_command(run, cwd=many, env=other)
            cases[f"{args.against}: 1 step"] = lambda: time_command(run, cwd=one, env=other)
        results = medians(cases, args.runs)
    baseline = f"go-task, {n} tasks of true"
    table(f"{n} steps of `true`, one at a time, median of {args.runs} runs", results, baseline)
    ours = results[f"relcheck run, {n} steps"]
    per_step = (ours - results["relcheck run, 1 step"]) / (n - 1)
    floor = results[f"plain loop, {n} x sh -c true"] / n
    print(f"  relcheck per step: {per_step * 1000:.2f} ms (plain loop: {floor * 1000:.2f} ms)")
    if args.against:
        theirs, their_one = (
            results[f"{args.against}: {n} steps"],
            results[f"{args.against}: 1 step"],
        )
        print(
            f"  {args.against}: per step {(theirs - their_one) / (n - 1) * 1000:.2f} ms, "
            f"1 step {their_one * 1000:.0f} ms; this relcheck takes {ours / theirs:.2f}x "
            f"its time ({n} steps) and {results['relcheck run, 1 step'] / their_one:.2f}x (1 step)"
        )
    with_processes = results[f"go-task, {n} tasks of /bin/true"]
    verdict(
        "relcheck no slower than go-task",
        ours <= results[baseline],
        f"{ours / results[baseline]:.2f}x go-task, "
        f"{ours / with_processes:.2f}x go-task with a process per task",
    )


if __name__ == "__main__":
    main()
