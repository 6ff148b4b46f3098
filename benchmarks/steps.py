"""Step overhead: 200 steps running `true`, non-interactive, against go-task and a plain loop.

Cases, side by side in one run:
  - a plain Python loop of 200 `sh -c true` subprocesses (the floor for a tool
    that starts a process per step, as relcheck does), and the same loop in a new
    Python process that imports click: what any tool built on Python and click
    that starts a process per step pays before doing anything of its own
  - go-task (go-task-bin) running 200 tasks of `true`: its shell interpreter
    runs `true` as a builtin, so it starts no process at all
  - go-task running 200 tasks of `/bin/true`: a process per task, like relcheck
  - `relcheck run` of a 200-step checklist of `true`, the journal synced to disk
    as always; and of a 1-step one, to show start-up apart from the per-step cost
Each `relcheck run` is timed in two states of the user cache folder: the checklist
unchanged since the last run (kept there: no YAML read) and the first run on this
machine, as in CI (a new, empty folder for every run: the checklist checked in full).
Target: relcheck no slower than go-task (`true`), in both states.
Run: make bench, or .venv/bin/python benchmarks/steps.py [--runs N] [--steps N] [--against SRC]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
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
    script,
    table,
    time_command,
    time_in_process,
    timed,
    verdict_each,
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


# The plain loop (timed in this process, and in a new one that imports click).
_LOOP = """
import subprocess
for _ in range({steps}):
    subprocess.run(["sh", "-c", "true"], check=True)
"""


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
            f"plain loop, {n} x sh -c true": lambda: time_in_process(_LOOP.format(steps=n)),
            "new Python process importing click, same loop": lambda: time_command(
                python_floor(_LOOP.format(steps=n)), cwd=root
            ),
            f"go-task, {n} tasks of true": lambda: time_command(
                [task], cwd=root / "builtin", env=env
            ),
            f"go-task, {n} tasks of /bin/true": lambda: time_command(
                [task], cwd=root / "process", env=env
            ),
        }
        # Each tree its own cache folder: two sharing one replace each other's kept checklist.
        trees = {"relcheck run": env}
        if args.against:
            other = bench_env(XDG_CACHE_HOME=str(root / "cache-other"))
            trees[str(args.against)] = against_env(args.against, other)
        for tree, tree_env in trees.items():
            for state, env_of in cache_states(tree_env, root).items():
                cases[f"{tree}, {n} steps, {state}"] = timed(run, cwd=many, env=env_of)
                cases[f"{tree}, 1 step, {state}"] = timed(run, cwd=one, env=env_of)
        results = medians(cases, args.runs)
    baseline = f"go-task, {n} tasks of true"
    table(f"{n} steps of `true`, one at a time, median of {args.runs} runs", results, baseline)
    cache_legend()
    floor = results[f"plain loop, {n} x sh -c true"] / n
    print(f"  plain loop per step: {floor * 1000:.2f} ms")

    def figures(tree: str, state: str) -> tuple[float, float, float]:
        """The run of n steps, of 1 step, and the cost of each step beyond the first."""
        many_s, one_s = results[f"{tree}, {n} steps, {state}"], results[f"{tree}, 1 step, {state}"]
        return many_s, one_s, (many_s - one_s) / (n - 1)

    for state in (CACHED, EMPTY_CACHE):
        ours, one_step, per_step = figures("relcheck run", state)
        print(
            f"  relcheck, {state}: per step {per_step * 1000:.2f} ms, "
            f"1 step {one_step * 1000:.0f} ms"
        )
        if args.against:
            theirs, their_one, their_step = figures(str(args.against), state)
            print(
                f"  {args.against}, {state}: per step {their_step * 1000:.2f} ms, "
                f"1 step {their_one * 1000:.0f} ms; this relcheck takes {ours / theirs:.2f}x "
                f"its time ({n} steps) and {one_step / their_one:.2f}x (1 step)"
            )
    floor = results["new Python process importing click, same loop"]
    print(
        f"  a new Python process importing click runs the same {n} commands in "
        f"{floor * 1000:.0f} ms, {floor / results[baseline]:.2f}x go-task"
        + (
            ": slower than go-task before any step is recorded"
            if floor > results[baseline]
            else f", which leaves {(results[baseline] - floor) * 1000:.0f} ms for the rest"
        )
    )
    with_processes = results[f"go-task, {n} tasks of /bin/true"]
    checks = {}
    for state in (CACHED, EMPTY_CACHE):
        ours = figures("relcheck run", state)[0]
        checks[state] = (
            ours <= results[baseline],
            f"{ours / results[baseline]:.2f}x go-task, "
            f"{ours / with_processes:.2f}x go-task with a process per task",
        )
    verdict_each("relcheck no slower than go-task", checks)


if __name__ == "__main__":
    main()
