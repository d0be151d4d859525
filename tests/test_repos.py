"""One contract suite for every repository, run on SQLite always and on PostgreSQL when reachable.

Each PostgreSQL test gets its own database (a copy of one migrated template), so no test sees
another's rows. The race tests run two real threads, each in its own unit of work.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import OperationalError

from bot.db.models import DueWork, OutboxMessage, QuestionLog
from bot.db.models.work import CANCELLED, DONE, PENDING
from bot.db.repos import deliveries, inbox
from bot.db.session import HEAD_REVISION, Database, current_revision, head_revision
from bot.db.uow import SqlUnitOfWork, UnitsOfWork
from handlers.address import Address
from handlers.messages import MAX_ATTACHMENT_BYTES, Attachment, Reply
from handlers.outcome import Send
from handlers.ports import QuestionRecord

PG_ADMIN_URL = os.environ.get("DXLAB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NOW = dt.datetime(2030, 4, 1, 1, 0, tzinfo=dt.UTC)
HERE = Address("slack", "C1", "U1", "1712.0001", "T1")


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _pg_admin(sql: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


def _pg_create(name: str, template: str | None = None) -> None:
    """CREATE DATABASE, skipping the test when PostgreSQL is not there (failing under CI=true)."""
    try:
        _pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    except OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL must be reachable in CI ({PG_ADMIN_URL}): {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.orig}")


def _pg_drop(name: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """One database migrated to head; every PostgreSQL test copies it (much faster than migrating)."""
    name = f"dxlab_tmpl_{uuid.uuid4().hex[:10]}"
    _pg_create(name)
    Database(_pg_url(name)).dispose()  # migrates, then lets go: a template must have no connections
    yield name
    _pg_drop(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'repos.db'}")
        yield database
        database.dispose()
        return
    name = f"dxlab_test_{uuid.uuid4().hex[:10]}"
    _pg_create(name, template=request.getfixturevalue("pg_template"))
    database = Database(_pg_url(name))
    yield database
    database.dispose()
    _pg_drop(name)


@pytest.fixture
def units(db: Database) -> UnitsOfWork:
    return UnitsOfWork(db)


def _commit(units: UnitsOfWork, work: Callable[[SqlUnitOfWork], Any]) -> Any:
    """Run `work` in one unit of work and commit it; returns what `work` returned."""
    with units() as uow:
        result = work(uow)
        uow.commit()
        return result


def _race(work: Callable[[], Any], threads: int = 2) -> list[Any]:
    """Run `work` on `threads` threads released together; re-raise the first error any of them hit."""
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(work())
        except BaseException as exc:  # handed to the test: a thread's error must not vanish
            errors.append(exc)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=30)
    if errors:
        raise errors[0]
    return results


def _rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _record(units: UnitsOfWork, question: str = "応募資格は?", clicked: bool = False) -> int:
    record = QuestionRecord("slack", "U1", HERE.conversation_key, question, "eligibility.applicant", 0.9, True,
                            False, clicked)
    return int(_commit(units, lambda uow: uow.questions.record(record)))


# --- schema ---------------------------------------------------------------------------------------------

def test_head_constant_matches_alembic() -> None:
    assert head_revision() == HEAD_REVISION


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_fresh_database_is_migrated_to_head(request: pytest.FixtureRequest, tmp_path: Path, dialect: str) -> None:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        name = f"dxlab_fresh_{uuid.uuid4().hex[:10]}"
        _pg_create(name)  # an empty database, not the template: this runs every migration
        request.addfinalizer(lambda: _pg_drop(name))
        url = _pg_url(name)
    database = Database(url)
    assert current_revision(database.engine) == HEAD_REVISION
    database.dispose()


# --- questions, feedback, hand-offs ---------------------------------------------------------------------

def test_questions_record_and_get(units: UnitsOfWork, db: Database) -> None:
    typed, pressed = _record(units), _record(units, "天気は?", clicked=True)
    assert pressed > typed
    with units() as uow:
        got = uow.questions.get(typed)
        assert got is not None and got.question == "応募資格は?" and got.entry_id == "eligibility.applicant"
        assert got.conversation_ref == HERE.conversation_key and got.user_ref == "U1"
        assert uow.questions.get(999_999) is None
        clicked = dict(uow.session.execute(select(QuestionLog.id, QuestionLog.clicked)).all())
    assert clicked == {typed: False, pressed: True}


def test_a_second_vote_replaces_the_first(units: UnitsOfWork, db: Database) -> None:
    log_id = _record(units)
    for user, value in (("U1", 1), ("U1", -1), ("U2", 1)):
        _commit(units, lambda uow, u=user, v=value: uow.feedback.record(log_id, u, v))
    assert _rows(db, "SELECT user_ref, value FROM feedback ORDER BY user_ref") == [("U1", -1), ("U2", 1)]


def test_a_double_press_from_two_threads_leaves_one_vote(units: UnitsOfWork, db: Database) -> None:
    log_ids = [_record(units) for _ in range(3)]  # a few rounds: the race need not hit every time
    for log_id in log_ids:
        _race(lambda i=log_id: _commit(units, lambda uow: uow.feedback.record(i, "U1", -1)))
    assert _rows(db, "SELECT question_log_id, user_ref, value FROM feedback ORDER BY question_log_id") == [
        (i, "U1", -1) for i in log_ids]


def test_handoff_is_created_once_per_answer(units: UnitsOfWork, db: Database) -> None:
    log_id = _record(units)
    first = _commit(units, lambda uow: uow.handoffs.create(log_id, HERE, "応募資格は?"))
    again = _commit(units, lambda uow: uow.handoffs.create(log_id, HERE, "応募資格は?"))
    assert first.created and not again.created and again.id == first.id and first.ref.startswith("DX-")
    loose = [_commit(units, lambda uow: uow.handoffs.create(None, HERE, "相談したい")) for _ in range(2)]
    assert all(t.created for t in loose) and loose[0].id != loose[1].id  # no answer: each request is new
    assert _rows(db, f"SELECT channel, thread_ref, status FROM handoff_request WHERE question_log_id = {log_id}") \
        == [("slack", "1712.0001", "open")]


def test_a_double_handoff_from_two_threads_makes_one_request(units: UnitsOfWork, db: Database) -> None:
    log_id = _record(units)
    tickets = _race(lambda: _commit(units, lambda uow: uow.handoffs.create(log_id, HERE, "応募資格は?")))
    assert sorted(t.created for t in tickets) == [False, True] and len({t.id for t in tickets}) == 1
    assert _rows(db, "SELECT count(*) FROM handoff_request") == [(1,)]


# --- conversations and settings -------------------------------------------------------------------------

def test_conversation_reference_is_saved_and_updated(units: UnitsOfWork) -> None:
    teams = Address("teams", "conv-1", "u1")
    _commit(units, lambda uow: uow.conversations.save(teams, '{"a": 1}'))
    _commit(units, lambda uow: uow.conversations.save(teams, '{"a": 2}'))
    with units() as uow:
        assert uow.conversations.reference(teams) == '{"a": 2}'
        assert uow.conversations.reference(Address("teams", "missing")) is None
        assert uow.conversations.reference(Address("slack", "conv-1")) is None  # the platform is part of the key
        # A one-to-one chat (not a 19: channel or group) is found by its user too; a channel is not.
        assert uow.conversations.reference(Address("teams", user="u1")) == '{"a": 2}'


def test_a_channel_is_not_anyones_personal_chat(units: UnitsOfWork) -> None:
    _commit(units, lambda uow: uow.conversations.save(Address("teams", "19:lab@thread.tacv2", "u2"), "{}"))
    with units() as uow:
        assert uow.conversations.reference(Address("teams", user="u2")) is None


def test_bot_threads_are_marked_once(units: UnitsOfWork, db: Database) -> None:
    other_thread, no_thread = HERE.in_thread("1712.0002"), HERE.in_thread(None)
    with units() as uow:
        assert not uow.conversations.is_bot_thread(HERE)
    for _ in range(2):
        _commit(units, lambda uow: uow.conversations.mark_bot_thread(HERE))
    _commit(units, lambda uow: uow.conversations.mark_bot_thread(no_thread))  # not a thread: nothing to mark
    with units() as uow:
        assert uow.conversations.is_bot_thread(HERE)
        assert not uow.conversations.is_bot_thread(other_thread) and not uow.conversations.is_bot_thread(no_thread)
    assert _rows(db, "SELECT count(*) FROM conversation_reference") == [(1,)]


def test_key_value_put_overwrites(units: UnitsOfWork) -> None:
    with units() as uow:
        assert uow.kv.get("teams.secretariat") is None
    _commit(units, lambda uow: uow.kv.put("teams.secretariat", "19:a"))
    _commit(units, lambda uow: uow.kv.put("teams.secretariat", "19:b"))
    with units() as uow:
        assert uow.kv.get("teams.secretariat") == "19:b"


# --- outbox and due work --------------------------------------------------------------------------------

def _send(key: str, not_before: dt.datetime | None = None) -> Send:
    return Send(HERE, Reply("お知らせです"), key, not_before)


def test_outbox_enqueue_is_idempotent_by_key(units: UnitsOfWork, db: Database) -> None:
    assert _commit(units, lambda uow: uow.outbox.enqueue(_send("ann:1:C1"), NOW))
    assert not _commit(units, lambda uow: uow.outbox.enqueue(Send(HERE, Reply("別の本文"), "ann:1:C1"), NOW))
    with units() as uow:
        row = uow.session.scalars(select(OutboxMessage)).one()
    assert Reply.from_json(row.payload).text == "お知らせです" and Address.from_json(row.address) == HERE
    assert row.state == PENDING and row.pacing_key == HERE.pacing_key and row.next_attempt_at == NOW


def test_an_attachment_of_the_largest_size_travels_in_the_outbox_row(units: UnitsOfWork) -> None:
    """Base64 in the payload's Text column (no schema change): the bytes come back exactly."""
    data = os.urandom(MAX_ATTACHMENT_BYTES)
    reply = Reply("グラフを添付します", attachment=Attachment("chart.png", "グラフ", "image/png", data))
    _commit(units, lambda uow: uow.outbox.enqueue(Send(HERE, reply, "chart:1"), NOW))
    with units() as uow:
        row = uow.session.scalars(select(OutboxMessage)).one()
    assert Reply.from_json(row.payload) == reply


