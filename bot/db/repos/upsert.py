"""INSERT … ON CONFLICT DO NOTHING on both SQLite and PostgreSQL (the idempotent writes need it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_new(session: Session, table: Any, values: dict[str, Any], *keys: str) -> bool:
    """Insert `values` unless a row with the same unique `keys` (default: `key`) exists; True when written."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).values(**values).on_conflict_do_nothing(index_elements=list(keys or ("key",)))
    # preserve_rowcount: without it SQLAlchemy 2.1 reports -1 for an INSERT on psycopg (so "always new").
    return session.execute(statement, execution_options={"preserve_rowcount": True}).rowcount > 0
