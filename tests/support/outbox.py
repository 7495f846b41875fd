"""Builders for outbox tests: an organisation with a lead, its number pointed at a local Cloud API simulator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from pkcrm_app.channels.whatsapp.client import CloudClient
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.crm.models import Contact
from pkcrm_app.crm.service import open_leads_for_contacts
from pkcrm_app.dev.cloud_simulator.app import running
from pkcrm_app.dev.cloud_simulator.state import SimNumber, SimulatorState
from pkcrm_app.dev.cloud_simulator.webhooks import Customers
from pkcrm_app.inbox.models import Conversation
from tests.support.data import OrgFixture, make_org

TOKEN = "EAAG-test-access-token-0001"
WABA = "102290129340398"


@dataclass(frozen=True)
class Shop:
    org: OrgFixture
    number_id: int

    def agent(self) -> Actor:
        return self.org.actor("agent")

    def admin(self, stepped_up: bool = False) -> Actor:
        return Actor(user_id=self.org.users["ada"][0], org_id=self.org.org_id, role=Role.ADMIN, stepped_up=stepped_up)


def make_shop(database: Database, slug: str = "acme", phone_number_id: str = "1001") -> Shop:
    org = make_org(database, slug, phone_number_id, {"agent": Role.AGENT, "ada": Role.ADMIN})
    with database.session() as db:
        number = db.scalars(select(WhatsAppNumber).where(WhatsAppNumber.org_id == org.org_id)).one()
        number.access_token, number.business_account_id = TOKEN, WABA
        return Shop(org, number.id)


def add_lead(database: Database, shop: Shop, wa_id: str, *, name: str = "Ayesha Khan",
             last_inbound: datetime | str | None = "now") -> int:
    """A contact with an open lead; its customer last wrote at `last_inbound` ("now": a minute ago)."""
    with database.session() as db:
        contact = Contact(org_id=shop.org.org_id, wa_id=wa_id, phone_e164=f"+{wa_id}", name=name)
        db.add(contact)
        db.flush()
        lead = open_leads_for_contacts(db, org_id=shop.org.org_id, contact_ids=[contact.id])[0]
        inbound = utcnow() - timedelta(minutes=1) if last_inbound == "now" else last_inbound
        db.add(Conversation(org_id=shop.org.org_id, contact_id=contact.id, unread_count=0,
                            last_inbound_at=inbound))
        return lead.id


def sim_state(shop: Shop, rate: float = 0.0) -> SimulatorState:
    state = SimulatorState(rate_per_second=rate)
    state.add_number(SimNumber(shop.org.phone_number_id, TOKEN, shop.org.app_secret, WABA))
    return state


@contextmanager
def simulator(state: SimulatorState, webhook: str = "", time_scale: float = 0.05) -> Iterator[str]:
    customers = Customers(webhook, time_scale=time_scale, seed=7) if webhook else None
    with running(state, customers) as url:
        yield url


def client_factory(url: str):  # type: ignore[no-untyped-def]
    return lambda token: CloudClient(access_token=token, base=url, version="v21.0")


