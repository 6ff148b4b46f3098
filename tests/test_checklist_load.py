"""Loading checklists: the model built from a good file, and every problem a user can see."""

from __future__ import annotations

import hashlib
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relcheck import resources
from relcheck.checklist import load_checklist, load_checklist_file, resolve_checklist_path
from relcheck.errors import ConfigError, UsageError
from relcheck.model import Defaults, Mark

MINIMAL = """\
version: 1
steps:
  - id: build
    run: make
    rollback: none
"""

FULL = """\
version: 1
name: demo
description: A demo release.
vars:
  base_url: http://localhost
  retries: 3
  verbose: true
  ratio: 1.10
secrets: [API_TOKEN]
defaults:
  owner: Release Captain
  timeout: 120
  shell: /bin/bash
tag: "release-{{ version }}"
steps:
  - id: build
    title: Build it
    description: Builds the wheel.
    run: make {{ vars.base_url }} {{ vars.retries }} {{ vars.verbose }} {{ vars.ratio }}
    owner: Dev
    expected: a wheel in dist/
    rollback: none
    expect:
      exit_code: 0
      output_contains: built
      output_matches: "wheel .*"
    timeout: 30.5
    env:
      MODE: release
      LEVEL: 2
    required: false
    when: "{{ env.get('BUILD') == 'yes' }}"
    cwd: sub/dir
  - id: sign-off
    manual: |
      Ask the owner of {{ vars.base_url }} to approve.
"""


