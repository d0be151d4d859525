"""Who may do what: the one place every privileged handler asks, with the directory as its data.

A rule names the roles that may take an action anywhere, and the lab-scoped roles that may take it
only for a lab they belong to (a coordinator acts for their own lab only). Someone with no directory
entry is a member of the public: they can ask the FAQ and request a consultation, nothing privileged.
Every decision on a privileged action, allowed or refused, is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.address import Address
from handlers.audit import AuditEntry
from handlers.context import Context
from handlers.directory.model import Person, Role
from handlers.i18n import t
from handlers.messages import Reply, ReplyKind, Visibility
from handlers.outcome import Outcome


class Act(StrEnum):
    """Privileged actions. Later use cases add theirs here, with a rule in RULES."""

    LAB_VIEW = "directory.lab"  # see a lab's card (its people and channels)
    LABS_LIST = "directory.labs"  # list labs by region or prefecture
    WHOIS = "directory.whois"  # look a person up
    DIRECTORY_IMPORT = "directory.import"  # replace the directory from a file
    ADMIN_VIEW = "admin.view"  # the read-only secretariat pages
    LAB_ANNOUNCE = "lab.announce"  # post to a lab's channel
    SECRETARIAT_HERE = "secretariat.here"  # make this conversation the secretariat's (Teams)
    KPI_REPORT = "kpi.report"  # report (or skip) a lab's KPI values
    KPI_VIEW = "kpi.view"  # see a lab's KPI values and indicators
    KPI_MANAGE = "kpi.manage"  # change a lab's indicators (targets)
    ANNOUNCE = "announce.send"  # compose, send, resend, cancel a broadcast; see its delivery report
    EVENT_MANAGE = "event.manage"  # create, edit, cancel an event (lab staff: their own lab's events)
    EVENT_ATTENDANCE = "event.attendance"  # mark who came (lab staff: their own lab's events)
    CONSULT_VIEW = "consult.view"  # see any case (requester and offered/assigned expert see their own)
    CONSULT_ASSIGN = "consult.assign"  # assign a case to an expert
    CONSULT_DRAFT = "consult.draft"  # turn a case's answer into an FAQ draft
    CONSULT_APPROVE = "consult.approve"  # approve a draft someone else made (publishes it)


@dataclass(frozen=True)
class Rule:
    anywhere: frozenset[str]  # roles that may act on anything
    own_lab: frozenset[str] = frozenset()  # roles that may act only for a lab they belong to


SECRETARIAT = frozenset({Role.SECRETARIAT.value})
LAB_STAFF = frozenset({Role.LEAD.value, Role.COORDINATOR.value})
RULES: dict[str, Rule] = {
    Act.LAB_VIEW: Rule(SECRETARIAT, own_lab=LAB_STAFF),
    Act.LABS_LIST: Rule(SECRETARIAT),
    Act.WHOIS: Rule(SECRETARIAT),
    Act.DIRECTORY_IMPORT: Rule(SECRETARIAT),
    Act.ADMIN_VIEW: Rule(SECRETARIAT),
    Act.LAB_ANNOUNCE: Rule(SECRETARIAT, own_lab=LAB_STAFF),
    Act.SECRETARIAT_HERE: Rule(SECRETARIAT),
    Act.KPI_REPORT: Rule(SECRETARIAT, own_lab=LAB_STAFF),
    Act.KPI_VIEW: Rule(SECRETARIAT, own_lab=LAB_STAFF),
    Act.KPI_MANAGE: Rule(SECRETARIAT, own_lab=frozenset({Role.LEAD.value})),
    Act.ANNOUNCE: Rule(SECRETARIAT),
    Act.EVENT_MANAGE: Rule(SECRETARIAT, own_lab=LAB_STAFF),
    Act.EVENT_ATTENDANCE: Rule(SECRETARIAT, own_lab=LAB_STAFF),
    Act.CONSULT_VIEW: Rule(SECRETARIAT),
    Act.CONSULT_ASSIGN: Rule(SECRETARIAT),
    Act.CONSULT_DRAFT: Rule(SECRETARIAT),
    Act.CONSULT_APPROVE: Rule(SECRETARIAT),
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    action: str
    actor: Person | None
    lab: str | None = None
    reason: str = ""  # the i18n key of the refusal

    def refusal(self, lang: str = "ja") -> Reply:
        rule = RULES[self.action]
        roles = "・".join(t(f"directory.role.{r}", lang) for r in Role if r in rule.anywhere | rule.own_lab)
        labs = "、".join(self.actor.labs) if self.actor and self.actor.labs else t("directory.none", lang)
        text = t(self.reason, lang, roles=roles, lab=self.lab or "", labs=labs)
        return Reply(text, kind=ReplyKind.NOTICE, visibility=Visibility.PRIVATE,
                     title=t("directory.refused.title", lang))


def decide(actor: Person | None, action: str, lab: str | None = None) -> Decision:
    """May `actor` (None: the public) take `action`, for `lab` when the action concerns one?"""
    rule = RULES[action]  # an unknown action is a programming error, never silently allowed
    if actor is None:
        return Decision(False, action, None, lab, "directory.refused.public")
    roles = set(actor.roles)
    if roles & rule.anywhere:
        return Decision(True, action, actor, lab)
    if roles & rule.own_lab:
        if lab is not None and lab in actor.labs:
            return Decision(True, action, actor, lab)
        if lab is not None:
            return Decision(False, action, actor, lab, "directory.refused.other_lab")
    return Decision(False, action, actor, lab, "directory.refused.role")


def actor_ref(person: Person | None, address: Address) -> str:
    return person.id if person else f"{address.platform}:@{address.user or '?'}"


def check(ctx: Context, action: str, lab: str | None = None, target: str = "") -> Decision:
    """Decide for whoever is acting in `ctx`, and audit the decision."""
    person = ctx.uow.directory.person_by_address(ctx.address)
    decision = decide(person, action, lab)
    ctx.uow.audit.record(AuditEntry(actor=actor_ref(person, ctx.address), action=str(action),
                                    target=target or (f"labs:{lab}" if lab else ""),
                                    outcome="allowed" if decision.allowed else "refused", at=ctx.now))
    return decision


def refused(decision: Decision, lang: str = "ja") -> Outcome:
    return Outcome(decision.refusal(lang))
