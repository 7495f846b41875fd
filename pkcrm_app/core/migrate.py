"""Run Alembic migrations from code (make run, tests, workers at start-up)."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from pkcrm_app.settings import PROJECT_ROOT


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["skip_logging"] = True
    if url:
        config.attributes["url"] = url
    return config


def upgrade_to_head(url: str | None = None) -> None:
    """Bring the database at `url` (default: settings) to the newest schema."""
    command.upgrade(alembic_config(url), "head")
