"""Reading the directory file: YAML (one file, four sections) or CSV (one file per section, list cells
separated by `;`). Pure: text in, values and problems out, each problem named `file:line: reason`.

Cross-row checks (a lab that does not exist, a duplicate Slack id, a substitute who is not an expert)
are in handlers.directory.check, which also sees what the database already holds.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import yaml

from handlers.directory.model import (
    LAB_STATUSES,
    SECTIONS,
    Directory,
    ExpertProfile,
    Lab,
    Person,
    Role,
    SecretariatChannels,
)
from knowledge.schema import _LineLoader
from knowledge.vocabulary import vocabulary

LINE = "__line__"
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
TRUE, FALSE = {"true", "yes", "1", "はい"}, {"false", "no", "0", "いいえ", ""}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class Origin:
    file: str
    line: int


@dataclass
class Parsed:
    """What a set of files says. `sections` are the ones the files speak for (a YAML file speaks for all
    four, an omitted section meaning an empty one; a CSV file for its own)."""

    directory: Directory = field(default_factory=Directory)
    sections: set[str] = field(default_factory=set)
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)  # (section, row key) → where
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


class _Bad(ValueError):
    pass


# -- cell converters: each takes the raw value (YAML scalar/list, or CSV text) ---------------------

def _text(raw: Any) -> str | None:
    if raw is None or isinstance(raw, (dict, list)):
        if isinstance(raw, (dict, list)):
            raise _Bad("must be text")
        return None
    if isinstance(raw, bool):
        raise _Bad("must be text")
    value = str(raw).strip()
    return value or None


def _id(raw: Any) -> str | None:
    value = _text(raw)
    if value is not None and not ID.match(value):
        raise _Bad(f"{value!r} is not a valid id (letters, digits, '.', '_' and '-')")
    return value


def _int(raw: Any) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise _Bad("must be a whole number")
    try:
        return int(str(raw).strip())
    except ValueError:
        raise _Bad(f"{raw!r} is not a whole number") from None


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    value = "" if raw is None else str(raw).strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise _Bad(f"{raw!r} is not true or false")


def _date(raw: Any) -> dt.date | None:
    if raw is None or isinstance(raw, dt.date):
        return raw
    value = str(raw).strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _partial_date(raw: Any) -> str | None:
    if isinstance(raw, dt.date):
        return raw.isoformat()
    value = _text(raw)
    if value is not None and not PARTIAL_DATE.match(value):
        raise _Bad(f"{value!r} is not a date (YYYY-MM-DD, or YYYY-MM when only the month is known)")
    return value


def _list(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else str(raw).split(";")
    out = []
    for item in items:
        if isinstance(item, (dict, list)):
            raise _Bad("must be a list of text")
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return tuple(out)


Spec = dict[str, tuple[Callable[[Any], Any], bool]]  # field → (converter, required)
SPECS: dict[str, Spec] = {
    "secretariat": {"slack_channel": (_text, False), "teams_conversation": (_text, False)},
    "labs": {"id": (_id, True), "name": (_text, True), "prefecture": (_text, True), "region": (_text, False),
             "round": (_int, False), "selected_on": (_partial_date, False), "status": (_text, False),
             "slack_channel": (_text, False), "teams_conversation": (_text, False)},
    "people": {"id": (_id, True), "name": (_text, True), "org": (_text, False), "prefecture": (_text, False),
               "industry": (_text, False), "email": (_text, False), "slack_user": (_text, False),
               "teams_user": (_text, False), "roles": (_list, False), "labs": (_list, False),
               "demo": (_bool, False)},
    "experts": {"person": (_id, True), "kind": (_text, True), "prefectures": (_list, False),
                "regions": (_list, False), "national": (_bool, False), "industries": (_list, False),
                "topics": (_list, False), "capacity": (_int, False), "languages": (_list, False),
                "absent_from": (_date, False), "absent_until": (_date, False), "substitute": (_id, False),
                "excluded_orgs": (_list, False)},
}
KEY_FIELD = {"labs": "id", "people": "id", "experts": "person", "secretariat": ""}


class _Row:
    """One row being read: converts its cells and collects what is wrong with it."""

    def __init__(self, out: Parsed, file: str, line: int, section: str, raw: dict[str, Any]):
        self.out, self.file, self.line, self.section = out, file, line, section
        self.ok = True
        spec = SPECS[section]
        for key in raw:
            if key != LINE and key not in spec:
                self.warn(f"unknown field {key!r} in {section} is ignored")
        self.values: dict[str, Any] = {}
        for name, (convert, required) in spec.items():
            try:
                value = convert(raw.get(name))
            except _Bad as exc:
                self.error(f"{name}: {exc}")
                continue
            if required and value is None:
                self.error(f"{name} is required")
            if value is not None and value != ():
                self.values[name] = value

    def error(self, message: str) -> None:
        self.ok = False
        self.out.errors.append(Problem(self.file, self.line, message))

    def warn(self, message: str) -> None:
        self.out.warnings.append(Problem(self.file, self.line, message))

    def prefecture(self, value: str | None, what: str = "prefecture") -> None:
        if value is not None and vocabulary().region_of(value) is None:
            self.error(f"{what}: unknown prefecture {value!r} (write it in full, e.g. 長野県, 東京都, 北海道)")

    def vocabulary(self, values: Iterable[str], known: frozenset[str], what: str) -> None:
        for value in values:
            if value not in known:
                self.warn(f"{what}: {value!r} is not in the shared vocabulary yet (kept)")


def _lab(row: _Row) -> Lab | None:
    v = row.values
    row.prefecture(v.get("prefecture"))
    region = vocabulary().region_of(v.get("prefecture", "")) or ""
    if "region" in v and region and v["region"] != region:
        row.error(f"region: {v['region']!r} does not match prefecture {v['prefecture']} ({region})")
    if v.get("round") is not None and v["round"] < 1:
        row.error("round: must be 1 or more")
    status = v.get("status", "active")
    if status not in LAB_STATUSES:
        row.error(f"status: {status!r} must be one of {', '.join(LAB_STATUSES)}")
    if not row.ok:
        return None
    return Lab(id=v["id"], name=v["name"], prefecture=v["prefecture"], region=region, round=v.get("round"),
               selected_on=v.get("selected_on"), status=status, slack_channel=v.get("slack_channel"),
               teams_conversation=v.get("teams_conversation"))


def _person(row: _Row) -> Person | None:
    v = row.values
    row.prefecture(v.get("prefecture"))
    if v.get("industry"):
        row.vocabulary([v["industry"]], vocabulary().industries, "industry")
    for role in v.get("roles", ()):
        if role not in set(Role):
            row.error(f"roles: unknown role {role!r} (one of {', '.join(Role)})")
    if v.get("email") and "@" not in v["email"]:
        row.error(f"email: {v['email']!r} is not an e-mail address")
    if not row.ok:
        return None
    roles = set(v.get("roles", ()))
    return Person(**(v | {"roles": tuple(r.value for r in Role if r in roles)}))  # canonical order


def _expert(row: _Row) -> ExpertProfile | None:
    v = row.values
    for prefecture in v.get("prefectures", ()):
        row.prefecture(prefecture, "prefectures")
    for region in v.get("regions", ()):
        if region not in vocabulary().regions:
            row.error(f"regions: unknown region block {region!r} (one of {', '.join(vocabulary().regions)})")
    row.vocabulary(v.get("topics", ()), vocabulary().topics, "topics")
    row.vocabulary(v.get("industries", ()), vocabulary().industries, "industries")
    if v.get("capacity") is not None and v["capacity"] < 0:
        row.error("capacity: must be 0 or more")
    if v.get("absent_from") and v.get("absent_until") and v["absent_from"] > v["absent_until"]:
        row.error("absent_until: is before absent_from")
    if not (v.get("national") or v.get("prefectures") or v.get("regions")):
        row.warn("an expert with no prefectures, regions or national: true is never matched")
    if not row.ok:
        return None
    return ExpertProfile(**{k: v[k] for k in v})


BUILD: dict[str, Callable[[_Row], Any]] = {"labs": _lab, "people": _person, "experts": _expert}


def _add_row(out: Parsed, file: str, line: int, section: str, raw: Any) -> None:
    if not isinstance(raw, dict):
        out.errors.append(Problem(file, line, f"each entry in {section} must be a mapping of fields"))
        return
    row = _Row(out, file, raw.get(LINE, line), section, raw)
    if section == "secretariat":
        if row.ok:
            out.directory.secretariat = SecretariatChannels(**row.values)
            out.origins[(section, "")] = Origin(file, row.line)
        return
    value = BUILD[section](row)
    key = str(row.values.get(KEY_FIELD[section], ""))
    if key and (section, key) in out.origins:
        first = out.origins[(section, key)]
        row.error(f"{KEY_FIELD[section]} {key!r} appears twice in {section} (first at {first.file}:{first.line})")
        return
    if key:
        out.origins[(section, key)] = Origin(file, row.line)
    if value is not None:
        getattr(out.directory, section).append(value)


def read_yaml(out: Parsed, file: str, text: str) -> None:
    try:
        data = yaml.load(text, Loader=_LineLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        out.errors.append(Problem(file, mark.line + 1 if mark else 0, f"invalid YAML: {getattr(exc, 'problem', exc)}"))
        return
    if not isinstance(data, dict):
        out.errors.append(Problem(file, 1, f"the file must be a mapping with sections {', '.join(SECTIONS)}"))
        return
    out.sections.update(SECTIONS)
    for key in data:
        if key != LINE and key not in SECTIONS:
            out.warnings.append(Problem(file, data[LINE], f"unknown section {key!r} is ignored"))
    if data.get("secretariat") is not None:
        _add_row(out, file, data[LINE], "secretariat", data["secretariat"])
    for section in ("labs", "people", "experts"):
        rows = data.get(section) or []
        if not isinstance(rows, list):
            out.errors.append(Problem(file, data[LINE], f"{section} must be a list"))
            continue
        for raw in rows:
            _add_row(out, file, data[LINE], section, raw)


def csv_section(file: str, header: list[str]) -> str | None:
    """Which section a CSV file holds: its name (labs.csv, people.csv …), else its key column."""
    stem = PurePath(file).stem.lower()
    for section in SECTIONS:
        if stem == section or stem.endswith(("-" + section, "_" + section)):
            return section
    columns = set(header)
    if "person" in columns:
        return "experts"
    if "roles" in columns or "slack_user" in columns:
        return "people"
    if "id" in columns:
        return "labs"
    return "secretariat" if columns & {"slack_channel", "teams_conversation"} else None


def read_csv(out: Parsed, file: str, text: str) -> None:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [h.strip() for h in next(reader, [])]
    section = csv_section(file, header)
    if section is None:
        out.errors.append(Problem(file, 1, "cannot tell which section this CSV holds: name it labs.csv, "
                                           "people.csv, experts.csv or secretariat.csv"))
        return
    out.sections.add(section)
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            out.errors.append(Problem(file, line, f"{len(cells)} cells but the header has {len(header)} columns"))
            continue
        _add_row(out, file, line, section, dict(zip(header, cells, strict=False)) | {LINE: line})


def parse_files(files: Iterable[tuple[str, str]]) -> Parsed:
    """Read (name, text) pairs: `.csv` files as one section each, anything else as YAML."""
    out = Parsed()
    for name, text in files:
        (read_csv if name.lower().endswith(".csv") else read_yaml)(out, name, text)
    return out
