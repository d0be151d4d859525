"""Database layer: typed SQLAlchemy 2.0 models, engine/session set-up and Alembic migrations."""
