"""The composition root for everything but the HTTP server: settings, database, knowledge, use cases."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from bot.config import Settings, load_settings
from bot.db.repos.outbox_worker import mark_done_sql
from bot.db.session import Database
from bot.db.uow import SqlUnitOfWork, UnitsOfWork
from handlers.consult.settings import ConsultSettings
from handlers.context import Services
from handlers.dispatch import Dispatcher
from handlers.faq import FaqService
from handlers.routes import DueStep
from handlers.usecases import build_routes
from knowledge.live import LiveKnowledge
from knowledge.semantic import make_embedder
from scheduler.due import DueRow
from scheduler.outbox import Sender


@dataclass
class Core:
    settings: Settings
    db: Database
    units: UnitsOfWork
    knowledge: LiveKnowledge
    faq: FaqService
    dispatcher: Dispatcher

    @cached_property
    def senders(self) -> dict[str, Sender]:
        """platform → the outbox's Sender; built on first use (the SDKs are slow to import)."""
        from bot.channels.teams_sender import build_teams_sender
        from bot.channels.web_sender import WebSender

        senders: dict[str, Sender] = {"web": WebSender(), "teams": build_teams_sender(self.settings, self.db)}
        if self.settings.slack_bot_token:
            from bot.channels.slack_sender import build_slack_sender

            senders["slack"] = build_slack_sender(self.settings)
        return senders

    async def run_due_step(self, row: DueRow) -> None:
        """Run a due step through its handler; the row is marked done in the handler's own transaction."""
        now = self.dispatcher.clock()

        def done(uow: SqlUnitOfWork) -> None:
            mark_done_sql(uow.session, row.id, now)

        await self.dispatcher.step(DueStep(row.kind, row.key, row.due_at, row.payload), after=done)

    async def run_due(self, now: dt.datetime, kinds: tuple[str, ...] = ()) -> dict[str, object]:
        """Everything due at `now` (only `kinds` when given), then the outbox, with `now` as every clock:
        what `dxlab jobs run-due --now` and `dxlab kpi run` do."""
        from bot.outbound import run_due_at

        self.dispatcher.clock = lambda: now  # the steps' own "now" (what they schedule from) too
        return await run_due_at(self.db, self.senders, self.run_due_step, self.settings, now, kinds)

    def close(self) -> None:
        self.db.dispose()


def consult_settings(settings: Settings) -> ConsultSettings:
    return ConsultSettings(settings.consult_remind_hours, settings.consult_escalate_days, settings.consult_idle_days,
                           settings.kb_drafts_dir, settings.knowledge_dir)


def build_core(settings: Settings | None = None, knowledge: LiveKnowledge | None = None) -> Core:
    """`knowledge`: an already loaded knowledge base to share (tests start many servers on one)."""
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = Database(settings.database_url)
    units = UnitsOfWork(db)
    knowledge = knowledge or LiveKnowledge(Path(settings.knowledge_dir) if settings.knowledge_dir else None,
                                           settings.answer_threshold, embedder=make_embedder(
                                               settings.semantic, model=settings.embedding_model,
                                               base_url=settings.openai_base_url, api_key=settings.openai_api_key))
    faq = FaqService(knowledge, settings.max_question_chars)
    rephraser = None
    if settings.openai_api_key:
        from bot.llm import OpenAIRephraser  # the openai package is slow to import: only when used

        rephraser = OpenAIRephraser(settings)
    routes = build_routes()
    services = Services(faq=faq, rephraser=rephraser, secretariat_slack_channel=settings.secretariat_slack_channel,
                        command_usage=tuple(routes.usage), consult=consult_settings(settings),
                        events=settings.events)
    dispatcher = Dispatcher(routes, units, services)
    return Core(settings, db, units, knowledge, faq, dispatcher)