def test_outbox_respects_not_before(units: UnitsOfWork) -> None:
    later, earlier = NOW + dt.timedelta(hours=8), NOW - dt.timedelta(hours=1)
    _commit(units, lambda uow: [uow.outbox.enqueue(_send("later", later), NOW),
                                uow.outbox.enqueue(_send("earlier", earlier), NOW)])
    with units() as uow:
        rows = dict(uow.session.execute(select(OutboxMessage.key, OutboxMessage.next_attempt_at)).all())
    assert rows == {"later": later, "earlier": NOW}  # never before not_before, never in the past


def test_due_schedule_is_idempotent_by_key(units: UnitsOfWork, db: Database) -> None:
    assert _commit(units, lambda uow: uow.due.schedule("kpi.nudge", "kpi:FY2030-Q1:C1", NOW, {"n": 1}))
    assert not _commit(units, lambda uow: uow.due.schedule("kpi.nudge", "kpi:FY2030-Q1:C1", NOW, {"n": 2}))
    assert _rows(db, "SELECT kind, payload, state FROM due_work") == [("kpi.nudge", '{"n": 1}', PENDING)]


@pytest.mark.parametrize("prefix, cancelled", [
    ("kpi:a_b:", {"kpi:a_b:1", "kpi:a_b:2"}),  # `_` is a LIKE wildcard: must not match kpi:aXb:
    ("kpi:a%", {"kpi:a%b:1"}),  # `%` too: must not match everything after kpi:a
    ("kpi:c\\", {"kpi:c\\d"}),  # and the escape character itself
])
def test_due_cancel_by_prefix_is_literal(units: UnitsOfWork, db: Database, prefix: str,
                                         cancelled: set[str]) -> None:
    keys = ["kpi:a_b:1", "kpi:a_b:2", "kpi:aXb:1", "kpi:a%b:1", "kpi:c\\d", "kpi:cd", "other:a_b:1"]
    _commit(units, lambda uow: [uow.due.schedule("kpi.nudge", k, NOW, {}) for k in keys])
    done = sorted(cancelled)[0]
    with units() as uow:
        uow.session.execute(update(DueWork).where(DueWork.key == done).values(state=DONE))
        uow.commit()
    assert _commit(units, lambda uow: uow.due.cancel(prefix)) == len(cancelled) - 1  # the done one stays done
    states = dict(_rows(db, "SELECT key, state FROM due_work"))
    assert states == {k: DONE if k == done else CANCELLED if k in cancelled else PENDING for k in keys}


