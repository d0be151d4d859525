"""The check-in cycle as due steps, each run once (a due key) and each message sent once (an outbox key):

    kpi.close  (kpi:close:<period>)          the period has ended: the nudge round (a DM to each lab's
                                             coordinators, kpi:<lab>:<period>:nudge:<person>, and the first
                                             grade of its chase), all in one transaction; the next close
    kpi.remind (…:remind-before, …:remind-due) 3 business days before the due day, and on it
    kpi.late   (kpi:<lab>:<period>:late)     3 business days late: the coordinators again and the lead
    kpi.digest (kpi:digest:<monday>)         weekly: the labs still missing values after the late grade
                                             (the chart of them attached as PNG)

Each grade schedules the next one only while something is pending, so the chase is one row at a time.

A report that completes a lab's period cancels `kpi:<lab>:<period>:` at once; every step also looks
again before it speaks, so a late cancel never nags anyone who has reported. DMs wait for the next
allowed time (quiet hours, weekends, holidays).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING

from handlers.address import Address
from handlers.calendar import JST, BusinessCalendar, to_jst
from handlers.context import Context
from handlers.i18n import t
from handlers.kpi import people
from handlers.kpi.model import Indicator
from handlers.kpi.status import cadence_of, closes_at, due_day, latest_closed, pending
from handlers.messages import Attachment, Button, Reply, ReplyKind
from handlers.outcome import Outcome, Send
from handlers.ports import UnitOfWork
from handlers.routes import DueStep, Routes
from handlers.secretariat import secretariat_addresses

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLOSE, REMIND, LATE, DIGEST = "kpi.close", "kpi.remind", "kpi.late", "kpi.digest"
KINDS = (CLOSE, REMIND, LATE, DIGEST)
CHASE_AT = dt.time(9, 0)  # reminders go out at the start of the business day (JST)
DIGEST_AT = dt.time(9, 30)
GRACE_DAYS = 3  # business days before the due day (reminder) and after it (late)
LOOKBACK = 4  # periods of each cadence the digest looks back over
GRADES = (("remind-before", REMIND, -GRACE_DAYS), ("remind-due", REMIND, 0), ("late", LATE, GRACE_DAYS))
OVERDUE_CHART = "/admin/kpi/overdue.png"


def lab_prefix(lab: str, period: str) -> str:
    """Every due key and outbox key of one lab's round for one period starts with this."""
    return f"kpi:{lab}:{period}:"


def _at(day: dt.date, time: dt.time = CHASE_AT) -> dt.datetime:
    return dt.datetime.combine(day, time, JST)


def schedule_close(uow: UnitOfWork, cal: BusinessCalendar, period: str) -> bool:
    return uow.due.schedule(CLOSE, f"kpi:close:{period}", closes_at(cal, period), {"period": period})


def schedule_digest(uow: UnitOfWork, cal: BusinessCalendar, after: dt.datetime) -> bool:
    """The first weekly digest after `after` (Mondays, or the next business day when Monday is a holiday)."""
    today = to_jst(after).date()
    monday = today + dt.timedelta(days=(7 - today.weekday()) % 7)
    if _at(cal.next_business_day(monday, include_today=True), DIGEST_AT) <= after:
        monday += dt.timedelta(days=7)
    due = _at(cal.next_business_day(monday, include_today=True), DIGEST_AT)
    return uow.due.schedule(DIGEST, f"kpi:digest:{monday.isoformat()}", due, {"week": monday.isoformat()})


def schedule_cycle(uow: UnitOfWork, cal: BusinessCalendar, now: dt.datetime) -> int:
    """After indicators change: the close step of each cadence's earliest period still to collect
    (never further back than the latest closed one), and the weekly digest. Idempotent."""
    start: dict[str, str] = {}
    for ind in uow.kpi.indicators():
        first = max(ind.first_period, latest_closed(cal, ind.cadence, now))
        start[ind.cadence] = min(start.get(ind.cadence, first), first)
    made = 0
    for period in start.values():
        if schedule_close(uow, cal, period):
            made += 1
        elif closes_at(cal, period) <= now:  # that round has run: again for labs added since (keys dedupe)
            made += uow.due.schedule(CLOSE, f"kpi:close:{period}:again:{now.isoformat()}", now, {"period": period})
    if start:
        made += schedule_digest(uow, cal, now)
    return made


def collected(uow: UnitOfWork, cal: BusinessCalendar, lab: str, period: str) -> list[Indicator]:
    return [i for i in uow.kpi.indicators(lab=lab, cadence=cadence_of(cal, period)) if i.first_period <= period]


def _unit(ind: Indicator, lang: str = "ja") -> str:
    return ind.unit or t("kpi.no_unit", lang)


def number_text(value: float | None, ind: Indicator, lang: str = "ja") -> str:
    if value is None:
        return t("kpi.unset", lang)
    shown = str(int(value)) if value == int(value) else f"{value:.6g}"
    return f"{shown}{ind.unit}"