def _write(folder: Path, text: str | bytes, name: str = "relcheck.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _problems(folder: Path, text: str | bytes) -> list[str]:
    """Every line the user sees for ``text`` saved as relcheck.yaml, warnings included."""
    _write(folder, text)
    with pytest.raises(ConfigError) as caught:
        load_checklist("relcheck.yaml", cwd=folder)
    return [str(problem) for problem in caught.value.problems]


def _errors(folder: Path, text: str | bytes) -> list[str]:
    return [line for line in _problems(folder, text) if ": warning: " not in line]


def _git_init(folder: Path) -> None:
    subprocess.run(["git", "init", "-q", str(folder)], check=True, timeout=30)


# -- a good checklist ------------------------------------------------------------------


def test_full_checklist_loads_every_field(tmp_path: Path) -> None:
    path = _write(tmp_path, FULL)
    checklist = load_checklist("relcheck.yaml", cwd=tmp_path)

    assert checklist.source == "relcheck.yaml"
    assert checklist.path == path
    assert checklist.base_dir == tmp_path
    assert checklist.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (checklist.version, checklist.name) == (1, "demo")
    assert checklist.description == "A demo release."
    # Numbers keep their spelling; true/false become lowercase text.
    assert checklist.vars == {
        "base_url": "http://localhost",
        "retries": "3",
        "verbose": "true",
        "ratio": "1.10",
    }
    assert checklist.secrets == ("API_TOKEN",)
    assert checklist.defaults == Defaults(owner="Release Captain", timeout=120.0, shell="/bin/bash")
    assert checklist.tag == "release-{{ version }}"
    assert [(w.path, w.line) for w in checklist.warnings] == [("steps[1].rollback", 34)]

    build = checklist.step("build")
    assert (build.kind, build.title, build.owner) == ("run", "Build it", "Dev")
    assert build.spec.startswith("make {{ vars.base_url }}")
    assert build.description == "Builds the wheel."
    assert build.expected == "a wheel in dist/"
    assert build.rollback == "none"
    assert build.expect == {
        "exit_code": 0,
        "output_contains": "built",
        "output_matches": "wheel .*",
    }
    assert build.timeout == 30.5
    assert build.env == {"MODE": "release", "LEVEL": "2"}
    assert build.required is False
    assert build.when == "{{ env.get('BUILD') == 'yes' }}"
    assert build.cwd == "sub/dir"
    assert build.mark == Mark("relcheck.yaml", 16, 5)


def test_optional_fields_take_their_defaults(tmp_path: Path) -> None:
    checklist = load_checklist_file(
        _write(tmp_path, FULL), source="relcheck.yaml", base_dir=tmp_path
    )
    sign_off = checklist.steps[1]
    assert sign_off.kind == "manual"
    assert sign_off.spec == "Ask the owner of {{ vars.base_url }} to approve.\n"
    assert sign_off.title == "sign-off"
    assert sign_off.expected is None
    assert sign_off.required is True
    assert (sign_off.timeout, sign_off.when, sign_off.cwd, sign_off.owner) == (None,) * 4
    assert (sign_off.env, sign_off.expect) == ({}, {})
    assert sign_off.mark == Mark("relcheck.yaml", 34, 5)

    minimal = load_checklist_file(
        _write(tmp_path, MINIMAL), source="relcheck.yaml", base_dir=tmp_path
    )
    assert minimal.defaults == Defaults()
    assert minimal.tag == "v{{ version }}"
    assert (minimal.name, minimal.vars, minimal.secrets) == (None, {}, ())


def test_yaml_booleans_and_when_true_are_accepted(tmp_path: Path) -> None:
    _write(tmp_path, MINIMAL + "    required: no\n    when: true\n")
    step = load_checklist("relcheck.yaml", cwd=tmp_path).steps[0]
    assert (step.required, step.when) == (False, True)


def test_merge_keys_share_step_fields(tmp_path: Path) -> None:
    _write(
        tmp_path,
        """\
        version: 1
        steps:
          - &common
            id: lint
            run: ruff check .
            rollback: none
            owner: Dev
          - <<: *common
            id: types
            run: mypy .
        """,
    )
    types = load_checklist("relcheck.yaml", cwd=tmp_path).step("types")
    assert (types.spec, types.owner, types.rollback) == ("mypy .", "Dev", "none")


# -- warnings --------------------------------------------------------------------------


def test_warnings_for_missing_rollback_unused_var_and_dead_step(tmp_path: Path) -> None:
    _write(
        tmp_path,
        """\
        version: 1
        vars:
          unused: x
        steps:
          - id: build
            run: make
          - id: never
            manual: do it
            rollback: none
            when: false
        """,
    )
    checklist = load_checklist("relcheck.yaml", cwd=tmp_path)
    assert [str(w) for w in checklist.warnings] == [
        "relcheck.yaml:3:3: warning: vars.unused: no template uses this variable; "
        "remove it, or use it as '{{ vars.unused }}'",
        "relcheck.yaml:5:5: warning: steps[0].rollback: no rollback given; add the command "
        "or instructions that undo this step, or 'rollback: none' when there is nothing to undo",
        "relcheck.yaml:10:5: warning: steps[1].when: 'when: false' means this step never runs; "
        "remove the step, or give a condition",
    ]
    assert all(w.severity == "warning" for w in checklist.warnings)


# -- YAML-level problems ---------------------------------------------------------------


def test_yaml_syntax_error_points_at_the_line(tmp_path: Path) -> None:
    text = "version: 1\nsteps:\n  - id: a\n   run: x\n"
    assert _problems(tmp_path, text) == [
        "relcheck.yaml:4:4: (root): YAML syntax error: expected <block end>, but found "
        "'<block mapping start>' (while parsing a block collection that starts at line 3); "
        "expected valid YAML here (check indentation, quotes and the ':' after each key)"
    ]


def test_unclosed_quote_names_where_it_started(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, 'version: 1\nsteps:\n  - id: a\n    run: "x\n')
    assert line.startswith("relcheck.yaml:5:1: (root): YAML syntax error: found unexpected end")
    assert "(while scanning a quoted scalar that starts at line 4)" in line


def test_tab_indentation_is_a_syntax_error_with_a_hint(tmp_path: Path) -> None:
    assert _problems(tmp_path, "version: 1\nsteps:\n\t- id: a\n") == [
        "relcheck.yaml:3:1: (root): YAML syntax error: found character '\\t' that cannot "
        "start any token (while scanning for the next token); "
        "indent with spaces: YAML does not allow tabs here"
    ]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    assert _problems(tmp_path, text) == [
        "relcheck.yaml:1:1: (root): the file holds no YAML value (it is empty or only "
        "comments); expected a mapping with 'version: 1' and 'steps'"
    ]


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("just text\n", "'just text'")]
)
def test_file_that_is_not_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    assert _problems(tmp_path, text) == [
        f"relcheck.yaml:1:1: (root): expected a mapping with 'version: 1' and 'steps', got {got}"
    ]