# --- inbox ----------------------------------------------------------------------------------------------

LEASE = dt.timedelta(minutes=5)


def test_inbox_accepts_a_delivery_once(db: Database) -> None:
    assert inbox.accept(db, "slack:Ev1", "slack", '{"a": 1}', NOW)
    assert not inbox.accept(db, "slack:Ev1", "slack", '{"a": 2}', NOW)  # the platform's retry
    assert [(r.key, r.body, r.attempts) for r in inbox.claim(db, "w1", NOW, LEASE, 10)] == [
        ("slack:Ev1", '{"a": 1}', 1)]
    assert inbox.claim(db, "w2", NOW, LEASE, 10) == []


def test_inbox_claims_oldest_first_up_to_the_limit(db: Database) -> None:
    for i in range(3):
        inbox.accept(db, f"k{i}", "teams", "{}", NOW + dt.timedelta(seconds=i))
    assert [r.key for r in inbox.claim(db, "w1", NOW, LEASE, 2)] == ["k0", "k1"]
    assert [r.key for r in inbox.claim(db, "w2", NOW, LEASE, 2)] == ["k2"]
    assert inbox.pending_count(db) == 3  # claimed rows are not answered yet


def test_two_workers_never_claim_the_same_row(db: Database) -> None:
    for i in range(30):
        inbox.accept(db, f"k{i:02d}", "slack", "{}", NOW + dt.timedelta(seconds=i))
    claimed: dict[str, list[str]] = {"w1": [], "w2": []}

    def drain(worker: str) -> None:
        while rows := inbox.claim(db, worker, NOW, LEASE, 3):
            claimed[worker].extend(r.key for r in rows)

    names = iter(["w1", "w2"])
    lock = threading.Lock()

    def work() -> None:
        with lock:
            worker = next(names)
        drain(worker)

    _race(work)
    everything = claimed["w1"] + claimed["w2"]
    assert sorted(everything) == [f"k{i:02d}" for i in range(30)]  # each row once, none left behind


