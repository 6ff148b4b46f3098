"""Release notes: the template context from a run and git history, and `relcheck notes`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, Repo, git

from relcheck.history import Commit, Group, Links, Person, ReleaseHistory, Tag
from relcheck.journal import RollbackRecord, RunRecord, StepRecord
from relcheck.notes import (
    CHANGELOG_VARIABLES,
    NOTE_VARIABLES,
    compare_metrics,
    note_context,
    previous_passed_run,
)
from relcheck.render import render_document

# ---------------------------------------------------------------- building blocks

ADA = Person("Ada Lovelace", "ada@example.invalid")
BOT = Person("dependabot[bot]", "bot@example.invalid", bot=True)
LINKS = Links("https://github.com/acme/service", "github")


def make_commit(sha: str, subject: str, **fields: Any) -> Commit:
    return Commit(
        sha=sha * 40,
        parents=("0" * 40,),
        author=fields.pop("author", ADA),
        date="2026-01-02T10:00:00+00:00",
        subject=subject,
        body="",
        **fields,
    )


FEAT = make_commit(
    "a",
    "feat(api)!: drop the v1 endpoints (#12)",
    type="feat",
    scope="api",
    description="drop the v1 endpoints (#12)",
    breaking=True,
    breaking_notes=("Clients must call /v2.",),
    pull_requests=(12,),
)
FIX = make_commit("b", "fix: retry on 503", type="fix", description="retry on 503")
BUMP = make_commit("c", "bump requests", author=BOT)


def make_history(**fields: Any) -> ReleaseHistory:
    values: dict[str, Any] = {
        "version": "1.4.0",
        "tag": "v1.4.0",
        "commit": "d" * 40,
        "date": "2026-01-03T12:00:00+00:00",
        "previous": Tag("v1.3.0", "e" * 40, "2026-01-01T09:00:00+00:00", "1.3.0"),
        "commits": (FEAT, FIX, BUMP),
        "groups": (
            Group("Features", ("feat",), (FEAT,)),
            Group("Bug fixes", ("fix",), (FIX,)),
            Group("Performance", ("perf",), ()),
            Group("Other changes", (), (BUMP,)),
        ),
        "breaking": (FEAT,),
        "contributors": (ADA,),
        "bots": (BOT,),
        "links": LINKS,
        "compare_url": LINKS.compare("v1.3.0", "v1.4.0"),
    }
    values.update(fields)
    return ReleaseHistory(**values)


def make_step(step_id: str, kind: str = "run", status: str = "passed", **fields: Any) -> StepRecord:
    return StepRecord(
        id=step_id, title=fields.pop("title", step_id), kind=kind, status=status, **fields
    )


def make_run(steps: list[StepRecord], **fields: Any) -> RunRecord:
    values: dict[str, Any] = {
        "run_id": "20260103T120000.000Z-aaaa",
        "folder": Path("/nonexistent"),
        "checklist": "relcheck.yaml",
        "checklist_path": "relcheck.yaml",
        "checklist_sha256": "0" * 64,
        "version": "1.4.0",
        "tag": "v1.4.0",
        "commit": "f" * 40,
        "branch": "main",
        "started_at": "2026-01-03T12:00:00.000Z",
        "finished_at": "2026-01-04T08:30:00.000Z",
        "state": "passed",
        "steps": {step.id: step for step in steps},
    }
    values.update(fields)
    return RunRecord(**values)


# ---------------------------------------------------------------- the context


def test_without_a_run_the_context_has_the_git_part_alone() -> None:
    context = note_context(make_history())
    assert set(context) == set(NOTE_VARIABLES)
    assert context["run"] is None
    assert context["steps"] == context["signoffs"] == context["rollback_plan"] == []
    assert context["metrics"] == [] and context["baseline"] is None
    assert context["summary"]["text"] == "3 commits by 1 contributor."
    assert [group["title"] for group in context["groups"]] == [
        "Features",
        "Bug fixes",
        "Other changes",
    ]
    release = context["release"]
    assert (release["version"], release["tag"], release["date"]) == (
        "1.4.0",
        "v1.4.0",
        "2026-01-03",
    )
    assert release["previous"]["name"] == "v1.3.0"
    feat = context["breaking"][0]
    assert feat["url"] == f"https://github.com/acme/service/commit/{'a' * 40}"
    assert feat["pull_requests"] == [
        {"number": 12, "url": "https://github.com/acme/service/pull/12"}
    ]
    assert feat["title"] == "drop the v1 endpoints (#12)" and feat["scope"] == "api"
    assert context["bots"] == [
        {"name": "dependabot[bot]", "email": "bot@example.invalid", "bot": True}
    ]


def test_with_a_run_the_release_is_the_runs_and_dated_by_it() -> None:
    run = make_run([make_step("lint"), make_step("tests", status="failed")], state="failed")
    context = note_context(make_history(commit="f" * 40), run=run)
    release = context["release"]
    assert (release["version"], release["tag"], release["commit"]) == ("1.4.0", "v1.4.0", "f" * 40)
    assert release["date"] == "2026-01-04"
    assert context["run"]["passed"] is False and context["run"]["state"] == "failed"
    assert context["summary"]["text"] == "3 commits by 1 contributor; 1 of 2 checks passed."
    assert (context["summary"]["checks_passed"], context["summary"]["checks_failed"]) == (1, 1)


def test_readiness_signoffs_and_rollback_plan() -> None:
    steps = [
        make_step(
            "unit",
            owner="Ada",
            expected="all pass",
            actual="exit code 0 after 3.2 s",
            duration_s=3.2,
            attempts=2,
            flaky=True,
            rollback="none",
            finished_at="2026-01-03T12:01:00.000Z",
        ),
        make_step(
            "staging",
            kind="manual",
            owner="Grace",
            confirmed_by="Grace",
            note="copied prod config",
            rollback="git checkout HEAD~1 -- staging.env",
            finished_at="2026-01-03T12:02:00.000Z",
        ),
        make_step(
            "deploy", rollback="undo-deploy", owner="Lin", finished_at="2026-01-03T12:03:00.000Z"
        ),
        make_step("smoke", rollback=None, owner="Lin", finished_at="2026-01-03T12:04:00.000Z"),
        make_step("tag", status="pending", rollback="git tag -d v1.4.0"),
    ]
    run = make_run(
        steps, rollbacks=[RollbackRecord("deploy", "passed", "done", "2026-01-03T13:00Z")]
    )
    context = note_context(make_history(), run=run)
    unit = context["steps"][0]
    assert (unit["duration"], unit["attempts"], unit["flaky"]) == ("3.2 s", 2, True)
    assert context["signoffs"] == [
        {
            "step": "staging",
            "title": "staging",
            "status": "passed",
            "who": "Grace",
            "when": "2026-01-03T12:02:00.000Z",
            "note": "copied prod config",
        }
    ]
    plan = context["rollback_plan"]
    # newest first; the rolled-back deploy and the pending tag are not in it
    assert [item["step"] for item in plan] == ["smoke", "staging", "unit"]
    assert plan[0]["not_given"] and plan[0]["command"] is None
    assert (
        plan[1]["command"] == "git checkout HEAD~1 -- staging.env" and plan[1]["owner"] == "Grace"
    )
    assert plan[2]["nothing_to_undo"] and plan[2]["command"] is None


def test_metrics_compare_with_the_previous_run_and_flag_worse_by_over_20_percent() -> None:
    http = {
        "status": 200,
        "p50_ms": 100.0,
        "p95_ms": 250.0,
        "max_ms": 300.0,
        "size_bytes": 9,
        "samples": 20,
    }
    run = make_run(
        [
            make_step("health", kind="http", metrics=http),
            make_step(
                "bench",
                metrics={
                    "rps": {"value": 700.0, "unit": "req/s"},
                    "build_s": {"value": 11.0, "unit": "s"},
                    "errors": {"value": 2.0, "unit": ""},
                    "label": {"value": "fast", "unit": ""},
                },
            ),
        ]
    )
    previous = make_run(
        [
            make_step(
                "health", kind="http", metrics={"p50_ms": 100.0, "p95_ms": 200.0, "max_ms": 400.0}
            ),
            make_step(
                "bench",
                metrics={
                    "rps": {"value": 1000.0, "unit": "req/s"},
                    "build_s": {"value": 10.0, "unit": "s"},
                    "errors": {"value": 0.0, "unit": ""},
                },
            ),
        ]
    )
    rows = compare_metrics(run, previous, {"rps": "higher"})
    by_name = {(row["step"], row["name"]): row for row in rows}
    # status, size_bytes and samples describe the check; a text value is no figure
    assert list(by_name) == [
        ("health", "p50_ms"),
        ("health", "p95_ms"),
        ("health", "max_ms"),
        ("bench", "rps"),
        ("bench", "build_s"),
        ("bench", "errors"),
    ]
    p95 = by_name[("health", "p95_ms")]
    assert (p95["shown"], p95["previous_shown"], p95["change_shown"]) == (
        "250 ms",
        "200 ms",
        "+25%",
    )
    assert p95["worse"] and p95["flagged"]
    assert by_name[("health", "p50_ms")]["change_shown"] == "unchanged"
    assert not by_name[("health", "max_ms")]["worse"]  # lower latency is better
    rps = by_name[("bench", "rps")]  # declared higher-is-better: a drop of 30% is worse
    assert rps["better"] == "higher" and rps["flagged"] and rps["change_shown"] == "-30%"
    build = by_name[("bench", "build_s")]  # worse, but only by 10%
    assert build["worse"] and not build["flagged"]
    errors = by_name[("bench", "errors")]  # from zero: no percentage, still flagged
    assert errors["change_pct"] is None and errors["flagged"] and errors["change_shown"] == "+2"


def test_metrics_without_a_previous_run_are_new() -> None:
    run = make_run([make_step("health", kind="http", metrics={"p95_ms": 12.0})])
    (row,) = compare_metrics(run, None, {})
    assert (row["previous"], row["change_shown"], row["flagged"]) == (None, "new", False)


def test_a_step_direction_can_be_declared_per_step() -> None:
    run = make_run([make_step("a", metrics={"hits": 50}), make_step("b", metrics={"hits": 50})])
    previous = make_run(
        [make_step("a", metrics={"hits": 100}), make_step("b", metrics={"hits": 100})]
    )
    rows = compare_metrics(run, previous, {"a.hits": "higher"})
    assert [row["flagged"] for row in rows] == [True, False]


def test_only_web_links_reach_the_note() -> None:
    history = make_history(
        links=Links("javascript:alert(1)//", "github"), compare_url="javascript:x"
    )
    context = note_context(history)
    assert context["release"]["url"] is None and context["release"]["compare_url"] is None
    assert context["commits"][0]["url"] is None


def _journal(folder: Path, run_id: str, *, state: str, checklist: str = "relcheck.yaml") -> Path:
    run = folder / run_id
    (run / "logs").mkdir(parents=True)
    events = [
        {
            "event": "run_started",
            "at": "2026-01-01T00:00:00.000Z",
            "run_id": run_id,
            "checklist": checklist,
            "checklist_path": checklist,
            "release": {"version": run_id[:4], "tag": "v", "commit": "c" * 40},
            "steps": [{"id": "health", "title": "Health", "kind": "http"}],
        },
        {
            "event": "step_finished",
            "at": "2026-01-01T00:00:01.000Z",
            "step": "health",
            "status": "passed",
            "metrics": {"p95_ms": 100.0},
        },
        {"event": "run_finished", "at": "2026-01-01T00:00:02.000Z", "state": state},
    ]
    (run / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return run


def test_the_baseline_is_the_newest_earlier_passed_run_of_the_same_checklist(
    tmp_path: Path,
) -> None:
    folders = [
        _journal(tmp_path, "20260101T000000.000Z-0001", state="passed"),
        _journal(tmp_path, "20260102T000000.000Z-0002", state="failed"),
        _journal(tmp_path, "20260103T000000.000Z-0003", state="passed", checklist="other.yaml"),
        _journal(tmp_path, "20260104T000000.000Z-0004", state="passed"),  # the run itself
        _journal(tmp_path, "20260105T000000.000Z-0005", state="passed"),  # newer
    ]
    run = make_run([], run_id="20260104T000000.000Z-0004")
    found = previous_passed_run(run, folders)
    assert found is not None and found.run_id == "20260101T000000.000Z-0001"
    assert previous_passed_run(make_run([], run_id="20260101T000000.000Z-0001"), folders) is None


def test_a_run_that_did_not_pass_says_so_before_anything_else() -> None:
    run = make_run([make_step("tests", status="failed", actual="exit code 1")], state="failed")
    text = render_document("release-note.md.j2", note_context(make_history(), run=run))
    state = text.index("**Not release-ready:** run `20260103T120000.000Z-aaaa` is **failed**")
    assert state < text.index("3 commits by 1 contributor") < text.index("## Breaking changes")
    assert "| tests (`tests`) |  | **failed** |" in text


def test_the_default_note_in_order() -> None:
    steps = [
        make_step("health", kind="http", owner="Ada", metrics={"p95_ms": 300.0}, rollback="none"),
        make_step("staging", kind="manual", owner="Grace", finished_at="2026-01-03T12:02:00.000Z"),
    ]
    previous = make_run([make_step("health", metrics={"p95_ms": 200.0})], run_id="2025-prev")
    text = render_document(
        "release-note.md.j2", note_context(make_history(), run=make_run(steps), previous=previous)
    )
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Release 1.4.0",
        "## Breaking changes",
        "## Features",
        "## Bug fixes",
        "## Other changes",
        "## Contributors",
        "## Release readiness",
        "## Sign-offs",
        "## Rollback plan",
        "## Metrics",
    ]
    assert "  Clients must call /v2." in text
    assert "Bots: dependabot[bot]" in text
    assert "| `health` | p95_ms | 300 ms | 200 ms | +50% **worse** |" in text
    assert "- **staging** (`staging`): confirmed done by Grace, 2026-01-03 12:02 UTC" in text


def test_every_documented_variable_is_in_the_context() -> None:
    assert set(note_context(make_history())) == set(NOTE_VARIABLES)
    assert CHANGELOG_VARIABLES == ("releases", "unreleased", "links")


# ---------------------------------------------------------------- `relcheck notes`

CHECKLIST = """\
version: 1
name: Service
defaults: {owner: Ada}
metrics: {rps: higher}
steps:
  - id: bench
    title: Benchmark
    run: "cat figures.txt"
    rollback: none
  - id: staging
    title: Verify staging config
    manual: Copy the config for {{ version }}.
    owner: Grace
    rollback: git checkout HEAD~1 -- staging.env
  - id: gate
    title: Gate
    run: test -f ready
    rollback: none
