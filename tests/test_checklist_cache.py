"""Checked checklists kept in the user cache folder: same result, no YAML read, edits seen."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Invoke

from relcheck.checklist import load_checklist
from relcheck.checklist.cache import MAX_ENTRIES
from relcheck.errors import ConfigError
from relcheck.model import Checklist

# Steps of four kinds, every step field set, vars, secrets, notes groups, needs, two warnings.
RICH = """\
version: 1
name: rich
description: Every part a checklist can have.
vars:
  base_url: http://127.0.0.1:8765
  ratio: 1.10
  unused: 3
secrets: [API_TOKEN]
defaults: {owner: Release Captain, timeout: 120, shell: /bin/bash}
tag: "release-{{ version }}"
notes:
  groups:
    - {title: Features, types: [feat]}
    - {title: Fixes, types: [fix, perf]}
  template: note.md.j2
  merges: true
  bots: [dependabot]
metrics: {p95_ms: lower}
steps:
  - id: build
    title: Build it
    description: Builds the wheel.
    run: make {{ vars.base_url }} {{ vars.ratio }}
    owner: Dev
    expected: a wheel in dist/
    rollback: none
    expect: {exit_code: 0, output_contains: built}
    timeout: 30.5
    env: {MODE: release, LEVEL: 2}
    required: false
    when: "{{ env.get('BUILD') == 'yes' }}"
    cwd: sub
    retries: 2
    retry_delay: 0.5
  - id: repo-ready
    git: {clean: true, branch: main}
    needs: [build]
  - id: health
    http: {url: "{{ vars.base_url }}/health", samples: 3, timeout: 5}
    expect: {status: 200, json: {ok: true, ratio: 0.25, items: [1, "two", null]}}
    needs: [build, repo-ready]
  - id: sign-off
    manual: |
      Ask the owner of {{ vars.base_url }} to approve.
"""

# Reports which of the modules only a full read needs were imported by one load.
_LOAD_IN_A_NEW_PROCESS = """\
import json, sys
from pathlib import Path
from relcheck.checklist import load_checklist
checklist = load_checklist("relcheck.yaml", cwd=Path.cwd())
heavy = ("hashlib", "yaml", "relcheck.checklist.yamltree", "relcheck.checklist.validate")
print(json.dumps({"repr": repr(checklist), "imported": [m for m in heavy if m in sys.modules]}))
"""


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder checklists are kept in, under a fresh XDG_CACHE_HOME."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "relcheck" / "checklists"


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "relcheck.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _load(folder: Path) -> Checklist:
    return load_checklist("relcheck.yaml", cwd=folder)


def _uncached(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Checklist:
    """A full read: the cache folder cannot be made (XDG_CACHE_HOME is a file)."""
    blocker = folder.parent / "not-a-folder"
    blocker.write_text("")
    with monkeypatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(blocker))
        return _load(folder)


def _entries(kept: Path) -> list[Path]:
    return sorted(kept.glob("*.json")) if kept.is_dir() else []


def test_a_kept_checklist_is_the_checklist_a_full_read_gives(
    tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    _write(folder, RICH)
    first, second = _load(folder), _load(folder)
    fresh = _uncached(folder, monkeypatch)
    assert len(_entries(kept)) == 1
    assert first == second == fresh and repr(second) == repr(fresh)
    assert [w.severity for w in second.warnings] == ["warning", "warning"]


def test_validate_prints_the_same_warnings_from_the_cache(
    tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch, relcheck: Invoke
) -> None:
    _write(tmp_path, RICH)
    monkeypatch.chdir(tmp_path)
    first, second = relcheck("validate").output, relcheck("validate").output
    assert _entries(kept) and first == second
    assert "relcheck.yaml:7:3: warning: vars.unused: no template uses this variable" in first
    assert first.endswith("valid, 4 steps, 2 warnings\n")


def _load_in_a_new_process(folder: Path, cache: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_A_NEW_PROCESS],
        cwd=folder,
        env={**os.environ, "XDG_CACHE_HOME": str(cache)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: dict[str, object] = json.loads(done.stdout)
    return loaded


def test_a_kept_checklist_loads_without_yaml(
    tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    _write(folder, RICH)
    missed = _load_in_a_new_process(folder, tmp_path / "cache")
    hit = _load_in_a_new_process(folder, tmp_path / "cache")
    heavy = ["hashlib", "yaml", "relcheck.checklist.yamltree", "relcheck.checklist.validate"]
    assert missed["imported"] == heavy
    assert hit["imported"] == []
    assert hit["repr"] == missed["repr"] == repr(_uncached(folder, monkeypatch))


def test_a_checklist_of_600_kb_is_kept(tmp_path: Path, kept: Path) -> None:
    """A kept checklist holds the file's text too: a large file still fits."""
    folder = tmp_path / "project"
    long = "description: " + "A long description. " * 30_000  # 600 KB
    _write(folder, RICH.replace("description: Every part a checklist can have.", long, 1))
    missed = _load_in_a_new_process(folder, tmp_path / "cache")
    hit = _load_in_a_new_process(folder, tmp_path / "cache")
    assert "yaml" in missed["imported"] and hit["imported"] == []
    assert hit["repr"] == missed["repr"]


