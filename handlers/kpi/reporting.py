"""Reporting values: the form behind 「KPIを報告する」, 「今期は報告なし」 with a reason, the confirmation of a
value ten times the last, and the one place a value is stored (the chat command and the CLI use it too).

Only the lab's own coordinators and lead, and the secretariat, may report (handlers.policy, KPI_REPORT).
A report that leaves nothing pending for the lab's period stops the chase at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from handlers import policy
from handlers.audit import AuditEntry
from handlers.calendar import BusinessCalendar
from handlers.context import Context
from handlers.i18n import t
from handlers.kpi.cycle import collected, lab_name, lab_prefix, last_text, number_text, round_buttons
from handlers.kpi.model import Indicator, Reported
from handlers.kpi.people import remember_personal
from handlers.kpi.status import pending
from handlers.kpi.validation import Checked, Invalid, check
from handlers.messages import Action, Button, Form, FormField, Reply, Submission, Visibility
from handlers.outcome import Outcome
from handlers.ports import UnitOfWork
from handlers.routes import Routes

MAX_FIELDS = 10
REPORT_FORM, SKIP_FORM = "kpi.report", "kpi.skip"


@dataclass(frozen=True)
class Stored:
    indicator: Indicator
    value: str
    old: str | None  # the value it corrected


def private(text: str, title: str | None = None, buttons: tuple[Button, ...] = (), form: Form | None = None
            ) -> Outcome:
    return Outcome(Reply(text, title=title, buttons=buttons, form=form, visibility=Visibility.PRIVATE))


def parse_round(value: str, cal: BusinessCalendar | None = None) -> tuple[str, str] | None:
    """`shiojiri|FY2030-Q1` (a button's value, a form's context) → (lab, period); None when malformed."""
    lab, _, period = value.partition("|")
    try:
        (cal or BusinessCalendar()).period_bounds(period)
    except ValueError:
        return None
    return (lab, period) if lab else None


def store(uow: UnitOfWork, ind: Indicator, period: str, checked: Checked | None, reporter: str, source: str,
          now: dt.datetime, reason: str | None = None) -> Stored:
    """Record a value (or, with `checked` None, a skip with `reason`) and audit it; earlier values stay."""
    before = uow.kpi.current(lab=ind.lab, periods=[period]).get((ind.id, period))
    value = checked.value if checked else None
    uow.kpi.record(Reported(ind.id, ind.lab, period, value, checked.number if checked else None, checked is None,
                            reason, reporter, source, now))
    uow.audit.record(AuditEntry(actor=reporter, action="kpi.skip" if checked is None else "kpi.report",
                                target=f"labs:{ind.lab}", at=now,
                                before={"value": before.value, "skipped": before.skipped} if before else None,
                                after={"indicator": ind.key, "period": period, "value": value, "reason": reason,
                                       "source": source}))
    return Stored(ind, value or "", before.value if before and not before.skipped else None)


def finish(uow: UnitOfWork, cal: BusinessCalendar, lab: str, period: str) -> list[Indicator]:
    """What is still pending; when nothing is, the lab's chase for the period is cancelled."""
    todo = pending(uow.kpi, collected(uow, cal, lab, period), lab, period)
    if not todo:
        uow.due.cancel(lab_prefix(lab, period))
    return todo


def saved_text(name: str, period: str, stored: list[Stored], todo: list[Indicator]) -> str:
    lines = [t("kpi.reported.saved", lab=name, period=period)]
    for s in stored:
        key = "kpi.reported.corrected" if s.old is not None else "kpi.reported.item"
        lines.append(t(key, name=s.indicator.name, value=s.value, unit=s.indicator.unit, old=s.old))
    lines.append(t("kpi.reported.complete", period=period) if not todo else
                 t("kpi.reported.remaining", names="、".join(i.name for i in todo)))
    return "\n".join(lines)


def confirm_button(ind: Indicator, period: str, value: str) -> Button:
    return Button(t("kpi.button.confirm"), "kpi.confirm", f"{ind.lab}|{period}|{ind.key}|{value}"[:200])


def confirm_text(uow: UnitOfWork, ind: Indicator, period: str, checked: Checked) -> str:
    last = uow.kpi.last_number(ind.id, period)
    return t("kpi.reported.confirm", name=ind.name, value=checked.value, unit=ind.unit,
             last=number_text(last, ind).removesuffix(ind.unit))


def _allowed(ctx: Context, lab: str) -> policy.Decision:
    remember_personal(ctx)
    return policy.check(ctx, policy.Act.KPI_REPORT, lab=lab)


def _permitted_round(ctx: Context, value: str, lang: str) -> tuple[str, str] | Outcome:
    """(lab, period) named by a button or form, when the actor may report for that lab; else the reply."""
    found = parse_round(value, ctx.services.calendar)
    if found is None:
        return private(t("kpi.chat.stale"))
    decision = _allowed(ctx, found[0])
    return found if decision.allowed else policy.refused(decision, lang)


def reporter_of(ctx: Context) -> str:
    return policy.actor_ref(ctx.uow.directory.person_by_address(ctx.address), ctx.address)