"""

ANSWERS = """\
steps:
  staging: {answer: done, owner: Grace, note: "copied <prod> config, ping @here"}
"""

EVIL = [
    "feat: show <script>alert(1)</script> in the page",
    "fix: render {{ 7*7 }} literally",
    "docs: thank @everyone",
    "fix: link [x](javascript:alert(1))",
]


def _release_repo(repo: Repo) -> None:
    git(repo.path, "tag", "-a", "v1.0.0", "-m", "Release 1.0.0")
    for message in EVIL:
        repo.commit(message)
    repo.checklist(CHECKLIST)
    repo.write("answers.yaml", ANSWERS)
    repo.write("ready", "")
    repo.write(".gitignore", "figures.txt\nanswers.yaml\nready\n")
    repo.commit("ci: add the release checklist")


def _run(repo: Repo, relcheck: Invoke, version: str, figures: str, *, code: int = 0) -> Path:
    repo.write("figures.txt", figures)
    relcheck(
        "run", "--release", version, "--non-interactive", "--answers", "answers.yaml", code=code
    )
    return repo.runs()[-1]


def test_notes_without_any_run_render_the_git_part(repo: Repo, relcheck: Invoke) -> None:
    _release_repo(repo)
    text = relcheck("notes").output
    assert text.startswith("# Unreleased changes\n")
    assert "6 commits by 1 contributor." not in text  # only the commits since v1.0.0
    assert "5 commits by 1 contributor." in text
    assert "## Features" in text and "## Release readiness" not in text
    assert relcheck("notes", "--no-run").output == text


def test_notes_of_a_run_show_readiness_signoffs_rollback_and_metrics(
    repo: Repo, relcheck: Invoke
) -> None:
    _release_repo(repo)
    first = _run(
        repo, relcheck, "1.1.0", "relcheck-metric: rps=1000 req/s\nrelcheck-metric: p95_ms=100 ms\n"
    )
    repo.commit("perf: cache the index")
    run = _run(
        repo, relcheck, "1.2.0", "relcheck-metric: rps=600 req/s\nrelcheck-metric: p95_ms=110 ms\n"
    )
    text = relcheck("notes").output
    assert text.startswith("# Release 1.2.0\n")
    assert "· tag `v1.2.0` · commit `" in text
    assert "6 commits by 1 contributor; 3 of 3 checks passed." in text
    assert "| Benchmark (`bench`) | Ada | passed |" in text
    assert (
        "- **Verify staging config** (`staging`): confirmed done by Grace, " in text
        and ': "copied &lt;prod&gt; config, ping `@here`"' in text
    )
    rollback = text[text.index("## Rollback plan") :]
    assert rollback.index("(`gate`, Ada): nothing to undo") < rollback.index(
        "(`staging`, Grace): `git checkout HEAD~1 -- staging.env`"
    )
    assert f"Compared with the previous passed run `{first.name}` (release 1.1.0" in text
    assert "| `bench` | rps | 600 req/s | 1000 req/s | -40% **worse** |" in text
    assert "| `bench` | p95_ms | 110 ms | 100 ms | +10% |" in text
    assert (run / "note.md").read_text() == text
    assert not (first / "note.md").exists()


def test_the_note_is_saved_in_the_run_and_written_where_asked(repo: Repo, relcheck: Invoke) -> None:
    _release_repo(repo)
    run = _run(repo, relcheck, "1.1.0", "")
    result = relcheck("notes", run.name[:18], "--format", "html", "-o", "NOTE.html")
    assert result.output == "Wrote NOTE.html\n"
    page = (repo.path / "NOTE.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<h1>Release 1.1.0</h1>" in page
    assert (run / "note.html").read_text() == page
    assert not list(run.glob(".note*"))  # no temp file left behind


def test_a_failed_run_says_so_at_the_top(repo: Repo, relcheck: Invoke) -> None:
    _release_repo(repo)
    (repo.path / "ready").unlink()
    run = _run(repo, relcheck, "1.1.0", "", code=1)
    lines = relcheck("notes").output.splitlines()
    assert lines[4] == (
        f'> **Not release-ready:** run `{run.name}` is **failed**; see "Release readiness" below.'
    )
    assert any(line.startswith("| Gate (`gate`) | Ada | **failed** |") for line in lines)


def test_commit_text_is_escaped_in_markdown(repo: Repo, relcheck: Invoke) -> None:
    _release_repo(repo)
    text = relcheck("notes").output
    assert "<script>" not in text
    assert "show &lt;script&gt;alert(1)&lt;/script&gt; in the page" in text
    assert "render {{ 7*7 }} literally" in text and "render 49" not in text
    assert "thank `@everyone`" in text
    assert re.search(r"(?<!\\)\]\(javascript:", text) is None
    assert "link [x\\](javascript:alert(1))" in text


def test_commit_text_is_escaped_in_html(repo: Repo, relcheck: Invoke) -> None:
    _release_repo(repo)
    page = relcheck("notes", "--format", "html").output
    assert "<script>" not in page
    assert "show &lt;script&gt;alert(1)&lt;/script&gt; in the page" in page
    assert "render {{ 7*7 }} literally" in page and "render 49" not in page
    assert "thank @\u200beveryone" in page
    assert 'href="javascript' not in page and "link [x](javascript:alert(1))" in page


def test_notes_to_a_release_tag_is_that_releases_note(
    repo: Repo, relcheck: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit("feat: one")
    git(repo.path, "tag", "-a", "v1.0.0", "-m", "r")
    repo.commit("feat: two")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-03-04T05:06:07+00:00")
    git(repo.path, "tag", "-a", "v1.1.0", "-m", "r")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    repo.commit("feat: three, not released")
    text = relcheck("notes", "--to", "v1.1.0").output
    assert text.startswith("# Release 1.1.0\n\nReleased 2024-03-04 · tag `v1.1.0`")
    assert "- two (" in text and "one" not in text and "three" not in text
    assert "changes since v1.0.0" in text


def test_from_and_to_choose_the_range(repo: Repo, relcheck: Invoke) -> None:
    start = repo.commit("feat: one")
    repo.commit("feat: two")
    end = repo.commit("feat: three")
    repo.commit("feat: four")
    text = relcheck("notes", "--from", start, "--to", end).output
    assert "- two (" in text and "- three (" in text
    assert "- one (" not in text and "- four (" not in text


CUSTOM = """\
{% extends "release-note.md.j2" %}
{% block contributors %}
## Thanks

