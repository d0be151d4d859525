"""The event use case in chat: 参加 / 不参加 / 未定 presses (with the live count and the waitlist), the
reminder step, the survey form, `/dxlab イベント` and questions such as 「次の交流会はいつ?」 answered from
the event table, and `/dxlab 出席 ID 人…` for the organiser."""

from __future__ import annotations

import datetime as dt
import unicodedata

from handlers import policy
from handlers.address import Address, Platform
from handlers.answers import parse_id
from handlers.calendar import JST, to_jst
from handlers.context import Context
from handlers.directory_commands import mentioned
from handlers.events import after, live, rsvp
from handlers.events.audience import AudienceError, parse
from handlers.events.broadcast import Desk, acknowledge
from handlers.events.model import Answer, EventInfo, Status
from handlers.events.render import RSVP, count_line, event_details, notice, rsvp_buttons, when
from handlers.i18n import t
from handlers.messages import Action, Inbound, Reply, ReplyKind, Submission, Visibility
from handlers.outcome import Outcome
from handlers.routes import DueStep, Routes

# Free-text cues for the classifier (handlers/intent.py, owned by the consultation use case): a message
# containing one of these is about events and goes to routes.intent("event").
INTENT_CUES = ("交流会", "イベント", "勉強会", "セミナー", "説明会", "ミートアップ", "ワークショップ",
               "次の会", "今月の予定", "来月の予定", "参加申込", "申し込み締切", "event", "meetup")
LISTED = 5


def pressed(ctx: Context, action: Action) -> Outcome:
    event_id, _, choice = action.value.partition(":")
    number = parse_id(event_id)
    event = ctx.uow.events.event(number) if number is not None else None
    if event is None or choice not in {a.value for a in Answer}:
        return Outcome(notice(t("event.not_found", id=event_id)))
    if event.state != "open":
        return Outcome(notice(t("event.closed", title=event.title)))
    if event.rsvp_deadline is not None and ctx.now > event.rsvp_deadline:
        return Outcome(notice(t("event.past_deadline", deadline=when(event.rsvp_deadline))))
    desk = Desk.of(ctx)
    record, sends = rsvp.answer(desk, event, ctx.address, Answer(choice))
    announcement = ctx.uow.events.announcement_of_event(event.id)
    if announcement is not None:
        acknowledge(desk, announcement.id, ctx.address)  # an answer is also a sign the notice was read
        sends += live.answered(desk, event, announcement, ctx.address)  # the copy pressed now, the others soon
    going, waiting = rsvp.counts(desk, event.id)
    if record.status == Status.WAITLISTED:
        position = [r.person for r in ctx.uow.events.rsvps(event.id, Status.WAITLISTED)].index(record.person) + 1
        text = t("event.rsvp.waitlisted", title=event.title, position=position)
    else:
        text = t(f"event.rsvp.{record.answer}", title=event.title)
    text += "\n" + count_line(event, going, waiting)
    return Outcome(notice(text), sends)


def remind_due(ctx: Context, step: DueStep) -> Outcome:
    p = step.payload
    return Outcome(sends=rsvp.remind(Desk.of(ctx), int(p["event"]), int(p["version"]), str(p["offset"])))


def refresh_due(ctx: Context, step: DueStep) -> Outcome:
    return Outcome(sends=live.refresh(Desk.of(ctx), int(step.payload["event"]), step.key))


def survey_submitted(ctx: Context, form: Submission) -> Outcome:
    event_id = parse_id(form.context)
    key = after.submit_survey(Desk.of(ctx), event_id, ctx.address, form.values) if event_id else "event.not_found"
    return Outcome(notice(t(key, id=form.context)))


def relevant(ctx: Context, events: list[EventInfo]) -> list[EventInfo]:
    """The events whose audience includes the asker's lab (all of them for the secretariat)."""
    person = ctx.uow.directory.person_by_address(ctx.address)
    if person is not None and "secretariat" in person.roles:
        return events
    labs = [ctx.uow.directory.lab(lab) for lab in (person.labs if person else ())]

    def mine(event: EventInfo) -> bool:
        try:
            audience = parse(event.audience)
        except AudienceError:
            return False
        return any(audience.includes(lab) for lab in labs) if labs else audience.includes(None)
    return [e for e in events if mine(e)]


def _month(now: dt.datetime, ahead: int) -> tuple[dt.datetime, dt.datetime]:
    j = to_jst(now)
    first = dt.datetime(j.year + (j.month - 1 + ahead) // 12, (j.month - 1 + ahead) % 12 + 1, 1, tzinfo=JST)
    following = dt.datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=JST)
    return max(first, now), following


