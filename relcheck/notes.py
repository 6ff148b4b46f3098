"""What a release note or changelog template sees: plain values from a run and git history.

Every name a template can use is built here (see :data:`NOTE_VARIABLES`), as
dicts and lists of plain values, so templates never reach into relcheck's
objects and commit text stays data: it is passed to templates, never compiled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from relcheck.history import Changelog, Commit, Links, Person, ReleaseHistory, Tag
from relcheck.model import (
    FAILED,
    HIGHER_IS_BETTER,
    INTERRUPTED,
    LOWER_IS_BETTER,
    NO_ROLLBACK,
    PASSED,
    RUN_PASSED,
)
from relcheck.render import format_duration, format_number, markdown_text

if TYPE_CHECKING:  # a note without a run never needs the journal
    from relcheck.journal import RunRecord, StepRecord

# A change for the worse by more than this (in percent of the previous value) is flagged.
WORSE_THRESHOLD_PCT = 20.0

# Figures an HTTP step records that describe the check rather than measure the service:
# shown nowhere as metrics and never compared.
CONTEXT_FIGURES = frozenset({"status", "statuses", "samples", "size_bytes"})

# Units of HTTP figures, by the suffix of their name.
_UNIT_SUFFIXES = (("_ms", "ms"), ("_s", "s"), ("_bytes", "bytes"), ("_pct", "%"))

NOTE_VARIABLES = (
    "release",
    "run",
    "summary",
    "commits",
    "groups",
    "breaking",
    "contributors",
    "bots",
    "links",
    "steps",
    "signoffs",
    "rollback_plan",
    "metrics",
    "baseline",
    "commit_line",
)
CHANGELOG_VARIABLES = ("releases", "unreleased", "links")


def note_context(
    history: ReleaseHistory,
    *,
    run: RunRecord | None = None,
    previous: RunRecord | None = None,
    directions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the release-note templates can use (see README, "Release notes")."""
    context = history_context(history)
    context["release"] = _release(history, run)
    steps = run.ordered_steps() if run is not None else []
    context.update(
        run=_run(run) if run is not None else None,
        steps=[_step(step) for step in steps],
        signoffs=_signoffs(steps),
        rollback_plan=_rollback_plan(run) if run is not None else [],
        metrics=compare_metrics(run, previous, directions or {}) if run is not None else [],
        baseline=_baseline(previous) if run is not None and previous is not None else None,
    )
    context["summary"] = _summary(context, run)
    context["commit_line"] = markdown_commit_line
    return context


def changelog_context(changelog: Changelog, lines: CommitLines | None = None) -> dict[str, Any]:
    """Everything the changelog template can use: each release newest first, and unreleased.

    ``lines``: the commits' Markdown lines made while the log was read, if they were.
    """
    made = lines.lines if lines is not None and lines.links is changelog.links else None
    return {
        "releases": [history_context(release, made) for release in changelog.releases],
        "unreleased": (
            history_context(changelog.unreleased, made) if changelog.unreleased else None
        ),
        "links": _links(changelog.links, None),
        "commit_line": markdown_commit_line,
        "commit_lines": markdown_commit_lines,
    }


def history_context(
    history: ReleaseHistory, made: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One release's git part: the release, its commits, groups, people and links."""
    links = history.links
    groups = [
        {
            "title": group.title,
            "types": list(group.types),
            "commits": CommitList(group.commits, links, made),
        }
        for group in history.groups
        if group.commits
    ]
    return {
        "release": _release(history),
        "commits": CommitList(history.commits, links),
        "groups": groups,
        "breaking": CommitList(history.breaking, links),
        "contributors": [_person(person) for person in history.contributors],
        "bots": [_person(person) for person in history.bots],
        "links": _links(links, _safe_url(history.compare_url)),
    }


# ---------------------------------------------------------------- git part


def _release(history: ReleaseHistory, run: RunRecord | None = None) -> dict[str, Any]:
    """The release: from the run record when there is one (dated by the run), else from git."""
    version, tag, commit, when = history.version, history.tag, history.commit, history.date
    if run is not None:
        version, tag = run.version, run.tag
        commit = run.commit or commit
        when = run.finished_at or run.started_at
    return {
        "version": version,
        "tag": tag,
        "commit": commit,
        "short": commit[:7],
        "url": _safe_url(history.links.commit(commit)) if history.links else None,
        "date": when[:10],
        "datetime": when,
        "previous": _tag(history.previous),
        "compare_url": _safe_url(history.compare_url),
        "tagged": history.tagged,
    }


def _tag(tag: Tag | None) -> dict[str, Any] | None:
    if tag is None:
        return None
    return {
        "name": tag.name,
        "version": tag.version,
        "commit": tag.commit,
        "short": tag.commit[:7],
        "date": tag.date[:10],
    }


def _commits(commits: Iterable[Commit], links: Links | None) -> list[CommitData]:
    return [CommitData(commit, links) for commit in commits]


class CommitData(Mapping[str, Any]):
    """One commit as template data, built only when a template looks inside it.

    A changelog holds every commit of the history; most are only printed as one
    line (see :func:`markdown_commit_line`), so building their full data up
    front was most of the time a changelog took.
    """

    __slots__ = ("_data", "commit", "links")

    def __init__(self, commit: Commit, links: Links | None) -> None:
        self.commit = commit
        self.links = links
        self._data: dict[str, Any] | None = None

    def _full(self) -> dict[str, Any]:
        if self._data is None:
            self._data = _commit(self.commit, self.links)
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())

    def __bool__(self) -> bool:
        return True