{% for person in contributors %}
- {{ person.name | md }}
{% endfor %}

{% endblock %}
"""


def test_a_custom_template_overrides_a_block(repo: Repo, relcheck: Invoke) -> None:
    _release_repo(repo)
    repo.write("notes/ours.md.j2", CUSTOM)
    text = relcheck("notes", "--template", "notes/ours.md.j2").output
    assert "## Thanks\n\n- Test Captain\n" in text
    assert "## Contributors" not in text
    assert text.startswith("# Unreleased changes") and "## Features" in text


def test_the_checklist_can_name_the_template(repo: Repo, relcheck: Invoke) -> None:
    _release_repo(repo)
    repo.write("notes/ours.md.j2", CUSTOM)
    repo.checklist(CHECKLIST.replace("metrics:", "notes: {template: notes/ours.md.j2}\nmetrics:"))
    assert "## Thanks" in relcheck("notes").output
    # an HTML note is not made with a Markdown template
    assert "<h2>Contributors</h2>" in relcheck("notes", "--format", "html").output


def test_a_template_error_names_template_and_line(repo: Repo, relcheck: Invoke) -> None:
    repo.write(
        "bad.md.j2",
        '{% extends "release-note.md.j2" %}\n'
        "{% block summary %}\n{{ summary.nope }}\n{% endblock %}\n",
    )
    result = relcheck("notes", "--template", "bad.md.j2", code=2)
    assert "bad.md.j2:3: 'dict object' has no attribute 'nope'" in result.output
    repo.write("broken.md.j2", "# {{ release.version }\n")
    result = relcheck("notes", "--template", "broken.md.j2", code=2)
    assert "broken.md.j2:1: " in result.output
    assert (
        "missing.md.j2: no such template file"
        in relcheck("notes", "--template", "missing.md.j2", code=2).output
    )


def test_notes_refuse_what_cannot_work(repo: Repo, relcheck: Invoke, tmp_path: Path) -> None:
    _release_repo(repo)
    _run(repo, relcheck, "1.1.0", "")
    assert "not both" in relcheck("notes", "20", "--no-run", code=2).output
    assert "no run with id" in relcheck("notes", "nope", code=2).output
    assert "does not name a commit" in relcheck("notes", "--to", "nope", code=2).output


def test_notes_and_changelog_read_a_tag_template_that_uses_vars(
    repo: Repo, relcheck: Invoke
) -> None:
    repo.checklist(
        'version: 1\nvars: {prefix: svc-}\ntag: "{{ vars.prefix }}{{ version }}"\n'
        'steps:\n  - id: a\n    run: "true"\n    rollback: none\n'
    )
    repo.commit("feat: first feature")
    git(repo.path, "tag", "-a", "svc-1.0.0", "-m", "1.0.0")
    repo.commit("fix: a bug after 1.0.0")
    note = relcheck("notes", "--no-run").output
    assert "a bug after 1.0.0" in note
    assert "first feature" not in note
    changelog = relcheck("changelog").output
    assert "## 1.0.0" in changelog


def test_a_template_of_the_other_format_is_refused(repo: Repo, relcheck: Invoke) -> None:
    repo.commit("feat: something")
    repo.write("mine.md.j2", '{% extends "release-note.md.j2" %}\n')
    result = relcheck("notes", "--no-run", "--template", "mine.md.j2", "--format", "html", code=2)
    assert "mine.md.j2 is a md template but --format html was asked for" in result.output


def test_a_remote_url_cannot_smuggle_a_link_into_the_note(repo: Repo, relcheck: Invoke) -> None:
    repo.commit("feat: something")
    git(repo.path, "remote", "add", "origin", "https://github.com/o/x) [y](javascript:alert(1)")
    note = relcheck("notes", "--no-run").output
    assert "](javascript:" not in note


def test_a_note_before_the_tag_exists_says_prepared(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist("version: 1\nsteps:\n  - id: a\n    run: exit 1\n    rollback: none\n")
    repo.commit("feat: first")
    git(repo.path, "tag", "-a", "v0.1.0", "-m", "0.1.0")
    repo.commit("fix: second")
    relcheck("run", "--release", "0.1.1", code=1)
    note = relcheck("notes").output
    assert "Prepared " in note and "Released " not in note
    git(repo.path, "tag", "-a", "v0.1.1", "-m", "0.1.1")
    assert "Released " in relcheck("notes").output


def test_from_a_ref_that_is_not_a_tag_compares_from_its_commit(
    repo: Repo, relcheck: Invoke
) -> None:
    git(repo.path, "remote", "add", "origin", "https://github.com/octo/app.git")
    repo.commit("feat: one")
    start = git(repo.path, "rev-parse", "HEAD")
    repo.commit("fix: two")
    note = relcheck("notes", "--no-run", "--from", "HEAD~1").output
    assert "HEAD~1" not in note
    assert f"/compare/{start[:12]}..." in note
    assert "two" in note and "one" not in note.split("## ")[-1]
