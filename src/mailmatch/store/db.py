"""Open the database and bring its schema up to date.

SQLite is the embedded default: WAL journal so readers never block the writer, a busy timeout,
and ``BEGIN IMMEDIATE`` for write transactions, because a deferred BEGIN under several writers
fails with "database is locked" instead of waiting (measured, see DESIGN.md). PostgreSQL is used
as-is when ``MAILMATCH_DATABASE_URL`` names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from mailmatch.config import Settings, ensure_home, private_file, tighten
from mailmatch.store.dialects import dialect_of


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, issue BEGIN so that it can be IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint the WAL every 64 MiB instead of every 4 MiB: each checkpoint fsyncs twice and
    # rewrites pages that the next batch changes again (a corpus import: 37 -> 7 fdatasync
    # calls, 9% fewer page writes). Committed batches stay durable against a crash of the
    # process; after a power loss up to the last checkpoint may roll back, batch and
    # checkpoint together, so the next run fetches those messages again (exactly once).
    cursor.execute("PRAGMA wal_autocheckpoint=16384")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock up front (a deferred BEGIN that later writes fails under
    # contention instead of waiting); readers must not, or they would queue behind writers.
    if conn.get_execution_options().get("mailmatch_read"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_keep_on_interrupt(ctx: ExceptionContext) -> None:
    """Roll back, not close, a SQLite connection that a KeyboardInterrupt reached mid-statement.

    SQLAlchemy takes an exit exception during a statement for a lost connection and closes it
    instead of rolling back. A SQLite connection cannot be lost, and closing it while the
    interrupted statement is still alive (the traceback holds its cursor) leaves a "zombie"
    that keeps its write transaction, and the write lock, until that traceback is freed: a
    run recording its own interruption then queued for the lock behind itself (measured).
    """
    if isinstance(ctx.original_exception, (KeyboardInterrupt, SystemExit)):
        ctx.is_disconnect = False


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _sqlite_keep_on_interrupt)
        return engine
    return create_engine(url, pool_pre_ping=True)


# The newest migration. A test checks it against Alembic's own head, so that opening an
# up-to-date database (every CLI call) costs one SELECT instead of importing Alembic.
HEAD_REVISION = "0011"


def lock_store(conn: Connection) -> None:
    """Serialise store writers, as SQLite's ``BEGIN IMMEDIATE`` does, on PostgreSQL too.

    Adding a batch checks which messages exist, then inserts the rest: two imports doing that
    at once on PostgreSQL would both insert the same message. The lock is held until the
    transaction ends.
    """
    dialect_of(conn).lock_store(conn)


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    location = resources.files("mailmatch.store").joinpath("migrations")
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return str(value) if value is not None else None
    except (OperationalError, ProgrammingError):
        return None


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision (a no-op when it is already there)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


class Database:
    """The engine plus a session factory; one per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def read(self) -> Connection:
        """A connection for reading only: on SQLite it never takes the write lock."""
        return self.engine.connect().execution_options(mailmatch_read=True)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """An ORM unit of work for reading only, on a ``read()`` connection: on SQLite it never
        queues behind an import holding the write lock (``session()`` takes it up front).
        Anything it would write is rolled back."""
        with self.read() as conn, Session(bind=conn, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session


def _private_sqlite_files(url: str) -> None:
    """Make the database file 0600 before SQLite creates it 0644 (it holds every message);
    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode. Files left open by
    an older version are tightened."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    private_file(Path(path))
    for suffix in ("-wal", "-shm", "-journal"):
        tighten(Path(path + suffix))


def open_database(settings: Settings, *, upgrade: bool = True) -> Database:
    if settings.database_url.startswith("sqlite"):
        ensure_home(settings)
        _private_sqlite_files(settings.database_url)
    engine = make_engine(settings.database_url)
    if upgrade:
        migrate(engine)
    return Database(engine)