class CommitList(Sequence[CommitData]):
    """Commits as template data, each made a :class:`CommitData` when a template takes it.

    A changelog of 100,000 commits hands most of them to
    :func:`markdown_commit_lines` only, which reads the commits themselves.
    """

    __slots__ = ("commits", "links", "made")

    def __init__(
        self,
        commits: Sequence[Commit],
        links: Links | None,
        made: Mapping[str, str] | None = None,
    ) -> None:
        self.commits = commits
        self.links = links
        self.made = made  # commit hash -> its line, made ahead (see CommitLines)

    @overload
    def __getitem__(self, index: int) -> CommitData: ...

    @overload
    def __getitem__(self, index: slice) -> list[CommitData]: ...

    def __getitem__(self, index: int | slice) -> CommitData | list[CommitData]:
        if isinstance(index, slice):
            return [CommitData(commit, self.links) for commit in self.commits[index]]
        return CommitData(self.commits[index], self.links)

    def __iter__(self) -> Iterator[CommitData]:
        links = self.links
        return (CommitData(commit, links) for commit in self.commits)

    def __len__(self) -> int:
        return len(self.commits)


def markdown_commit_lines(commits: Iterable[Mapping[str, Any]]) -> str:
    """The :func:`markdown_commit_line` of each commit, one per line."""
    if not isinstance(commits, CommitList):
        return "\n".join(markdown_commit_line(commit) for commit in commits)
    made = commits.made
    if made is not None:
        return "\n".join([made[commit.sha] for commit in commits.commits])
    return "\n".join(_lines(commits.commits, commits.links))


class CommitLines:
    """Each commit's Markdown list line (:func:`markdown_commit_line`), made ahead.

    Why: :func:`relcheck.history.read_changelog` hands the commits over batch by
    batch while git is still writing the log, when relcheck would otherwise wait
    for it; made after the log, the lines of 100,000 commits were a sixth of the
    changelog's time.
    """

    def __init__(self) -> None:
        self.links: Links | None = None
        self.lines: dict[str, str] = {}

    def add(self, commits: Sequence[Commit], links: Links | None) -> None:
        self.links = links
        shas = [commit.sha for commit in commits]
        self.lines.update(zip(shas, _lines(commits, links), strict=True))


def _lines(commits: Iterable[Commit], links: Links | None) -> list[str]:
    # The changelog's inner loop (once per commit of the history): names held locally.
    md = markdown_text
    prefix = _commit_url_prefix(links) if links is not None else None
    heads: dict[str | None, str] = {None: ""}
    lines = []
    for commit in commits:
        scope = commit.scope
        head = heads.get(scope)
        if head is None:
            head = heads[scope] = f"**{md(scope)}:** " if scope else ""
        sha = commit.sha
        link = f"[`{sha[:7]}`]({prefix}{sha})" if prefix else f"`{sha[:7]}`"
        if commit.pull_requests:
            link = ", ".join([*(_pull_request_ref(n, links) for n in commit.pull_requests), link])
        mark = " (**breaking**)" if commit.breaking else ""
        lines.append(f"- {head}{md(commit.description or commit.subject)}{mark} ({link})")
    return lines


def _commit_line(commit: Commit, links: Links | None) -> str:
    return markdown_commit_lines(CommitList((commit,), links))


def _pull_request_ref(number: int, links: Links | None) -> str:
    url = _safe_url(links.pull_request(number)) if links is not None else None
    return f"[#{number}]({url})" if url else f"#{number}"


@lru_cache(maxsize=8)
def _commit_url_prefix(links: Links) -> str | None:
    """A commit's link but its hash: a hash is hex, which :func:`_safe_url` keeps as it is."""
    return _safe_url(links.commit(""))


