"""Hardening: any commit message through the release note and changelog, Markdown and HTML.

Commit text is untrusted. Whatever it holds, the rendered note has no raw HTML
from it, evaluates no template syntax in it, links nowhere but http(s), and
leaves no @mention that would notify someone when the note is posted. The
Markdown is checked as a CommonMark renderer reads it (markdown-it, with raw
HTML on and its own link filter off), the HTML as a browser's parser reads it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import Invoke, Repo, git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from relcheck.history import (
    DEFAULT_GROUPS,
    Changelog,
    Commit,
    Links,
    Person,
    ReleaseHistory,
    Tag,
    contributors,
    group_commits,
    parse_commit,
)
from relcheck.journal import RunRecord, StepRecord
from relcheck.notes import changelog_context, note_context
from relcheck.render import markdown_cell, markdown_text, render_document

ZWSP = "\u200b"
LINKS = Links("https://github.com/acme/service", "github")
PREVIOUS = Tag("v1.3.0", "e" * 40, "2026-01-01T09:00:00+00:00", "1.3.0")

FRAGMENTS = [
    # raw HTML
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>bold</b>", "</li></ul>",
    "<!-- hidden -->", '<a href="javascript:alert(1)">x</a>', "&lt;i&gt;", "&#60;script&#62;",
    "<https://example.com>", "<javascript:alert(1)>", "<ada@example.invalid>", "<div\n>",
    # templates
    "{{ 7*7 }}", "{% if true %}yes{% endif %}", "{{ config }}", "{# note #}", "{{", "}}",
    "{% raw %}", "{{ release.version }}", "{{ ''.__class__.__mro__ }}",
    # mentions
    "@alice", "@org/team", "@everyone", "ada@example.invalid", "(@bob)", "é@bob", "_@bob",
    "`@carol`", "@", "@-x", "@@dave", "&#64;erin", "\\@frank",
    # links
    "[x](javascript:alert(1))", "[x]( javascript:alert(1) )", "[x](<javascript:a>)",
    "[x](JaVaScRiPt:alert(1))", "![i](javascript:alert(1))", "[x][y]", "[y]: javascript:alert(1)",
    "[x]", "[y]:", "(javascript:alert(1))", "javascript:alert(1)", "[x](&#106;avascript:a)",
    "[x](https://ok.example)",
    # code and escapes
    "`", "``", "` x `", "```", "`a", "\\", "\\]", "\\<", "\\`", "|", "*", "_", "#", "> quote",
    # line breaks
    "\n", "\n\n", "\r\n", "\t", "    indented",
]  # fmt: skip

_PIECES = st.sampled_from(FRAGMENTS) | st.text(max_size=10)
_TEXT = st.lists(_PIECES, min_size=1, max_size=6).map("".join)
_WORDS = st.lists(_PIECES, min_size=1, max_size=6).map(" ".join)


@st.composite
def messages(draw: st.DrawFn) -> str:
    """A commit message: maybe a Conventional Commit header, maybe a body and footers."""
    subject = draw(_WORDS)
    if draw(st.booleans()):
        scope = draw(st.one_of(st.just(""), st.text(max_size=6).map(lambda s: f"({s})")))
        subject = f"{draw(st.sampled_from(['feat', 'fix', 'perf', 'chore']))}{scope}!: {subject}"
    message = subject
    if draw(st.booleans()):
        message += "\n\n" + draw(_TEXT)
    footers = draw(
        st.lists(
            st.sampled_from(["BREAKING CHANGE: ", "Co-authored-by: ", "Refs: "]).flatmap(
                lambda key: _WORDS.map(
                    lambda v: f"{key}{v} <x@example.invalid>" if "Co-" in key else f"{key}{v}"
                )
            ),
            max_size=3,
        )
    )
    if footers:
        message += "\n\n" + "\n".join(footers)
    return message


def _commit(number: int, message: str, author: str) -> Commit:
    sha = f"{'abcdef'[number % 6]}{number:x}".ljust(40, "c")
    person = Person(author, f"author{number}@example.invalid")
    return parse_commit(sha, ("0" * 40,), person, "2026-01-02T10:00:00+00:00", message)


def _history(commits: list[Commit]) -> ReleaseHistory:
    people, bots = contributors(commits)
    return ReleaseHistory(
        version="1.4.0",
        tag="v1.4.0",
        commit="d" * 40,
        date="2026-01-03T12:00:00+00:00",
        previous=PREVIOUS,
        commits=tuple(commits),
        groups=group_commits(commits, DEFAULT_GROUPS),
        breaking=tuple(c for c in commits if c.breaking),
        contributors=people,
        bots=bots,
        links=LINKS,
        compare_url=LINKS.compare("v1.3.0", "v1.4.0"),
        tagged=True,
    )


def _run(note: str, who: str) -> RunRecord:
    """A run whose manual sign-off carries text a person typed."""
    step = StepRecord(
        id="staging",
        title="Verify staging",
        kind="manual",
        status="passed",
        owner=who,
        note=note,
        confirmed_by=who,
        actual=note,
        finished_at="2026-01-03T11:00:00.000Z",
        rollback="none",
    )
    return RunRecord(
        run_id="20260103T120000.000Z-aaaa",
        folder=Path("/nonexistent"),
        checklist="relcheck.yaml",
        checklist_path="relcheck.yaml",
        checklist_sha256="0" * 64,
        version="1.4.0",
        tag="v1.4.0",
        commit="f" * 40,
        branch="main",
        started_at="2026-01-03T12:00:00.000Z",
        finished_at="2026-01-04T08:30:00.000Z",
        state="passed",
        steps={step.id: step},
    )


# ---------------------------------------------------------------- what must hold

# A mention as GitHub finds one: `@name` or `@org/team` after the start or a non-word character.
ACTIVE_MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9]")
TEMPLATE_SNIPPETS = [f for f in FRAGMENTS if f.startswith(("{{ ", "{% ", "{# "))]


def _web_link(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def _markdown_tokens(text: str) -> list[Token]:
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    # See every link, not only those markdown-it deems safe.
    parser.validateLink = lambda url: True  # type: ignore[method-assign]
    return parser.parse(text)


def _inline_text(children: list[Token]) -> str:
    """The text nodes of one inline run, one per line, as the HTML would hold them;
    code spans (inert inside) and tags in between only separate them."""
    return "".join(child.content if child.type == "text" else "\n" for child in children)


def assert_safe_markdown(text: str) -> None:
    for token in _markdown_tokens(text):
        assert token.type != "html_block", f"raw HTML block: {token.content!r}"
        for child in token.children or []:
            assert child.type != "html_inline", f"raw HTML: {child.content!r}"
            for name in ("href", "src"):
                url = child.attrGet(name)
                assert url is None or _web_link(str(url)), f"a {name} to {url!r}"
        if token.type == "inline":
            seen = _inline_text(token.children or [])
            assert not ACTIVE_MENTION.search(seen), f"active mention in {seen!r}"


class _Page(HTMLParser):
    """Every tag and attribute of a page, and the text a reader sees outside code."""

    INERT = frozenset({"code", "pre", "style", "script", "a", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag not in ("meta", "br"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        # One text node per line: a mention is looked for within each.
        self.text.append("\n" if self.INERT & set(self.open) else f"{data}\n")

    def handle_comment(self, data: str) -> None:
        raise AssertionError(f"an HTML comment reached the page: {data!r}")


TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "code", "a", "strong",
    "ul", "ol", "li", "div", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
TEMPLATE_ATTRIBUTES = {"lang", "charset", "name", "content", "class", "href"}


def assert_safe_html(page: str, texts: list[str]) -> str:
    """Check a page; return the text it shows outside code."""
    parsed = _Page()
    parsed.feed(page)
    parsed.close()
    for tag, attrs in parsed.tags:
        assert tag in TEMPLATE_TAGS, f"<{tag}> is not the template's"
        for name, value in attrs:
            assert name in TEMPLATE_ATTRIBUTES, f"<{tag} {name}=...> is not the template's"
            assert name != "href" or _web_link(value or ""), f"a link to {value!r}"
    seen = "".join(parsed.text)
    mention = ACTIVE_MENTION.search(seen)
    assert mention is None, f"an active mention: {seen[mention.start() - 20 : mention.end()]!r}"
    shown = seen.replace(ZWSP, "")
    for text in texts:  # the text itself is there, as text: escaped, never evaluated
        assert text.replace(ZWSP, "") in shown, f"{text!r} is not shown as written"
    return shown


def assert_templates_not_evaluated(rendered: str, titles: list[str]) -> None:
    """Template syntax in a commit's title reaches every document as written."""
    for snippet in TEMPLATE_SNIPPETS:
        if any(snippet in title for title in titles):
            assert snippet in rendered, f"{snippet!r} did not reach the note as written"


