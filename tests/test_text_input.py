"""Text from outside is made encodable before the tokenizer and the database see it."""

from __future__ import annotations

import pytest

from handlers.text_input import clean_text


@pytest.mark.parametrize(("raw", "clean"), [
    ("応募資格は?", "応募資格は?"),
    ("応募\ud800資格", "応募\ufffd資格"),
    ("\udfff", "\ufffd"),
    ("\ud83d\ude00です", "😀です"),  # a pair split into two code points is joined
    ("\ude00\ud83d", "\ufffd\ufffd"),  # the wrong order is not a pair
    ("a\x00b", "a\ufffdb"),
])
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
    clean_text(raw).encode("utf-8")


def test_clean_text_returns_ordinary_text_itself() -> None:
    text = "締切はいつですか"
    assert clean_text(text) is text
