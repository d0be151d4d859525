"""The composition root for everything but the HTTP server: settings, database, knowledge, bot."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings, load_settings
from bot.db.session import Database
from bot.db.store import SqlStore
from handlers.faq import FaqService
from handlers.router import Bot
from knowledge.live import LiveKnowledge
from knowledge.semantic import make_embedder


@dataclass
class Core:
    settings: Settings
    db: Database
    store: SqlStore
    knowledge: LiveKnowledge
    faq: FaqService
    bot: Bot

    def close(self) -> None:
        self.db.dispose()


def build_core(settings: Settings | None = None, knowledge: LiveKnowledge | None = None) -> Core:
    """`knowledge`: an already loaded knowledge base to share (tests start many servers on one)."""
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = Database(settings.database_url)
    store = SqlStore(db)
    knowledge = knowledge or LiveKnowledge(Path(settings.knowledge_dir) if settings.knowledge_dir else None,
                                           settings.answer_threshold, embedder=make_embedder(
                                               settings.semantic, model=settings.embedding_model,
                                               base_url=settings.openai_base_url, api_key=settings.openai_api_key))
    faq = FaqService(knowledge, settings.max_question_chars)
    rephraser = None
    if settings.openai_api_key:
        from bot.llm import OpenAIRephraser  # the openai package is slow to import: only when used

        rephraser = OpenAIRephraser(settings)
    return Core(settings, db, store, knowledge, faq, Bot(faq, store, rephraser))
