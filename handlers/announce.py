"""The announcement use case in chat: `/dxlab お知らせ` opens the compose form (secretariat), the submitted
form becomes a draft shown as a preview with 送信する / 取り消す, 確認しました is recorded per recipient, and
the due steps send a scheduled broadcast and tell the secretariat when one has settled."""

from __future__ import annotations

import datetime as dt

from handlers import policy
from handlers.answers import parse_id
from handlers.calendar import JST
from handlers.context import Context
from handlers.events import broadcast
from handlers.events.audience import AudienceError
from handlers.events.broadcast import Desk
from handlers.events.render import ACK, notice, when
from handlers.i18n import t
from handlers.messages import Action, Button, Form, FormField, Inbound, Reply, ReplyKind, Submission
from handlers.outcome import Lane, Outcome, Send
from handlers.routes import DueStep, Routes
from handlers.secretariat import secretariat_addresses

COMPOSE_FORM = "announce.compose"
CONFIRM, DISCARD = "announce.confirm", "announce.discard"


def compose_form() -> Form:
    return Form(COMPOSE_FORM, t("announce.form.title"), (
        FormField("audience", t("announce.form.audience"), initial="all", placeholder=t("announce.form.audience_hint")),
        FormField("title", t("announce.form.subject")),
        FormField("text", t("announce.form.text"), multiline=True),
        FormField("at", t("announce.form.at"), required=False, placeholder="2031-05-12 10:00"),
        FormField("dm", t("announce.form.dm"), required=False,
                  options=(("no", t("announce.form.dm_no")), ("yes", t("announce.form.dm_yes")))),
    ), t("announce.form.submit"))


def parse_at(text: str) -> dt.datetime | None:
    """`2031-05-12 10:00` (Tokyo time unless a zone is given); empty → None. ValueError when unreadable."""
    text = text.strip()
    if not text:
        return None
    value = dt.datetime.fromisoformat(text)
    return (value.replace(tzinfo=JST) if value.tzinfo is None else value).astimezone(dt.UTC)


def actor(ctx: Context) -> str:
    return policy.actor_ref(ctx.uow.directory.person_by_address(ctx.address), ctx.address)


def open_compose(ctx: Context, msg: Inbound) -> Outcome:
    decision = policy.check(ctx, policy.Act.ANNOUNCE)
    if not decision.allowed:
        return policy.refused(decision, msg.lang)
    words = msg.text.split()
    if len(words) == 2 and words[0].lower() in ("report", "状況"):
        return _report(ctx, words[1])
    return Outcome(Reply(text=t("announce.form.intro"), form=compose_form(), kind=ReplyKind.NOTICE).private())


def _report(ctx: Context, value: str) -> Outcome:
    announcement_id = parse_id(value)
    found = broadcast.report(Desk.of(ctx), announcement_id) if announcement_id is not None else None
    if found is None:
        return Outcome(notice(t("announce.not_found", id=value)))
    return Outcome(notice(t("announce.report.text", **found), t("announce.report.title", title=found["title"])))


def submitted(ctx: Context, form: Submission) -> Outcome:
    decision = policy.check(ctx, policy.Act.ANNOUNCE)
    if not decision.allowed:
        return policy.refused(decision, form.lang)
    values = form.values
    try:
        send_at = parse_at(values.get("at", ""))
    except ValueError:
        return Outcome(notice(t("announce.bad_time", value=values.get("at", ""))))
    try:
        announcement_id, count, _ = broadcast.compose(
            Desk.of(ctx), values.get("title", "").strip() or t("announce.untitled"), values.get("text", "").strip(),
            values.get("audience", "all"), actor(ctx), dm=values.get("dm") == "yes", send_at=send_at, draft=True)
    except AudienceError as exc:
        return Outcome(notice(t(exc.key, term=exc.term)))
    a = ctx.uow.events.announcement(announcement_id)
    assert a is not None
    timing = t("announce.preview.at", at=when(send_at)) if send_at else t("announce.preview.now")
    preview = Reply(text=t("announce.preview.text", audience=a.audience, count=count, timing=timing,
                           title=a.title, body=a.body), title=t("announce.preview.title"),
                    buttons=(Button(t("announce.preview.confirm"), CONFIRM, str(a.id), "primary"),
                             Button(t("announce.preview.discard"), DISCARD, str(a.id), "danger")))
    return Outcome(preview.private())


