"""Database engine, declarative Base and session factory (SQLite embedded, PostgreSQL at scale)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from pkcrm_app.core.base import Base, utcnow
from pkcrm_app.core.crypto import MasterKeys, load_master_keys
from pkcrm_app.core.errors import DomainError
from pkcrm_app.core.keyring import Keyring

__all__ = ["Base", "Database", "get_database", "make_engine", "set_database", "utcnow"]


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine with the per-dialect settings this app relies on."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """An engine plus its session factory and encryption keyring."""

    def __init__(self, url: str, master_keys: MasterKeys | None = None) -> None:
        self.url = url
        keys = master_keys or load_master_keys(url)  # refused before anything is opened or created
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.keyring = Keyring(self.engine, keys)
        if inspect(self.engine).has_table("encryption_key"):
            # Load (or create) the data key now, on its own connection: doing it lazily inside a
            # write transaction would wait on that transaction's own lock under SQLite.
            self.keyring.ensure_active_key()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction owned by the caller: committed on success, rolled back on error, except that a
        refusal the services recorded (a counted failure, see core/errors.py) is committed before it goes on."""
        db = self.sessions()
        try:
            yield db
            db.commit()
        except DomainError as refusal:
            if refusal.recorded:
                db.commit()
            else:
                db.rollback()
            raise
        except BaseException:
            db.rollback()
            raise
        finally:
            db.close()

    def dispose(self) -> None:
        self.keyring.forget()
        self.engine.dispose()


_current: Database | None = None


def get_database() -> Database:
    """The process-wide database, opened from settings on first use."""
    global _current
    if _current is None:
        from pkcrm_app.settings import get_settings

        _current = Database(get_settings().sqlalchemy_url)
    return _current


def set_database(database: Database | None) -> None:
    """Make `database` the process-wide one (tests, tools); None reopens from settings next time."""
    global _current
    _current = database