def last_text(uow: UnitOfWork, ind: Indicator, period: str, lang: str = "ja", known: dict[int, float] | None = None
              ) -> str:
    last = known.get(ind.id) if known is not None else uow.kpi.last_number(ind.id, period)
    return t("kpi.none", lang) if last is None else number_text(last, ind, lang)


def round_buttons(lab: str, period: str, lang: str = "ja") -> tuple[Button, ...]:
    value = f"{lab}|{period}"
    return (Button(t("kpi.button.report", lang), "kpi.open", value, "primary"),
            Button(t("kpi.button.skip", lang), "kpi.skip", value))


def _day(day: dt.date, lang: str = "ja") -> str:
    """`7月16日(火)`."""
    return t("kpi.date", lang, m=day.month, d=day.day, w=t("kpi.weekdays", lang)[day.weekday()])


def nudge_reply(cal: BusinessCalendar, name: str, lab: str, period: str, todo: list[Indicator],
                lasts: dict[int, float]) -> Reply:
    items = "\n".join(t("kpi.nudge.item", name=i.name, unit=_unit(i), target=number_text(i.target, i),
                        last=number_text(lasts[i.id], i) if i.id in lasts else t("kpi.none")) for i in todo)
    return Reply(t("kpi.nudge.body", period=period, due=_day(due_day(cal, todo, period)), items=items),
                 title=t("kpi.nudge.title", lab=name, period=period), buttons=round_buttons(lab, period),
                 kind=ReplyKind.PROACTIVE)


def lab_name(uow: UnitOfWork, lab: str) -> str:
    """The lab's name as the directory has it (its id when it has none)."""
    found = uow.directory.lab(lab)
    return found.name if found else lab


def close(ctx: Context, step: DueStep) -> Outcome:
    """The period has ended: the whole nudge round in this one transaction (every lab's DM enqueued and its
    chase scheduled, or, if anything fails, nothing: the step runs again), then the next close."""
    period = step.payload["period"]
    cal, uow = ctx.services.calendar, ctx.uow
    indicators = uow.kpi.indicators(cadence=cadence_of(cal, period))
    by_lab: dict[str, list[Indicator]] = defaultdict(list)
    for ind in indicators:
        if ind.first_period <= period:
            by_lab[ind.lab].append(ind)
    current = uow.kpi.current(periods=[period])
    lasts = uow.kpi.last_numbers([i.id for i in indicators], period)
    staff = people.staff_by_lab(uow)
    labs = {lab.id: lab for lab in uow.directory.labs()}
    sends: list[Send] = []
    for lab, inds in sorted(by_lab.items()):
        todo = [i for i in inds if (i.id, period) not in current]
        if not todo:
            continue
        schedule_chase(uow, cal, lab, period, ctx.now, inds)
        reply = nudge_reply(cal, labs[lab].name if lab in labs else lab, lab, period, todo, lasts)
        sends += _sends(ctx, lab, period, "nudge", reply,
                        people.recipients(uow, lab, staff.get(lab, []), labs.get(lab)))
    if indicators:  # the chain goes on while the cadence is in use; an import starts it again
        schedule_close(uow, cal, cal.next_period(period))
        schedule_digest(uow, cal, ctx.now)
    return Outcome(sends=sends)


def _sends(ctx: Context, lab: str, period: str, grade: str, reply: Reply,
           to: list[tuple[str, Address]] | None = None) -> list[Send]:
    reachable = people.recipients(ctx.uow, lab, people.coordinators(ctx.uow, lab)) if to is None else to
    when = ctx.services.calendar.next_allowed(ctx.now)
    return [Send(address, reply, f"{lab_prefix(lab, period)}{grade}:{who}", not_before=when)
            for who, address in reachable]


def schedule_chase(uow: UnitOfWork, cal: BusinessCalendar, lab: str, period: str, now: dt.datetime,
                   inds: list[Indicator] | None = None, after: str | None = None) -> None:
    """The lab's next grade after `after` (None: the first) whose time is still ahead (the late grade
    always: a round started after the due day goes straight to it). One grade at a time: a step that finds
    everything reported schedules nothing more."""
    due = due_day(cal, inds if inds is not None else collected(uow, cal, lab, period), period)
    names = [name for name, _, _ in GRADES]
    for grade, kind, offset in GRADES[0 if after is None else names.index(after) + 1:]:
        when = _at(cal.add_business_days(due, offset))
        if when >= now or kind == LATE:
            uow.due.schedule(kind, lab_prefix(lab, period) + grade, when, {"lab": lab, "period": period,
                                                                            "grade": grade})
            return


def _chase_text(key: str, ctx: Context, lab: str, period: str, todo: list[Indicator]) -> Reply:
    cal = ctx.services.calendar
    text = t(key, lab=lab_name(ctx.uow, lab), period=period, due=_day(due_day(cal, todo, period)),
             names="、".join(i.name for i in todo))
    return Reply(text, buttons=round_buttons(lab, period), kind=ReplyKind.PROACTIVE)