def _plain_titles(commits: list[Commit]) -> list[str]:
    # The page shows titles as written; leave out what HTML itself normalises.
    return [
        c.description or c.subject
        for c in commits
        if not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", c.description or c.subject)
    ]


def _render_all(history: ReleaseHistory, run: RunRecord | None) -> tuple[str, str, str]:
    context = note_context(history, run=run)
    markdown = render_document("release-note.md.j2", context)
    page = render_document("release-note.html.j2", context, html=True)
    changelog = render_document("changelog.md.j2", changelog_context(Changelog((history,))))
    return markdown, page, changelog


_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=_CHECKS)
@given(
    texts=st.lists(messages(), min_size=1, max_size=4),
    author=_WORDS,
    signoff=st.tuples(_TEXT, _WORDS),
)
def test_any_commit_message_renders_inert(
    texts: list[str], author: str, signoff: tuple[str, str]
) -> None:
    commits = [_commit(number, text, author) for number, text in enumerate(texts)]
    markdown, page, changelog = _render_all(_history(commits), _run(*signoff))
    titles = [commit.description or commit.subject for commit in commits]
    for document in (markdown, changelog):
        assert_safe_markdown(document)
        assert_templates_not_evaluated(document, titles)
    assert_templates_not_evaluated(assert_safe_html(page, _plain_titles(commits)), titles)


