"""SQLAlchemy 2 models, repositories, unit of work and Alembic migrations."""
