"""Text from outside, made safe for everything behind it (tokenizer, database, JSON) in one place.

A lone UTF-16 surrogate (`"\\ud800"` in JSON) is a valid Python `str` but cannot be encoded: the
tokenizer raises on it. NUL cannot be stored in a PostgreSQL text column. Both become U+FFFD,
which `handlers.faq.input_problem` already counts as unreadable input.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """`text` with every code point UTF-8 or PostgreSQL cannot hold replaced by U+FFFD.

    A well-formed surrogate pair that arrived as two code points is joined into the character it
    encodes; a lone surrogate is replaced. Text without such code points comes back unchanged
    (the same object, at the cost of one encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
