"""The indicator file: `indicators: [{lab, id, name, unit, type, target, direction, cadence, due_days, from}]`
in YAML, or the same columns in CSV. Pure: text in, indicators and `file:line: reason` problems out.
An import with any problem imports nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from handlers.calendar import CADENCES, BusinessCalendar, to_jst
from handlers.directory.parse import Problem
from handlers.kpi.model import DIRECTIONS, TYPES, Indicator
from knowledge.schema import _LineLoader

LINE = "__line__"
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FIELDS = ("lab", "id", "name", "unit", "type", "target", "direction", "cadence", "due_days", "from", "min", "max")
REQUIRED = ("lab", "id", "name", "type", "cadence")


@dataclass
class ParsedIndicators:
    indicators: list[Indicator] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)


def _number(raw: Any, what: str) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{what} must be a number")
    try:
        return float(str(raw).replace(",", ""))
    except ValueError:
        raise ValueError(f"{what} must be a number, got {raw!r}") from None


def _choice(raw: Any, options: tuple[str, ...], what: str, default: str | None = None) -> str:
    value = str(raw).strip() if raw not in (None, "") else default
    if value not in options:
        raise ValueError(f"{what} must be one of {', '.join(options)}, got {raw!r}")
    return value


def _row(raw: dict[str, Any], cal: BusinessCalendar, today: dt.date) -> Indicator:
    unknown = sorted(k for k in raw if k not in FIELDS and k != LINE)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; expected {', '.join(FIELDS)}")
    missing = [k for k in REQUIRED if raw.get(k) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    lab, key = str(raw["lab"]).strip(), str(raw["id"]).strip()
    for what, value in (("lab", lab), ("id", key)):
        if not KEY.match(value):
            raise ValueError(f"{what} {value!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    cadence = _choice(raw["cadence"], CADENCES, "cadence")
    due_raw = raw.get("due_days", 15)
    try:
        due_days = int(str(due_raw if due_raw not in (None, "") else 15))
    except ValueError:
        raise ValueError(f"due_days must be a whole number of days, got {due_raw!r}") from None
    if not 0 <= due_days <= 365:
        raise ValueError(f"due_days must be 0..365, got {due_days}")
    first = str(raw.get("from") or "").strip() or cal.period_of(today, cadence)
    try:
        cal.period_bounds(first)
    except ValueError as exc:
        raise ValueError(f"from: {exc}") from None
    if cal.period_of(cal.period_bounds(first)[0], cadence) != first:
        raise ValueError(f"from {first!r} is not a {cadence} period (e.g. {cal.period_of(today, cadence)})")
    kind = _choice(raw["type"], TYPES, "type")
    target = _number(raw.get("target"), "target")
    if kind == "text" and target is not None:
        raise ValueError("a text indicator has no numeric target")
    return Indicator(lab=lab, key=key, name=str(raw["name"]).strip(), unit=str(raw.get("unit") or "").strip(),
                     type=kind, target=target, direction=_choice(raw.get("direction"), DIRECTIONS, "direction",
                                                                  "higher"),
                     cadence=cadence, due_days=due_days, first_period=first, minimum=_number(raw.get("min"), "min"),
                     maximum=_number(raw.get("max"), "max"))


def _yaml_rows(file: str, text: str, errors: list[Problem]) -> list[dict[str, Any]]:
    try:
        data = yaml.load(text, Loader=_LineLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        errors.append(Problem(file, mark.line + 1 if mark else 0, f"invalid YAML: {getattr(exc, 'problem', exc)}"))
        return []
    rows = data.get("indicators") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        errors.append(Problem(file, data.get(LINE, 1) if isinstance(data, dict) else 1,
                              "the file must be a mapping with a list `indicators:`"))
        return []
    out = []
    for raw in rows:
        if not isinstance(raw, dict):
            errors.append(Problem(file, data[LINE], f"each indicator must be a mapping, got {raw!r}"))
        else:
            out.append(raw)
    return out


def _csv_rows(file: str, text: str, errors: list[Problem]) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [h.strip() for h in next(reader, [])]
    out, start = [], reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            errors.append(Problem(file, line, f"{len(cells)} cells but the header has {len(header)} columns"))
            continue
        out.append(dict(zip(header, cells, strict=False)) | {LINE: line})
    return out


def parse_indicators(files: Iterable[tuple[str, str]], cal: BusinessCalendar, now: dt.datetime,
                     known_lab: Callable[[str], bool]) -> ParsedIndicators:
    """Read (name, text) pairs (`.csv` as CSV, anything else as YAML); `from` defaults to the period in
    progress at `now`; a lab the directory does not know is an error."""
    out = ParsedIndicators()
    seen: dict[tuple[str, str], str] = {}
    today = to_jst(now).date()
    for name, text in files:
        for raw in (_csv_rows if name.lower().endswith(".csv") else _yaml_rows)(name, text, out.errors):
            line = raw.get(LINE, 0)
            try:
                ind = _row(raw, cal, today)
            except ValueError as exc:
                out.errors.append(Problem(name, line, str(exc)))
                continue
            where = f"{name}:{line}"
            if (ind.lab, ind.key) in seen:
                out.errors.append(Problem(name, line, f"indicator {ind.key!r} of lab {ind.lab!r} is also defined "
                                                      f"at {seen[(ind.lab, ind.key)]}"))
                continue
            seen[(ind.lab, ind.key)] = where
            if not known_lab(ind.lab):
                out.errors.append(Problem(name, line, f"lab {ind.lab!r} is not in the directory"))
                continue
            out.indicators.append(ind)
    return out
