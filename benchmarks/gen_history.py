"""Generate a repository of conventional commits with a release tag every N commits.

One ``git fast-import`` stream: 100,000 commits take a few seconds. Messages mix
types, scopes, bodies, breaking footers, co-authors, bots and pull-request
numbers, so reading the history parses what a real project would give it.
Run: .venv/bin/python benchmarks/gen_history.py PATH [--commits N] [--tag-every N]
"""

from __future__ import annotations

import argparse
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

START = 1_500_000_000  # a fixed epoch, so two runs give the same hashes
TYPES = ("feat", "fix", "fix", "chore", "docs", "refactor", "perf", "test", "ci", "build")
SCOPES = ("api", "cli", "db", "ui", "auth", "cache", "", "", "")
WORDS = ("add", "remove", "speed up", "handle", "retry", "parse", "render", "check", "guard")
THINGS = ("user", "token", "request", "header", "config", "timeout", "index", "page", "queue")


def version_of(index: int) -> str:
    """The version of the ``index``-th tag (0-based): minors, a major every 20 tags."""
    return f"{1 + index // 20}.{index % 20}.0"


def _person(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.03:
        return "dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"
    number = rng.randrange(60)
    return f"Dev {number}", f"dev{number}@example.com"


def _message(rng: random.Random, number: int) -> str:
    kind, scope = rng.choice(TYPES), rng.choice(SCOPES)
    bang = "!" if rng.random() < 0.002 else ""
    head = f"{kind}({scope}){bang}" if scope else f"{kind}{bang}"
    subject = f"{head}: {rng.choice(WORDS)} {rng.choice(THINGS)} ({number})"
    if rng.random() < 0.3:
        subject += f" (#{number})"
    if rng.random() < 0.15:
        subject = f"{rng.choice(WORDS).capitalize()} the {rng.choice(THINGS)} ({number})"
    lines = [subject]
    if rng.random() < 0.4:
        lines += ["", f"The {rng.choice(THINGS)} now does what it says. " * rng.randrange(1, 4)]
    footers = []
    if rng.random() < 0.002:
        footers.append(f"BREAKING CHANGE: the {rng.choice(THINGS)} option is gone")
    if rng.random() < 0.1:
        name, email = _person(rng)
        footers.append(f"Co-authored-by: {name} <{email}>")
    if footers:
        lines += ["", *footers]
    return "\n".join(lines) + "\n"


def _data(text: str) -> str:
    return f"data {len(text.encode())}\n{text}\n"


def stream(commits: int, tag_every: int, seed: int = 7) -> Iterator[str]:
    """The fast-import commands for a linear history on ``main`` with annotated tags."""
    rng = random.Random(seed)
    for number in range(1, commits + 1):
        name, email = _person(rng)
        when = f"{START + number * 600} +0000"
        yield f"commit refs/heads/main\nmark :{number}\n"
        yield f"author {name} <{email}> {when}\ncommitter {name} <{email}> {when}\n"
        yield _data(_message(rng, number))
        path = f"src/{rng.choice(THINGS)}/{number % 97}.txt"
        yield f"M 644 inline {path}\n" + _data(f"change {number}\n")
        if tag_every and number % tag_every == 0:
            version = version_of(number // tag_every - 1)
            yield f"tag v{version}\nfrom :{number}\n"
            yield f"tagger Release Bot <release@example.com> {when}\n"
            yield _data(f"Release {version}\n")


def generate(path: Path, *, commits: int, tag_every: int, seed: int = 7) -> None:
    """Create (or refill) a git repository at ``path`` and check out ``main``."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, timeout=60)
    importer = subprocess.Popen(
        ["git", "fast-import", "--quiet"], cwd=path, stdin=subprocess.PIPE, text=True
    )
    assert importer.stdin is not None
    for chunk in stream(commits, tag_every, seed):
        importer.stdin.write(chunk)
    importer.stdin.close()
    if importer.wait(timeout=600) != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=path, check=True, timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--tag-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(args.path, commits=args.commits, tag_every=args.tag_every, seed=args.seed)
    print(f"{args.path}: {args.commits} commits, a tag every {args.tag_every}")


if __name__ == "__main__":
    main()
