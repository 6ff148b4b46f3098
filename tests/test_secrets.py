"""Tests for relcheck.secrets: which names are secret, and masking text, values and streams."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from relcheck.secrets import MASK, Masker, MaskingStream, secret_names

PEM = "-----BEGIN KEY-----\nAAAABBBBCCCC\nDDDDEEEEFFFF\n-----END KEY-----"


def _streamed(stream: MaskingStream, chunks: list[bytes]) -> bytes:
    return b"".join(stream.feed(chunk) for chunk in chunks) + stream.flush()


def test_secret_names_by_name_and_declared() -> None:
    environ = {
        "GITHUB_TOKEN": "x",
        "npm_token": "x",
        "MY_SECRET_THING": "x",
        "db_password": "x",
        "AWS_ACCESS_KEY": "x",
        "MONKEY": "x",
        "KEYBOARD": "x",
        "HOME": "/root",
        "PATH": "/bin",
    }
    names = secret_names(environ, ["DEPLOY_HOOK"])
    expected = {"GITHUB_TOKEN", "npm_token", "MY_SECRET_THING", "db_password", "AWS_ACCESS_KEY"}
    assert names == expected | {"DEPLOY_HOOK"}


def test_mask_replaces_every_occurrence() -> None:
    masker = Masker(["hunter22", "s3cr3t-token"])
    text = "login hunter22 with s3cr3t-token; again: hunter22hunter22"
    assert masker.mask(text) == f"login {MASK} with {MASK}; again: {MASK}{MASK}"


def test_longest_value_wins() -> None:
    masker = Masker(["abcd", "abcdefgh"])
    assert masker.mask("abcdefgh abcd abcdef") == f"{MASK} {MASK} {MASK}ef"


def test_values_are_literal_not_patterns() -> None:
    masker = Masker(["a.b*c(d"])
    assert masker.mask("a.b*c(d aXbbc(d") == f"{MASK} aXbbc(d"


def test_from_env_masks_declared_and_secret_looking_variables() -> None:
    environ = {"API_TOKEN": "tok-123456", "DEPLOY_HOOK": "https://hook", "USER": "release-bot"}
    masker = Masker.from_env(environ, ["DEPLOY_HOOK"])
    text = "tok-123456 https://hook release-bot"
    assert masker.mask(text) == f"{MASK} {MASK} release-bot"
    assert masker.too_short == ()


def test_short_values_are_not_masked_but_reported() -> None:
    environ = {"API_TOKEN": "abc", "B_SECRET": "x", "EMPTY_SECRET": "", "LONG_SECRET": "abcd"}
    masker = Masker.from_env(environ, [])
    assert masker.too_short == ("API_TOKEN", "B_SECRET")
    assert masker.mask("abc x abcd") == f"abc x {MASK}"


def test_mask_value_recurses_into_events() -> None:
    masker = Masker(["hunter22"])
    event = {
        "command": "deploy --password hunter22",
        "args": ["hunter22", 5, None, True],
        "nested": {"pair": ("a", "xhunter22x"), "hunter22": 1.5},
        "raw": b"bytes hunter22",
    }
    assert masker.mask_value(event) == {
        "command": f"deploy --password {MASK}",
        "args": [MASK, 5, None, True],
        "nested": {"pair": ("a", f"x{MASK}x"), MASK: 1.5},
        "raw": f"bytes {MASK}".encode(),
    }


def test_no_secrets_pass_through() -> None:
    masker = Masker([])
    text = "nothing to hide"
    assert masker.mask(text) is text
    stream = masker.stream()
    data = b"nothing to hide, no newline"
    assert stream.feed(data) is data
    assert stream.flush() == b""


def test_stream_split_at_every_offset() -> None:
    masker = Masker(["hunter22", "hunt", "s3cr3t-token-value"])
    text = b"a hunter22b hun\nhunter2 s3cr3t-token-valuehunt\nhunter22"
    expected = masker.mask(text.decode()).encode()
    for cut in range(len(text) + 1):
        assert _streamed(masker.stream(), [text[:cut], text[cut:]]) == expected, cut
    assert _streamed(masker.stream(), [text[i : i + 1] for i in range(len(text))]) == expected


def test_stream_splits_inside_a_multibyte_secret() -> None:
    masker = Masker(["pässwört"])
    text = "x pässwört y".encode()
    for cut in range(len(text) + 1):
        assert _streamed(masker.stream(), [text[:cut], text[cut:]]) == f"x {MASK} y".encode()


def test_stream_emits_complete_lines_at_once_and_holds_only_a_possible_secret() -> None:
    stream = Masker(["hunter22"]).stream()
    assert stream.feed(b"line one\nhun") == b"line one\n"
    assert stream.feed(b"ter22 ok\n") == f"{MASK} ok\n".encode()
    assert stream.feed(b"progress 10%") == b"progress 10%"
    assert stream.feed(b"hunted") == b"hunted"
    assert stream.flush() == b""


def test_multiline_secret_masked_whole_and_line_by_line() -> None:
    masker = Masker([PEM])
    assert masker.mask(f"key:\n{PEM}\nend") == f"key:\n{MASK}\nend"
    streamed = _streamed(masker.stream(), [f"key:\n{PEM}\nend".encode()])
    assert streamed == f"key:\n{MASK}\n{MASK}\n{MASK}\n{MASK}\nend".encode()
    assert "AAAABBBBCCCC" not in masker.mask("only AAAABBBBCCCC leaked")


@given(
    secrets=st.lists(st.text("ab\n", min_size=4, max_size=8), min_size=1, max_size=3),
    text=st.text("ab\nc", max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=6),
)
def test_stream_equals_masking_the_whole(secrets: list[str], text: str, cuts: list[int]) -> None:
    masker = Masker(s.replace("\n", "") for s in secrets)
    data = text.encode()
    edges = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    chunks = [data[a:b] for a, b in itertools.pairwise(edges)]
    assert _streamed(masker.stream(), chunks) == masker.mask(text).encode()