def report_form(uow: UnitOfWork, cal: BusinessCalendar, lab: str, period: str) -> Form | None:
    indicators = collected(uow, cal, lab, period)[:MAX_FIELDS]
    if not indicators:
        return None
    current = uow.kpi.current(lab=lab, periods=[period])
    fields = tuple(FormField(
        i.key, f"{i.name}({i.unit})" if i.unit else i.name, multiline=not i.numeric,
        placeholder=t("kpi.form.hint", last=last_text(uow, i, period), target=number_text(i.target, i)),
        initial=(r.value or "") if (r := current.get((i.id, period))) and not r.skipped else "")
        for i in indicators)
    return Form(REPORT_FORM, t("kpi.form.title", period=period), fields, t("kpi.form.submit"), f"{lab}|{period}")


def open_form(ctx: Context, action: Action) -> Outcome:
    round_ = _permitted_round(ctx, action.value, action.lang)
    if isinstance(round_, Outcome):
        return round_
    lab, period = round_
    form = report_form(ctx.uow, ctx.services.calendar, lab, period)
    return private(t("kpi.form.title", period=period), form=form) if form else private(t("kpi.chat.stale"))


def open_skip(ctx: Context, action: Action) -> Outcome:
    round_ = _permitted_round(ctx, action.value, action.lang)
    if isinstance(round_, Outcome):
        return round_
    _, period = round_
    form = Form(SKIP_FORM, t("kpi.form.skip_title", period=period),
                (FormField("reason", t("kpi.form.reason"), multiline=True,
                           placeholder=t("kpi.form.reason_placeholder")),), t("kpi.form.skip_submit"), action.value)
    return private(t("kpi.form.skip_title", period=period), form=form)


def submit_report(ctx: Context, form: Submission) -> Outcome:
    round_ = _permitted_round(ctx, form.context, form.lang)
    if isinstance(round_, Outcome):
        return round_
    lab, period = round_
    uow, cal = ctx.uow, ctx.services.calendar
    checked: list[tuple[Indicator, Checked]] = []
    problems: list[str] = []
    for ind in collected(uow, cal, lab, period)[:MAX_FIELDS]:
        raw = form.values.get(ind.key, "")
        if not raw.strip():
            continue
        try:
            checked.append((ind, check(ind, raw, uow.kpi.last_number(ind.id, period), form.lang)))
        except Invalid as exc:
            problems.append(f"・{exc}")
    if problems:  # all or nothing: the reporter fixes the form and sends it again
        return private(t("kpi.reported.errors", items="\n".join(problems)), buttons=round_buttons(lab, period))
    return _store_all(ctx, lab, period, checked, "form")


def _store_all(ctx: Context, lab: str, period: str, checked: list[tuple[Indicator, Checked]], source: str
               ) -> Outcome:
    uow, cal, who = ctx.uow, ctx.services.calendar, reporter_of(ctx)
    stored = [store(uow, ind, period, c, who, source, ctx.now) for ind, c in checked if not c.confirm]
    asks = [(ind, c) for ind, c in checked if c.confirm]
    todo = finish(uow, cal, lab, period)
    text = saved_text(lab_name(uow, lab), period, stored, todo) if stored or not asks else ""
    for ind, c in asks:
        text += ("\n\n" if text else "") + confirm_text(uow, ind, period, c)
    return private(text, buttons=tuple(confirm_button(ind, period, c.value) for ind, c in asks))


def confirm(ctx: Context, action: Action) -> Outcome:
    lab, _, rest = action.value.partition("|")
    period, _, rest = rest.partition("|")
    key, _, value = rest.partition("|")
    decision = _allowed(ctx, lab)
    if not decision.allowed:
        return policy.refused(decision, action.lang)
    ind = ctx.uow.kpi.find(lab, key)
    if ind is None or not period:
        return private(t("kpi.chat.stale"))
    try:
        checked = check(ind, value, None, action.lang)
    except Invalid as exc:
        return private(str(exc))
    stored = store(ctx.uow, ind, period, checked, reporter_of(ctx), "chat", ctx.now)
    todo = finish(ctx.uow, ctx.services.calendar, lab, period)
    return private(saved_text(lab_name(ctx.uow, lab), period, [stored], todo))


def skip(ctx: Context, lab: str, period: str, reason: str, source: str) -> Outcome:
    if not reason.strip():
        return private(t("kpi.reported.reason_required"))
    uow, cal = ctx.uow, ctx.services.calendar
    todo = pending(uow.kpi, collected(uow, cal, lab, period), lab, period)
    if not todo:
        return private(t("kpi.reported.nothing_pending", lab=lab_name(uow, lab), period=period))
    who = reporter_of(ctx)
    for ind in todo:
        store(uow, ind, period, None, who, source, ctx.now, reason=reason.strip())
    finish(uow, cal, lab, period)
    return private(t("kpi.reported.skipped", lab=lab_name(uow, lab), period=period, reason=reason.strip()))


def submit_skip(ctx: Context, form: Submission) -> Outcome:
    round_ = _permitted_round(ctx, form.context, form.lang)
    if isinstance(round_, Outcome):
        return round_
    lab, period = round_
    return skip(ctx, lab, period, form.values.get("reason", ""), "form")


def register(routes: Routes) -> None:
    routes.action("kpi.open")(open_form)
    routes.action("kpi.skip")(open_skip)
    routes.action("kpi.confirm")(confirm)
    routes.form(REPORT_FORM)(submit_report)
    routes.form(SKIP_FORM)(submit_skip)
