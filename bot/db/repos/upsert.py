"""INSERT … ON CONFLICT DO NOTHING on both SQLite and PostgreSQL (the idempotent writes need it)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


@cache
def _statement(dialect: str, table: Any, keys: tuple[str, ...]) -> Insert:
    """Built once per table: executed with the row as parameters, its compiled form is cached too (a
    broadcast enqueues 800 rows in one transaction; building and compiling each took ~5 ms)."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(getattr(table, "__table__", table)).on_conflict_do_nothing(index_elements=list(keys))


def insert_new(session: Session, table: Any, values: dict[str, Any], *keys: str) -> bool:
    """Insert `values` unless a row with the same unique `keys` (default: `key`) exists; True when written."""
    statement = _statement(session.get_bind().dialect.name, table, keys or ("key",))
    # preserve_rowcount: without it SQLAlchemy 2.1 reports -1 for an INSERT on psycopg (so "always new").
    return session.execute(statement, values, execution_options={"preserve_rowcount": True}).rowcount > 0