def test_duplicate_keys_at_every_level_name_the_first(tmp_path: Path) -> None:
    text = """\
    version: 1
    steps:
      - id: a
        run: x
        rollback: none
        env:
          A: "1"
          A: "2"
        run: y
    version: 1
    """
    assert _problems(tmp_path, text) == [
        "relcheck.yaml:8:7: steps[0].env.A: duplicate key 'A' (first at line 7); "
        "keep only one: YAML would silently use the last",
        "relcheck.yaml:9:5: steps[0].run: duplicate key 'run' (first at line 4); "
        "keep only one: YAML would silently use the last",
        "relcheck.yaml:10:1: version: duplicate key 'version' (first at line 1); "
        "keep only one: YAML would silently use the last",
    ]


def test_python_tags_are_refused(tmp_path: Path) -> None:
    text = MINIMAL + 'name: !!python/object/apply:os.system ["touch pwned"]\n'
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:6:1: name: expected a name, got a list",
        "relcheck.yaml:6:7: name: the YAML tag '!!python/object/apply:os.system' is not "
        "allowed; expected plain values (text, numbers, true/false, lists, mappings)",
    ]
    assert not (tmp_path / "pwned").exists()


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    assert _problems(tmp_path, "\n".join(lines) + "\n") == [
        "relcheck.yaml:1:1: (root): the document expands to more than 100000 values "
        "(aliases '*' repeating anchors?); refusing to read it, write the values out instead"
    ]


def test_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, "&a [*a]\n")
    assert line.startswith("relcheck.yaml:1:1: (root): values are nested more than 64 levels")


def test_deep_nesting_is_refused_before_recursing(tmp_path: Path) -> None:
    assert _problems(tmp_path, "[" * 200_000 + "\n") == [
        "relcheck.yaml:1:65: (root): values are nested more than 64 levels deep; "
        "a checklist needs only a few levels"
    ]


def test_file_over_one_mib_is_refused_before_parsing(tmp_path: Path) -> None:
    # Not YAML at all: a parser would report a syntax error instead.
    assert _problems(tmp_path, b"[" + b"x" * (1024 * 1024)) == [
        "relcheck.yaml:1:1: (root): the file is larger than 1 MiB; expected a checklist "
        "well under that size (is this the right file?)"
    ]


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    assert _problems(tmp_path, b"version: 1\nname: caf\xe9\n") == [
        "relcheck.yaml:2:10: (root): the file is not UTF-8 text (byte 0xe9); "
        "expected UTF-8: save it so"
    ]


def test_control_character_is_reported_where_it_is(tmp_path: Path) -> None:
    assert _problems(tmp_path, "version: 1\nname: a\x00b\n") == [
        "relcheck.yaml:2:8: (root): the file holds the control character #x0000, which YAML "
        "does not allow; expected printable text"
    ]


def test_missing_file_and_folder_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^nope.yaml: no such checklist file \(looked in "):
        load_checklist("nope.yaml", cwd=tmp_path)
    (tmp_path / "sub").mkdir()
    with pytest.raises(UsageError, match=r"^sub is a folder; expected a checklist file such as"):
        load_checklist("sub", cwd=tmp_path)
    with pytest.raises(UsageError, match=r"^gone.yaml: no such checklist file; check the path"):
        load_checklist_file(tmp_path / "gone.yaml", source="gone.yaml", base_dir=tmp_path)
    with pytest.raises(UsageError, match=r"^sub is a folder"):
        load_checklist_file(tmp_path / "sub", source="sub", base_dir=tmp_path)


# -- schema problems -------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["command", "cmd", "script", "comand", "Command"])
def test_unknown_kind_like_key_suggests_run(tmp_path: Path, alias: str) -> None:
    text = f"version: 1\nsteps:\n  - id: a\n    {alias}: make\n    rollback: none\n"
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:3:5: steps[0]: the step has no kind; expected exactly one of: "
        "run, manual, http, config, git, tag, ci",
        f"relcheck.yaml:4:5: steps[0].{alias}: unknown key; did you mean 'run'?",
    ]


