"""`/dxlab kpi …` in chat: the hurried report (`kpi 参加企業数 42`), 「今期は報告なし」 (`kpi 報告なし 理由`),
the lab's status (`kpi`), its indicators (`kpi 指標`) and their targets (`kpi 目標 参加企業数 60`), and the
answer to 「KPIの報告はどうすればいい?」.

A report goes to the sender's own lab (the secretariat names one: `kpi shiojiri 参加企業数 42`), for the
period the lab was last asked about (else the latest closed one)."""

from __future__ import annotations

from handlers import policy
from handlers.context import Context
from handlers.directory.model import Person, Role
from handlers.i18n import t
from handlers.kpi.cycle import lab_name, number_text, round_buttons
from handlers.kpi.model import Indicator, State
from handlers.kpi.people import remember_personal
from handlers.kpi.reporting import _store_all, private, skip
from handlers.kpi.status import period_for, status_rows
from handlers.kpi.validation import Invalid, as_target, check
from handlers.messages import Button, Inbound, Reply, ReplyKind, Visibility
from handlers.outcome import Outcome
from handlers.routes import Routes

INTENT_CUES = ("KPI", "kpi", "指標", "実績報告", "KPIの報告", "参加企業数の報告", "成果指標")
LIST_WORDS, TARGET_WORDS, SKIP_WORDS = ("指標", "indicators"), ("目標", "target"), ("報告なし", "skip")


def own_labs(person: Person | None) -> list[str]:
    if person is None or not ({Role.LEAD.value, Role.COORDINATOR.value} & set(person.roles)):
        return []
    return list(person.labs)


def period_of(ctx: Context, ind: Indicator) -> str:
    """The period the lab was last asked about: a lab is asked when a period closes, so that is the latest
    closed period of the indicator's cadence (or its first period, while that has not closed yet)."""
    return period_for(ctx.services.calendar, ind, ctx.now)  # type: ignore[return-value]


def _lab_and_rest(ctx: Context, words: list[str], person: Person | None) -> tuple[str | None, list[str]]:
    """A lab named first (`shiojiri 参加企業数 42`), else the sender's own (the first that has the indicator)."""
    if words and ctx.uow.directory.lab(words[0]) is not None:
        return words[0], words[1:]
    labs = own_labs(person)
    if len(labs) > 1 and len(words) >= 2:
        for lab in labs:
            if ctx.uow.kpi.find(lab, " ".join(words[:-1])) is not None:
                return lab, words
    return (labs[0] if labs else None), words


def _unknown(ctx: Context, lab: str, what: str, lang: str) -> Outcome:
    names = "、".join(i.name for i in ctx.uow.kpi.indicators(lab=lab)) or t("kpi.none", lang)
    return private(t("kpi.chat.unknown_indicator", lang, what=what, lab=lab_name(ctx.uow, lab), names=names))


def report(ctx: Context, lab: str, words: list[str], lang: str) -> Outcome:
    decision = policy.check(ctx, policy.Act.KPI_REPORT, lab=lab)
    if not decision.allowed:
        return policy.refused(decision, lang)
    if len(words) < 2:
        return private(t("kpi.chat.format", lang))
    name, raw = " ".join(words[:-1]), words[-1]
    ind = ctx.uow.kpi.find(lab, name)
    if ind is None:
        return _unknown(ctx, lab, name, lang)
    period = period_of(ctx, ind)
    try:
        checked = check(ind, raw, ctx.uow.kpi.last_number(ind.id, period), lang)
    except Invalid as exc:
        return private(str(exc))
    return _store_all(ctx, lab, period, [(ind, checked)], "chat")


def status(ctx: Context, lab: str, lang: str) -> Outcome:
    decision = policy.check(ctx, policy.Act.KPI_VIEW, lab=lab)
    if not decision.allowed:
        return policy.refused(decision, lang)
    rows = status_rows(ctx.uow.kpi, ctx.services.calendar, ctx.now, lab=lab)
    if not rows:
        return private(t("kpi.chat.no_indicators", lang, lab=lab_name(ctx.uow, lab)))
    lines = [t("kpi.chat.status_item", lang, name=r.name, period=r.period, state=t(f"kpi.state.{r.state}", lang),
               value=f" {r.value}" if r.value else "") for r in rows]
    open_periods = sorted({r.period for r in rows if r.state in (State.OPEN, State.LATE)})
    buttons: tuple[Button, ...] = tuple(b for p in open_periods[:2] for b in round_buttons(lab, p, lang))
    title = t("kpi.chat.status_title", lang, lab=lab_name(ctx.uow, lab))
    return private("\n".join(lines), title=title, buttons=buttons)


