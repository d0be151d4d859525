"""Personal data out of logs and reports: phone numbers and e-mail addresses are masked."""

from __future__ import annotations

import re
import unicodedata

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# Japanese numbers: 03-1234-5678, 090-1234-5678, 0120-123-456, (03)1234-5678, 09012345678, +81 90 1234 5678
PHONE = re.compile(r"(?<!\d)(?:\+81[\s\-]?\d{1,4}|\(?0\d{1,4}\)?)[\s\-‐ー−(]?\d{1,4}[\s\-‐ー−)]?\d{3,4}(?!\d)")
EMAIL_MASK, PHONE_MASK = "[メール]", "[電話番号]"


def mask_personal(text: str) -> str:
    """`text` with e-mail addresses and phone numbers replaced by placeholders (full-width digits too)."""
    folded = unicodedata.normalize("NFKC", text)
    if folded != text and (EMAIL.search(folded) or PHONE.search(folded)):
        text = folded  # full-width ０９０ or ＠: mask on the folded form
    text = EMAIL.sub(EMAIL_MASK, text)
    return PHONE.sub(lambda m: PHONE_MASK if sum(c.isdigit() for c in m.group()) >= 10 else m.group(), text)