@pytest.mark.parametrize(
    ("key", "meant"), [("owners", "owner"), ("rollback_command", "rollback"), ("timout", "timeout")]
)
def test_unknown_key_did_you_mean(tmp_path: Path, key: str, meant: str) -> None:
    assert _errors(tmp_path, MINIMAL + f"    {key}: x\n") == [
        f"relcheck.yaml:6:5: steps[0].{key}: unknown key; did you mean '{meant}'?"
    ]


def test_depends_on_suggests_needs(tmp_path: Path) -> None:
    assert _errors(tmp_path, MINIMAL + "    depends_on: [a]\n") == [
        "relcheck.yaml:6:5: steps[0].depends_on: unknown key; did you mean 'needs'?"
    ]


def test_unknown_key_without_a_match_lists_the_keys(tmp_path: Path) -> None:
    assert _errors(tmp_path, MINIMAL + "    zzz: [a]\n") == [
        "relcheck.yaml:6:5: steps[0].zzz: unknown key; expected one of: ci, config, cwd, "
        "description, env, expect, expected, git, http, id, manual, needs, owner, required, "
        "retries, retry_delay, rollback, run, tag, timeout, title, when"
    ]


def test_unknown_keys_at_root_and_in_defaults(tmp_path: Path) -> None:
    text = MINIMAL + "nme: x\ndefaults:\n  timout: 5\n"
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:6:1: nme: unknown key; did you mean 'name'?",
        "relcheck.yaml:8:3: defaults.timout: unknown key; did you mean 'timeout'?",
    ]


def test_step_with_two_kinds(tmp_path: Path) -> None:
    assert _errors(tmp_path, MINIMAL + "    manual: ask\n") == [
        "relcheck.yaml:6:5: steps[0].manual: a second step kind ('run' is at line 4); "
        "expected exactly one kind per step: split it into two steps"
    ]


def test_wrong_types(tmp_path: Path) -> None:
    text = MINIMAL + '    timeout: ten\n    required: "yes"\n    owner: yes\n    title: 12\n'
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:6:5: steps[0].timeout: expected a number of seconds, got 'ten'",
        "relcheck.yaml:7:5: steps[0].required: expected true or false, got 'yes'",
        "relcheck.yaml:8:5: steps[0].owner: expected a name, got yes "
        "(YAML reads it as true; quote it to mean text)",
        "relcheck.yaml:9:5: steps[0].title: expected a title, got 12",
    ]


def test_numbers_out_of_range_and_empty_values(tmp_path: Path) -> None:
    text = MINIMAL + "    timeout: 0\n    cwd: /abs\n    when: .inf\n    expected:\n"
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:6:5: steps[0].timeout: expected a number of seconds greater than 0, got 0",
        "relcheck.yaml:7:5: steps[0].cwd: expected a folder relative to the checklist's "
        "folder, got '/abs'",
        "relcheck.yaml:8:5: steps[0].when: expected true, false or a Jinja2 expression, got .inf",
        "relcheck.yaml:9:5: steps[0].expected: expected text, got nothing",
    ]


@pytest.mark.parametrize("bad_id", ["Build Docs", "-lead", "a.b", "ünï", "'a\\n'"])
def test_invalid_step_id(tmp_path: Path, bad_id: str) -> None:
    text = f"version: 1\nsteps:\n  - id: {bad_id}\n    run: x\n    rollback: none\n"
    (line,) = _errors(tmp_path, text)
    assert line.startswith(
        "relcheck.yaml:3:5: steps[0].id: expected a step id of lowercase letters, digits, "
        "'-' and '_' (like 'unit-tests'), got "
    )


