"""The unit of work: one session, one transaction, every repository a handler may write through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.repos.consult import SqlConsult
from bot.db.repos.conversations import SqlConversations, SqlKeyValue
from bot.db.repos.directory import SqlAudit, SqlDirectory
from bot.db.repos.events import SqlEvents
from bot.db.repos.kpi import SqlKpi
from bot.db.repos.questions import SqlFeedback, SqlHandoffs, SqlQuestions
from bot.db.repos.work import SqlDueWriter, SqlOutboxWriter
from bot.db.session import Database
from handlers.ports import Conflict


class SqlUnitOfWork:
    def __init__(self, session: Session):
        self.session = session
        self.questions = SqlQuestions(session)
        self.feedback = SqlFeedback(session)
        self.handoffs = SqlHandoffs(session)
        self.conversations = SqlConversations(session)
        self.outbox = SqlOutboxWriter(session)
        self.due = SqlDueWriter(session)
        self.kv = SqlKeyValue(session)
        self.directory = SqlDirectory(session)
        self.audit = SqlAudit(session)
        self.kpi = SqlKpi(session)
        self.events = SqlEvents(session)
        self.consult = SqlConsult(session)

    def commit(self) -> None:
        self.session.commit()


class UnitsOfWork:
    """Opens units of work on one database: `with units() as uow: …; uow.commit()`.

    Leaving the block without commit rolls back. A unique violation becomes handlers.ports.Conflict,
    the one database error handlers understand (a race they may retry).
    """

    def __init__(self, db: Database):
        self.db = db

    @contextmanager
    def __call__(self) -> Iterator[SqlUnitOfWork]:
        session = self.db.session()
        try:
            yield SqlUnitOfWork(session)
        except IntegrityError as exc:
            session.rollback()
            raise Conflict(str(exc.orig)) from exc
        finally:
            session.close()