def markdown_commit_line(data: Mapping[str, Any]) -> str:
    """``- **scope:** title (**breaking**) ([#12](url), [`abc1234`](url))`` for one commit."""
    if isinstance(data, CommitData):
        return _commit_line(data.commit, data.links)
    scope, title, breaking, short = data["scope"], data["title"], data["breaking"], data["short"]
    url = data["url"]
    prs = [(pr["number"], pr["url"]) for pr in data["pull_requests"]]
    head = f"**{markdown_text(scope)}:** " if scope else ""
    mark = " (**breaking**)" if breaking else ""
    refs = [f"[#{n}]({u})" if u else f"#{n}" for n, u in prs]
    refs.append(f"[`{short}`]({url})" if url else f"`{short}`")
    return f"- {head}{markdown_text(title)}{mark} ({', '.join(refs)})"


def _commit(commit: Commit, links: Links | None) -> dict[str, Any]:
    return {
        "sha": commit.sha,
        "short": commit.short,
        "url": _safe_url(links.commit(commit.sha)) if links else None,
        "subject": commit.subject,
        "body": commit.body,
        "title": commit.description or commit.subject,
        "type": commit.type,
        "scope": commit.scope,
        "breaking": commit.breaking,
        "breaking_notes": list(commit.breaking_notes),
        "pull_requests": [
            {"number": number, "url": _safe_url(links.pull_request(number)) if links else None}
            for number in commit.pull_requests
        ],
        "author": _person(commit.author),
        "co_authors": [_person(person) for person in commit.co_authors],
        "date": commit.date,
        "merge": commit.is_merge,
        "trailers": [{"key": key, "value": value} for key, value in commit.trailers],
    }


def _person(person: Person) -> dict[str, Any]:
    return {"name": person.name, "email": person.email, "bot": person.bot}


def _links(links: Links | None, compare_url: str | None) -> dict[str, Any] | None:
    if links is None:
        return None
    return {"base": _safe_url(links.base), "forge": links.forge, "compare": compare_url}


def _safe_url(url: str | None) -> str | None:
    """Only web links reach a note: anything else (``javascript:``, ``file:``) is dropped."""
    if not url or not url.lower().startswith(("https://", "http://")):
        return None
    # A remote URL is half-trusted: characters that could end a Markdown link or
    # an HTML attribute are percent-encoded, so the link stays one link.
    from urllib.parse import quote

    return quote(url, safe=":/?#@!$&*+,;=%~.-_")


# ---------------------------------------------------------------- the run