def test_duplicate_step_ids_name_both_lines(tmp_path: Path) -> None:
    text = MINIMAL + "  - id: test\n    run: t\n    rollback: none\n  - id: build\n    manual: x\n"
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:9:5: steps[2].id: duplicate step id 'build', already used by steps[0] "
        "at line 3; expected each step id once"
    ]


def test_missing_id_and_steps_that_are_not_mappings(tmp_path: Path) -> None:
    text = "version: 1\nsteps:\n  - build\n  - run: x\n    rollback: none\n"
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:3:5: steps[0]: expected a step (a mapping with an id and a kind), "
        "got 'build'",
        "relcheck.yaml:4:5: steps[1].id: missing; expected a step id of lowercase letters, "
        "digits, '-' and '_' (like 'unit-tests')",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("steps: []\n", "version: missing; expected 1 (the checklist format version)"),
        ("version: 2\n", "version: expected 1 (the checklist format version), got 2"),
        ('version: "1"\n', "version: expected 1 (the checklist format version), got '1'"),
        ("version: 1.0\n", "version: expected 1 (the checklist format version), got 1.0"),
        ("version: true\n", "version: expected 1 (the checklist format version), got true"),
    ],
)
def test_version_missing_or_not_1(tmp_path: Path, text: str, problem: str) -> None:
    lines = _errors(tmp_path, text)
    assert f"relcheck.yaml:1:1: {problem}" in lines


def test_steps_missing_or_empty(tmp_path: Path) -> None:
    assert _errors(tmp_path, "version: 1\n") == [
        "relcheck.yaml:1:1: steps: missing; expected a list of steps"
    ]
    assert _errors(tmp_path, "version: 1\nsteps: []\n") == [
        "relcheck.yaml:2:1: steps: expected a list of steps with at least 1 item, got an empty list"
    ]


def test_expect_keys_depend_on_the_kind(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + '    expect:\n      exit_code: "0"\n      bogus: 1\n      output_matches: "(["\n'
        + "  - id: ask\n    manual: x\n    rollback: none\n    expect: {}\n"
    )
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:7:7: steps[0].expect.exit_code: expected a whole number, got '0'",
        "relcheck.yaml:8:7: steps[0].expect.bogus: unknown key; expected one of: "
        "exit_code, output_contains, output_matches",
        "relcheck.yaml:9:7: steps[0].expect.output_matches: not a valid regular expression "
        "(unterminated character set at position 1); expected a Python regular expression",
        "relcheck.yaml:13:5: steps[1].expect: not allowed here; a manual step takes no "
        "'expect'; describe the outcome in 'expected'",
    ]


def test_vars_env_and_secrets_names(tmp_path: Path) -> None:
    text = MINIMAL + "    env:\n      my-var: x\n      OK: [1]\nsecrets: [API-KEY]\n"
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:7:7: steps[0].env.my-var: expected an environment variable name "
        "(letters, digits, '_'), got 'my-var'",
        "relcheck.yaml:8:7: steps[0].env.OK: expected text (a number or true/false is turned "
        "into text), got a list",
        "relcheck.yaml:9:11: secrets[0]: expected an environment variable name "
        "(letters, digits, '_'), got 'API-KEY'",
    ]


# -- templates -------------------------------------------------------------------------

_BROKEN = "unexpected end of template, expected 'end of print statement'"
_TEMPLATE_HINT = "expected a template whose '{{ }}' and '{% %}' tags are complete"


