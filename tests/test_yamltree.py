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
    "steps:\n  - {id: a, run: make}\n  - id: b\n    needs: [ a ,a ]\n    env: {}\n    x: []\n",
    "a: {b: 1, c: true, d: ~, e: 0.5, f: v1.2.3-rc.1}\nb: [yes, no, null, 0o17, .inf]\n",
    "a: {b: c, b: d}\nc: [x, y]   # a comment\nd: {e: f}\n",
    "a: [b, c]\nb: {c: d e}\nc: [{d: e}]\nd: [e, f,]\ne: {f:g}\nf: [\n  g]\n",
    "\u00e9\u4e2d: {a: b}\nx: [1, 2]\n",
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


def _shape(node: object) -> object:
    """A node as plain data: kind, tag, position, style and value, all the way down."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    assert isinstance(node, (MappingNode, ScalarNode, SequenceNode))
    head = (type(node).__name__, node.tag, node.start_mark.line, node.start_mark.column)
    if isinstance(node, ScalarNode):
        return (*head, node.style or None, node.value)  # plain: None or ""
    if isinstance(node, SequenceNode):
        return (*head, [_shape(item) for item in node.value])
    return (*head, [(_shape(key), _shape(value)) for key, value in node.value])


@pytest.mark.skipif(not yamltree._FAST, reason="PyYAML was built without libyaml")
def test_mutated_checklists_libyaml_takes_compose_as_python_does() -> None:
    """Whatever libyaml is given to compose, the Python reader composes alike (seeded edits)."""
    import random

    seeds = [path.read_text() for path in sorted(checklists_dir().glob("*.yaml"))]
    seeds += ["run: |#x\n  echo hi\n", "%YAML 1.1#c\n---\na: 1\n", "a: !\n", "? a\n: b\n"]
    pieces = [*":-!&*|>\"'#%@ \n\\{}[],.", "\r", "é", "---", "...", "!!", "\ufeff", "\u2028"]
    rng = random.Random(20261122)
    composed = 0
    for _ in range(1500):
        text = rng.choice(seeds)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(pieces) + text[at + rng.randint(0, 2) :]
        fast = yamltree._compose_fast(text)
        if fast is None:
            continue
        composed += 1
        assert _shape(fast) == _shape(yamltree._compose_checked(text)), text
    assert composed > 30  # enough edits leave YAML that libyaml composes
