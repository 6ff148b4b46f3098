"""Release notes and changelog on a generated 100,000-commit repository, against git-cliff.

Side by side in one run, on the same repository (a tag every 500 commits):
  - the note for the latest release: `relcheck notes --no-run` vs `git-cliff --latest`
  - the full changelog: `relcheck changelog` vs `git-cliff` (every release)
  - `git log` of the whole history in the format relcheck reads, into a pipe and
    buffered as relcheck has it: the floor under any changelog made from it
and the peak memory (max RSS) of each. Targets: the note within 2x git-cliff's
time, the changelog within 2 s and at least 20x faster than git-cliff, peak
memory under 200 MiB.
Run: make bench (installs git-cliff), or .venv/bin/python benchmarks/notes.py
     [--runs N] [--commits N] [--tag-every N] [--no-full-cliff]
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
from _harness import add_against_option, against_env, bench_env, machine, script, verdict
from gen_history import generate

LOG_FORMAT = "--format=%m%x00%H%x00%P%x00%aN%x00%aE%x00%aI%x00%B"
NOTE, CLIFF_LATEST = "relcheck notes --no-run (latest release)", "git-cliff --latest"
CHANGELOG, CLIFF_ALL = "relcheck changelog (all releases)", "git-cliff (all releases)"
GIT_LOG = "git log -z of all history | cat (floor)"


def _measure(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak memory (MiB) of one run of ``argv`` (its largest process)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {stderr}")
    return elapsed, usage.ru_maxrss / 1024


def _cases(
    relcheck: str, cliff: str | None, full_cliff: bool, against: Path | None
) -> dict[str, list[str]]:
    cases = {
        NOTE: [relcheck, "notes", "--no-run"],
        CHANGELOG: [relcheck, "changelog"],
        GIT_LOG: ["sh", "-c", f"GIT_FLUSH=0 git log -z '{LOG_FORMAT}' | cat >/dev/null"],
    }
    if against is not None:  # the other source tree's relcheck: _env gives it PYTHONPATH
        cases[f"{NOTE} of {against}"] = [relcheck, "notes", "--no-run"]
        cases[f"{CHANGELOG} of {against}"] = [relcheck, "changelog"]
    if cliff:
        cases[CLIFF_LATEST] = [cliff, "--latest"]
        if full_cliff:
            cases[CLIFF_ALL] = [cliff]
    return cases


def _run_all(
    cases: dict[str, list[str]],
    repo: Path,
    envs: dict[str, dict[str, str]],
    runs: int,
) -> dict[str, tuple[float, float]]:
    """Medians over ``runs`` interleaved rounds (the full git-cliff run: once)."""
    for name, argv in cases.items():
        if name != CLIFF_ALL:
            _measure(argv, repo, envs[name])  # untimed: writes .pyc files, the template cache
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for round_ in range(runs):
        for name, argv in cases.items():
            if name != CLIFF_ALL or round_ == 0:
                samples[name].append(_measure(argv, repo, envs[name]))
    return {
        name: (statistics.median(s for s, _ in found), max(m for _, m in found))
        for name, found in samples.items()
    }


def _table(results: dict[str, tuple[float, float]]) -> None:
    width = max(map(len, results))
    print(f"  {'case':<{width}}  {'median':>10}  {'peak RSS':>10}")
    for name, (seconds, mib) in results.items():
        print(f"  {name:<{width}}  {seconds * 1000:8.0f}ms  {mib:7.1f}MiB")


def _verdicts(results: dict[str, tuple[float, float]], against: Path | None) -> None:
    note, changelog = results[NOTE][0], results[CHANGELOG][0]
    if CLIFF_LATEST in results:
        ratio = note / results[CLIFF_LATEST][0]
        verdict("note within 2x git-cliff --latest", ratio <= 2, f"{ratio:.2f}x")
        if against is not None:
            theirs = results[f"{NOTE} of {against}"][0] / results[CLIFF_LATEST][0]
            print(f"  (the note of {against}: {theirs:.2f}x git-cliff --latest)")
    if against is not None:
        for name, mine in ((NOTE, note), (CHANGELOG, changelog)):
            print(f"  {name}: {mine / results[f'{name} of {against}'][0]:.2f}x that of {against}")
    verdict("changelog within 2 s", changelog <= 2.0, f"{changelog:.2f} s")
    if CLIFF_ALL in results:
        faster = results[CLIFF_ALL][0] / changelog
        verdict("changelog at least 20x faster than git-cliff", faster >= 20, f"{faster:.1f}x")
    peak = max(results[NOTE][1], results[CHANGELOG][1])
    verdict("peak memory under 200 MiB", peak < 200, f"{peak:.0f} MiB")
    floor = results[GIT_LOG][0]
    print(f"  changelog / git log alone: {changelog / floor:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--tag-every", type=int, default=500)
    parser.add_argument(
        "--no-full-cliff", action="store_true", help="skip git-cliff's full changelog (slow)"
    )
    parser.add_argument("--repo", type=Path, help="reuse a repository gen_history.py made")
    add_against_option(parser)
    args = parser.parse_args()
    print(machine())
    relcheck = script("relcheck")
    cliff = shutil.which("git-cliff", path=str(Path(sys.executable).parent)) or shutil.which(
        "git-cliff"
    )
    if cliff is None:
        print("git-cliff is not installed (make bench installs it): relcheck figures only")
    with tempfile.TemporaryDirectory() as tmp:
        repo = args.repo or Path(tmp) / "history"
        if args.repo is None:
            started = time.perf_counter()
            generate(repo, commits=args.commits, tag_every=args.tag_every)
            print(
                f"generated {args.commits} commits, a tag every {args.tag_every}, "
                f"in {time.perf_counter() - started:.1f} s"
            )
        env = bench_env(XDG_CACHE_HOME=str(Path(tmp) / "cache"))
        cases = _cases(relcheck, cliff, not args.no_full_cliff, args.against)
        envs = {name: env for name in cases}
        if args.against is not None:
            other = against_env(args.against, bench_env(XDG_CACHE_HOME=str(Path(tmp) / "other")))
            envs.update({name: other for name in cases if name.endswith(f" of {args.against}")})
        results = _run_all(cases, repo, envs, args.runs)
    print(
        f"\nNotes and changelog on {args.commits} commits "
        f"(medians of {args.runs} runs; git-cliff's full changelog: 1 run)"
    )
    _table(results)
    _verdicts(results, args.against)


if __name__ == "__main__":
    main()
