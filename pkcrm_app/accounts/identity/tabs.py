"""Which open browser tabs were signed in with which session, so ending a session can cut its tabs off.

A tab is named by the client token Reflex's frontend generated for it; the token is not a credential, it only
lets the live layer find the tabs to unlink from their organisation's channel when their session ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from pkcrm_app.accounts.identity.service import IDLE_TIMEOUT, live_session_ids
from pkcrm_app.core.db import Base, utcnow


class LiveTab(Base):
    """One open tab bound to the login session it was signed in with."""

    __tablename__ = "live_tab"

    client_token: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    bound_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def bind_tab(db: Session, client_token: str, session_id: str) -> None:
    """Record (or move) a tab's binding to a session; the caller commits."""
    tab = db.get(LiveTab, client_token)
    if tab is None:
        db.add(LiveTab(client_token=client_token, session_id=session_id, bound_at=utcnow()))
    elif tab.session_id != session_id:
        tab.session_id, tab.bound_at = session_id, utcnow()
    db.flush()


def ended_tabs(db: Session, *, idle: timedelta = IDLE_TIMEOUT) -> list[tuple[str, str]]:
    """(client token, ended session id) of tabs whose session has ended, for whatever reason (revoked,
    expired, idle, deleted)."""
    bound = db.execute(select(LiveTab.client_token, LiveTab.session_id)).all()
    alive = live_session_ids(db, {session_id for _, session_id in bound}, idle=idle)
    return [(token, session_id) for token, session_id in bound if session_id not in alive]


def forget_tabs(db: Session, ended: list[tuple[str, str]]) -> None:
    """Drop the bindings of tabs that were cut off, unless the tab was bound to a new session meanwhile;
    the caller commits."""
    for client_token, session_id in ended:
        db.execute(delete(LiveTab).where(LiveTab.client_token == client_token, LiveTab.session_id == session_id))
