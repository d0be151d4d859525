"""Who a broadcast reaches, in a small language over the directory.

`all` | `region:中部` | `prefecture:長野県` | `round:3` | `lab:ID[,ID…]` | `role:lead[,coordinator]`, several
terms joined with `;` (each narrows the one before; values within a term are alternatives):
`region:中部,近畿;round:3`. Without a `role:` term each chosen lab's announcement channel gets one copy
(its Slack channel, else its Teams conversation); with one, the people holding those roles get a DM
instead (people in the chosen labs for lab roles; everyone with the role for secretariat and expert).
`dm=True` adds a DM to each chosen lab's coordinators beside the channel copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.address import Address, Platform
from handlers.directory.model import LAB_ROLES, Lab, Person, Role
from handlers.directory.ports import DirectoryRepo
from handlers.events.model import Recipient
from knowledge.vocabulary import vocabulary

KINDS = ("region", "prefecture", "round", "lab", "role")


class AudienceError(ValueError):
    """The audience cannot be understood (the message says which term); i18n key in `key`."""

    def __init__(self, key: str, term: str):
        super().__init__(f"{key}: {term}")
        self.key, self.term = key, term


@dataclass(frozen=True)
class Audience:
    terms: dict[str, frozenset[str]] = field(default_factory=dict)

    def labs(self, directory: DirectoryRepo) -> list[Lab]:
        labs = [lab for lab in directory.labs() if lab.status == "active"]
        for kind, values in self.terms.items():
            if kind == "region":
                labs = [lab for lab in labs if lab.region in values]
            elif kind == "prefecture":
                labs = [lab for lab in labs if lab.prefecture in values]
            elif kind == "round":
                labs = [lab for lab in labs if str(lab.round) in values]
            elif kind == "lab":
                labs = [lab for lab in labs if lab.id in values]
        return labs

    def includes(self, lab: Lab | None) -> bool:
        """Whether an event for this audience concerns someone of `lab` (None: not in a lab)."""
        lab_terms = {k: v for k, v in self.terms.items() if k != "role"}
        if not lab_terms:
            return True
        if lab is None:
            return False
        values = {"region": lab.region, "prefecture": lab.prefecture, "round": str(lab.round), "lab": lab.id}
        return all(values[k] in v for k, v in lab_terms.items())


def parse(spec: str) -> Audience:
    spec = spec.strip()
    if not spec:
        raise AudienceError("announce.audience.empty", spec)
    terms: dict[str, frozenset[str]] = {}
    vocab = vocabulary()
    for term in (p.strip() for p in spec.split(";") if p.strip()):
        if term.lower() == "all":
            continue
        kind, _, raw = term.partition(":")
        kind = kind.strip().lower()
        values = frozenset(v.strip() for v in raw.split(",") if v.strip())
        if kind not in KINDS or not values:
            raise AudienceError("announce.audience.unknown", term)
        if kind == "region" and not values <= set(vocab.regions):
            raise AudienceError("announce.audience.region", term)
        if kind == "prefecture" and not values <= set(vocab.prefectures):
            raise AudienceError("announce.audience.prefecture", term)
        if kind == "round" and not all(v.isdigit() for v in values):
            raise AudienceError("announce.audience.round", term)
        if kind == "role" and not values <= {r.value for r in Role}:
            raise AudienceError("announce.audience.role", term)
        terms[kind] = terms[kind] & values if kind in terms else values
    return Audience(terms)


def lab_address(lab: Lab) -> Address | None:
    if lab.slack_channel:
        return Address(Platform.SLACK, lab.slack_channel)
    if lab.teams_conversation:
        return Address(Platform.TEAMS, lab.teams_conversation)
    return None


def person_address(person: Person) -> Address | None:
    """A DM: Slack when the person has a Slack id, else Teams (the sender finds the stored reference)."""
    if person.slack_user:
        return Address(Platform.SLACK, user=person.slack_user)
    if person.teams_user:
        return Address(Platform.TEAMS, user=person.teams_user)
    return None


def _dm(person: Person, lab_id: str | None) -> Recipient:
    address = person_address(person)
    return Recipient(f"dm:{person.id}", address.to_json() if address else "", lab_id, person.id)


def recipients(audience: Audience, directory: DirectoryRepo, dm_coordinators: bool = False) -> list[Recipient]:
    labs = audience.labs(directory)
    roles = audience.terms.get("role")
    if roles:
        lab_ids = {lab.id for lab in labs}
        narrowed = any(k != "role" for k in audience.terms)
        out: dict[str, Recipient] = {}
        for role in sorted(roles):
            for person in directory.people(role=role):
                mine = [lab for lab in person.labs if lab in lab_ids]
                if role in LAB_ROLES and not mine:
                    continue
                if role not in LAB_ROLES and narrowed and not mine:
                    continue
                out.setdefault(person.id, _dm(person, mine[0] if mine else None))
        return sorted(out.values(), key=lambda r: r.target)
    coordinators: dict[str, list[Person]] = {}
    if dm_coordinators:
        for person in directory.people(role=Role.COORDINATOR):
            for lab_id in person.labs:
                coordinators.setdefault(lab_id, []).append(person)
    found = []
    for lab in labs:
        address = lab_address(lab)
        found.append(Recipient(lab.id, address.to_json() if address else "", lab.id))
        found += [_dm(p, lab.id) for p in coordinators.get(lab.id, ())]
    unique = {r.target: r for r in found}
    return sorted(unique.values(), key=lambda r: r.target)
