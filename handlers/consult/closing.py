"""Closing a case: the requester rates 1–5 with a comment (a form); 再開 from the closing message; the
secretariat turns a good answer into an FAQ draft and a second member approves it (chat buttons; the CLI
has `dxlab kb drafts list|approve`)."""

from __future__ import annotations

from pathlib import Path

from handlers.calendar import JST
from handlers.consult.drafts import ApprovalError, approve, make_draft
from handlers.consult.lifecycle import CLOSE_FORM, case_of, private, reopen
from handlers.consult.model import CLAIMED, Status
from handlers.consult.people import audit, is_requester, me
from handlers.consult.routing import notify_secretariat, tell_requester
from handlers.context import Context
from handlers.i18n import t
from handlers.messages import Action, Button, Form, FormField, Reply, ReplyKind, Submission, Visibility
from handlers.outcome import Outcome, Send
from handlers.policy import Act, check, refused

RATINGS = tuple((str(n), str(n)) for n in range(1, 6))


def ask_rating(ctx: Context, action: Action) -> Outcome:
    case = case_of(ctx, action.value)
    if case is None or not is_requester(ctx, case, me(ctx)) or case.status not in CLAIMED:
        return private("consult.unknown")
    form = Form(CLOSE_FORM, t("consult.close.title", ref=case.ref),
                (FormField("rating", t("consult.close.rating"), options=RATINGS),
                 FormField("comment", t("consult.close.comment"), multiline=True, required=False)),
                t("consult.form.submit"), context=str(case.id))
    return Outcome(Reply(t("consult.close.title", ref=case.ref), form=form, visibility=Visibility.PRIVATE))


def close(ctx: Context, form: Submission) -> Outcome:
    case = case_of(ctx, form.context)
    if case is None or not is_requester(ctx, case, me(ctx)) or case.status not in CLAIMED:
        return private("consult.unknown")
    rating = (form.values.get("rating") or "").strip()
    if rating not in {r for r, _ in RATINGS}:
        return private("consult.close.bad_rating")
    case.status, case.rating, case.closed_at = Status.CLOSED, int(rating), ctx.now
    case.comment = (form.values.get("comment") or "").strip()[:2000] or None
    case.due_at, case.last_activity_at = None, ctx.now
    ctx.uow.due.cancel(f"consult:{case.id}:idle:")
    ctx.uow.consult.save(case)
    audit(ctx, "consult.close", case, after={"rating": case.rating})
    key = f"consult:{case.id}:closed:{case.reopened}"
    draft = Button(t("consult.button.add_faq"), "consult.draft", str(case.id))
    sends = [Send(s.to, Reply(s.reply.text, buttons=(draft,), kind=ReplyKind.PROACTIVE), s.key, lane=s.lane)
             for s in notify_secretariat(ctx, case, "consult.secretariat.closed", key, rating=case.rating)]
    again = Button(t("consult.button.reopen"), "consult.reopen", str(case.id))
    sends.append(tell_requester(case, "consult.requester.closed", key, (again,)))
    return Outcome(None, sends)


def reopen_pressed(ctx: Context, action: Action) -> Outcome:
    case = case_of(ctx, action.value)
    if case is None or not is_requester(ctx, case, me(ctx)) or case.status != Status.CLOSED or not case.assignee:
        return private("consult.unknown")
    return Outcome(None, reopen(ctx, case))


def add_faq(ctx: Context, action: Action) -> Outcome:
    case = case_of(ctx, action.value)
    decision = check(ctx, Act.CONSULT_DRAFT, target=case.ref if case else action.value)
    if not decision.allowed:
        return refused(decision)
    if case is None:
        return private("consult.unknown")
    folder = Path(ctx.services.consult.drafts_dir)
    existed = (folder / f"{case.ref}.yaml").exists()
    draft = make_draft(folder, case, ctx.uow.consult.messages(case.id), decision.actor.id if decision.actor else "",
                       ctx.now.astimezone(JST).date())
    if draft is None:
        return private("consult.draft.nothing", ref=case.ref)
    audit(ctx, "consult.draft", case, after={"path": str(draft.path)})
    key = "consult.draft.exists" if existed else "consult.draft.created"
    approve_button = Button(t("consult.button.approve"), "consult.approve", case.ref)
    return Outcome(Reply(t(key, ref=case.ref, draft=draft.id), buttons=(approve_button,)))


def approve_pressed(ctx: Context, action: Action) -> Outcome:
    decision = check(ctx, Act.CONSULT_APPROVE, target=action.value)
    if not decision.allowed or decision.actor is None:
        return refused(decision)
    settings = ctx.services.consult
    try:
        path = approve(Path(settings.drafts_dir), action.value, decision.actor.id, settings.knowledge_dir,
                       ctx.now.astimezone(JST).date())
    except ApprovalError as exc:
        return private(exc.reason, draft=action.value, errors="\n".join(exc.errors[:10]))
    return Outcome(Reply(t("consult.draft.approved", draft=action.value, path=path)))

