"""A running app with two organisations, in the embedded mode and the Redis multi-worker mode."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pkcrm_app.core.authz import Role
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database
from pkcrm_app.core.migrate import upgrade_to_head
from tests.conftest import REDIS_TEST_URL, create_pg_database, drop_pg_database, postgres_reachable, redis_reachable
from tests.support.app_server import PROJECT_ROOT, AppServer
from tests.support.browser import chromium_missing
from tests.support.data import OrgFixture, make_org

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "e2e"


@dataclass
class LiveApp:
    mode: str
    ui: AppServer
    webhook_target: AppServer
    acme: OrgFixture
    globex: OrgFixture
    servers: list[AppServer] = field(default_factory=list)


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def live_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveApp]:
    """The app serving tabs on :3000; in redis mode (2 workers) webhooks land on a separate backend :3102."""
    if reason := chromium_missing():
        pytest.skip(reason)
    mode = request.param
    if mode == "redis" and (reason := redis_reachable()):
        pytest.skip(reason)
    use_pg = mode == "redis" and postgres_reachable() is None
    url = create_pg_database() if use_pg else f"sqlite:///{tmp_path / 'e2e.db'}"
    env = {"DATABASE_URL": url, "PKCRM_INSTANCE_DIR": str(tmp_path), "PKCRM_MASTER_KEY": os.environ["PKCRM_MASTER_KEY"]}
    upgrade_to_head(url)
    database = Database(url, MasterKeys.parse(env["PKCRM_MASTER_KEY"]))
    acme = make_org(database, "acme", "1001", {"alice": Role.AGENT, "mark": Role.MANAGER})
    globex = make_org(database, "globex", "2002", {"bob": Role.AGENT})
    database.dispose()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    servers: list[AppServer] = []
    try:
        if mode == "redis":
            import redis

            redis.Redis.from_url(REDIS_TEST_URL).flushdb()
            env |= {"REDIS_URL": REDIS_TEST_URL, "GRANIAN_WORKERS": "2"}
            ui = AppServer(env, tmp_path / "ui.log").start()
            servers.append(ui)
            hook = AppServer(env, tmp_path / "hook.log", port=3102, backend_only=True).start()
            servers.append(hook)
        else:
            ui = hook = AppServer(env, tmp_path / "ui.log").start()
            servers.append(ui)
        yield LiveApp(mode, ui, hook, acme, globex, servers)
    finally:
        for server in reversed(servers):
            server.stop()
        for log in tmp_path.glob("*.log"):
            (ARTIFACTS / f"{mode}-{log.name}").write_bytes(log.read_bytes())
        if use_pg:
            drop_pg_database(url)
