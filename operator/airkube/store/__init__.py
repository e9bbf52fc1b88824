"""The metadata database: SQLAlchemy 2 models, repository functions and Alembic migrations."""
