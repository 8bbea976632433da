"""Alembic migrations of the store (run them with :func:`store.migrate.upgrade`)."""