def indicators(ctx: Context, lab: str, lang: str) -> Outcome:
    decision = policy.check(ctx, policy.Act.KPI_VIEW, lab=lab)
    if not decision.allowed:
        return policy.refused(decision, lang)
    found = ctx.uow.kpi.indicators(lab=lab)
    if not found:
        return private(t("kpi.chat.no_indicators", lang, lab=lab_name(ctx.uow, lab)))
    lines = [t("kpi.chat.indicator_item", lang, name=i.name, ident=i.key, unit=i.unit or t("kpi.no_unit", lang),
               type=t(f"kpi.type.{i.type}", lang), target=number_text(i.target, i, lang),
               direction=t(f"kpi.direction.{i.direction}", lang), cadence=t(f"kpi.cadence.{i.cadence}", lang),
               due_days=i.due_days) for i in found]
    return private("\n".join(lines), title=t("kpi.chat.indicators_title", lang, lab=lab_name(ctx.uow, lab)))


def set_target(ctx: Context, lab: str, words: list[str], lang: str) -> Outcome:
    decision = policy.check(ctx, policy.Act.KPI_MANAGE, lab=lab)
    if not decision.allowed:
        return policy.refused(decision, lang)
    if len(words) < 2:
        return private(t("kpi.chat.target_format", lang))
    ind = ctx.uow.kpi.find(lab, " ".join(words[:-1]))
    if ind is None:
        return _unknown(ctx, lab, " ".join(words[:-1]), lang)
    try:
        target = as_target(ind, words[-1], lang)
    except Invalid as exc:
        return private(str(exc))
    ctx.uow.kpi.set_target(ind.id, target, ctx.now)
    return private(t("kpi.chat.target_set", lang, name=ind.name, target=number_text(target, ind, lang)
                     .removesuffix(ind.unit), unit=ind.unit))


def skip_command(ctx: Context, lab: str, reason: str, lang: str) -> Outcome:
    decision = policy.check(ctx, policy.Act.KPI_REPORT, lab=lab)
    if not decision.allowed:
        return policy.refused(decision, lang)
    periods = sorted({period_of(ctx, i) for i in ctx.uow.kpi.indicators(lab=lab)})
    if not periods:
        return private(t("kpi.chat.no_indicators", lang, lab=lab_name(ctx.uow, lab)))
    outcomes = [skip(ctx, lab, p, reason, "chat") for p in periods]
    texts = [o.reply.text for o in outcomes if o.reply]
    return private("\n".join(texts))


def command(ctx: Context, msg: Inbound) -> Outcome:
    remember_personal(ctx)
    words = msg.text.split()
    person = ctx.uow.directory.person_by_address(ctx.address)
    head = words[0].lower() if words else ""
    subcommand = head in LIST_WORDS or head in TARGET_WORDS or head in SKIP_WORDS
    lab, rest = _lab_and_rest(ctx, words[1:] if subcommand else words, person)
    if lab is None:
        if person is None or not ({Role.SECRETARIAT.value} & set(person.roles)):
            decision = policy.check(ctx, policy.Act.KPI_REPORT)
            return policy.refused(decision, msg.lang) if not decision.allowed else private(t("kpi.chat.no_lab"))
        return private(t("kpi.chat.format", msg.lang))
    if head in LIST_WORDS:
        return indicators(ctx, lab, msg.lang)
    if head in TARGET_WORDS:
        return set_target(ctx, lab, rest, msg.lang)
    if head in SKIP_WORDS:
        return skip_command(ctx, lab, " ".join(rest), msg.lang)
    if not rest:
        return status(ctx, lab, msg.lang)
    return report(ctx, lab, rest, msg.lang)


def how(ctx: Context, msg: Inbound) -> Outcome:
    """「KPIの報告はどうすればいい?」: how it works, with the buttons when the sender has a round open."""
    remember_personal(ctx)
    person = ctx.uow.directory.person_by_address(ctx.address)
    buttons: tuple[Button, ...] = ()
    for lab in own_labs(person)[:1]:
        rows = status_rows(ctx.uow.kpi, ctx.services.calendar, ctx.now, lab=lab)
        open_periods = sorted({r.period for r in rows if r.state in (State.OPEN, State.LATE)})
        buttons = tuple(b for p in open_periods[:1] for b in round_buttons(lab, p, msg.lang))
    return Outcome(Reply(t("kpi.how", msg.lang), buttons=buttons, kind=ReplyKind.ANSWER,
                         visibility=Visibility.PRIVATE if msg.is_command else Visibility.CONVERSATION))


def register(routes: Routes) -> None:
    routes.command("kpi", usage="kpi.usage")(command)
    routes.intent("kpi")(how)
    routes.cues("kpi", INTENT_CUES)