def test_an_expired_lease_is_taken_over(db: Database) -> None:
    inbox.accept(db, "k", "slack", "{}", NOW)
    assert len(inbox.claim(db, "w1", NOW, LEASE, 10)) == 1
    assert inbox.claim(db, "w2", NOW + LEASE - dt.timedelta(seconds=1), LEASE, 10) == []  # w1 still holds it
    [row] = inbox.claim(db, "w2", NOW + LEASE + dt.timedelta(seconds=1), LEASE, 10)  # w1 died
    assert row.key == "k" and row.attempts == 2
    assert _rows(db, "SELECT claimed_by FROM inbox") == [("w2",)]


def test_inbox_done_and_failed(db: Database) -> None:
    for key in ("done", "retry", "give-up"):
        inbox.accept(db, key, "slack", "{}", NOW)
    rows = {r.key: r.id for r in inbox.claim(db, "w1", NOW, LEASE, 10)}
    with db.session() as s, s.begin():
        inbox.mark_done(s, rows["done"])
    inbox.mark_failed(db, rows["retry"], "timeout" * 1000, give_up=False)
    inbox.mark_failed(db, rows["give-up"], "bad body", give_up=True)
    states = {k: (s, len(e or "")) for k, s, e in _rows(db, "SELECT key, state, last_error FROM inbox")}
    assert states == {"done": (DONE, 0), "retry": (PENDING, 2000), "give-up": ("failed", 8)}
    assert [r.key for r in inbox.claim(db, "w2", NOW, LEASE, 10)] == ["retry"]  # only the retry comes back


def test_inbox_purge_removes_only_old_answered_rows(db: Database) -> None:
    old = NOW - inbox.KEEP_DONE - dt.timedelta(minutes=1)
    for key, when in (("old-done", old), ("new-done", NOW), ("old-pending", old), ("old-claimed", old)):
        inbox.accept(db, key, "slack", "{}", when)
    rows = {r.key: r.id for r in inbox.claim(db, "w1", old, LEASE, 10)}
    with db.session() as s, s.begin():
        for key in ("old-done", "new-done"):
            inbox.mark_done(s, rows[key])
    inbox.mark_failed(db, rows["old-pending"], "retry later", give_up=False)
    assert inbox.purge(db, NOW) == 1
    assert sorted(k for (k,) in _rows(db, "SELECT key FROM inbox")) == ["new-done", "old-claimed", "old-pending"]


# --- one-time delivery markers --------------------------------------------------------------------------

def test_claim_once_dedupes_until_expiry(db: Database) -> None:
    hour = dt.timedelta(hours=1)
    assert deliveries.claim_once(db, "Ev1", hour) and not deliveries.claim_once(db, "Ev1", hour)
    assert deliveries.claim_once(db, "Ev2", dt.timedelta(seconds=-1))  # already expired when stored
    assert deliveries.claim_once(db, "Ev2", hour)  # so a repeat is new again
    assert deliveries.claim_once(db, "Ev3", dt.timedelta(seconds=-1))
    assert deliveries.purge_expired(db) == 1
    assert sorted(k for (k,) in _rows(db, "SELECT key FROM processed_event")) == ["Ev1", "Ev2"]
