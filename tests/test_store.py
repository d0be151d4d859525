"""One contract suite for the SQL store, run on SQLite always and on PostgreSQL when reachable."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.db.session import Database, current_revision
from bot.db.store import SqlStore
from handlers.ports import QuestionRecord

PG_ADMIN_URL = os.environ.get("DXLAB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_database() -> Iterator[str]:
    name = f"dxlab_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL must be reachable in CI ({PG_ADMIN_URL}): {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.orig}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url_iter: Iterator[str] = iter([f"sqlite:///{tmp_path / 'store.db'}"])
    else:
        url_iter = _pg_database()
    url = next(url_iter)
    db = Database(url)
    yield SqlStore(db)
    db.dispose()
    for _ in url_iter:  # let the generator drop the PostgreSQL database
        pass


def _record(store: SqlStore, question: str = "応募資格は?", answered: bool = True) -> int:
    return store.record_question(QuestionRecord("web", "u1", "c1", question, "eligibility.applicant" if answered
                                                else None, 0.9 if answered else 0.1, answered, not answered))


def test_schema_is_at_head_on_first_use(store: SqlStore) -> None:
    assert current_revision(store.db.engine) == "0001"


def test_question_log_ids_increase(store: SqlStore) -> None:
    first, second = _record(store), _record(store, "天気は?", answered=False)
    assert second > first


def test_feedback_is_one_per_user_and_replaced(store: SqlStore) -> None:
    log_id = _record(store)
    assert store.record_feedback(log_id, "u1", 1)
    assert store.record_feedback(log_id, "u1", -1)
    assert store.record_feedback(log_id, "u2", 1)
    assert not store.record_feedback(999_999, "u1", 1)
    with store.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT user_ref, value FROM feedback ORDER BY user_ref")).all()
    assert [tuple(r) for r in rows] == [("u1", -1), ("u2", 1)]


def test_handoff_is_created_once_per_answer(store: SqlStore) -> None:
    log_id = _record(store)
    first = store.create_handoff(log_id, "slack", "u1", "C1", "123.456")
    again = store.create_handoff(log_id, "slack", "u1", "C1", "123.456")
    assert first is not None and first.created
    assert again is not None and not again.created and again.id == first.id
    assert first.ref.startswith("DX-")
    assert store.create_handoff(999_999, "slack", "u1", "C1", None) is None


def test_event_claim_dedupes_until_expiry(store: SqlStore) -> None:
    assert store.claim_event("Ev1", dt.timedelta(hours=1))
    assert not store.claim_event("Ev1", dt.timedelta(hours=1))
    assert store.claim_event("Ev2", dt.timedelta(seconds=-1))  # already expired when stored
    assert store.claim_event("Ev2", dt.timedelta(hours=1))  # so a repeat is new again
    assert store.purge_expired_events() == 0


def test_conversation_reference_upsert(store: SqlStore) -> None:
    store.save_conversation("teams", "conv-1", '{"a": 1}')
    store.save_conversation("teams", "conv-1", '{"a": 2}')
    assert store.conversation("teams", "conv-1") == '{"a": 2}'
    assert store.conversation("teams", "missing") is None


def test_head_constant_matches_the_migration_scripts() -> None:
    from bot.db.session import HEAD_REVISION, head_revision

    assert head_revision() == HEAD_REVISION
