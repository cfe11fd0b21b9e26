"""Alembic environment: runs against the engine mailmatch hands over in ``attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from mailmatch.store import records, users  # noqa: F401  (registers their tables)
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
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
