"""Document templates: escaping of untrusted text, user templates, errors as TEMPLATE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Invoke, Repo

from relcheck.render import (
    TemplateFailed,
    format_duration,
    format_number,
    format_timestamp,
    markdown_cell,
    markdown_code,
    markdown_code_block,
    markdown_text,
    render_document,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("{{ 7*7 }}", "{{ 7*7 }}"),
        ("{% raw %}x", "{% raw %}x"),
        ("[x](javascript:alert(1))", "[x\\](javascript:alert(1))"),
        ("![img](javascript:alert(1))", "![img\\](javascript:alert(1))"),
        ("[x][evil]", "[x\\][evil]"),
        ("[evil]: javascript:alert(1)", "[evil\\]: javascript:alert(1)"),
        ("<javascript:alert(1)>", "&lt;javascript:alert(1)&gt;"),
        # a backslash that would escape our escape is itself escaped
        ("[x\\](javascript:alert(1))", "[x\\\\\\](javascript:alert(1))"),
        ("&lt;b&gt; & co", "&amp;lt;b&amp;gt; & co"),
        ("@everyone look", "`@everyone` look"),
        ("thanks (@ada) and @org/team.", "thanks (`@ada`) and `@org/team`."),
        ("mail ada@example.com", "mail ada@example.com"),
        # readable: emphasis and snake_case are left alone, code spans kept as written
        ("fix snake_case *really* in `List<T>`", "fix snake_case *really* in `List<T>`"),
        ("tick `x`@ada", "tick `x`@\u200bada"),
        # an unclosed backtick must not pair with the one around a mention
        ("` x @ada", "\\` x `@ada`"),
        ("bell\x07 and \x1b[31mred", "bell and [31mred"),
    ],
)
def test_markdown_text_neutralises_html_links_and_mentions(text: str, expected: str) -> None:
    assert markdown_text(text) == expected


def test_markdown_text_keeps_lines_and_handles_none() -> None:
    assert markdown_text("one\r\ntwo <b>") == "one\ntwo &lt;b&gt;"
    assert markdown_text(None) == ""
    assert markdown_text(3) == "3"


def test_table_cells_stay_in_their_column() -> None:
    assert markdown_cell("a | b\nc `x|y`") == "a \\| b c `x\\|y`"
    assert markdown_code("a|b", table=True) == "`a\\|b`"


def test_code_spans_and_blocks_outgrow_the_backticks_inside() -> None:
    assert markdown_code("ls") == "`ls`"
    assert markdown_code("echo `date`") == "`` echo `date` ``"
    assert markdown_code("") == ""
    assert markdown_code_block("cat <<EOF\n```\nEOF", "sh") == "````sh\ncat <<EOF\n```\nEOF\n````"


def test_figures_for_people() -> None:
    assert format_number(212.0) == "212"
    assert format_number(12.54) == "12.5"
    assert format_number(0.031) == "0.031"
    assert format_number(True) == "True"
    assert format_duration(3.24) == "3.2 s"
    assert format_duration(42) == "42 s"
    assert format_duration(184) == "3 min 4 s"
    assert format_duration(3720) == "1 h 2 min"
    assert format_duration(None) == ""
    assert format_timestamp("2026-11-21T23:46:57.123Z") == "2026-11-21 23:46 UTC"
    assert format_timestamp("yesterday") == "yesterday"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_html_documents_escape_every_value(tmp_path: Path) -> None:
    _write(tmp_path, "page.html.j2", "<p>{{ text }}</p><p>{{ who }}</p>")
    text = render_document(
        "page.html.j2",
        {"text": "<script>alert(1)</script> {{ 7*7 }}", "who": "hi @everyone"},
        folder=tmp_path,
        html=True,
    )
    assert text == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}</p><p>hi @\u200beveryone</p>\n"
    )


def test_autoescaping_follows_the_output_format_not_the_file_name(tmp_path: Path) -> None:
    _write(tmp_path, "note.j2", "{{ text }}")
    assert render_document("note.j2", {"text": "<b>"}, folder=tmp_path, html=True) == "&lt;b&gt;\n"
    assert render_document("note.j2", {"text": "<b>"}, folder=tmp_path) == "<b>\n"


def test_a_user_template_extends_a_builtin_and_overrides_a_block(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "runbook.md.j2",  # named like the built-in: builtin/ still reaches the original
        '{% extends "builtin/runbook.md.j2" %}{% block title %}# Our way{% endblock %}',
    )
    context = {
        "checklist": {"name": "Svc", "source": "x", "description": None},
        "release": {"version": "1.0.0", "tag": "v1.0.0"},
        "steps": [],
    }
    text = render_document("runbook.md.j2", context, folder=tmp_path)
    assert text.startswith("# Our way")
    assert "Release tag: `v1.0.0`" in text
    assert render_document("runbook.md.j2", context).startswith("# Runbook: Svc")


def test_an_undefined_name_reports_template_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "bad.md.j2", "line one\n{% if true %}\n{{ no_such_name }}\n{% endif %}\n")
    with pytest.raises(TemplateFailed) as caught:
        render_document("bad.md.j2", {}, folder=tmp_path)
    assert caught.value.line == 3
    assert str(caught.value).endswith("bad.md.j2:3: 'no_such_name' is undefined")
    assert caught.value.exit_code == 2


def test_an_error_in_an_overridden_block_points_at_the_child(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "child.md.j2",
        '{% extends "runbook.md.j2" %}\n{% block title %}\n{{ release.nope }}\n{% endblock %}\n',
    )
    context = {"checklist": {}, "release": {}, "steps": []}
    with pytest.raises(TemplateFailed) as caught:
        render_document("child.md.j2", context, folder=tmp_path)
    assert "child.md.j2:3: " in str(caught.value)
    assert "has no attribute 'nope'" in str(caught.value)


def test_a_syntax_error_reports_template_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "broken.md.j2", "ok\n\n{% for x in %}\n")
    with pytest.raises(TemplateFailed) as caught:
        render_document("broken.md.j2", {}, folder=tmp_path)
    assert caught.value.line == 3
    assert "broken.md.j2:3: " in str(caught.value)


def test_the_sandbox_refuses_to_reach_python_internals(tmp_path: Path) -> None:
    _write(tmp_path, "evil.md.j2", "{{ ''.__class__.__mro__ }}")
    with pytest.raises(TemplateFailed) as caught:
        render_document("evil.md.j2", {}, folder=tmp_path)
    assert "evil.md.j2:1: " in str(caught.value)


def test_a_missing_parent_template_is_reported_where_it_is_named(tmp_path: Path) -> None:
    _write(tmp_path, "orphan.md.j2", '\n{% extends "nowhere.md.j2" %}\n')
    with pytest.raises(TemplateFailed) as caught:
        render_document("orphan.md.j2", {}, folder=tmp_path)
    assert "orphan.md.j2:2: " in str(caught.value)
    assert "nowhere.md.j2" in str(caught.value)


def test_runbook_as_html(repo: Repo, relcheck: Invoke) -> None:
    repo.checklist(
        "version: 1\nname: Svc <beta>\nsteps:\n"
        "  - id: unit\n    title: Unit <tests>\n    run: pytest -q && echo '<ok>'\n"
        "    rollback: none\n"
        "  - id: cfg\n    manual: Copy the config.\n    owner: Grace\n"
        "    rollback: git checkout HEAD~1 -- cfg\n"
    )
    page = relcheck("runbook", "--format", "html", "--release", "1.0.0").output
    assert page.startswith("<!DOCTYPE html>")
    assert "<h1>Runbook: Svc &lt;beta&gt;</h1>" in page
    assert "<h2>1. Unit &lt;tests&gt; (<code>unit</code>)</h2>" in page
    assert "<pre><code>pytest -q &amp;&amp; echo &#39;&lt;ok&gt;&#39;</code></pre>" in page
    assert "<dt>Rollback</dt><dd><code>git checkout HEAD~1 -- cfg</code></dd>" in page
    text = relcheck("runbook", "--release", "1.0.0").output
    assert text.startswith("# Runbook: Svc &lt;beta&gt;\n")
    assert "  ```sh\n  pytest -q && echo '<ok>'\n  ```" in text
    assert "- **Rollback:** nothing to undo" in text


def test_a_template_that_extends_itself_gets_a_hint(tmp_path: Path) -> None:
    _write(tmp_path, "runbook.md.j2", '{% extends "runbook.md.j2" %}')
    with pytest.raises(TemplateFailed) as caught:
        render_document("runbook.md.j2", {}, folder=tmp_path)
    assert 'reaches the built-in as "builtin/NAME"' in str(caught.value)


_CONTEXT = {
    "version": "1.2.0",
    "tag": "v1.2.0",
    "env": {"HOME": "/home/ada", "EMPTY": ""},
    "git": {"branch": "main", "commit": None},
    "vars": {"url": "https://example.com", "items": "x"},
}


@pytest.mark.parametrize(
    "text",
    [
        "v{{ version }}",
        "v{{version}}-{{ tag }}",
        "curl {{ vars.url }}/health?v={{ version }}\n",
        "{{ env.HOME }}{{ env.EMPTY }}",
        "{{ git.commit }}",  # None is Jinja2's to print
        "{{ vars.items }}",  # an attribute of the dict wins over the key in Jinja2
        "{{ version }}}",
        "{{ version | upper }}",
        "{% if true %}{{ version }}{% endif %}",
        "{{ true }} {{ none }}",
        "a\r\n{{ version }}",
        "{{  version  }}",
    ],
)
def test_checklist_strings_render_as_jinja2_renders_them(text: str) -> None:
    from relcheck.render import environment, render_string

    assert render_string(text, _CONTEXT) == environment().from_string(text).render(_CONTEXT)


def test_an_undefined_name_in_a_checklist_string_is_an_error() -> None:
    from relcheck.render import TemplateProblem, render_string

    for text in ("{{ nope }}", "{{ env.NOPE }}", "{{ git.branch.x }}", "{{{ version }}"):
        with pytest.raises(TemplateProblem, match=r"undefined|has no attribute|expected token"):
            render_string(text, _CONTEXT)
