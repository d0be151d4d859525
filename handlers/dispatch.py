"""The one way into the use cases: find the handler for a message, button, form or due step, run it on a
worker thread inside one unit of work, write its outgoing messages in that same transaction, commit.

Channels call `message`, `action` and `submission`; the due-work runner calls `step`. A reply can be
returned to the caller (the web chat answers in its HTTP response) or, with `reply_key`, written to the
outbox as well, so that an answer produced after the platform's acknowledgement is delivered exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, TypeVar

from handlers.address import Address
from handlers.context import Context, Services
from handlers.i18n import t
from handlers.intent import intent_of
from handlers.messages import Action, Inbound, Reply, ReplyKind, Submission, Visibility
from handlers.outcome import Lane, Outcome, Send
from handlers.ports import Conflict, UnitOfWork
from handlers.routes import DueStep, Routes

log = logging.getLogger(__name__)
M = TypeVar("M")
Units = Callable[[], AbstractContextManager[Any]]  # opens a unit of work (bot.db.uow.UnitsOfWork)
AfterHook = Callable[[Any], None]  # runs inside the same transaction, after the handler (marks an inbox row)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def error_reply() -> Reply:
    return Reply(text=t("error.generic"), visibility=Visibility.PRIVATE, kind=ReplyKind.ERROR)


class Dispatcher:
    def __init__(self, routes: Routes, units: Units, services: Services,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.routes = routes
        self.units = units
        self.services = services
        self.clock = clock
        self.loop: asyncio.AbstractEventLoop | None = None
        self._on_enqueued: list[Callable[[], None]] = []

    def on_enqueued(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the event loop) after a transaction that enqueued messages commits."""
        self._on_enqueued.append(callback)

    # -- the entry points ----------------------------------------------------------------------

    async def message(self, msg: Inbound, *, reply_key: str | None = None, after: AfterHook | None = None
                      ) -> Reply | None:
        return await self._run(self._message_handler(msg), msg, msg.address, reply_key, after)

    async def action(self, action: Action, *, reply_key: str | None = None, after: AfterHook | None = None
                     ) -> Reply | None:
        handler = self.routes.actions.get(action.name.lower())
        if handler is None:
            log.warning("unknown action %r from %s", action.name, action.address.platform)
            handler = self.routes.commands["help"]
            return await self._run(handler, Inbound(action.address, "help", True), action.address, reply_key, after)
        return await self._run(handler, action, action.address, reply_key, after)

    async def submission(self, form: Submission, *, reply_key: str | None = None, after: AfterHook | None = None
                         ) -> Reply | None:
        handler = self.routes.forms.get(form.form_id.lower())
        if handler is None:
            log.warning("unknown form %r from %s", form.form_id, form.address.platform)
            return Reply(text=t("error.stale_form"), visibility=Visibility.PRIVATE, kind=ReplyKind.ERROR)
        return await self._run(handler, form, form.address, reply_key, after)

    async def step(self, step: DueStep, *, after: AfterHook | None = None) -> None:
        """Run a due step; `after` marks its row done in the same transaction. Raises on failure, so the
        runner records the error and tries again later."""
        handler = self.routes.steps[step.kind]
        address = Address.from_json(step.payload["address"]) if "address" in step.payload else Address("system")
        await asyncio.to_thread(self._transaction, handler, step, address, None, after, True)

    def run_sync(self, msg: Inbound) -> Reply | None:
        """The same as `message` for a caller with no event loop of its own (the console, the CLI)."""
        return self._transaction(self._message_handler(msg), msg, msg.address, None, None, False)

    # -- the machinery -------------------------------------------------------------------------

    def _message_handler(self, msg: Inbound) -> Callable[[Context, Inbound], Outcome]:
        if not msg.addressed:
            return self._if_bot_thread(self._message_handler(replace(msg, addressed=True)))
        found = self.routes.find_command(msg.text)
        if found is not None:
            handler, _word, rest = found
            return lambda ctx, m: handler(ctx, Inbound(m.address, rest, True, m.lang))
        if msg.is_command and msg.text.strip() and self.routes.unknown_command is not None:
            return self.routes.unknown_command
        if msg.is_command:
            return self.routes.commands["help"]
        return self._free_text

    def _free_text(self, ctx: Context, msg: Inbound) -> Outcome:
        """A claim first (a message in a consultation's conversation), else the classified intent's handler."""
        for claim in self.routes.claims:
            outcome = claim(ctx, msg)
            if outcome is not None:
                return outcome
        return self.routes.intents[intent_of(ctx, msg, self.routes)](ctx, msg)

    @staticmethod
    def _if_bot_thread(handler: Callable[[Context, Inbound], Outcome]) -> Callable[[Context, Inbound], Outcome]:
        """A thread message that does not name the bot is for it only in a thread it answered in."""
        def run(ctx: Context, msg: Inbound) -> Outcome:
            return handler(ctx, msg) if ctx.uow.conversations.is_bot_thread(msg.address) else Outcome()
        return run

    async def _run(self, handler: Callable[[Context, M], Outcome], arg: M, address: Address,
                   reply_key: str | None, after: AfterHook | None) -> Reply | None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        try:
            return await asyncio.to_thread(self._transaction, handler, arg, address, reply_key, after, False)
        except Exception:
            log.exception("handling failed (%s, conversation %s)", address.platform, address.conversation_key)
        # The failure is the user's answer: written to the outbox too when the answer goes that way.
        reply = error_reply()
        if reply_key is not None or after is not None:
            failed = Outcome(reply)
            await asyncio.to_thread(self._transaction, lambda ctx, _: failed, None, address, reply_key, after, True)
        return reply

    def _transaction(self, handler: Callable[[Context, Any], Outcome], arg: Any, address: Address,
                     reply_key: str | None, after: AfterHook | None, raise_errors: bool) -> Reply | None:
        for attempt in (1, 2):
            try:
                return self._once(handler, arg, address, reply_key, after)
            except Conflict:
                if attempt == 2:
                    raise
                log.info("a concurrent request wrote the same row; running the handler again")
        raise AssertionError("unreachable")

    def _once(self, handler: Callable[[Context, Any], Outcome], arg: Any, address: Address,
              reply_key: str | None, after: AfterHook | None) -> Reply | None:
        now = self.clock()
        with self.units() as uow:
            outcome = handler(Context(uow, now, self.services, address, self.loop), arg)
            sends = list(outcome.sends)
            if reply_key is not None and outcome.reply is not None:
                sends.append(Send(address, outcome.reply, reply_key, lane=Lane.REPLY))
            enqueued = self._enqueue(uow, sends, now)
            if after is not None:
                after(uow)
            uow.commit()
        if enqueued:
            self._wake()
        return outcome.reply

    @staticmethod
    def _enqueue(uow: UnitOfWork, sends: list[Send], now: dt.datetime) -> int:
        return sum(uow.outbox.enqueue(send, now) for send in sends)

    def _wake(self) -> None:
        for callback in self._on_enqueued:
            if self.loop is not None and self.loop.is_running():
                self.loop.call_soon_threadsafe(callback)
            else:
                callback()
