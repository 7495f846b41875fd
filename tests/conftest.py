"""Databases for tests: a fresh migrated SQLite file, and a fresh PostgreSQL database when reachable."""

from __future__ import annotations

import os
import secrets

import pytest

TEST_MASTER_KEY = "test:" + "A" * 43  # 32 zero-ish bytes, urlsafe base64; never a real key
os.environ.setdefault("PKCRM_MASTER_KEY", TEST_MASTER_KEY)

from pkcrm_app.core.crypto import MasterKeys  # noqa: E402
from pkcrm_app.flows import registry  # noqa: E402

registry.install()  # as the app and the command line do at start-up

PG_ADMIN_URL = os.environ.get("PKCRM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("PKCRM_TEST_REDIS", "redis://127.0.0.1:6379/15")


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason to skip."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=2):
            return None
    except Exception as exc:  # any failure means: not available here
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


def redis_reachable() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:
        return f"Redis not reachable at {REDIS_TEST_URL}: {exc.__class__.__name__}"


def create_pg_database() -> str:
    """A new empty PostgreSQL database; returns its SQLAlchemy URL."""
    import psycopg

    name = f"pkcrm_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        # A test that waits this long for a lock deadlocked itself (say, two sessions of one thread): fail it
        # with the lock named instead of hanging the whole run.
        conn.execute(f'ALTER DATABASE "{name}" SET lock_timeout = \'60s\'')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def master_keys() -> MasterKeys:
    return MasterKeys.parse(TEST_MASTER_KEY)
