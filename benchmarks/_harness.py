"""Shared bits of the benchmarks: the machine, timing a command, the user cache folder's
state a command runs with, and a table of medians."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The installed program, as a user runs it (`python -m relcheck` outside a venv).
RELCHECK = (
    [str(BIN / "relcheck")] if (BIN / "relcheck").exists() else [sys.executable, "-m", "relcheck"]
)


def machine() -> str:
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load " + " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}{load}"
    )


def script(name: str) -> str:
    """A console script installed beside this Python (the venv's), else from PATH."""
    import shutil

    found = BIN / name
    if found.exists():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        raise SystemExit(f"{name} is not installed; `make bench` installs the bench extra")
    return on_path


def bench_env(**extra: str) -> dict[str, str]:
    """The environment commands are timed in: as a user's, so Python keeps its .pyc files."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


# The two states of the user cache folder ($XDG_CACHE_HOME/relcheck) a command is timed in.
CACHED = "cached"
EMPTY_CACHE = "empty cache"


def fresh_cache_env(env: dict[str, str], root: Path) -> dict[str, str]:
    """``env`` with a new, empty user cache folder made under ``root``: a first run on a machine.

    Call it for every timed run (inside the case, so the folder is made before the
    clock starts): no run then finds what an earlier one kept.
    """
    return {**env, "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="empty-cache-", dir=root)}


def cache_states(env: dict[str, str], root: Path) -> dict[str, Callable[[], dict[str, str]]]:
    """The environment of one run in each cache state, by state.

    ``CACHED``: ``env`` as it is, whose cache folder the untimed round and every
    earlier run filled (the checklist unchanged since the last run). ``EMPTY_CACHE``:
    a new, empty cache folder under ``root`` for each run (:func:`fresh_cache_env`).
    ``env`` must name its own XDG_CACHE_HOME: two relcheck trees sharing one folder
    replace each other's kept checklist.
    """
    return {CACHED: lambda: env, EMPTY_CACHE: lambda: fresh_cache_env(env, root)}


def cache_legend() -> None:
    print(f"  {CACHED}: the checklist unchanged since the last run (kept in the user cache folder)")
    print(f"  {EMPTY_CACHE}: the first run on this machine, as in CI (a new, empty cache folder)")


def release_repo(folder: Path) -> None:
    """A git repository in ``folder`` with one commit, as a release is made from."""
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    for args in (["init", "-q"], [*identity, "commit", "-q", "--allow-empty", "-m", "start"]):
        subprocess.run(["git", "-C", str(folder), *args], check=True, timeout=60)


def add_against_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--against",
        type=Path,
        metavar="SRC",
        help="also time the relcheck package of another source tree, side by side (e.g. "
        "an older commit: git archive REV | tar -x -C SRC)",
    )


def against_env(src: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` with the relcheck of source tree ``src`` imported in place of the venv's."""
    return {**env, "PYTHONPATH": str(src.resolve())}


def time_in_process(work: str) -> float:
    """Run the Python source ``work`` in this process: the floor, no start-up at all."""
    started = time.perf_counter()
    exec(work, {})
    return time.perf_counter() - started


def python_floor(work: str) -> list[str]:
    """A new Python process (this venv's, the cycle collector off as in relcheck's
    start-up) that imports click, relcheck's command line library, and runs ``work``:
    what any tool built on Python and click pays for the same commands before doing
    anything of its own."""
    return [sys.executable, "-c", f"import gc\ngc.disable()\nimport click\n{work}"]


def time_command(argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=bench_env() if env is None else env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=600,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def timed(
    argv: Sequence[str], *, cwd: Path, env: Callable[[], dict[str, str]]
) -> Callable[[], float]:
    """A case for :func:`medians`: ``argv`` run in ``cwd`` with the environment ``env()``
    gives for each run (one of :func:`cache_states`)."""
    return lambda: time_command(argv, cwd=cwd, env=env())


def medians(cases: dict[str, Callable[[], float]], runs: int) -> dict[str, float]:
    """Run every case ``runs`` times, interleaved so load on the machine hits them alike.

    One untimed round first: it writes .pyc files and fills the caches of the
    cases that keep theirs, as any use before the one a user would time does
    (a case timed with an empty cache makes a new folder each run: see
    :func:`cache_states`).
    """
    for case in cases.values():
        case()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            samples[name].append(case())
    return {name: statistics.median(values) for name, values in samples.items()}


def table(title: str, results: dict[str, float], baseline: str, *, unit: str = "ms") -> None:
    print(f"\n{title}")
    base = results[baseline]
    width = max(len(name) for name in results)
    scale = 1000 if unit == "ms" else 1
    print(f"  {'case':<{width}}  {'median':>10}  {'ratio':>8}")
    for name, value in results.items():
        print(f"  {name:<{width}}  {value * scale:8.1f}{unit:<2}  {value / base:7.2f}x")
    print(f"  (ratio against {baseline})")


def verdict(label: str, met: bool, detail: str) -> None:
    print(f"  {label}: {'met' if met else 'MISSED'} ({detail})")


def verdict_each(label: str, checks: dict[str, tuple[bool, str]]) -> None:
    """One verdict over several cases (e.g. both cache states): met only when each is met,
    else MISSED naming the cases that missed it; then every case's figure."""
    missed = [name for name, (met, _) in checks.items() if not met]
    state = "met" if not missed else f"MISSED ({', '.join(missed)})"
    detail = "; ".join(
        f"{name} {text}, {'met' if met else 'missed'}" for name, (met, text) in checks.items()
    )
    print(f"  {label}: {state}: {detail}")
