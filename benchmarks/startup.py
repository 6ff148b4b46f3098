"""Start-up: `relcheck --version` and `relcheck --help` against `python -c pass` and pre-commit.

The floor is the same Python starting and doing nothing; the baseline a user
would compare with is `pre-commit --version` (another Python CLI run before
releases). Targets: relcheck's median at most 60 ms and at most half of
pre-commit's. `--help` is timed twice: as it usually runs (its text kept in the
user cache folder by an earlier call) and on a first call with an empty cache.
Run: make bench, or .venv/bin/python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    bench_env,
    fresh_cache_env,
    machine,
    medians,
    script,
    table,
    time_command,
    verdict,
)

TARGET_S = 0.060


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--relcheck", help="the relcheck program to time (default: the venv's)")
    args = parser.parse_args()
    print(machine())
    relcheck, precommit = args.relcheck or script("relcheck"), script("pre-commit")
    _check_entry_point(relcheck)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = bench_env(XDG_CACHE_HOME=str(folder / "cache"))

        def cold_help() -> float:
            empty = fresh_cache_env(env, folder)
            return time_command([relcheck, "--help"], cwd=folder, env=empty)

        def run(*argv: str) -> float:
            return time_command(argv, cwd=folder, env=env)

        results = medians(
            {
                "python -c pass (floor)": lambda: run(sys.executable, "-c", "pass"),
                "relcheck --version": lambda: run(relcheck, "--version"),
                "relcheck --help": lambda: run(relcheck, "--help"),
                "relcheck --help, empty cache": cold_help,
                "pre-commit --version": lambda: run(precommit, "--version"),
            },
            args.runs,
        )
    table(f"Start-up, median of {args.runs} runs", results, "pre-commit --version")
    baseline = results["pre-commit --version"]
    for name in ("relcheck --version", "relcheck --help"):
        value = results[name]
        verdict(
            f"{name} <= 60 ms and <= half of pre-commit",
            value <= TARGET_S and value <= baseline / 2,
            f"{value * 1000:.1f} ms, {value / baseline:.2f}x pre-commit",
        )


def _check_entry_point(relcheck: str) -> None:
    text = Path(relcheck).read_text(errors="replace")
    if "relcheck.entry" not in text:
        print(
            f"note: {relcheck} is an old console script (not relcheck.entry:main); "
            "`make venv` reinstalls it"
        )


if __name__ == "__main__":
    main()
