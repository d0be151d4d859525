"""Three doors into one case: the 担当者に相談する button (handlers/handoff.py), a request in words, and
`/dxlab 相談 本文`. A known person is matched and routed at once from what the directory knows and the
topic in their words; the form only refines (and asks for consent to share the text)."""

from __future__ import annotations

from dataclasses import replace

from handlers.answers import answer_text
from handlers.calendar import JST
from handlers.consult.lifecycle import case_of, private
from handlers.consult.model import UNCLAIMED, Case, Door, NewCase
from handlers.consult.people import audit, is_requester, me, reach, remember_contact, requester_ref
from handlers.consult.routing import route, shared_text, topic_label
from handlers.consult.topics import infer_industry, infer_prefecture, infer_topic
from handlers.context import Context
from handlers.i18n import t
from handlers.messages import Action, Button, Form, FormField, Inbound, Reply, ReplyKind, Submission, Visibility
from handlers.outcome import Lane, Outcome, Send
from handlers.secretariat import secretariat_addresses
from knowledge.vocabulary import vocabulary

REFINE_FORM = "consult.refine"
UNSURE_KEY = "consult.unsure:"
MAX_TEXT = 4000


def open_case(ctx: Context, door: Door, text: str, bot_answer: str | None = None,
              question_log_id: int | None = None) -> Outcome:
    person = me(ctx)
    remember_contact(ctx, person)
    where = ctx.address
    new = NewCase(
        door=door.value, text=text[:MAX_TEXT], requester_ref=requester_ref(where), requester_address=where,
        at=ctx.now, year=ctx.now.astimezone(JST).year, bot_answer=bot_answer, question_log_id=question_log_id,
        topic=infer_topic(text), prefecture=(person.prefecture if person else None) or infer_prefecture(text),
        industry=(person.industry if person else None) or infer_industry(text),
        org=(person.org if person else None) or "",
        consent=door == Door.COMMAND, requester_person=person.id if person else None)
    case = ctx.uow.consult.create(new)
    audit(ctx, "consult.create", case, after={"door": door.value, "topic": case.topic})
    ctx.uow.conversations.mark_bot_thread(where)  # the requester's follow-ups in this thread come to the bot
    sends = route(ctx, case)
    asked = any(s.key.startswith(f"consult:{case.id}:offer:") for s in sends)
    return Outcome(confirmation(case, bool(secretariat_addresses(ctx)), asked), sends)


def confirmation(case: Case, secretariat: bool, expert: bool) -> Reply:
    """What the requester is told at once: the number, who was told (truthfully), consent, the form."""
    told = {(True, True): "routed", (True, False): "secretariat_only", (False, True): "expert_only",
            (False, False): "unrouted"}[(secretariat, expert)]
    parts = [t(f"consult.opened.{told}", topic=topic_label(case), ref=case.ref)]
    parts.append(t("consult.opened.consent_given" if case.consent else "consult.opened.consent_needed"))
    parts.append(t("consult.opened.refine"))
    buttons = () if case.consent else (Button(t("consult.button.consent"), "consult.consent", str(case.id)),)
    return Reply("\n".join(parts), title=t("consult.opened.title", ref=case.ref), buttons=buttons,
                 form=refine_form(case), kind=ReplyKind.NOTICE)


def refine_form(case: Case) -> Form:
    def options(values: object) -> tuple[tuple[str, str], ...]:
        return tuple((v, v) for v in sorted(values))  # type: ignore[call-overload]

    v = vocabulary()
    consent = (("yes", t("consult.form.agree")), ("no", t("consult.form.disagree")))
    fields = (
        FormField("org", t("consult.form.org"), required=False, initial=case.org),
        FormField("prefecture", t("consult.form.prefecture"), required=False, initial=case.prefecture,
                  options=tuple((p, p) for p in v.prefectures)),
        FormField("industry", t("consult.form.industry"), required=False, initial=case.industry,
                  options=options(v.industries)),
        FormField("size", t("consult.form.size"), required=False, initial=case.size),
        FormField("topic", t("consult.form.topic"), required=False, initial=case.topic, options=options(v.topics)),
        FormField("want", t("consult.form.want"), multiline=True, required=False, initial=case.want or case.text),
        FormField("contact", t("consult.form.contact"), required=False, initial=case.contact),
        FormField("consent", t("consult.form.consent"), initial="yes" if case.consent else "no", options=consent),
    )
    return Form(REFINE_FORM, t("consult.form.title"), fields, t("consult.form.submit"), context=str(case.id))


