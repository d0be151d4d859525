"""Checks every HTTP endpoint runs on untrusted input before it reaches a parser or `int()`.

Each raises `BadRequest` (a 400 with `str(exc)` as its message), never anything else:
- `parse_json_limited`: size, UTF-8 and nesting depth are checked before `json.loads`, so a deeply
  nested body never reaches the parser's recursion and a huge one is never decoded.
- `validate_action_value` / `action_number`: a button's value as the handlers may use it.
- `check_host`: the web chat answers only to the address it serves (against DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import json
import re

import numpy as np

MAX_DEPTH = 32
MAX_BYTES = 1 << 20  # Slack and Teams bodies are a few kilobytes; a web chat message far less
MAX_ACTION_CHARS = 200
MAX_NUMBER_DIGITS = 18  # every id fits a signed 64-bit column

# +1 for an opening bracket, -1 for a closing one, 0 for every other byte.
_STEP = np.zeros(256, np.int32)
_STEP[list(b"[{")], _STEP[list(b"]}")] = 1, -1
_CONSTANTS = ("NaN", "Infinity", "-Infinity")


class BadRequest(ValueError):
    """The request is malformed; the message says how, for the 400 response and the log."""


def json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in the JSON text `raw`, brackets inside strings ignored.

    Only C-speed bytes operations and numpy (a few milliseconds for a megabyte of any shape): in
    UTF-8 the bytes of '"' and '\\' occur only as themselves. Escaped backslashes go first, then
    escaped quotes, so every quote left delimits a string: a byte is outside strings when an even
    number of quotes precede it. Valid JSON has backslashes only inside strings, where this is
    exactly the parser's reading; elsewhere the parser stops at the first stray backslash, before
    any bracket this misreads."""
    codes = np.frombuffer(raw.replace(b"\\\\", b"").replace(b'\\"', b""), np.uint8)
    outside = (np.cumsum(codes == ord('"'), dtype=np.int32) & 1) == 0
    return int(np.cumsum(_STEP[codes] * outside).max(initial=0))


def _reject_constant(name: str) -> object:
    raise BadRequest(f"JSON body: {name} is not a number")


def parse_json_limited(raw: bytes, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> object:
    """The JSON value in `raw`, or BadRequest: over `max_bytes`, not UTF-8, nested deeper than
    `max_depth`, not JSON, NaN/Infinity, or an integer too long to convert."""
    if len(raw) > max_bytes:
        raise BadRequest(f"JSON body: {len(raw)} bytes, more than the {max_bytes} allowed")
    if raw.count(b"[") + raw.count(b"{") > max_depth and json_depth(raw) > max_depth:
        raise BadRequest(f"JSON body: nested deeper than {max_depth} levels")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"JSON body: not UTF-8 at byte {exc.start}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"JSON body: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        if isinstance(exc, BadRequest):
            raise
        raise BadRequest(f"JSON body: {exc}") from None


def validate_action_value(value: object, max_chars: int = MAX_ACTION_CHARS) -> str:
    """A button's value: text, printable (no control characters, no lone surrogates), at most
    `max_chars` characters."""
    if not isinstance(value, str):
        raise BadRequest(f"action value: expected text, got {type(value).__name__}")
    if len(value) > max_chars:
        raise BadRequest(f"action value: {len(value)} characters, more than {max_chars}")
    if not value.isprintable() or any("\ud800" <= c <= "\udfff" for c in value):
        raise BadRequest("action value: contains control or unencodable characters")
    return value


def action_number(value: object, max_digits: int = MAX_NUMBER_DIGITS) -> int:
    """A button's value where a number (an id) is expected: ASCII digits only. `"²".isdigit()` and
    `"٣".isdigit()` are True, and int() rejects the first and accepts the second."""
    text = validate_action_value(value)
    if not (text.isascii() and text.isdigit()):
        raise BadRequest("action value: expected a number written with the digits 0-9")
    if len(text) > max_digits:
        raise BadRequest(f"action value: a number of {len(text)} digits, more than {max_digits}")
    return int(text)


_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def _split_host(header: str) -> tuple[str, int | None] | None:
    """(host, port) from a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`); None if malformed."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?|([^:\[\]@/\s]+)(?::([0-9]{1,5}))?", header)
    if not match:
        return None
    host = (match.group(1) or match.group(3) or "").lower().rstrip(".")
    port = match.group(2) or match.group(4)
    if match.group(1):
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            return None
    return host, int(port) if port else None


def check_host(request_host: str | None, served_host: str, port: int, default_port: int = 80) -> bool:
    """Whether a request's Host header names this server: the served host, localhost, 127.0.0.1
    or [::1], with the port served (a header without a port means `default_port`). A server bound
    to every address (0.0.0.0, ::) is named only by the loopback names: a rebinding page's own
    host name never matches."""
    if not request_host:
        return False
    split = _split_host(request_host.strip())
    if split is None:
        return False
    host, given_port = split
    if (given_port if given_port is not None else default_port) != port:
        return False
    served = served_host.strip().strip("[]").lower().rstrip(".")
    allowed = set(_LOOPBACK_NAMES)
    if served not in _WILDCARDS:
        try:
            allowed.add(str(ipaddress.ip_address(served)))
        except ValueError:
            allowed.add(served)
    return host in allowed
