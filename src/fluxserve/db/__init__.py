"""Storage of record: the SQLAlchemy engine, schema and packaged Alembic migrations."""
