"""JSON structure checks: the subset match of `expect.json` and shape snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relcheck.kinds.shape import (
    SnapshotError,
    compare,
    merge,
    read_snapshot,
    shape_of,
    snapshot_text,
    subset_problems,
    write_snapshot,
)

USER = {
    "ok": True,
    "user": {"id": 7, "name": "Ada", "tags": ["a", "b"], "score": 1.5},
    "items": [{"id": 1, "price": 2.5, "note": None}, {"id": 2, "price": 3}],
    "content-type": "x",
}


# -- subset -----------------------------------------------------------------


@pytest.mark.parametrize(
    "expected",
    [
        {},
        {"ok": True},
        {"user": {"id": 7}},
        {"user": {"tags": ["b"]}},
        {"user": {"tags": ["b", "a"]}},
        {"user": {"tags": []}},
        {"user": {"score": 1.5}, "items": [{"id": 2}]},
        {"items": [{"id": 2}, {"id": 1, "note": None}]},
        {"items": [{"price": 3.0}]},
    ],
)
def test_subsets_that_match(expected: Any) -> None:
    assert subset_problems(expected, USER) == []


@pytest.mark.parametrize(
    ("expected", "problems"),
    [
        ({"ok": False}, ["$.ok: expected false, got true"]),
        ({"ok": 1}, ["$.ok: expected 1, got true"]),
        ({"user": {"id": "7"}}, ['$.user.id: expected "7", got 7']),
        ({"user": {"email": "x"}}, ["$.user.email: missing"]),
        ({"content-type": "y"}, ['$["content-type"]: expected "y", got "x"']),
        ({"user": {"tags": ["c"]}}, ['$.user.tags: no item matches "c"']),
        ({"user": {"tags": ["a", "a"]}}, ['$.user.tags: no item matches "a"']),
        ({"items": {"id": 1}}, ['$.items: expected an object, got [{"id": 1']),
        ({"user": [7]}, ['$.user: expected a list, got {"id": 7']),
        ({"items": [{"id": 3}]}, ['$.items: no item matches {"id": 3}']),
    ],
)
def test_subsets_that_do_not_match_name_the_path(expected: Any, problems: list[str]) -> None:
    found = subset_problems(expected, USER)
    assert [p[: len(q)] for p, q in zip(found, problems, strict=True)] == problems


def test_list_items_each_need_a_different_match_whatever_the_order() -> None:
    # A greedy match would give {"a": 1} the first item and leave nothing for the second.
    actual = [{"a": 1, "b": 2}, {"a": 1}]
    assert subset_problems([{"a": 1}, {"a": 1, "b": 2}], actual) == []
    assert subset_problems([{"a": 1}, {"a": 1}, {"a": 1}], actual) == [
        '$: no item matches {"a": 1}'
    ]


# -- shapes -----------------------------------------------------------------


def test_shape_of_a_document() -> None:
    assert shape_of(USER) == {
        "ok": "boolean",
        "user": {"id": "integer", "name": "string", "tags": ["string"], "score": "number"},
        # items are described by the keys every item has; null merges into the other type
        "items": [{"id": "integer", "price": "number"}],
        "content-type": "string",
    }
    assert shape_of([]) == []
    assert shape_of([1, "a"]) == ["any"]
    assert shape_of([None, "a"]) == ["string"]


def test_merge_rules() -> None:
    assert merge("integer", "number") == "number"
    assert merge("null", {"a": "string"}) == {"a": "string"}
    assert merge([], ["string"]) == ["string"]
    assert merge("string", {"a": "string"}) == "any"


def test_a_response_matches_its_own_shape() -> None:
    found = compare(shape_of(USER), shape_of(USER))
    assert (found.breaking, found.additions) == ([], [])


def test_removed_keys_and_changed_types_are_breaking() -> None:
    now = json.loads(json.dumps(USER))
    now["user"]["id"] = "7"
    del now["user"]["name"]
    now["items"][0]["id"] = "x"
    now["items"][1]["id"] = "y"
    now["ok"] = None
    found = compare(shape_of(USER), shape_of(now))
    assert found.breaking == [
        "$.ok: was boolean, now null",
        "$.user.id: was integer, now string",
        "$.user.name: removed (was string)",
        "$.items[].id: was integer, now string",
    ]
    assert found.additions == []


def test_added_keys_pass_and_are_listed() -> None:
    now = json.loads(json.dumps(USER))
    now["user"]["email"] = "ada@example.invalid"
    now["meta"] = {"page": 1}
    found = compare(shape_of(USER), shape_of(now))
    assert found.breaking == []
    assert found.additions == ["$.user.email (string)", "$.meta (object)"]


def test_an_integer_where_the_snapshot_says_number_passes_but_not_the_reverse() -> None:
    assert compare({"n": "number"}, {"n": "integer"}).breaking == []
    assert compare({"n": "integer"}, {"n": "number"}).breaking == ["$.n: was integer, now number"]


def test_null_and_any_in_a_snapshot_accept_anything() -> None:
    assert compare({"a": "null", "b": "any"}, {"a": "string", "b": {"c": "integer"}}).breaking == []


def test_empty_lists_on_either_side() -> None:
    assert compare({"l": []}, {"l": [{"a": "string"}]}).additions == ["$.l[] (items of object)"]
    assert compare({"l": [{"a": "string"}]}, {"l": []}).breaking == []


# -- snapshot files ---------------------------------------------------------


def test_snapshot_file_is_pretty_sorted_and_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "snapshots" / "health.json"
    write_snapshot(target, shape_of(USER), step_id="health")
    text = target.read_text()
    assert text == snapshot_text(shape_of(USER), step_id="health")
    assert text.endswith("}\n") and '\n  "format": 1,\n' in text
    document = json.loads(text)
    assert list(document) == ["about", "format", "shape"]
    assert list(document["shape"]) == sorted(document["shape"])
    assert read_snapshot(target, shown_as="snapshots/health.json") == shape_of(USER)
    assert [p.name for p in target.parent.iterdir()] == ["health.json"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{", "cannot be read"),
        ('{"shape": "string"}', "not a relcheck snapshot"),
        ('{"format": 1, "shape": {"a": "text"}}', "at $.a (unknown type 'text')"),
        ('{"format": 1, "shape": {"a": ["string", "integer"]}}', "at $.a (a list holds"),
        ('{"format": 1, "shape": {"a": 3}}', "at $.a (expected a type name"),
    ],
)
def test_a_broken_snapshot_says_how_to_fix_it(tmp_path: Path, text: str, words: str) -> None:
    target = tmp_path / "s.json"
    target.write_text(text)
    with pytest.raises(SnapshotError) as caught:
        read_snapshot(target, shown_as="s.json")
    assert words in str(caught.value)
    assert "--update-snapshots" in str(caught.value)
