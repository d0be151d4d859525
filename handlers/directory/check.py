"""Planning an import: what the files say, merged with what the directory already holds, checked as a
whole (references, duplicates), and the list of changes to make. Pure: nothing is written here, so a
single bad row means nothing at all is imported."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from handlers.directory.model import (
    LAB_ROLES,
    Directory,
    ExpertProfile,
    Lab,
    Person,
    Role,
    SecretariatChannels,
    as_record,
)
from handlers.directory.parse import KEY_FIELD, Origin, Parsed, Problem

Row = Lab | Person | ExpertProfile | SecretariatChannels
IN_DATABASE = Origin("(directory)", 0)


@dataclass(frozen=True)
class Change:
    section: str
    key: str
    kind: str  # created | updated | removed
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass
class Plan:
    directory: Directory  # the whole directory as it will be
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    kept: int = 0  # rows missing from the files and kept (no --prune)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def summary(self) -> dict[str, Any]:
        return {"created": self.count("created"), "updated": self.count("updated"), "unchanged": self.unchanged,
                "removed": self.count("removed"), "kept": self.kept,
                "errors": [p.as_dict() for p in self.errors], "warnings": [p.as_dict() for p in self.warnings]}


def _key(section: str, row: Row) -> str:
    return str(getattr(row, KEY_FIELD[section])) if KEY_FIELD[section] else ""


def _rows(directory: Directory, section: str) -> list[Row]:
    if section == "secretariat":
        empty = directory.secretariat == SecretariatChannels()
        return [] if empty else [directory.secretariat]
    return list(getattr(directory, section))


def _merge(plan: Plan, section: str, existing: list[Row], incoming: list[Row], prune: bool) -> list[Row]:
    old = {_key(section, r): r for r in existing}
    new = {_key(section, r): r for r in incoming}
    for key, row in new.items():
        before = old.get(key)
        if before is None:
            plan.changes.append(Change(section, key, "created", None, as_record(row)))
        elif before != row:
            plan.changes.append(Change(section, key, "updated", as_record(before), as_record(row)))
        else:
            plan.unchanged += 1
    missing = [r for k, r in old.items() if k not in new]
    if prune:
        plan.changes.extend(Change(section, _key(section, r), "removed", as_record(r), None) for r in missing)
        return list(new.values())
    plan.kept += len(missing)
    return [new.get(k, r) for k, r in old.items()] + [r for k, r in new.items() if k not in old]


def plan_import(existing: Directory, parsed: Parsed, prune: bool = False) -> Plan:
    plan = Plan(Directory(), errors=list(parsed.errors), warnings=list(parsed.warnings))
    for section in ("secretariat", "labs", "people", "experts"):
        current = _rows(existing, section)
        rows = _merge(plan, section, current, _rows(parsed.directory, section), prune) \
            if section in parsed.sections else current
        if section == "secretariat":
            plan.directory.secretariat = rows[0] if rows else SecretariatChannels()  # type: ignore[assignment]
        else:
            setattr(plan.directory, section, rows)
    _check(plan.directory, parsed, plan.errors, plan.warnings)
    return plan


def _check(d: Directory, parsed: Parsed, errors: list[Problem], warnings: list[Problem]) -> None:
    def where(section: str, key: str) -> Origin:
        found = parsed.origins.get((section, key))
        if found is None and section == "experts":  # a stored expert: blame the file's row of that person
            found = parsed.origins.get(("people", key))
        return found or IN_DATABASE

    def error(section: str, key: str, message: str) -> None:
        o = where(section, key)
        errors.append(Problem(o.file, o.line, message))

    labs = {lab.id for lab in d.labs}
    people = {p.id: p for p in d.people}
    experts = {e.person for e in d.experts}
    for person in d.people:
        for lab in person.labs:
            if lab not in labs:
                error("people", person.id, f"{person.id}: lab {lab!r} does not exist")
        scoped = sorted(set(person.roles) & LAB_ROLES)
        if scoped and not person.labs:
            error("people", person.id, f"{person.id}: role {', '.join(scoped)} needs the labs they act for")
        if Role.EXPERT in person.roles and person.id not in experts:
            o = where("people", person.id)
            warnings.append(Problem(o.file, o.line, f"{person.id} has the expert role but no entry in experts"))
    for attr, label in (("slack_user", "Slack user id"), ("teams_user", "Teams user id")):
        counts = Counter(getattr(p, attr) for p in d.people if getattr(p, attr))
        seen: set[str] = set()
        for person in d.people:
            value = getattr(person, attr)
            if value and counts[value] > 1:
                if value in seen or where("people", person.id) != IN_DATABASE:
                    error("people", person.id, f"{person.id}: duplicate {label} {value!r}")
                seen.add(value)
    for expert in d.experts:
        person = people.get(expert.person)
        if person is None:
            error("experts", expert.person, f"expert {expert.person!r} is not in people")
        elif Role.EXPERT not in person.roles:
            error("experts", expert.person, f"{expert.person} is listed in experts but roles lacks expert")
        if expert.substitute == expert.person:
            error("experts", expert.person, f"{expert.person}: substitute is the expert themself")
        elif expert.substitute and expert.substitute not in experts:
            error("experts", expert.person, f"{expert.person}: substitute {expert.substitute!r} is not an expert")