def confirm(ctx: Context, action: Action) -> Outcome:
    decision = policy.check(ctx, policy.Act.ANNOUNCE, target=f"announcement:{action.value}")
    if not decision.allowed:
        return policy.refused(decision, action.lang)
    announcement_id = parse_id(action.value)
    a = ctx.uow.events.announcement(announcement_id) if announcement_id is not None else None
    if a is None or a.state != "draft":
        return Outcome(notice(t("announce.not_draft", id=action.value)))
    sends = broadcast.release(Desk.of(ctx), a.id)
    done = ctx.uow.events.announcement(a.id)
    assert done is not None
    text = t("announce.scheduled", id=a.id, at=when(done.send_at)) if done.state == "scheduled" \
        else t("announce.sent", id=a.id, count=len(sends))
    return Outcome(notice(text), sends)


def discard(ctx: Context, action: Action) -> Outcome:
    decision = policy.check(ctx, policy.Act.ANNOUNCE, target=f"announcement:{action.value}")
    if not decision.allowed:
        return policy.refused(decision, action.lang)
    announcement_id = parse_id(action.value)
    ok = announcement_id is not None and broadcast.cancel(Desk.of(ctx), announcement_id)
    return Outcome(notice(t("announce.cancelled" if ok else "announce.not_cancellable", id=action.value)))


def acknowledged(ctx: Context, action: Action) -> Outcome:
    announcement_id = parse_id(action.value)
    target = broadcast.acknowledge(Desk.of(ctx), announcement_id, ctx.address) if announcement_id else None
    return Outcome(notice(t("announce.ack_done" if target else "announce.ack_unknown")))


def send_due(ctx: Context, step: DueStep) -> Outcome:
    return Outcome(sends=broadcast.release(Desk.of(ctx), int(step.payload["announcement"])))


def check_complete(ctx: Context, step: DueStep) -> Outcome:
    """Settled (nothing pending) → the summary to the secretariat, once; else look again in a minute."""
    announcement_id, round_ = int(step.payload["announcement"]), int(step.payload.get("round", 1))
    desk = Desk.of(ctx)
    found = broadcast.report(desk, announcement_id)
    if found is None or found["state"] != "sent":
        return Outcome()
    if found["pending"] and round_ < broadcast.CHECK_ROUNDS:
        ctx.uow.due.schedule(broadcast.COMPLETE_STEP, f"announce:{announcement_id}:complete:{round_ + 1}",
                             ctx.now + broadcast.CHECK_EVERY, {"announcement": announcement_id, "round": round_ + 1})
        return Outcome()
    if not ctx.uow.events.mark_summarised(announcement_id, ctx.now):
        return Outcome()
    reasons = "\n".join(f"・{f['target']}: {f['reason']}" for f in found["failures"][:20])
    reply = Reply(text=t("announce.summary.text", **found) + (f"\n{reasons}" if reasons else ""),
                  title=t("announce.summary.title", title=found["title"]), kind=ReplyKind.PROACTIVE)
    return Outcome(sends=[Send(to, reply, f"announce-summary:{announcement_id}:{to.platform}", lane=Lane.BULK)
                          for to in secretariat_addresses(ctx)])


def register(routes: Routes) -> None:
    routes.command("お知らせ", "announce", usage="announce.usage")(open_compose)
    routes.form(COMPOSE_FORM)(submitted)
    routes.action(CONFIRM)(confirm)
    routes.action(DISCARD)(discard)
    routes.action(ACK)(acknowledged)
    routes.step(broadcast.SEND_STEP)(send_due)
    routes.step(broadcast.COMPLETE_STEP)(check_complete)
