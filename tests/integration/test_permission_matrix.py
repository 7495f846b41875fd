"""Every lead action, for every role, on own, colleague's, unassigned and foreign leads: allowed or NotFound."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Organisation
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import Database
from pkcrm_app.core.errors import NotFound
from pkcrm_app.crm import service as crm
from pkcrm_app.crm.models import Contact, Lead, Stage
from pkcrm_app.inbox import board as board_model
from pkcrm_app.inbox import service as inbox
from tests.support.data import make_org

ROLES = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.AGENT)
TARGETS = ("own", "colleague", "unassigned", "foreign")


def _lead(db: Session, org_id: int, owner: int | None, name: str) -> int:
    contact = Contact(org_id=org_id, wa_id=name, name=name)
    db.add(contact)
    db.flush()
    lead = crm.open_leads_for_contacts(db, org_id=org_id, contact_ids=[contact.id])[0]
    lead.owner_user_id, lead.value = owner, Decimal(100)
    return lead.id


def _second_stage(db: Session, lead_id: int) -> int:
    lead = db.get_one(Lead, lead_id)
    return db.scalars(select(Stage.id).where(Stage.pipeline_id == lead.pipeline_id).order_by(Stage.position)).all()[1]


ACTIONS: dict[str, Callable[[Session, Actor, int], object]] = {
    "get_lead": lambda db, actor, lead_id: crm.get_lead(db, actor, lead_id),
    "move_lead": lambda db, actor, lead_id: crm.move_lead(db, actor, lead_id, _second_stage(db, lead_id)),
    "lead_thread": lambda db, actor, lead_id: inbox.lead_thread(db, actor, lead_id),
    "mark_read": lambda db, actor, lead_id: inbox.mark_read(db, actor, lead_id),
}


def expected(role: Role, target: str, agents_see_all: bool) -> bool:
    if target == "foreign":
        return False
    return role != Role.AGENT or agents_see_all or target in ("own", "unassigned")


@pytest.fixture
def cast(database: Database):  # type: ignore[no-untyped-def]
    people = {"olive": Role.OWNER, "adam": Role.ADMIN, "mona": Role.MANAGER, "ann": Role.AGENT, "ben": Role.AGENT}
    acme = make_org(database, "acme", "1001", people)
    globex = make_org(database, "globex", "2002", {"gus": Role.AGENT})
    with database.session() as db:
        leads = {
            "own": _lead(db, acme.org_id, acme.users["ann"][0], "own"),
            "colleague": _lead(db, acme.org_id, acme.users["ben"][0], "colleague"),
            "unassigned": _lead(db, acme.org_id, None, "unassigned"),
            "foreign": _lead(db, globex.org_id, None, "foreign"),
        }
    actors = {role: acme.actor(name, role) for name, role in people.items() if name != "ben"}
    return database, acme, actors, leads


@pytest.mark.parametrize("agents_see_all", [False, True], ids=["agents-scoped", "agents-see-all"])
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_lead_actions_follow_the_matrix(cast, action: str, agents_see_all: bool) -> None:  # type: ignore[no-untyped-def]
    database, acme, actors, leads = cast
    with database.session() as db:
        db.execute(update(Organisation).where(Organisation.id == acme.org_id).values(agents_see_all=agents_see_all))
    wrong = []
    for role in ROLES:
        for target in TARGETS:
            try:
                with database.session() as db:
                    ACTIONS[action](db, actors[role], leads[target])
                allowed = True
            except NotFound:
                allowed = False
            if allowed != expected(role, target, agents_see_all):
                wrong.append(f"{role.value} on {target}: {'allowed' if allowed else 'refused'}")
    assert wrong == []


@pytest.mark.parametrize("agents_see_all", [False, True], ids=["agents-scoped", "agents-see-all"])
def test_board_shows_and_counts_only_visible_leads(cast, agents_see_all: bool) -> None:  # type: ignore[no-untyped-def]
    database, acme, actors, leads = cast
    with database.session() as db:
        db.execute(update(Organisation).where(Organisation.id == acme.org_id).values(agents_see_all=agents_see_all))
    for role in ROLES:
        with database.session() as db:
            columns = board_model.board(db, actors[role])
        shown = {card.lead_id for column in columns for card in column.cards}
        want = {leads[t] for t in TARGETS if expected(role, t, agents_see_all)}
        assert shown == want, role
        assert sum(column.count for column in columns) == len(want), role
        assert sum(sum(column.totals.values()) for column in columns) == 100 * len(want), role