def test_templates_that_do_not_parse_everywhere(tmp_path: Path) -> None:
    text = """\
    version: 1
    tag: "v{{ version"
    vars:
      a: "{{ x"
    steps:
      - id: build
        run: "make {{ x"
        expected: "{{ x"
        rollback: "{{ x"
        env:
          A: "{{ x"
        when: "version =="
    """
    problem = f"Jinja2 template does not parse: {_BROKEN}; {_TEMPLATE_HINT}"
    assert _errors(tmp_path, text) == [
        f"relcheck.yaml:2:1: tag: {problem}",
        f"relcheck.yaml:4:3: vars.a: {problem}",
        f"relcheck.yaml:7:5: steps[0].run: {problem}",
        f"relcheck.yaml:8:5: steps[0].expected: {problem}",
        f"relcheck.yaml:9:5: steps[0].rollback: {problem}",
        f"relcheck.yaml:11:7: steps[0].env.A: {problem}",
        "relcheck.yaml:12:5: steps[0].when: Jinja2 expression does not parse: unexpected "
        "'end of template'; expected true, false or an expression like "
        "\"env.get('DEPLOY') == 'yes'\"",
    ]


def test_template_problem_in_a_block_points_at_its_line(tmp_path: Path) -> None:
    text = """\
    version: 1
    steps:
      - id: ask
        rollback: none
        manual: |
          First line is fine: {{ version }}.

          Third line breaks: {% if %}
    """
    assert _errors(tmp_path, text) == [
        "relcheck.yaml:8:7: steps[0].manual: Jinja2 template does not parse: Expected an "
        f"expression, got 'end of statement block'; {_TEMPLATE_HINT}"
    ]


def test_when_accepts_an_expression_with_or_without_braces(tmp_path: Path) -> None:
    _write(tmp_path, MINIMAL + "    when: \"{{ env.get('X') }}\"\n")
    assert load_checklist("relcheck.yaml", cwd=tmp_path).steps[0].when == "{{ env.get('X') }}"
    assert _errors(tmp_path, MINIMAL + '    when: "{{ env.get( }}"\n')[0].startswith(
        "relcheck.yaml:6:5: steps[0].when: Jinja2 expression does not parse: "
    )


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = "version: 2\nsteps:\n  - id: A\n    run: 1\n    timeout: -1\n"
    _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_checklist("relcheck.yaml", cwd=tmp_path)
    found = [(p.line, p.path, p.severity) for p in caught.value.problems]
    assert found == [
        (1, "version", "error"),
        (3, "steps[0].id", "error"),
        (3, "steps[0].rollback", "warning"),
        (4, "steps[0].run", "error"),
        (5, "steps[0].timeout", "error"),
    ]
    assert caught.value.error_count == 4


# -- finding the file ------------------------------------------------------------------


def test_default_search_in_cwd_prefers_relcheck_yaml(tmp_path: Path) -> None:
    _write(tmp_path, MINIMAL, ".relcheck.yaml")
    assert resolve_checklist_path(None, cwd=tmp_path) == (
        ".relcheck.yaml",
        tmp_path.resolve() / ".relcheck.yaml",
        tmp_path.resolve(),
    )
    _write(tmp_path, MINIMAL)
    assert resolve_checklist_path(None, cwd=tmp_path)[0] == "relcheck.yaml"


def test_default_search_falls_back_to_the_git_root(tmp_path: Path) -> None:
    _git_init(tmp_path)
    _write(tmp_path, MINIMAL)
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    label, path, base_dir = resolve_checklist_path(None, cwd=deep)
    assert (label, path, base_dir) == (
        "../../relcheck.yaml",
        tmp_path.resolve() / "relcheck.yaml",
        tmp_path.resolve(),
    )
    assert load_checklist(None, cwd=deep).steps[0].id == "build"


def test_nothing_found_says_where_it_looked(tmp_path: Path) -> None:
    _git_init(tmp_path)
    deep = tmp_path / "sub"
    deep.mkdir()
    with pytest.raises(UsageError) as caught:
        resolve_checklist_path(None, cwd=deep)
    message = str(caught.value)
    assert message.startswith(
        f"no checklist found: looked for relcheck.yaml and .relcheck.yaml in {deep.resolve()} "
        f"and in the git root {tmp_path.resolve()}; run `relcheck init` to write one"
    )


def test_given_path_is_relative_to_cwd(tmp_path: Path) -> None:
    _write(tmp_path, MINIMAL, "release/list.yaml")
    assert resolve_checklist_path("release/list.yaml", cwd=tmp_path) == (
        "release/list.yaml",
        tmp_path / "release" / "list.yaml",
        tmp_path / "release",
    )


