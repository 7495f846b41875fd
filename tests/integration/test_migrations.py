"""Alembic migrations and the models describe the same schema, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pkcrm_app.flows.registry import metadata


def test_migrated_schema_matches_the_models(database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diff = compare_metadata(context, metadata())
    assert diff == [], "models and migrations disagree; add a migration:\n" + "\n".join(map(repr, diff))


def test_every_model_table_exists_after_migration(database) -> None:
    from sqlalchemy import inspect

    tables = set(inspect(database.engine).get_table_names())
    assert set(metadata().tables) <= tables
    assert "alembic_version" in tables
