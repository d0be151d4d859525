"""Chat commands on the directory: `lab <id>`, `labs <region|prefecture>`, `whois <@someone|id>` for the
secretariat (and a lab's own staff, for their lab), and `me` for everyone."""

from __future__ import annotations

import re

from handlers import policy
from handlers.address import Address, Platform
from handlers.context import Context
from handlers.directory.model import Lab, Person, Role
from handlers.i18n import t
from handlers.messages import Inbound, Reply, ReplyKind, Visibility
from handlers.outcome import Outcome
from handlers.routes import Routes
from knowledge.vocabulary import vocabulary

MENTION = re.compile(r"^<@([A-Za-z0-9._:-]+)(?:\|[^>]*)?>$")  # Slack: <@U123> or <@U123|name>


def argument(text: str, word: str) -> str:
    """What follows the command word: `/dxlab lab shiojiri`, `dxlab lab shiojiri`, `lab shiojiri` → shiojiri."""
    words = text.strip().lstrip("/").split(maxsplit=1)
    if words and words[0].lower() == "dxlab":
        words = words[1].split(maxsplit=1) if len(words) > 1 else []
    if words and words[0].lower() == word:
        return words[1].strip() if len(words) > 1 else ""
    return " ".join(words).strip()


def mentioned(who: str) -> str:
    """`<@U123>` (a Slack mention) → `U123`; `@p-yamada` → `p-yamada`; anything else unchanged."""
    who = who.strip()
    found = MENTION.match(who)
    return found.group(1) if found else who.lstrip("@")


def _private(text: str, lang: str, title: str | None = None, kind: ReplyKind = ReplyKind.NOTICE) -> Outcome:
    return Outcome(Reply(text, title=title, kind=kind, visibility=Visibility.PRIVATE))


def _or_unset(value: object, lang: str) -> str:
    return str(value) if value not in (None, "", ()) else t("directory.unset", lang)


def _roles(person: Person, lang: str) -> str:
    return "・".join(t(f"directory.role.{r}", lang) for r in person.roles) or t("directory.none", lang)


def person_text(ctx: Context, person: Person, lang: str) -> str:
    text = t("directory.person.body", lang, org=_or_unset(person.org, lang),
             prefecture=_or_unset(person.prefecture, lang), industry=_or_unset(person.industry, lang),
             roles=_roles(person, lang), labs="、".join(person.labs) or t("directory.none", lang),
             slack=_or_unset(person.slack_user, lang), teams=_or_unset(person.teams_user, lang),
             email=_or_unset(person.email, lang))
    if Role.EXPERT in person.roles:
        p = ctx.uow.directory.expert(person.id)
        if p is not None:
            coverage = [t("directory.person.national", lang)] if p.national else [*p.regions, *p.prefectures]
            text += "\n" + t("directory.person.expert", lang, kind=p.kind, topics="、".join(p.topics) or "-",
                             coverage="、".join(coverage) or "-", capacity=p.capacity)
    return text


def _round(lab: Lab, lang: str) -> str:
    return t("directory.lab.round", lang, round=lab.round) if lab.round else t("directory.unset", lang)


def show_lab(ctx: Context, msg: Inbound) -> Outcome:
    lab_id = argument(msg.text, "lab")
    if not lab_id:
        return _private(t("directory.usage.lab", msg.lang), msg.lang, kind=ReplyKind.HELP)
    decision = policy.check(ctx, policy.Act.LAB_VIEW, lab=lab_id)
    if not decision.allowed:
        return policy.refused(decision, msg.lang)
    lab = ctx.uow.directory.lab(lab_id)
    if lab is None:
        return _private(t("directory.lab.not_found", msg.lang, id=lab_id), msg.lang)
    members = ctx.uow.directory.people(lab=lab.id)
    staff = [f"{p.name}({_roles(p, msg.lang)})" for p in members if {Role.LEAD, Role.COORDINATOR} & set(p.roles)]
    companies = sum(1 for p in members if Role.COMPANY in p.roles)
    text = t("directory.lab.body", msg.lang, prefecture=lab.prefecture, region=lab.region, round=_round(lab, msg.lang),
             selected=_or_unset(lab.selected_on, msg.lang), status=t(f"directory.lab.status_{lab.status}", msg.lang),
             slack=_or_unset(lab.slack_channel, msg.lang), teams=_or_unset(lab.teams_conversation, msg.lang),
             staff="、".join(staff) or t("directory.none", msg.lang), companies=companies)
    return _private(text, msg.lang, title=t("directory.lab.title", msg.lang, name=lab.name, id=lab.id))


def list_labs(ctx: Context, msg: Inbound) -> Outcome:
    where = argument(msg.text, "labs")
    decision = policy.check(ctx, policy.Act.LABS_LIST, target=where)
    if not decision.allowed:
        return policy.refused(decision, msg.lang)
    vocab = vocabulary()
    if not where:
        counts = [(r, len(ctx.uow.directory.labs(region=r))) for r in vocab.regions]
        lines = [t("directory.labs.region_item", msg.lang, region=r, count=n) for r, n in counts]
        return _private("\n".join(lines), msg.lang, title=t("directory.labs.all_title", msg.lang))
    if where in vocab.regions:
        labs = ctx.uow.directory.labs(region=where)
    elif vocab.region_of(where):
        labs = ctx.uow.directory.labs(prefecture=where)
    else:
        return _private(t("directory.labs.unknown", msg.lang, where=where, regions="、".join(vocab.regions)), msg.lang)
    if not labs:
        return _private(t("directory.labs.empty", msg.lang, where=where), msg.lang)
    lines = [t("directory.labs.item", msg.lang, name=lab.name, id=lab.id, round=_round(lab, msg.lang)) for lab in labs]
    return _private("\n".join(lines), msg.lang, title=t("directory.labs.title", msg.lang, where=where, count=len(labs)))


def _find(ctx: Context, who: str) -> Person | None:
    directory = ctx.uow.directory
    person = directory.person(who)
    for platform in (ctx.address.platform, Platform.SLACK, Platform.TEAMS):
        if person is None:
            person = directory.person_by_address(Address(platform, user=who))
    return person


def whois(ctx: Context, msg: Inbound) -> Outcome:
    who = mentioned(argument(msg.text, "whois"))
    decision = policy.check(ctx, policy.Act.WHOIS, target=who)
    if not decision.allowed:
        return policy.refused(decision, msg.lang)
    if not who:
        return _private(t("directory.whois.usage", msg.lang), msg.lang, kind=ReplyKind.HELP)
    person = _find(ctx, who)
    if person is None:
        return _private(t("directory.whois.not_found", msg.lang, who=who), msg.lang)
    return _private(person_text(ctx, person, msg.lang), msg.lang,
                    title=t("directory.whois.title", msg.lang, name=person.name, id=person.id))


def me(ctx: Context, msg: Inbound) -> Outcome:
    person = ctx.uow.directory.person_by_address(ctx.address)
    if person is None:
        return _private(t("directory.me.unknown", msg.lang, platform=ctx.address.platform,
                          user=ctx.address.user or "-"), msg.lang, title=t("directory.me.title", msg.lang))
    text = person_text(ctx, person, msg.lang) + "\n\n" + t("directory.me.correction", msg.lang)
    return _private(text, msg.lang, title=f"{t('directory.me.title', msg.lang)}: {person.name}")


def register(routes: Routes) -> None:
    routes.command("lab", usage="directory.usage.lab")(show_lab)
    routes.command("labs", usage="directory.usage.labs")(list_labs)
    routes.command("whois", usage="directory.usage.whois")(whois)
    routes.command("me", usage="directory.usage.me")(me)
