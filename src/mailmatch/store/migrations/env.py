"""Alembic environment: runs against the engine mailmatch hands over in ``attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, create_engine

from mailmatch.store import jobs, records, sorting, users  # noqa: F401  (registers their tables)
from mailmatch.store.models import Base, include_object

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("set sqlalchemy.url or pass an engine in attributes['engine']")
        engine = create_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode recreates tables (copy, drop, rename); with foreign keys on, dropping
            # ``accounts`` would cascade-delete every import and location. The pragma only
            # takes effect outside a transaction, so it goes straight to the driver.
            _pragma(connection, "PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if sqlite:
                _pragma(connection, "PRAGMA foreign_keys=ON")


def _pragma(connection: Connection, statement: str) -> None:
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


run_migrations()
