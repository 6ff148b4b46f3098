"""Reading YAML with libyaml gives what the pure-Python reader gives: same tree, same problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from relcheck.checklist import yamltree
from relcheck.errors import ConfigError
from relcheck.resources import checklists_dir

BLOCK_STYLE = """\
# yaml-language-server: $schema=relcheck.schema.json
version: 1
name: Payments API release
vars:
  health_url: https://staging.example.com/health?full=1#top
defaults:
  owner: release-captain
  timeout: 600
steps:
  - id: unit-tests
    title: "Run unit tests: all of them"
    run: python -m pytest -q
    expect:
      exit_code: 0
      output_matches: '\\d+ passed'
    env:
      PYTHONWARNINGS: error
    needs:
      - lint
    when: "env.get('SKIP_TESTS') != '1'"
  - id: staging
    manual: |
      Copy the settings to staging for {{ version }}.

        Indented: keep it.
    rollback: git checkout HEAD~1 -- deploy/staging.env
  - id: health
    http:
      url: "{{ vars.health_url }}"
      samples: 5
"""

DOCUMENTS = [
    BLOCK_STYLE,
    "version: 1\nsteps:\n  - id: a\n    run: echo {{ version }}\n    rollback: none\n",
    "a:\nb: 1\nc: ~\nd: ''\n",
    "a: 1\na: 2\n",
    "base: &b\n  x: 1\nd:\n  <<: *b\n  y: 2\n",
    "a: |\n  line one\n    line two\n\n  line four\n",
    "a: >-\n  folded\n  text\n",
    "a: !!python/object:os.system x\n",
    "a: !custom x\n",
    "on: yes\noff: no\nn: .inf\no: 0o17\nt: 2001-12-14\n",
    "s: 'it''s'\nd: \"tab\\tq \\u00e9\"\n",
    "a: \u00e9\u4e2d\U0001f600\nb: 1\n",
    "a: x\r\nb: y\r\n",
    "- a\n- - b\n  - c\n-\n",
    "? complex\n: key\n",
    "",
    "# only a comment\n",
    "---\na: 1\n---\nb: 2\n",
    "%YAML 1.1\n---\na: 1\n",
    "a: b: c\n",
    "key: value\n  bad: indent\n",
    "a: 'unterminated\n",
    'a: "bad \\q escape"\n',
    "a: @x\n",
    "x: *undefined\n",
    "a: &a 1\nb: &a 2\nc: *a\n",
    "a: '\x01'\n",
    "\tfoo: 1\n",
    "a: 1\n\tb: 2\n",
    "defaults: {owner: x}\nneeds: [a, b]\n",
    "a: {b: , c: 1}\n",
    "a: {b: c?d}\n",
    "a: [x?]\n",
    "a:\n" + "".join("  " * level + f"k{level}:\n" for level in range(1, 70)),
    "[" * 70 + "]" * 70,
    "a: &x [" + ", ".join(["*x"] * 3) + "]\n",
    "items:\n" + "".join(f"  - {n}\n" for n in range(60)),  # over the limit set below
]


def _read(text: str) -> object:
    try:
        return yamltree.parse_tree(text, file="relcheck.yaml")
    except ConfigError as exc:
        return str(exc)


def _both(monkeypatch: pytest.MonkeyPatch, text: str) -> tuple[object, object]:
    monkeypatch.setattr(yamltree, "MAX_WRITTEN_NODES", 50)
    monkeypatch.setattr(yamltree, "_FAST", True)
    fast = _read(text)
    monkeypatch.setattr(yamltree, "_FAST", False)
    return fast, _read(text)


@pytest.mark.parametrize("text", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_libyaml_and_python_read_alike(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    fast, python = _both(monkeypatch, text)
    assert fast == python


@pytest.mark.parametrize("path", sorted(checklists_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_the_built_in_checklists_read_alike(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    text = path.read_text()
    monkeypatch.setattr(yamltree, "_FAST", True)
    fast = _read(text)
    monkeypatch.setattr(yamltree, "_FAST", False)
    assert fast == _read(text)
