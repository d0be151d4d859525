"""Alembic environment: runs against the engine the application hands over (never a global URL)."""

from alembic import context

from bot.db.models import Base, TZDateTime


def render_item(kind: str, obj: object, autogen_context: object) -> str | bool:
    """Autogenerate writes our UTC column type as the plain SQL type it stores."""
    if kind == "type" and isinstance(obj, TZDateTime):
        return "sa.DateTime(timezone=True)"
    return False


engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
