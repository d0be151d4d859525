"""The consultation repository on SQLite and PostgreSQL: numbering per year (unique per year, so a race on
a number is a Conflict the dispatcher retries), offers written once, open counts, and which cases a
conversation reaches."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db.session import Database
from bot.db.uow import UnitsOfWork
from handlers.address import Address
from handlers.consult.model import Candidate, NewCase, Relayed, Status
from tests.pg import pg_database

T0 = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def units(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitsOfWork]:
    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'c.db'}" if request.param == "sqlite" else stack.enter_context(pg_database())
        db = Database(url)
        yield UnitsOfWork(db)
        db.dispose()


def new(year: int = 2026, user: str = "U1", text: str = "相談です", log: int | None = None) -> NewCase:
    where = Address("slack", "D" + user, user)
    return NewCase("command", text, f"slack:{user}", where, T0, year, question_log_id=log)


def test_numbers_run_per_year_and_round_trip(units: UnitsOfWork) -> None:
    with units() as uow:
        a, b, c = uow.consult.create(new()), uow.consult.create(new()), uow.consult.create(new(2027))
        uow.commit()
    assert [a.ref, b.ref, c.ref] == ["DX-2026-0001", "DX-2026-0002", "DX-2027-0001"]
    with units() as uow:
        case = uow.consult.by_ref("dx-2026-0002")
        assert case is not None and case.id == b.id and case.status == Status.RECEIVED
        case.status, case.topic, case.assignee, case.claimed_at = Status.ACTIVE, "IoT", "ex-a", T0
        case.candidates = [Candidate("ex-a", 70.0, "同じ長野県")]
        uow.consult.save(case)
        uow.commit()
    with units() as uow:
        again = uow.consult.get(b.id)
        assert again is not None and (again.status, again.topic, again.assignee) == (Status.ACTIVE, "IoT", "ex-a")
        assert again.candidates == [Candidate("ex-a", 70.0, "同じ長野県")]
        assert again.claimed_at == T0 and again.requester_address == Address("slack", "DU1", "U1")
        assert [c.ref for c in uow.consult.all(Status.ACTIVE.value)] == ["DX-2026-0002"]
        assert uow.consult.by_ref("DX-2026-9999") is None and uow.consult.by_ref("nonsense") is None


def test_offers_open_counts_and_who_a_conversation_reaches(units: UnitsOfWork) -> None:
    with units() as uow:
        pending, claimed = uow.consult.create(new(user="U1", log=7)), uow.consult.create(new(user="U2"))
        uow.consult.set_offer(pending.id, "ex-a", 1, "offered", T0)
        uow.consult.set_offer(pending.id, "ex-a", 1, "offered", T0)  # written once
        uow.consult.set_offer(pending.id, "ex-b", 2, "offered", T0)
        pending.status = Status.PENDING
        uow.consult.save(pending)
        claimed.status, claimed.assignee = Status.ACTIVE, "ex-a"
        uow.consult.save(claimed)
        uow.consult.add_message(claimed.id, Relayed(T0, "requester", "slack:U2", "こんにちは"))
        uow.commit()
    with units() as uow:
        assert [(o.person, o.state) for o in uow.consult.offers(pending.id)] == [("ex-a", "offered"),
                                                                                 ("ex-b", "offered")]
        assert uow.consult.open_counts(["ex-a", "ex-b", "ex-c"]) == {"ex-a": 2, "ex-b": 1, "ex-c": 0}
        uow.consult.set_offer(pending.id, "ex-b", 2, "declined", T0)
        assert uow.consult.open_counts(["ex-b"]) == {"ex-b": 0}
        assert [c.id for c in uow.consult.open_for_expert("ex-a")] == [claimed.id]
        assert [c.id for c in uow.consult.open_for_requester("slack:DU2", "slack:U2")] == [claimed.id]
        assert uow.consult.open_for_requester("slack:DU1", "slack:U1") == [], "not claimed yet: no relay"
        assert uow.consult.by_question(7) is not None and uow.consult.by_question(8) is None
        assert [m.text for m in uow.consult.messages(claimed.id)] == ["こんにちは"]