def remind(ctx: Context, step: DueStep) -> Outcome:
    lab, period, grade = step.payload["lab"], step.payload["period"], step.payload["grade"]
    todo = pending(ctx.uow.kpi, collected(ctx.uow, ctx.services.calendar, lab, period), lab, period)
    if not todo:
        return Outcome()
    key = "kpi.remind.before" if grade == "remind-before" else "kpi.remind.due"
    schedule_chase(ctx.uow, ctx.services.calendar, lab, period, ctx.now, after=grade)
    return Outcome(sends=_sends(ctx, lab, period, grade, _chase_text(key, ctx, lab, period, todo)))


def late(ctx: Context, step: DueStep) -> Outcome:
    lab, period = step.payload["lab"], step.payload["period"]
    uow = ctx.uow
    todo = pending(uow.kpi, collected(uow, ctx.services.calendar, lab, period), lab, period)
    if not todo:
        return Outcome()
    coordinators = people.coordinators(uow, lab)
    asked = {p.id for p in coordinators}
    leads = [p for p in people.leads(uow, lab) if p.id not in asked]
    sends = _sends(ctx, lab, period, "late", _chase_text("kpi.remind.late", ctx, lab, period, todo))
    lead_to = [(p.id, a) for p in leads if (a := people.direct(uow, p)) is not None]
    sends += _sends(ctx, lab, period, "late-lead", _chase_text("kpi.remind.late_lead", ctx, lab, period, todo),
                    lead_to)
    return Outcome(sends=sends)


def overdue(uow: UnitOfWork, cal: BusinessCalendar, now: dt.datetime) -> dict[tuple[str, str], list[Indicator]]:
    """(lab, period) → its indicators still missing after the lab's last grade of the chase (3 business days
    past the due day), as of `now`, looking back LOOKBACK periods: the labs the secretariat is told about."""
    today = to_jst(now).date()
    chosen: list[tuple[Indicator, str]] = []
    for ind in uow.kpi.indicators():
        period = latest_closed(cal, ind.cadence, now)
        for _ in range(LOOKBACK):
            if period < ind.first_period:
                break
            chosen.append((ind, period))
            period = cal.period_of(cal.period_bounds(period)[0] - dt.timedelta(days=1), ind.cadence)  # type: ignore[arg-type]
    current = uow.kpi.current(periods=sorted({p for _, p in chosen}))
    out: dict[tuple[str, str], list[Indicator]] = defaultdict(list)
    for ind, period in chosen:
        if (ind.id, period) not in current and \
                today >= cal.add_business_days(cal.due_date(period, ind.due_days), GRACE_DAYS):
            out[(ind.lab, period)].append(ind)
    return dict(sorted(out.items()))


def overdue_chart(uow: UnitOfWork, cal: BusinessCalendar, now: dt.datetime,
                  late: dict[tuple[str, str], list[Indicator]] | None = None) -> Figure:
    """The digest's chart: one bar per overdue lab, its height the indicators it has not reported
    (`late`: what `overdue` answered for `now`, when the caller has it already)."""
    from handlers.kpi.charts import overdue_figure  # matplotlib loads only when a chart is drawn

    counts: dict[str, int] = defaultdict(int)
    for (lab, _), inds in (overdue(uow, cal, now) if late is None else late).items():
        counts[lab_name(uow, lab)] += len(inds)
    title = t("kpi.digest.title", date=_day(to_jst(now).date()), count=len(counts))
    return overdue_figure(title, list(counts), list(counts.values()))


def overdue_png(uow: UnitOfWork, cal: BusinessCalendar, now: dt.datetime,
                late: dict[tuple[str, str], list[Indicator]] | None = None) -> bytes:
    """The digest's chart as PNG: attached to the digest, and shown at OVERDUE_CHART on the admin page."""
    from handlers.kpi.charts import chart_png

    return chart_png(overdue_chart(uow, cal, now, late))


def digest(ctx: Context, step: DueStep) -> Outcome:
    cal, uow = ctx.services.calendar, ctx.uow
    schedule_digest(uow, cal, ctx.now)
    late_labs = overdue(uow, cal, ctx.now)
    if not late_labs:
        return Outcome()
    items = "\n".join(t("kpi.digest.item", lab=lab_name(uow, lab), period=period,
                        names="、".join(i.name for i in inds), due=_day(due_day(cal, inds, period)))
                      for (lab, period), inds in late_labs.items())
    day = to_jst(ctx.now).date()
    week = step.payload.get("week", day.isoformat())
    title = t("kpi.digest.title", date=_day(day), count=len({lab for lab, _ in late_labs}))
    chart = Attachment(f"kpi-overdue-{week}.png", title, "image/png", overdue_png(uow, cal, ctx.now, late_labs))
    reply = Reply(items + "\n\n" + t("kpi.digest.chart", path=OVERDUE_CHART), kind=ReplyKind.PROACTIVE,
                  title=title, attachment=chart)
    return Outcome(sends=[Send(a, reply, f"kpi:digest:{week}:{a.conversation_key}",
                               not_before=cal.next_allowed(ctx.now)) for a in secretariat_addresses(ctx)])


def register(routes: Routes) -> None:
    routes.step(CLOSE)(close)
    routes.step(REMIND)(remind)
    routes.step(LATE)(late)
    routes.step(DIGEST)(digest)
