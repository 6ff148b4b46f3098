"""Versions: parsing and precedence, tag templates as patterns, the suggested next version."""

from __future__ import annotations

import pytest

from relcheck.errors import UsageError
from relcheck.history import Commit, Person, parse_commit
from relcheck.versions import parse_version, render_tag, suggest_version, tag_pattern

ME = Person("Test Captain", "captain@example.invalid")


def _commit(message: str) -> Commit:
    return parse_commit("0" * 40, ("1" * 40,), ME, "2024-01-01T00:00:00+00:00", message)


# -- parsing and order ----------------------------------------------------------------------


def test_semver_precedence_including_pre_releases() -> None:
    # The example list of SemVer 2.0's section 11, then later versions.
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0-rc.1",
        "2.0.0",
        "10.0.0",
    ]
    keys = [parse_version(text) for text in ordered]
    assert all(key is not None for key in keys)
    shuffled = sorted(reversed(ordered), key=lambda text: parse_version(text).key)  # type: ignore[union-attr]
    assert shuffled == ordered


def test_missing_parts_count_as_zero_and_build_metadata_does_not_count() -> None:
    def key(text: str) -> object:
        version = parse_version(text)
        assert version is not None, text
        return version.key

    assert key("1.2") == key("1.2.0") == key("1.2.0+build.7")
    assert key("2024.05.1") > key("2024.5.0")
    assert key("1.2.3.4") > key("1.2.3")


@pytest.mark.parametrize(
    "text", ["next", "latest", "v1.0.0", "1..2", "", "1.0-", "1.0.0-rc..1", "1.0+"]
)
def test_what_is_not_a_version(text: str) -> None:
    assert parse_version(text) is None


def test_pre_release_parts() -> None:
    version = parse_version("2.0.0-rc.1+linux")
    assert version is not None
    assert (version.core, version.pre, version.build) == ((2, 0, 0), ("rc", "1"), "linux")
    assert version.prerelease
    assert version.final().text == "2.0.0"


# -- tag templates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "tag", "version"),
    [
        ("v{{ version }}", "v1.2.3", "1.2.3"),
        ("v{{ version }}", "v2.0.0-rc.1", "2.0.0-rc.1"),
        ("v{{ version }}", "1.2.3", None),
        ("v{{ version }}", "release-1.2.3", None),
        ("release-{{ version }}", "release-1.2.3", "1.2.3"),
        ("release-{{ version }}", "v1.2.3", None),
        ("{{ version }}", "1.2.3", "1.2.3"),
        ("{{version}}", "1.2.3+build.5", "1.2.3+build.5"),
        ("api/v{{ version }}", "api/v3.1.0", "3.1.0"),
        ("rel+{{ version }}.final", "rel+1.0.final", "1.0"),
        ("rel+{{ version }}.final", "relx1.0.final", None),
        ("{{ version }}-{{ version }}", "1.0-1.0", "1.0"),
        ("{{ version }}-{{ version }}", "1.0-1.1", None),
    ],
)
def test_tag_template_gives_the_version_back(template: str, tag: str, version: str | None) -> None:
    assert tag_pattern(template).version_of(tag) == version


def test_tag_template_round_trip() -> None:
    assert render_tag("release-{{ version }}", "1.4.0") == "release-1.4.0"
    assert tag_pattern("release-{{ version }}").version_of("release-1.4.0") == "1.4.0"


def test_tag_template_with_other_names_uses_the_context() -> None:
    pattern = tag_pattern("{{ vars.app }}-v{{ version }}", {"vars": {"app": "api"}})
    assert pattern.version_of("api-v1.0.0") == "1.0.0"
    with pytest.raises(UsageError, match="cannot be used to find release tags"):
        tag_pattern("{{ vars.app }}-v{{ version }}")


def test_tag_template_without_the_version_is_refused() -> None:
    with pytest.raises(UsageError, match=r"does not contain \{\{ version \}\}"):
        tag_pattern("latest")


# -- the next version ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "messages", "expected"),
    [
        (None, ["feat: first"], "0.1.0"),
        ("1.4.2", ["fix: a bug"], "1.4.3"),
        ("1.4.2", ["docs: words", "chore: tidy"], "1.4.3"),
        ("1.4.2", [], "1.4.3"),
        ("1.4.2", ["fix: a bug", "feat: a thing"], "1.5.0"),
        ("1.4.2", ["feat: a thing", "feat!: a break"], "2.0.0"),
        ("1.4.2", ["fix: x\n\nBREAKING CHANGE: the y option is gone"], "2.0.0"),
        ("1.4.2", ["Free-form message"], "1.4.3"),
        ("0.3.2", ["fix: a bug"], "0.3.3"),
        ("0.3.2", ["feat: a thing"], "0.3.3"),
        ("0.3.2", ["feat!: a break"], "0.4.0"),
        ("0.0.4", ["feat!: a break"], "0.1.0"),
        ("2.0.0-rc.1", ["feat!: more breaks"], "2.0.0"),
        ("2.0.0-rc.2", ["fix: a bug"], "2.0.0"),
        ("1.4", ["feat: a thing"], "1.5.0"),
        ("1.4.2+build.9", ["fix: a bug"], "1.4.3"),
    ],
)
def test_suggest_version(previous: str | None, messages: list[str], expected: str) -> None:
    assert suggest_version(previous, [_commit(text) for text in messages]) == expected


def test_suggest_version_after_something_that_is_not_a_version() -> None:
    with pytest.raises(UsageError, match="pass the release version explicitly"):
        suggest_version("nightly", [])