def test_an_edited_checklist_is_read_anew_even_with_the_same_size_and_time(
    tmp_path: Path, kept: Path
) -> None:
    path = _write(tmp_path, RICH)
    assert _load(tmp_path).steps[0].spec.startswith("make ")
    stat = path.stat()
    path.write_text(RICH.replace("run: make", "run: tidy"), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    edited = _load(tmp_path)
    assert edited.steps[0].spec.startswith("tidy ")
    assert edited.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(_entries(kept)) == 1  # one file per checklist, replaced
    path.write_text(RICH.replace("timeout: 30.5", "timeout: soon"), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"relcheck.yaml:28:5: steps\[0\].timeout: expected a number"
    ):
        _load(tmp_path)


def test_a_checklist_with_errors_is_never_kept(
    tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch, relcheck: Invoke
) -> None:
    _write(tmp_path, RICH.replace("needs: [build]", "needs: [biuld]"))
    monkeypatch.chdir(tmp_path)
    first = relcheck("validate", code=2).output
    second = relcheck("validate", code=2).output
    assert first == second and "relcheck.yaml:37:13: steps[1].needs[0]: no step above" in first
    assert _entries(kept) == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: text[: len(text) // 2], id="truncated"),
        pytest.param(lambda text: "", id="empty"),
        pytest.param(lambda text: "\x00garbage{", id="corrupt"),
        pytest.param(lambda text: json.dumps([text]), id="foreign"),
        pytest.param(
            lambda text: json.dumps(
                {
                    **json.loads(text),
                    "checklist": json.loads(text)["checklist"].replace("make", "rm"),
                }
            ),
            id="hand-edited",
        ),
    ],
)
def test_a_damaged_kept_file_only_means_a_full_read(
    tmp_path: Path, kept: Path, monkeypatch: pytest.MonkeyPatch, damage: Callable[[str], str]
) -> None:
    folder = tmp_path / "project"
    _write(folder, RICH)
    _load(folder)
    (entry,) = _entries(kept)
    whole = entry.read_text()
    entry.write_text(damage(whole))
    assert _load(folder) == _uncached(folder, monkeypatch)
    assert entry.read_text() == whole  # kept anew


def _forge(entry: Path, old: str, new: str) -> None:
    """What someone able to write the folder could plant: a changed checklist, checksum to
    match."""
    stored = json.loads(entry.read_text())
    body = stored["checklist"].replace(old, new)
    checksum = zlib.crc32(f"{stored['file']}\0{body}".encode())
    entry.write_text(json.dumps({**stored, "checklist": body, "checksum": checksum}))


def test_a_cache_folder_others_can_write_to_is_never_read(tmp_path: Path, kept: Path) -> None:
    """What the cache holds is trusted (its commands are run), so a shared folder is ignored."""
    _write(tmp_path, RICH)
    _load(tmp_path)
    (entry,) = _entries(kept)
    _forge(entry, "make", "planted")
    assert _load(tmp_path).steps[0].spec.startswith("planted ")  # a private folder is trusted
    _forge(entry, "planted", "planted-again")
    kept.chmod(0o777)
    assert _load(tmp_path).steps[0].spec.startswith("make ")
    assert "planted-again" in entry.read_text()  # ignored, not rewritten
    kept.chmod(0o700)
    kept.parent.chmod(0o775)
    assert _load(tmp_path).steps[0].spec.startswith("make ")


def _kept_paths(kept: Path) -> set[str]:
    return {json.loads(entry.read_text())["key"]["path"] for entry in _entries(kept)}


def test_the_cache_keeps_only_the_most_recently_used_checklists(tmp_path: Path, kept: Path) -> None:
    folders = [tmp_path / f"p{number}" for number in range(MAX_ENTRIES + 6)]
    for folder in folders[:11]:
        _write(folder, RICH)
        _load(folder)
    now = time.time()
    for entry in _entries(kept):  # kept a while ago, the first longest ago
        first = json.loads(entry.read_text())["key"]["path"] == str(folders[0] / "relcheck.yaml")
        os.utime(entry, (now - 120, now - 120) if first else (now - 60, now - 60))
    _load(folders[0])  # used again: now the most recent of the eleven
    for folder in folders[11:]:
        _write(folder, RICH)
        _load(folder)
    paths = _kept_paths(kept)
    assert len(paths) == MAX_ENTRIES
    assert str(folders[0] / "relcheck.yaml") in paths
    assert str(folders[-1] / "relcheck.yaml") in paths
    removed = [f for f in folders if str(f / "relcheck.yaml") not in paths]
    assert len(removed) == 6 and set(removed) <= set(folders[1:11])
