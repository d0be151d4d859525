"""A reported value checked the way a person would: type, range and unit, in plain Japanese.

Full-width digits and thousands separators are fine (`４２`, `1,200`), so is the indicator's own unit
after the number (`42社`), `%` for a percentage and `万`/`円` for yen (`120万円`). A value ten times the
last one is accepted only after the reporter confirms it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from handlers.i18n import t
from handlers.kpi.model import Indicator

NUMBER = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(.*)$")
MAX_TEXT = 1000
JUMP = 10  # a value this many times the last one asks for confirmation


class Invalid(ValueError):
    """The value cannot be stored; the message says why, for the reporter."""


@dataclass(frozen=True)
class Checked:
    value: str  # as shown and stored (`42`, `12.5`)
    number: float | None
    confirm: bool = False  # ten times the last value: ask before storing


def _normal(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().replace(",", "").replace("、", "")


def _show(number: float, whole: bool) -> str:
    return str(int(number)) if whole else f"{number:.6g}"


def check(ind: Indicator, raw: str, last: float | None = None, lang: str = "ja") -> Checked:
    text = _normal(raw or "")
    if not text:
        raise Invalid(t("kpi.invalid.empty", lang, name=ind.name))
    if not ind.numeric:
        if len(text) > MAX_TEXT:
            raise Invalid(t("kpi.invalid.too_long", lang, name=ind.name, limit=MAX_TEXT))
        return Checked(text, None)
    found = NUMBER.match(text)
    if found is None:
        raise Invalid(t("kpi.invalid.not_number", lang, name=ind.name, unit=ind.unit))
    number, suffix = float(found.group(1)), found.group(2).strip()
    number *= _unit_factor(ind, suffix, lang)
    whole = ind.type in ("integer", "yen")
    if not math.isfinite(number):
        raise Invalid(t("kpi.invalid.not_number", lang, name=ind.name, unit=ind.unit))
    if whole and number != int(number):
        raise Invalid(t("kpi.invalid.whole", lang, name=ind.name, unit=ind.unit))
    low = ind.minimum if ind.minimum is not None else (None if ind.type == "decimal" else 0.0)
    high = ind.maximum if ind.maximum is not None else (100.0 if ind.type == "percent" else None)
    if low is not None and number < low:
        raise Invalid(t("kpi.invalid.below", lang, name=ind.name, low=_show(low, whole), unit=ind.unit))
    if high is not None and number > high:
        raise Invalid(t("kpi.invalid.above", lang, name=ind.name, high=_show(high, whole), unit=ind.unit))
    confirm = last is not None and last > 0 and number >= JUMP * last
    return Checked(_show(number, whole), number, confirm)


def _unit_factor(ind: Indicator, suffix: str, lang: str) -> float:
    """1 for no suffix or the indicator's unit; 10000 for 万(円); else the unit is wrong."""
    allowed = {"", _normal(ind.unit)}
    if ind.type == "percent":
        allowed |= {"%", "パーセント"}
    if ind.type == "yen":
        allowed |= {"円"}
        if suffix in ("万", "万円"):
            return 10000.0
    if suffix in allowed:
        return 1.0
    raise Invalid(t("kpi.invalid.unit", lang, name=ind.name, unit=ind.unit or t("kpi.no_unit", lang), got=suffix))


def as_target(ind: Indicator, raw: str, lang: str = "ja") -> float:
    """A target typed in chat, checked like a value (never needs confirmation)."""
    checked = check(ind, raw, None, lang)
    if checked.number is None:
        raise Invalid(t("kpi.invalid.text_target", lang, name=ind.name))
    return checked.number
