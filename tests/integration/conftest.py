"""Integration fixtures: a fast `database` (same contract as tests/conftest.py) and an HTTP client of the routes.

Each test still gets an empty, migrated database of each kind; the migration runs once per session
(SQLite: a migrated file is copied; PostgreSQL: one migrated database is emptied before each test),
because creating and migrating a PostgreSQL database per test dominated the suite's run time.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pkcrm_app.core.db import Database, set_database
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.flows.registry import metadata
from pkcrm_app.http import build_api
from pkcrm_app.http.webhook import number_directory
from tests.conftest import create_pg_database, drop_pg_database, postgres_reachable


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    upgrade_to_head(f"sqlite:///{path}")  # the engine is disposed afterwards, so the WAL is folded in
    return path


@pytest.fixture(scope="session")
def migrated_postgres_url() -> Iterator[str]:
    if reason := postgres_reachable():
        pytest.skip(reason)
    url = create_pg_database()
    upgrade_to_head(url)
    yield url
    drop_pg_database(url)


def empty_postgres(url: str) -> None:
    import psycopg

    tables = ", ".join(f'"{table.name}"' for table in metadata().sorted_tables)
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path, master_keys) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    """An empty migrated database of each kind, made the process-wide one for the test."""
    if request.param == "postgres":
        url = request.getfixturevalue("migrated_postgres_url")
        empty_postgres(url)
    else:
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), tmp_path / "test.db")
        url = f"sqlite:///{tmp_path / 'test.db'}"
    db = Database(url, master_keys)
    set_database(db)
    yield db
    set_database(None)
    db.dispose()


@pytest.fixture
def api(database) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client of the routes; the webhook's number directory is rebuilt for this test's database."""
    number_directory.cache_clear()
    with TestClient(build_api(), base_url="http://testserver") as client:
        yield client
    number_directory.cache_clear()