@pytest.fixture()
def builtin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "builtins"
    _write(folder, MINIMAL, "python-service.yaml")
    _write(folder, "version: 1\nsteps: []\n", "broken.yaml")
    monkeypatch.setattr(resources, "checklists_dir", lambda: folder)
    return folder


def test_builtin_runs_in_the_git_root_or_cwd(builtin_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    checklist = load_checklist("builtin:python-service", cwd=outside)
    assert (checklist.source, checklist.base_dir) == ("builtin:python-service", outside)
    assert checklist.path == builtin_dir / "python-service.yaml"

    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    _git_init(repo)
    assert load_checklist("builtin:python-service", cwd=repo / "sub").base_dir == repo.resolve()


def test_builtin_problems_name_the_real_file(builtin_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_checklist("builtin:broken", cwd=tmp_path)
    assert str(caught.value).startswith(f"{builtin_dir / 'broken.yaml'}:2:1: steps: ")


def test_unknown_builtin_lists_the_builtins(builtin_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        load_checklist("builtin:nope", cwd=tmp_path)
    assert str(caught.value) == (
        "unknown built-in checklist 'nope'; built-ins: broken, python-service"
    )


def test_real_builtins_load(tmp_path: Path) -> None:
    names = resources.builtin_checklists()
    if not names:
        pytest.skip("no built-in checklists in this checkout yet")
    for name in names:
        assert load_checklist(f"builtin:{name}", cwd=tmp_path).steps


# -- any input: a ConfigError or a Checklist, never anything else ------------------------

_YAMLISH = st.text(
    alphabet=st.sampled_from(list("ab1:-[]{}&*!|>'\"#\n\t ,?%@`~.\\")) | st.characters(),
    max_size=120,
)
_EDITS = st.tuples(
    st.integers(0, len(FULL)), st.sampled_from(list(":-[{&*!\n #'\"")), st.booleans()
)
_STEP_KEYS = [
    "id", "title", "run", "manual", "owner", "expected", "rollback", "expect", "timeout",
    "env", "required", "when", "cwd", "bogus",
]  # fmt: skip
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(_STEP_KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)
_STEPS = st.lists(st.dictionaries(st.sampled_from(_STEP_KEYS), _VALUES, max_size=6), max_size=3)


# The shared conftest has an autouse, function-scoped fixture; it is harmless here.
_FUZZ_CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _load_any(folder: Path, data: bytes) -> None:
    path = folder / "relcheck.yaml"
    path.write_bytes(data)
    try:
        load_checklist_file(path, source="relcheck.yaml", base_dir=folder)
    except ConfigError as exc:
        assert exc.problems
        assert all(p.line >= 1 and p.col >= 1 and p.path for p in exc.problems)


@settings(max_examples=100, deadline=None, suppress_health_check=_FUZZ_CHECKS)
@given(text=_YAMLISH)
def test_random_text_never_crashes(fuzz_dir: Path, text: str) -> None:
    _load_any(fuzz_dir, text.encode("utf-8", "surrogatepass"))


@settings(max_examples=100, deadline=None, suppress_health_check=_FUZZ_CHECKS)
@given(edits=st.lists(_EDITS, min_size=1, max_size=4))
def test_mutated_checklist_never_crashes(
    fuzz_dir: Path, edits: list[tuple[int, str, bool]]
) -> None:
    text = FULL
    for index, char, replace in edits:
        text = text[:index] + char + text[index + int(replace) :]
    _load_any(fuzz_dir, text.encode())


@settings(max_examples=100, deadline=None, suppress_health_check=_FUZZ_CHECKS)
@given(steps=_STEPS, version=st.sampled_from([1, 2, "1", None]))
def test_random_structures_never_crash(
    fuzz_dir: Path, steps: list[dict[str, object]], version: object
) -> None:
    text = yaml.safe_dump({"version": version, "steps": steps}, allow_unicode=True)
    _load_any(fuzz_dir, text.encode())
