"""Untrusted HTTP input is refused with BadRequest (a 400), never a crash: JSON size and depth,
button values, the Host header."""

from __future__ import annotations

import json
import time

import pytest

from bot.http_guard import (
    MAX_BYTES,
    BadRequest,
    action_number,
    check_host,
    json_depth,
    parse_json_limited,
    validate_action_value,
)


@pytest.mark.parametrize(("raw", "depth"), [
    (b"", 0), (b"1", 0), (b"[]", 1), (b'{"a": [1, {"b": 2}]}', 3), (b'["[[[[", "{{{{"]', 1),
    (b'["\\"[[", ["\\\\"], "\\\\\\"]"]', 2), ("[\"日本[語\", [[]]]".encode(), 3), (b"[" * 100 + b"]" * 100, 100),
])
def test_json_depth_ignores_brackets_in_strings(raw: bytes, depth: int) -> None:
    assert json_depth(raw) == depth


def test_depth_agrees_with_the_parser_on_real_documents() -> None:
    def real_depth(value: object) -> int:
        if isinstance(value, dict):
            return 1 + max(map(real_depth, value.values()), default=0)
        if isinstance(value, list):
            return 1 + max(map(real_depth, value), default=0)
        return 0

    doc = {"a": [{"b": ["x]", {"c": "\\\"{"}]}], "d": "\\", "e": [[[[[]]]]], "f": "\"]]]]\""}
    raw = json.dumps(doc).encode()
    assert json_depth(raw) == real_depth(doc) == 6


def test_parse_json_limited_accepts_ordinary_json() -> None:
    assert parse_json_limited('{"text": "応募資格は?", "n": [1, 2.5, null, true]}'.encode()) == {
        "text": "応募資格は?", "n": [1, 2.5, None, True]}
    assert parse_json_limited(b"\xef\xbb\xbf[1]") == [1]  # a UTF-8 byte order mark is tolerated
    assert parse_json_limited(b"[" * 32 + b"]" * 32) is not None


@pytest.mark.parametrize(("raw", "reason"), [
    (b"[" * 33 + b"]" * 33, "nested deeper than 32"),
    (b"[" * 1_000_000, "nested deeper than 32"),  # would be a RecursionError in the parser
    (b'{"a":' * 100_000, "nested deeper than 32"),
    (b"x" * (MAX_BYTES + 1), "more than the 1048576 allowed"),
    (b'{"text": "\xff"}', "not UTF-8 at byte 10"),
    (b'{"text": ', "Expecting value at line 1 column 10"),
    (b"[NaN]", "NaN is not a number"),
    (b"-Infinity", "-Infinity is not a number"),
    (b"1" * 5000, "Exceeds the limit"),
])
def test_parse_json_limited_refuses_with_a_clear_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        parse_json_limited(raw)


def test_depth_check_is_fast_on_a_megabyte_of_any_shape() -> None:
    shapes = [b"[]" * (MAX_BYTES // 2), b'""' * (MAX_BYTES // 2), b'"' + b'\\"' * (MAX_BYTES // 2 - 1),
              b"[" + b'"a[b{c",' * (MAX_BYTES // 8 - 1) + b"1]", b"{" * MAX_BYTES]
    for raw in shapes:
        start = time.perf_counter()
        with pytest.raises(BadRequest):
            parse_json_limited(raw, max_depth=0)
        assert time.perf_counter() - start < 0.25, raw[:20]


def test_action_values() -> None:
    assert validate_action_value("handoff:123") == "handoff:123"
    assert validate_action_value("相談する") == "相談する"
    for bad in [None, 42, ["x"], "x" * 201, "a\nb", "a\x00", "\ud800", "\u202e"]:
        with pytest.raises(BadRequest):
            validate_action_value(bad)


def test_action_numbers_are_ascii_digits_only() -> None:
    assert action_number("0042") == 42
    assert action_number("9" * 18) == 10**18 - 1
    for bad in ["²", "٣", "１２", "-1", "+1", "1.0", " 1", "", "1" * 19, "1" * 5000, 7]:
        with pytest.raises(BadRequest):
            action_number(bad)


@pytest.mark.parametrize(("host", "served", "ok"), [
    ("127.0.0.1:8000", "127.0.0.1", True),
    ("localhost:8000", "127.0.0.1", True),
    ("LOCALHOST.:8000", "127.0.0.1", True),
    ("[::1]:8000", "127.0.0.1", True),
    ("[0:0::1]:8000", "::1", True),
    ("chat.example.lg.jp:8000", "chat.example.lg.jp", True),
    ("192.0.2.10:8000", "192.0.2.10", True),
    ("127.0.0.1:8001", "127.0.0.1", False),  # another port
    ("127.0.0.1", "127.0.0.1", False),  # no port means 80
    ("attacker.example:8000", "127.0.0.1", False),  # DNS rebinding
    ("attacker.example:8000", "0.0.0.0", False),
    ("localhost:8000", "0.0.0.0", True),
    ("localhost:8000@evil", "127.0.0.1", False),
    ("[::1", "127.0.0.1", False),
    ("[zz]:8000", "127.0.0.1", False),
    ("", "127.0.0.1", False),
    (None, "127.0.0.1", False),
])
def test_check_host(host: str | None, served: str, ok: bool) -> None:
    assert check_host(host, served, 8000) is ok


def test_check_host_default_port() -> None:
    assert check_host("localhost", "127.0.0.1", 80)
    assert check_host("localhost", "127.0.0.1", 443, default_port=443)
