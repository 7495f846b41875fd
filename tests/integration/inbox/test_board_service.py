"""The board and moving leads: what agents see, history, audit, live events, organisation walls."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.errors import InvalidInput, NotFound
from pkcrm_app.core.events import DomainEvent, LeadMoved, subscribe, unsubscribe
from pkcrm_app.crm.models import Contact, Lead, LeadStageChange
from pkcrm_app.crm.service import get_lead, move_lead, open_leads_for_contacts
from pkcrm_app.inbox.board import board
from pkcrm_app.inbox.service import lead_thread
from tests.support.data import make_org

DEFAULT_STAGES = ["New", "Qualified", "Proposal", "Won", "Lost"]


@pytest.fixture
def cast(database):  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {"alice": Role.AGENT}), make_org(database, "globex", "2002", {})


def bob(globex) -> Actor:  # type: ignore[no-untyped-def]
    """Someone working in the other organisation (no login needed for service calls)."""
    return Actor(user_id=None, org_id=globex.org_id, role=Role.AGENT)


@pytest.fixture
def events() -> Iterator[list[DomainEvent]]:
    received: list[DomainEvent] = []

    def collect(batch: list[DomainEvent]) -> None:
        received.extend(batch)

    subscribe(collect)
    yield received
    unsubscribe(collect)


def add_lead(database, org_id: int, wa_id: str, value: str = "0", currency: str = "USD") -> int:  # type: ignore[no-untyped-def]
    with database.session() as db:
        contact = Contact(org_id=org_id, wa_id=wa_id, phone_e164=f"+{wa_id}", name=f"Customer {wa_id}")
        db.add(contact)
        db.flush()
        lead = open_leads_for_contacts(db, org_id=org_id, contact_ids=[contact.id])[0]
        lead.value, lead.currency = Decimal(value), currency
        return lead.id


def columns(database, actor, **kwargs):  # type: ignore[no-untyped-def]
    with database.session() as db:
        return {c.name: c for c in board(db, actor, **kwargs)}


def test_board_shows_default_stages_with_counts_and_totals(database, cast) -> None:
    acme, globex = cast
    add_lead(database, acme.org_id, "1", "0.10", "USD")
    add_lead(database, acme.org_id, "2", "200.20", "USD")
    add_lead(database, acme.org_id, "3", "5000", "PKR")
    add_lead(database, globex.org_id, "4", "999", "USD")
    with database.session() as db:
        result = board(db, acme.actor("alice"))
    assert [c.name for c in result] == DEFAULT_STAGES
    new = result[0]
    assert new.count == 3 and len(new.cards) == 3
    assert new.totals == {"USD": Decimal("200.30"), "PKR": Decimal("5000")}
    assert all(c.count == 0 and c.totals == {} and c.cards == [] for c in result[1:])
    assert {card.contact_name for card in new.cards} == {"Customer 1", "Customer 2", "Customer 3"}


def test_cards_per_stage_limits_cards_not_counts(database, cast) -> None:
    acme, _ = cast
    for n in range(4):
        add_lead(database, acme.org_id, str(n), "10")
    new = columns(database, acme.actor("alice"), cards_per_stage=2)["New"]
    assert (new.count, len(new.cards), new.totals) == (4, 2, {"USD": Decimal("40")})


def test_move_lead_records_history_audit_and_emits_after_commit(database, cast, events) -> None:
    acme, _ = cast
    lead_id = add_lead(database, acme.org_id, "1")
    actor = acme.actor("alice")
    cols = columns(database, actor)
    with database.session() as db:
        before = get_lead(db, actor, lead_id).stage_entered_at
        move_lead(db, actor, lead_id, cols["Qualified"].stage_id)
        assert events == []  # not yet committed
    assert events == [LeadMoved(org_id=acme.org_id, lead_id=lead_id, from_stage_id=cols["New"].stage_id,
                                to_stage_id=cols["Qualified"].stage_id)]
    with database.session() as db:
        lead = db.get_one(Lead, lead_id)
        assert lead.stage_id == cols["Qualified"].stage_id and lead.stage_entered_at > before
        change = db.scalars(select(LeadStageChange).where(LeadStageChange.lead_id == lead_id)
                            .order_by(LeadStageChange.id.desc())).first()
        assert change is not None
        assert (change.from_stage_id, change.to_stage_id, change.actor_user_id) == (
            cols["New"].stage_id, cols["Qualified"].stage_id, actor.user_id)
        audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "lead.moved")).one()
        assert (audit.org_id, audit.actor_user_id, audit.target_id) == (acme.org_id, actor.user_id, str(lead_id))
    assert [c.count for c in columns(database, actor).values()] == [0, 1, 0, 0, 0]


def test_rolled_back_move_changes_nothing_and_emits_nothing(database, cast, events) -> None:
    acme, _ = cast
    lead_id = add_lead(database, acme.org_id, "1")
    actor = acme.actor("alice")
    won = columns(database, actor)["Won"].stage_id
    with pytest.raises(RuntimeError), database.session() as db:
        move_lead(db, actor, lead_id, won)
        raise RuntimeError("something else failed in the same request")
    assert events == []
    assert columns(database, actor)["New"].count == 1


def test_other_organisations_leads_and_stages_are_out_of_reach(database, cast) -> None:
    acme, globex = cast
    acme_lead = add_lead(database, acme.org_id, "1")
    globex_lead = add_lead(database, globex.org_id, "2")
    globex_won = columns(database, bob(globex))["Won"].stage_id
    acme_new = columns(database, acme.actor("alice"))["New"].stage_id
    with database.session() as db:
        with pytest.raises(NotFound):
            move_lead(db, bob(globex), acme_lead, globex_won)
        with pytest.raises(NotFound):
            get_lead(db, bob(globex), acme_lead)
        with pytest.raises(InvalidInput):
            move_lead(db, acme.actor("alice"), acme_lead, globex_won)
        with pytest.raises(NotFound):
            lead_thread(db, bob(globex), acme_lead)
        with pytest.raises(NotFound):
            lead_thread(db, acme.actor("alice"), globex_lead)
    with database.session() as db:
        assert db.get_one(Lead, acme_lead).stage_id == acme_new
