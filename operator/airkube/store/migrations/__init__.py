"""Alembic migrations of the metadata database (run by :mod:`airkube.store.migrate`)."""