def share_text(ctx: Context, case: Case) -> list[Send]:
    """Consent given: the offered or assigned expert now gets the text."""
    sends = []
    for person in {p for p in (case.assignee, case.offered_to) if p}:
        to = reach(ctx, person)
        if to is not None:
            reply = Reply(shared_text(case), title=t("consult.offer.shared_title", ref=case.ref),
                          kind=ReplyKind.PROACTIVE)
            sends.append(Send(to, reply, f"consult:{case.id}:shared:{person}", lane=Lane.REPLY))
    return sends


def give_consent(ctx: Context, action: Action) -> Outcome:
    case = case_of(ctx, action.value)
    if case is None or not is_requester(ctx, case, me(ctx)):
        return private("consult.unknown")
    if not case.consent:
        case.consent = True
        ctx.uow.consult.save(case)
        audit(ctx, "consult.consent", case)
        return Outcome(Reply(t("consult.consent_saved", ref=case.ref), visibility=Visibility.PRIVATE),
                       share_text(ctx, case))
    return private("consult.consent_saved", ref=case.ref)


def refine(ctx: Context, form: Submission) -> Outcome:
    case = case_of(ctx, form.context)
    if case is None or not is_requester(ctx, case, me(ctx)):
        return private("consult.unknown")
    v = vocabulary()
    values = {k: (form.values.get(k) or "").strip() for k in ("org", "prefecture", "industry", "size", "topic",
                                                            "want", "contact", "consent")}
    before = (case.org, case.prefecture, case.industry, case.topic)
    updated = replace(case, org=values["org"][:255] or case.org, size=values["size"][:64],
                      prefecture=values["prefecture"] if values["prefecture"] in v.prefectures else case.prefecture,
                      industry=values["industry"] if values["industry"] in v.industries else case.industry,
                      topic=values["topic"] if values["topic"] in v.topics else case.topic,
                      want=values["want"][:4000], contact=values["contact"][:255])
    consent_now = values["consent"] == "yes" and not case.consent
    updated.consent = case.consent or values["consent"] == "yes"
    audit(ctx, "consult.refine", updated, after={k: v for k, v in values.items() if k not in ("want", "contact")})
    sends: list[Send] = share_text(ctx, updated) if consent_now else []
    changed = before != (updated.org, updated.prefecture, updated.industry, updated.topic)
    if changed and updated.status in UNCLAIMED:
        for o in ctx.uow.consult.offers(updated.id):  # asked on the old facts: withdraw and route again
            if o.state == "offered":
                ctx.uow.consult.set_offer(updated.id, o.person, o.round, "withdrawn", ctx.now)
        ctx.uow.due.cancel(f"consult:{updated.id}:remind:")
        sends += route(ctx, updated)
        return Outcome(Reply(t("consult.form.saved_rerouted", ref=updated.ref), visibility=Visibility.PRIVATE), sends)
    ctx.uow.consult.save(updated)
    return Outcome(Reply(t("consult.form.saved", ref=updated.ref), visibility=Visibility.PRIVATE), sends)


def by_command(ctx: Context, msg: Inbound) -> Outcome:
    """`/dxlab 相談 本文`: a case at once; typing the text counts as consent to share it."""
    if not msg.text.strip():
        return private("consult.empty")
    return open_case(ctx, Door.COMMAND, msg.text.strip())


def by_words(ctx: Context, msg: Inbound) -> Outcome:
    return open_case(ctx, Door.WORDS, msg.text.strip())


def unsure(ctx: Context, msg: Inbound) -> Outcome:
    """Question or consultation? Ask, keeping the message for the button pressed."""
    key = UNSURE_KEY + ctx.address.conversation_key
    ctx.uow.kv.put(key, msg.text.strip()[:MAX_TEXT])
    ctx.uow.conversations.mark_bot_thread(ctx.address)
    buttons = (Button(t("consult.button.as_question"), "consult.as_faq", "1"),
               Button(t("consult.button.as_consult"), "consult.as_consult", "1", "primary"))
    return Outcome(Reply(t("consult.unsure.body"), buttons=buttons, visibility=Visibility.PRIVATE))


def _pending_text(ctx: Context) -> str | None:
    text = ctx.uow.kv.get(UNSURE_KEY + ctx.address.conversation_key)
    return text or None


def as_faq(ctx: Context, action: Action) -> Outcome:
    text = _pending_text(ctx)
    if text is None:
        return private("consult.unsure.expired")
    ctx.uow.kv.put(UNSURE_KEY + ctx.address.conversation_key, "")
    return answer_text(ctx, text)


def as_consult(ctx: Context, action: Action) -> Outcome:
    text = _pending_text(ctx)
    if text is None:
        return private("consult.unsure.expired")
    ctx.uow.kv.put(UNSURE_KEY + ctx.address.conversation_key, "")
    return open_case(ctx, Door.WORDS, text)

