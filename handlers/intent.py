"""Which use case takes a free-text message: a greeting or thanks, or a question for the FAQ.

The words are data here, not in any channel; the consultation, event and KPI use cases add their own
intents with their own cues.
"""

from __future__ import annotations

import re
import unicodedata

_TRAILING_MARKS = re.compile(r"[!!。.、??]+$")
HELP_WORDS = frozenset({"help", "ヘルプ", "使い方", "つかいかた", "?", "へるぷ", "hello", "こんにちは",
                        "はじめまして"})
THANKS_WORDS = frozenset({"ありがとう", "ありがとうございます", "ありがとうございました", "thanks",
                          "thank you", "どうも",
                          "助かりました", "了解", "了解です", "わかりました", "分かりました", "承知しました"})


def classify(text: str) -> str:
    """`help`, `thanks` or `faq`."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    if folded in HELP_WORDS:
        return "help"
    if _TRAILING_MARKS.sub("", folded) in THANKS_WORDS:
        return "thanks"
    return "faq"