def _run(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.run_id,
        "state": run.state,
        "passed": run.state == RUN_PASSED,
        "checklist": run.checklist,
        "branch": run.branch,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def _step(step: StepRecord) -> dict[str, Any]:
    return {
        "id": step.id,
        "title": step.title,
        "kind": step.kind,
        "required": step.required,
        "status": step.status,
        "owner": step.owner,
        "expected": step.expected,
        "actual": step.actual,
        "reason": step.reason,
        "note": step.note,
        "confirmed_by": step.confirmed_by,
        "duration_s": step.duration_s,
        "duration": format_duration(step.duration_s),
        "attempts": step.attempts,
        "flaky": step.flaky,
        "blocked": step.blocked,
        "finished_at": step.finished_at,
    }


def _signoffs(steps: Sequence[StepRecord]) -> list[dict[str, Any]]:
    """Who answered each manual step, when, and what they noted."""
    return [
        {
            "step": step.id,
            "title": step.title,
            "status": step.status,
            "who": step.confirmed_by or step.owner,
            "when": step.finished_at,
            "note": step.note,
        }
        for step in steps
        if step.kind == "manual" and step.finished_at is not None
    ]


def _rollback_plan(run: RunRecord) -> list[dict[str, Any]]:
    """Passed steps' rollbacks, newest first (as ``relcheck rollback`` prints them)."""
    undone = {item.step for item in run.rollbacks if item.status == PASSED}
    passed = [s for s in run.steps.values() if s.status == PASSED and s.id not in undone]
    passed.sort(key=lambda s: s.finished_at or "", reverse=True)
    return [_rollback_row(step) for step in passed]


def _rollback_row(step: StepRecord) -> dict[str, Any]:
    text = (step.rollback or "").strip()
    nothing = text.lower() == NO_ROLLBACK
    return {
        "step": step.id,
        "title": step.title,
        "owner": step.owner,
        "command": text if text and not nothing else None,
        "nothing_to_undo": nothing,
        "not_given": not text,
    }


def _summary(context: Mapping[str, Any], run: RunRecord | None) -> dict[str, Any]:
    commits = len(context["commits"])
    people = len(context["contributors"])
    text = f"{_count(commits, 'commit')} by {_count(people, 'contributor')}"
    figures: dict[str, Any] = {
        "commits": commits,
        "contributors": people,
        "bots": len(context["bots"]),
        "state": run.state if run is not None else None,
        "checks_total": None,
        "checks_passed": None,
        "checks_failed": None,
    }
    if run is not None:
        steps = run.ordered_steps()
        passed = sum(step.status == PASSED for step in steps)
        failed = sum(step.status in (FAILED, INTERRUPTED) or step.blocked for step in steps)
        figures.update(checks_total=len(steps), checks_passed=passed, checks_failed=failed)
        text += f"; {passed} of {len(steps)} checks passed"
    figures["text"] = text + "."
    return figures


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# ---------------------------------------------------------------- metrics


def previous_passed_run(run: RunRecord, folders: Sequence[Path]) -> RunRecord | None:
    """The newest passed run of the same checklist that started before ``run``."""
    from relcheck.journal import replay

    for folder in sorted(folders, reverse=True):
        if folder.name >= run.run_id:
            continue
        try:
            older = replay(folder, live=False)
        except Exception:  # a damaged old record must not stop today's note
            continue
        if older.state == RUN_PASSED and older.checklist_path == run.checklist_path:
            return older
    return None


def _baseline(previous: RunRecord) -> dict[str, Any]:
    return {
        "id": previous.run_id,
        "version": previous.version,
        "tag": previous.tag,
        "date": (previous.finished_at or previous.started_at)[:10],
    }


def step_figures(step: StepRecord) -> list[tuple[str, float, str]]:
    """(name, value, unit) of each figure a step measured, in the order it recorded them.

    Both shapes are read: a plain number (HTTP figures such as ``p95_ms``) and
    ``{"value": number, "unit": text}`` (``relcheck-metric:`` lines). Context
    figures (:data:`CONTEXT_FIGURES`) and anything not a number are left out.
    """
    figures = []
    for name, raw in step.metrics.items():
        if name in CONTEXT_FIGURES:
            continue
        value, unit = _figure(name, raw)
        if value is not None:
            figures.append((name, value, unit))
    return figures


def _figure(name: str, raw: Any) -> tuple[float | None, str]:
    if isinstance(raw, Mapping):
        value, unit = raw.get("value"), str(raw.get("unit") or "")
    else:
        value, unit = raw, next((u for s, u in _UNIT_SUFFIXES if name.endswith(s)), "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, unit
    return float(value), unit


def direction(step_id: str, name: str, directions: Mapping[str, str]) -> str:
    """Which way is better for a metric: ``STEP.NAME`` in the checklist, then ``NAME``."""
    chosen = directions.get(f"{step_id}.{name}") or directions.get(name)
    return HIGHER_IS_BETTER if chosen == HIGHER_IS_BETTER else LOWER_IS_BETTER


def compare_metrics(
    run: RunRecord, previous: RunRecord | None, directions: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each figure of the run with its change against the same step's figure in ``previous``."""
    before: dict[tuple[str, str], float] = {}
    if previous is not None:
        for step in previous.ordered_steps():
            for name, value, _ in step_figures(step):
                before[(step.id, name)] = value
    rows = []
    for step in run.ordered_steps():
        for name, value, unit in step_figures(step):
            rows.append(
                _metric_row(
                    step,
                    name,
                    value,
                    unit,
                    before.get((step.id, name)),
                    direction(step.id, name, directions),
                )
            )
    return rows


def _metric_row(
    step: StepRecord, name: str, value: float, unit: str, old: float | None, better: str
) -> dict[str, Any]:
    change = None if old is None else value - old
    pct = None if old in (None, 0.0) or change is None else change / abs(old) * 100.0
    worse = change is not None and (change > 0 if better == LOWER_IS_BETTER else change < 0)
    flagged = worse and (pct is None or abs(pct) > WORSE_THRESHOLD_PCT)
    return {
        "step": step.id,
        "step_title": step.title,
        "name": name,
        "value": value,
        "unit": unit,
        "shown": _with_unit(value, unit),
        "previous": old,
        "previous_shown": _with_unit(old, unit) if old is not None else "",
        "change": change,
        "change_pct": pct,
        "change_shown": _change_text(change, pct, unit),
        "better": better,
        "worse": worse,
        "flagged": flagged,
    }


def _with_unit(value: float, unit: str) -> str:
    shown = format_number(value)
    if not unit:
        return shown
    return f"{shown}{unit}" if unit == "%" else f"{shown} {unit}"


def _change_text(change: float | None, pct: float | None, unit: str) -> str:
    if change is None:
        return "new"
    if change == 0:
        return "unchanged"
    sign = "+" if change > 0 else "-"
    if pct is None:
        return f"{sign}{_with_unit(abs(change), unit)}"
    return f"{sign}{format_number(abs(pct))}%"
