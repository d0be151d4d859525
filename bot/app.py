"""The composition root for everything but the HTTP server: settings, database, knowledge, use cases."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings, load_settings
from bot.db.session import Database
from bot.db.uow import UnitsOfWork
from handlers.context import Services
from handlers.dispatch import Dispatcher
from handlers.faq import FaqService
from handlers.usecases import build_routes
from knowledge.live import LiveKnowledge


@dataclass
class Core:
    settings: Settings
    db: Database
    units: UnitsOfWork
    knowledge: LiveKnowledge
    faq: FaqService
    dispatcher: Dispatcher
    senders: dict[str, Any] = field(default_factory=dict)  # platform → outbox Sender, added by the server

    def close(self) -> None:
        self.db.dispose()


def build_core(settings: Settings | None = None, knowledge: LiveKnowledge | None = None) -> Core:
    """`knowledge`: an already loaded knowledge base to share (tests start many servers on one)."""
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = Database(settings.database_url)
    units = UnitsOfWork(db)
    knowledge = knowledge or LiveKnowledge(Path(settings.knowledge_dir) if settings.knowledge_dir else None,
                                           settings.answer_threshold)
    faq = FaqService(knowledge, settings.max_question_chars)
    rephraser = None
    if settings.openai_api_key:
        from bot.llm import OpenAIRephraser  # the openai package is slow to import: only when used

        rephraser = OpenAIRephraser(settings)
    services = Services(faq=faq, rephraser=rephraser, secretariat_slack_channel=settings.secretariat_slack_channel)
    dispatcher = Dispatcher(build_routes(), units, services)
    return Core(settings, db, units, knowledge, faq, dispatcher)