def upcoming(ctx: Context, msg: Inbound) -> Outcome:
    text = unicodedata.normalize("NFKC", msg.text)
    start, end, heading = ctx.now, None, "event.list.title"
    if "今月" in text:
        start, end = _month(ctx.now, 0)
        heading = "event.list.this_month"
    elif "来月" in text:
        start, end = _month(ctx.now, 1)
        heading = "event.list.next_month"
    events = relevant(ctx, ctx.uow.events.events(start, end))
    if any(w in text for w in ("次", "つぎ", "next")):
        events, heading = events[:1], "event.list.next"
    if not events:
        return Outcome(Reply(text=t("event.list.none"), title=t(heading), kind=ReplyKind.ANSWER,
                             visibility=Visibility.PRIVATE if msg.is_command else Visibility.CONVERSATION))
    desk = Desk.of(ctx)
    blocks = [f"■ {e.title}\n" + event_details(e, desk.settings, going=rsvp.counts(desk, e.id)[0])
              for e in events[:LISTED]]
    if len(events) > LISTED:
        blocks.append(t("event.list.more", count=len(events) - LISTED))
    return Outcome(Reply(text="\n\n".join(blocks), title=t(heading), kind=ReplyKind.ANSWER,
                         buttons=rsvp_buttons(events[0].id) if len(events) == 1 else (),
                         visibility=Visibility.PRIVATE if msg.is_command else Visibility.CONVERSATION))


def _reference(ctx: Context, who: str) -> str:
    """A Slack mention or a directory id → the RSVP's person reference."""
    name = mentioned(who)
    person = ctx.uow.directory.person(name)
    for platform in (ctx.address.platform, Platform.SLACK, Platform.TEAMS):
        if person is None:
            person = ctx.uow.directory.person_by_address(Address(platform, user=name))
    return person.id if person else name


def attendance(ctx: Context, msg: Inbound) -> Outcome:
    words = msg.text.replace(",", " ").replace("、", " ").split()
    event_id = parse_id(words[0]) if words else None
    event = ctx.uow.events.event(event_id) if event_id is not None else None
    if event is None:
        return Outcome(notice(t("event.attendance.usage")))
    decision = policy.check(ctx, policy.Act.EVENT_ATTENDANCE, lab=event.organiser_lab, target=f"event:{event.id}")
    if not decision.allowed:
        return policy.refused(decision, msg.lang)
    try:
        marked = after.mark_attendance(Desk.of(ctx), event.id, [_reference(ctx, w) for w in words[1:]])
    except KeyError as exc:
        return Outcome(notice(t("event.attendance.unknown", who=exc.args[0])))
    assert marked is not None
    count, sends = marked
    return Outcome(notice(t("event.attendance.done", title=event.title, count=count, surveys=len(sends))), sends)


def cancel_event(ctx: Context, msg: Inbound) -> Outcome:
    """`イベント中止 ID 理由`: the secretariat, or the staff of the lab that organises it."""
    number, _, reason = msg.text.strip().partition(" ")
    event_id = parse_id(number)
    event = ctx.uow.events.event(event_id) if event_id is not None else None
    if event is None:
        return Outcome(notice(t("event.cancel_usage")))
    decision = policy.check(ctx, policy.Act.EVENT_MANAGE, lab=event.organiser_lab, target=f"event:{event.id}")
    if not decision.allowed:
        return policy.refused(decision, msg.lang)
    sends = rsvp.cancel(Desk.of(ctx), event.id, reason.strip())
    if sends is None:
        return Outcome(notice(t("event.closed", title=event.title)))
    return Outcome(notice(t("event.cancel_done", title=event.title, count=len(sends))), sends)


def register(routes: Routes) -> None:
    routes.cues("event", INTENT_CUES)
    routes.action(RSVP)(pressed)
    routes.step(rsvp.REMIND_STEP)(remind_due)
    routes.step(rsvp.REFRESH_STEP)(refresh_due)
    routes.form(after.SURVEY_FORM)(survey_submitted)
    routes.command("イベント", "events", usage="event.usage")(upcoming)
    routes.command("出席", "attendance", usage="event.attendance.usage_line")(attendance)
    routes.command("イベント中止", "event cancel", usage="event.cancel_usage_line")(cancel_event)
    routes.intent("event")(upcoming)
