"""The FAQ use case: answer a question from the knowledge base, log it, and take 👍/👎 and suggestion presses.

Every button carries the log id of the answer it belongs to, and a press counts only from the
conversation that answer was given in (another browser or channel cannot act on it).
"""

from __future__ import annotations

from dataclasses import replace

from handlers.address import Address
from handlers.context import Context
from handlers.faq import FaqResult
from handlers.i18n import t
from handlers.messages import Action, ActionName, AnswerInfo, Button, Inbound, Reply, ReplyKind, Visibility
from handlers.outcome import Outcome
from handlers.ports import LoggedQuestion
from handlers.routes import Routes

MAX_ID_DIGITS = 18


def parse_id(value: str) -> int | None:
    """A button's numeric id, or None (ASCII digits only: `"²".isdigit()` is True, and int() rejects it)."""
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS else None


def same_conversation(logged: LoggedQuestion, address: Address) -> bool:
    """The press comes from the conversation the answer was given in (thread aside)."""
    here = f"{address.platform}:{address.conversation or '@' + address.user}"
    ref = logged.conversation_ref or ""
    return ref == here or ref.startswith(here + ":")


def owned_question(ctx: Context, value: str) -> LoggedQuestion | None:
    log_id = parse_id(value)
    logged = ctx.uow.questions.get(log_id) if log_id is not None else None
    return logged if logged is not None and same_conversation(logged, ctx.address) else None


def refused() -> Outcome:
    return Outcome(Reply(text=t("feedback.unknown"), visibility=Visibility.PRIVATE))


def render(result: FaqResult, log_id: int) -> Reply:
    handoff = Button(t("button.handoff"), ActionName.HANDOFF, str(log_id))
    buttons: tuple[Button, ...] = (handoff,)
    if result.entry_id is not None:
        buttons = (Button(t("button.feedback_up"), ActionName.FEEDBACK_UP, str(log_id)),
                   Button(t("button.feedback_down"), ActionName.FEEDBACK_DOWN, str(log_id)), handoff)
    suggestions = tuple(Button(label, ActionName.ASK, entry_id)
                        for entry_id, label in zip(result.suggestions, result.suggestion_labels, strict=True))
    return Reply(text=result.answer, source=result.source_line, buttons=buttons, suggestions=suggestions,
                 suggestion_intro=t("faq.suggest_intro") if suggestions else None, kind=ReplyKind.ANSWER,
                 answer=AnswerInfo(log_id, result.entry_id, result.answered, result.confidence))


def logged_answer(ctx: Context, result: FaqResult, clicked: bool = False) -> Outcome:
    address = ctx.address
    record = result.record(address.platform, address.user or None, address.conversation_key)
    log_id = ctx.uow.questions.record(replace(record, clicked=clicked))
    ctx.uow.conversations.mark_bot_thread(address)  # follow-ups in this thread come to the bot
    return Outcome(render(result, log_id))


def answer_text(ctx: Context, question: str) -> Outcome:
    faq = ctx.services.faq
    result = faq.ask(question)
    if result.rejected:
        return Outcome(Reply(text=result.answer, visibility=Visibility.PRIVATE, kind=ReplyKind.NOTICE))
    if ctx.services.rephraser is not None:
        result = ctx.wait(faq.rephrased(result, question, ctx.services.rephraser))
    return logged_answer(ctx, result)


def answer(ctx: Context, msg: Inbound) -> Outcome:
    outcome = answer_text(ctx, msg.text)
    if msg.is_command and outcome.reply is not None and outcome.reply.kind == ReplyKind.ANSWER:
        # A command's answer is shown to everyone, who did not see the question: head it with it.
        outcome.reply = replace(outcome.reply, title=t("faq.asked", question=msg.text))
    return outcome


def answer_suggestion(ctx: Context, action: Action) -> Outcome:
    result = ctx.services.faq.answer_entry(action.value)
    return refused() if result is None else logged_answer(ctx, result, clicked=True)


def feedback(ctx: Context, action: Action) -> Outcome:
    logged = owned_question(ctx, action.value)
    if logged is None:
        return refused()
    up = action.name == ActionName.FEEDBACK_UP
    ctx.uow.feedback.record(logged.id, ctx.address.user or ctx.address.conversation, 1 if up else -1)
    if up:
        return Outcome(Reply(text=t("feedback.thanks"), visibility=Visibility.PRIVATE))
    offer = (Button(t("button.handoff"), ActionName.HANDOFF, str(logged.id)),)
    return Outcome(Reply(text=t("feedback.sorry"), buttons=offer, visibility=Visibility.PRIVATE))


def register(routes: Routes) -> None:
    routes.command("ask", "質問", usage="help.usage_ask")(answer)
    routes.intent("faq")(answer)
    routes.action(ActionName.ASK)(answer_suggestion)
    routes.action(ActionName.FEEDBACK_UP, ActionName.FEEDBACK_DOWN)(feedback)
