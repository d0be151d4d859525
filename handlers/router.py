"""Dispatch: commands, button actions and free text, each to the use case that serves it."""

from __future__ import annotations

import asyncio
import logging
import re

from handlers.faq import FaqResult, FaqService
from handlers.i18n import t
from handlers.messages import Action, ActionName, Button, Inbound, Reply
from handlers.ports import Rephraser, Store

log = logging.getLogger(__name__)

_TRAILING_MARKS = re.compile(r"[!!。.、]+$")
HELP_WORDS = {"help", "ヘルプ", "使い方", "つかいかた", "?", "へるぷ", "hello", "こんにちは"}
ASK_COMMANDS = {"ask", "質問"}
THANKS_WORDS = {"ありがとう", "ありがとうございます", "ありがとうございました", "thanks", "thank you", "どうも",
                "助かりました", "了解", "了解です", "わかりました", "分かりました", "承知しました"}


class Bot:
    def __init__(self, faq: FaqService, store: Store, rephraser: Rephraser | None = None):
        self.faq = faq
        self.store = store
        self.rephraser = rephraser

    async def on_message(self, msg: Inbound) -> Reply:
        text = msg.text.strip()
        if msg.is_command:
            return await self._command(msg, text)
        if text.lower() in HELP_WORDS:
            return self.help_reply()
        if _TRAILING_MARKS.sub("", text.lower()) in THANKS_WORDS:
            return Reply(text=t("help.thanks"), meta={"kind": "thanks"})
        return await self.answer(msg, text)

    async def _command(self, msg: Inbound, text: str) -> Reply:
        word, _, rest = text.partition(" ")
        if not word or word.lower() in {"help", "ヘルプ"}:
            return self.help_reply(usage=True)
        if word.lower() in ASK_COMMANDS:
            return await self.answer(msg, rest.strip())
        prefix = t("help.unknown_command", command=word)
        return self.help_reply(usage=True, prefix=prefix)

    def help_reply(self, usage: bool = False, prefix: str | None = None) -> Reply:
        parts = [p for p in (prefix, t("help.title"), t("help.body")) if p]
        if usage:
            parts.append(t("help.slash_usage"))
        return Reply(text="\n".join(parts), meta={"kind": "help"})

    async def answer(self, msg: Inbound, question: str) -> Reply:
        result = await self.faq.ask_rephrased(question, self.rephraser)
        if result.rejected:
            return Reply(text=result.answer, ephemeral=True, meta={"kind": "rejected"})
        return await self._logged(result, msg.channel, msg.user_id, msg.conversation_id)

    async def _logged(self, result: FaqResult, channel: str, user_id: str, conversation_id: str) -> Reply:
        """Log the answer (its log id is what the feedback and hand-off buttons carry) and render it."""
        record = result.record(channel, user_id, conversation_id)
        return self.render(result, await asyncio.to_thread(self.store.record_question, record))

    def render(self, result: FaqResult, log_id: int) -> Reply:
        handoff = Button(t("button.handoff"), ActionName.HANDOFF, str(log_id))
        buttons: tuple[Button, ...] = (handoff,)
        if result.entry_id is not None:
            buttons = (
                Button(t("button.feedback_up"), ActionName.FEEDBACK_UP, str(log_id)),
                Button(t("button.feedback_down"), ActionName.FEEDBACK_DOWN, str(log_id)),
                handoff,
            )
        suggestions = tuple(Button(label, ActionName.ASK, entry_id)
                            for entry_id, label in zip(result.suggestions, result.suggestion_labels, strict=True))
        return Reply(
            text=result.answer,
            source=result.source_line,
            buttons=buttons,
            suggestions=suggestions,
            suggestion_intro=t("faq.suggest_intro") if suggestions else None,
            meta={"kind": "answer", "log_id": log_id, "entry_id": result.entry_id,
                  "answered": result.answered, "confidence": result.confidence},
        )

    async def on_action(self, action: Action) -> Reply:
        if action.name == ActionName.ASK:
            result = self.faq.answer_entry(action.value)
            if result is None:
                return Reply(text=t("feedback.unknown"), ephemeral=True)
            return await self._logged(result, action.channel, action.user_id, action.conversation_id)
        log_id = int(action.value) if action.value.isdigit() else None
        if action.name in (ActionName.FEEDBACK_UP, ActionName.FEEDBACK_DOWN) and log_id is not None:
            value = 1 if action.name == ActionName.FEEDBACK_UP else -1
            stored = await asyncio.to_thread(self.store.record_feedback, log_id, action.user_id, value)
            if not stored:
                return Reply(text=t("feedback.unknown"), ephemeral=True)
            if value > 0:
                return Reply(text=t("feedback.thanks"), ephemeral=True, meta={"kind": "feedback"})
            offer = (Button(t("button.handoff"), ActionName.HANDOFF, str(log_id)),)
            return Reply(text=t("feedback.sorry"), buttons=offer, ephemeral=True, meta={"kind": "feedback"})
        if action.name == ActionName.HANDOFF:
            ticket = await asyncio.to_thread(
                self.store.create_handoff, log_id, action.channel, action.user_id,
                action.conversation_id, action.thread_id)
            if ticket is None:
                return Reply(text=t("feedback.unknown"), ephemeral=True)
            key = "handoff.created" if ticket.created else "handoff.exists"
            return Reply(text=t(key, ref=ticket.ref), meta={"kind": "handoff", "ticket": ticket.id})
        log.warning("unknown action %r from %s", action.name, action.channel)
        return self.help_reply(usage=True)
