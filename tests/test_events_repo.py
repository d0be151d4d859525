"""The events repository on SQLite and PostgreSQL: delivery joined with the outbox by key, requeueing a
given-up copy, the re-sent copies listed, acknowledgement recorded once, RSVPs in answer order, a survey
answer replaced."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.app import build_core
from bot.config import Settings
from bot.db.models import OutboxMessage
from bot.db.session import Database
from bot.db.uow import SqlUnitOfWork
from bot.directory.service import import_files
from handlers.address import Address
from handlers.events.model import EventInfo, Recipient, RsvpRecord, SurveyAnswer
from handlers.messages import Action, Reply
from handlers.outcome import Send
from knowledge.live import LiveKnowledge
from tests.events_helpers import DIRECTORY
from tests.pg import pg_database

T = dt.datetime(2031, 6, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'events.db'}")
        yield database
        database.dispose()
        return
    with pg_database() as url:
        database = Database(url)
        yield database
        database.dispose()


def test_deliveries_requeue_and_acknowledgement(db: Database) -> None:
    with db.session() as session:
        uow = SqlUnitOfWork(session)
        a = uow.events.create_announcement("件名", "本文", "all", False, "sent", "test", T)
        to = {lab: Address("slack", f"C{n}") for n, lab in enumerate(("a", "b", "c", "d"))}
        uow.events.add_recipients(a, [Recipient(lab, to[lab].to_json(), lab) for lab in "abcd"]
                                  + [Recipient("e", "", "e")])
        for lab in "abc":
            uow.outbox.enqueue(Send(to[lab], Reply("x"), f"announce:{a}:{lab}"), T)
        uow.outbox.enqueue(Send(to["a"], Reply("x"), f"announce:{a}:a:again1"), T)  # not the first copy
        session.execute(update(OutboxMessage).where(OutboxMessage.key == f"announce:{a}:a").values(state="sent"))
        session.execute(update(OutboxMessage).where(OutboxMessage.key == f"announce:{a}:b")
                        .values(state="failed", last_error="permanent: not_in_channel", attempts=8))
        assert uow.events.acknowledge(a, "a", "p1", T) and not uow.events.acknowledge(a, "a", "p2", T)
        states = {d.target: (d.state, d.reason, d.acknowledged) for d in uow.events.deliveries(a)}
        assert states == {"a": ("sent", "", True), "b": ("failed", "permanent: not_in_channel", False),
                          "c": ("pending", "", False), "d": ("pending", "", False),
                          "e": ("failed", "no_channel", False)}
        assert uow.events.requeue_failed([f"announce:{a}:b", f"announce:{a}:c"], T) == 1
        assert {d.target: d.state for d in uow.events.deliveries(a)}["b"] == "pending"
        assert (uow.events.next_resend_round(a), uow.events.next_resend_round(a)) == (1, 2)
        dm = Address("slack", None, "U1")
        for key, edits in ((f"announce:{a}:dm:p:again2", None), (f"announce:{a}:b:again2", None),
                           (f"announce:{a}:a:again1:live:1", f"announce:{a}:a:again1"),  # an edit, not a copy
                           (f"announce:{a}9:a:again1", None)):  # another announcement's
            uow.outbox.enqueue(Send(dm, Reply("x"), key, edits=edits), T)
        session.execute(update(OutboxMessage).where(OutboxMessage.key == f"announce:{a}:b:again2")
                        .values(state="failed"))  # given up: nothing to edit
        assert uow.events.resent_copies(a) == [("a", f"announce:{a}:a:again1"), ("dm:p", f"announce:{a}:dm:p:again2")]
        assert uow.events.mark_summarised(a, T) and not uow.events.mark_summarised(a, T)
        session.commit()


def test_rsvps_in_answer_order_and_surveys_replaced(db: Database) -> None:
    with db.session() as session:
        uow = SqlUnitOfWork(session)
        e = uow.events.create_event(EventInfo("交流会", T, T + dt.timedelta(hours=2), "事務局", capacity=1), T)
        for person, minutes in (("late", 3), ("early", 1), ("middle", 2)):
            at = T + dt.timedelta(minutes=minutes)
            uow.events.save_rsvp(RsvpRecord(e, person, person, "{}", "yes", "waitlisted", at))
        assert [r.person for r in uow.events.rsvps(e, "waitlisted")] == ["early", "middle", "late"]
        uow.events.save_rsvp(RsvpRecord(e, "early", "early", "{}", "yes", "going", T))
        assert [r.person for r in uow.events.rsvps(e, "going")] == ["early"]
        uow.events.set_attended(e, "early", True)
        uow.events.save_survey(SurveyAnswer(e, "early", 3, "", T))
        uow.events.save_survey(SurveyAnswer(e, "early", 5, "良かった", T))
        assert [(s.score, s.comment) for s in uow.events.surveys(e)] == [(5, "良かった")]
        assert uow.events.rsvp(e, "early").attended is True  # type: ignore[union-attr]
        assert [x.id for x in uow.events.events(T - dt.timedelta(days=1))] == [e]
        assert uow.events.events(T + dt.timedelta(minutes=1)) == []
        session.commit()


async def test_the_last_place_goes_to_one_of_two_simultaneous_answers(make_settings: Callable[..., Settings],
                                                                     bundled_knowledge: LiveKnowledge) -> None:
    with pg_database() as url:
        core = build_core(make_settings(DXLAB_DATABASE_URL=url), bundled_knowledge)
        try:
            assert not import_files(core.units, [("d.yaml", DIRECTORY)], "test").errors
            with core.units() as uow:
                event = EventInfo("少人数の勉強会", T, T + dt.timedelta(hours=1), "事務局", capacity=1)
                uow.events.create_event(event, T)
                uow.commit()
            core.dispatcher.clock = lambda: T - dt.timedelta(days=1)
            for _ in range(5):  # a race that a missing lock loses now and then: try it several times
                presses = [Action(Address("slack", "C0LAB001", who), "event.rsvp", "1:yes") for who in ("U0NC", "U0NB")]
                await asyncio.gather(*(core.dispatcher.action(p) for p in presses))
                with core.units() as uow:
                    statuses = sorted(r.status for r in uow.events.rsvps(1))
                assert statuses == ["going", "waitlisted"]
                await asyncio.gather(*(core.dispatcher.action(Action(p.address, p.name, "1:no")) for p in presses))
        finally:
            core.close()
