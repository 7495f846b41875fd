"""Tabs bound to sessions: which ones an ended session cuts off, and the session life the live cache reads."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from pkcrm_app.accounts.identity import service
from pkcrm_app.accounts.identity.models import AuthSession, session_id_for
from pkcrm_app.accounts.identity.tabs import bind_tab, ended_tabs, forget_tabs
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.live import sessions as live_sessions
from tests.integration.accounts.identity.test_sessions import CHROME_LINUX, sign_in
from tests.support.data import make_org


def test_only_tabs_of_ended_sessions_are_cut_off(database) -> None:  # type: ignore[no-untyped-def]
    acme = make_org(database, "acme", "1001", {"ann": Role.AGENT, "bea": Role.AGENT})
    ann, bea = (sign_in(database, acme.users[n][1], CHROME_LINUX) for n in ("ann", "bea"))
    tabs = {name: str(uuid.uuid4()) for name in ("ann1", "ann2", "bea")}
    with database.session() as db:
        for tab, token in (("ann1", ann), ("ann2", ann), ("bea", bea)):
            bind_tab(db, tabs[tab], session_id_for(token))
        db.commit()
        assert ended_tabs(db) == []
        service.logout(db, ann)
        db.commit()
        ended = sorted(ended_tabs(db))
        assert ended == sorted([(tabs["ann1"], session_id_for(ann)), (tabs["ann2"], session_id_for(ann))])
        # ann signs in again in her first tab before the cut-off is done: that binding stays.
        again = sign_in(database, acme.users["ann"][1], CHROME_LINUX)
        bind_tab(db, tabs["ann1"], session_id_for(again))
        forget_tabs(db, ended)
        db.commit()
        assert ended_tabs(db) == []
        db.execute(update(AuthSession).values(last_seen_at=utcnow() - timedelta(hours=3)))
        db.commit()
        assert {token for token, _ in ended_tabs(db)} == {tabs["ann1"], tabs["bea"]}


def test_the_live_cache_knows_a_sessions_own_deadline(database) -> None:  # type: ignore[no-untyped-def]
    acme = make_org(database, "acme", "1001", {"ann": Role.AGENT})
    key = session_id_for(sign_in(database, acme.users["ann"][1], CHROME_LINUX))
    live_sessions.forget_all()
    assert live_sessions.check(key) is True
    with database.session() as db:  # the session ends by itself two seconds ago: no event tells anyone
        db.execute(update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=2)))
        db.commit()
    assert live_sessions.check(key) is False
    assert live_sessions.check("no such session") is False