def test_the_checks_catch_what_they_are_for() -> None:
    """The oracles above fail on unescaped text (so a pass means something)."""
    for bad in ("<b>x</b>", "[x](javascript:alert(1))", "hi @alice", "<!-- x -->"):
        try:
            assert_safe_markdown(bad)
        except AssertionError:
            continue
        raise AssertionError(f"assert_safe_markdown let {bad!r} through")
    for bad in ("<p><b>x</b></p>", '<a href="javascript:x">x</a>', "<p>hi @alice</p>"):
        try:
            assert_safe_html(bad, [])
        except AssertionError:
            continue
        raise AssertionError(f"assert_safe_html let {bad!r} through")


@pytest.mark.parametrize(
    "text",
    [
        "é@bob",  # GitHub's word characters are ASCII: this is a mention there
        "@ada@example.invalid",  # after the first mention's code span, the second starts a node
        "\\@frank@everyone",
        "`x`@carol",
    ],
)
def test_mentions_the_escaping_itself_could_leave_active(text: str) -> None:
    assert_safe_markdown(markdown_text(text))
    assert_safe_markdown(markdown_cell(text))


NASTY = [
    "feat(api)!: <script>alert(1)</script> {{ 7*7 }} thanks @alice and [x](javascript:alert(1))",
    "fix: `@bob` é@carol {% if true %}yes{% endif %} <img src=x onerror=alert(1)>\n\n"
    "Body with [y]: javascript:alert(1) and ![i](javascript:alert(1))\n\n"
    "BREAKING CHANGE: <b>old</b> @everyone {{ config }}\n"
    "Co-authored-by: @dave <dave@example.invalid>",
    "chore: ``` {# note #} \\] \\@erin <javascript:alert(1)>",
]


def test_a_real_repository_renders_nasty_messages_inert(
    repo: Repo, relcheck: Invoke, tmp_path: Path
) -> None:
    git(repo.path, "tag", "-a", "v0.1.0", "-m", "0.1.0")
    for message in NASTY:
        (tmp_path / "message").write_text(message)
        git(repo.path, "commit", "-q", "--allow-empty", "--cleanup=verbatim", "-F", "../message")
    markdown = relcheck("notes", "--no-run").output
    page = relcheck("notes", "--no-run", "--format", "html").output
    changelog = relcheck("changelog", "--unreleased").output
    assert "## Unreleased" in changelog
    titles = [message.partition("\n")[0].partition(": ")[2] for message in NASTY]
    for document in (markdown, changelog):
        assert_safe_markdown(document)
        assert_templates_not_evaluated(document, titles)
    assert_templates_not_evaluated(assert_safe_html(page, titles), titles)
