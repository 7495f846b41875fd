"""Seeds a demo organisation with a team, a pipeline and ~200 leads with 60 days of conversations."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Organisation
from pkcrm_app.accounts.identity.service import add_member, create_organisation, create_user
from pkcrm_app.channels.whatsapp.numbers import register_number
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.crm.models import Contact, Lead, LeadStageChange, Stage
from pkcrm_app.crm.service import create_pipeline, stages_of
from pkcrm_app.inbox.models import Conversation, Direction, Message, MessageStatus

DEMO_SLUG = "demo-traders"
DEMO_PASSWORD = "demo-pass-2026"
DEMO_PHONE_NUMBER_ID = "100000000000001"
DEMO_TEAM = (
    ("owner@demo.pkcrm.test", "Omar Owner", Role.OWNER),
    ("manager@demo.pkcrm.test", "Maya Manager", Role.MANAGER),
    ("ali@demo.pkcrm.test", "Ali Agent", Role.AGENT),
    ("sara@demo.pkcrm.test", "Sara Agent", Role.AGENT),
)
FIRST = ["Ayesha", "Bilal", "Fatima", "Hamza", "Zainab", "Omar", "Hira", "Usman", "Sana", "Imran", "Nadia",
         "Kamran", "Mehwish", "Faisal", "Rabia", "Tariq", "Amna", "Saad", "Iqra", "Danish", "Laura", "James",
         "Priya", "Chen", "Maria", "Ahmed", "Noor", "Yusuf", "Mariam", "Hassan"]
LAST = ["Khan", "Ahmed", "Malik", "Hussain", "Qureshi", "Shah", "Butt", "Chaudhry", "Raza", "Iqbal", "Siddiqui",
        "Mirza", "Sheikh", "Javed", "Aslam", "Smith", "Garcia", "Patel", "Wang", "Rossi"]
PRODUCTS = ["solar inverter", "10 kW solar kit", "lithium battery pack", "water pump", "LED panel set",
            "smart meter", "wall-mounted AC", "UPS 3 kVA", "deep-freezer", "washing machine"]
CUSTOMER_LINES = [
    "Hi, is the {p} still available?", "What's the price of the {p}?", "Do you deliver to Lahore?",
    "Can I pay in instalments for the {p}?", "Please share the warranty details.",
    "Is installation included?", "Ok, I'll think about it and get back to you.",
    "Can you send me the brochure?", "My friend bought the {p} from you, very happy!",
    "Any discount if I buy two?", "When can you deliver?", "Thanks, confirmed. Please send the invoice.",
]
AGENT_LINES = [
    "Hello! Yes, the {p} is in stock.", "The {p} is Rs {v} including delivery.",
    "We deliver nationwide within 3-5 days.", "Yes, 6 and 12 month instalment plans are available.",
    "It comes with a 2-year warranty.", "Installation is free within city limits.",
    "Sure, sending the brochure now.", "I can offer 5% off for two units.",
    "Great, I've prepared the invoice for you.",
]
STAGE_WEIGHTS = {"New": 40, "Qualified": 25, "Proposal": 15, "Won": 12, "Lost": 8}


@dataclass(frozen=True)
class DemoResult:
    org_id: int
    created: bool
    logins: tuple[tuple[str, str, str], ...]


def demo_org(db: Session) -> Organisation | None:
    return db.scalar(select(Organisation).where(Organisation.slug == DEMO_SLUG))


def seed_demo(
    db: Session, *, contacts: int = 200, seed: int = 7, progress: Callable[[int, int], None] | None = None
) -> DemoResult:
    """Create the demo organisation unless it exists (idempotent); reports progress per contact."""
    logins = tuple((email, DEMO_PASSWORD, role.value) for email, _, role in DEMO_TEAM)
    existing = demo_org(db)
    if existing is not None:
        return DemoResult(org_id=existing.id, created=False, logins=logins)
    rng = random.Random(seed)
    org = create_organisation(db, name="Demo Traders", slug=DEMO_SLUG)
    users = []
    for email, name, role in DEMO_TEAM:
        user = create_user(db, email=email, name=name, password=DEMO_PASSWORD)
        add_member(db, org_id=org.id, user_id=user.id, role=role)
        users.append(user)
    pipeline = create_pipeline(db, org_id=org.id)
    stages = stages_of(db, org.id, pipeline.id)
    register_number(db, org_id=org.id, phone_number_id=DEMO_PHONE_NUMBER_ID, display_phone_number="+92 300 0000001",
                    app_secret=secrets.token_hex(16), verify_token=secrets.token_urlsafe(16))
    now = utcnow()
    agents = [u.id for u, (_, _, role) in zip(users, DEMO_TEAM, strict=True) if role == Role.AGENT]
    for index in range(contacts):
        _seed_contact(db, rng, org.id, pipeline.id, stages, agents, index, now)
        if progress and (index + 1) % 10 == 0:
            progress(index + 1, contacts)
    db.flush()
    return DemoResult(org_id=org.id, created=True, logins=logins)


def _seed_contact(
    db: Session, rng: random.Random, org_id: int, pipeline_id: int, stages: list[Stage], agent_ids: list[int],
    index: int, now: datetime,
) -> None:
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    wa_id = f"92300{index:07d}"
    contact = Contact(org_id=org_id, wa_id=wa_id, phone_e164=f"+{wa_id}", name=name)
    db.add(contact)
    db.flush()
    started = now - timedelta(days=rng.uniform(0, 60), minutes=rng.uniform(0, 600))
    stage = rng.choices(stages, weights=[STAGE_WEIGHTS.get(s.name, 10) for s in stages])[0]
    product = rng.choice(PRODUCTS)
    value = Decimal(rng.randrange(150, 4000) * 10)
    lead = Lead(org_id=org_id, contact_id=contact.id, pipeline_id=pipeline_id, stage_id=stage.id,
                title=product, value=value, currency="PKR" if rng.random() < 0.7 else "USD",
                owner_user_id=rng.choice([*agent_ids, None]), created_at=started, updated_at=started,
                last_activity_at=started,
                stage_entered_at=started + timedelta(days=rng.uniform(0, 3)))
    db.add(lead)
    db.flush()
    db.add(LeadStageChange(org_id=org_id, lead_id=lead.id, from_stage_id=None, to_stage_id=stage.id,
                           changed_at=lead.stage_entered_at))
    conversation = Conversation(org_id=org_id, contact_id=contact.id)
    db.add(conversation)
    db.flush()
    moment = started
    last_text = ""
    for turn in range(rng.randint(2, 9)):
        inbound = turn % 2 == 0
        template = rng.choice(CUSTOMER_LINES if inbound else AGENT_LINES)
        last_text = template.format(p=product, v=f"{value:,.0f}")
        status = MessageStatus.RECEIVED if inbound else rng.choice(
            [MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.READ, MessageStatus.SENT])
        db.add(Message(org_id=org_id, conversation_id=conversation.id, wa_message_id=f"wamid.demo.{index}.{turn}",
                       direction=Direction.INBOUND if inbound else Direction.OUTBOUND, type="text",
                       body=last_text, status=status, sent_at=moment,
                       author_user_id=None if inbound else lead.owner_user_id))
        if inbound:
            conversation.last_inbound_at = moment
        conversation.last_message_at = moment
        moment = moment + timedelta(minutes=rng.uniform(1, 60 * 20))
        if moment > now:
            break
    conversation.last_message_preview = last_text
    conversation.unread_count = rng.choice([0, 0, 0, 1, 2])
    lead.last_activity_at = conversation.last_message_at or started
