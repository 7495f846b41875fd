"""Who is who in an imported chat: authors proposed as team members (by name) and attributed to them only when
the importer ticks the proposal, the customer's contact (by a phone number: chosen, in the file name, or as an
author; else by name), and the lead and conversation the messages go to: found and merged, or created.

A name in a chat proves nothing (anyone can be saved as "Sam Seller" in a phone), so a name match is only a
proposal: unticked, an author's messages are the customer's."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, User
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, PermissionDenied
from pkcrm_app.crm.models import Contact, Lead
from pkcrm_app.crm.service import open_leads_for_contacts, visible_leads
from pkcrm_app.imports.chat_export import phone_digits
from pkcrm_app.inbox.models import Conversation

LEAD_SOURCE = "chat import"


def name_key(name: str) -> str:
    """Names compared the way people read them: case, accents' composition and spacing ignored."""
    return " ".join(name.replace("\u200e", "").casefold().split())


@dataclass
class Cast:
    """The outcome of matching: each author's role, and the thread the messages go to."""

    contact_id: int
    lead_id: int
    conversation_id: int
    members: dict[str, int] = field(default_factory=dict)  # author -> user id (outbound messages)
    customers: list[str] = field(default_factory=list)  # authors writing as the customer (inbound)
    created_contact: bool = False
    created_lead: bool = False

    def summary(self) -> dict[str, str]:
        found = {a: f"member:{uid}" for a, uid in self.members.items()}
        return {**found, **{a: "contact" for a in self.customers}}


def _team(db: Session, org_id: int) -> dict[str, int]:
    rows = db.execute(select(User.id, User.name).join(Membership, Membership.user_id == User.id)
                      .where(Membership.org_id == org_id, Membership.is_active.is_(True), User.is_active.is_(True))
                      .order_by(User.id))
    team: dict[str, int] = {}
    for user_id, name in rows:
        team.setdefault(name_key(name), user_id)
    return team


def _contact_by_name(db: Session, org_id: int, name: str) -> Contact | None:
    found = list(db.scalars(select(Contact).where(Contact.org_id == org_id,
                                                  func.lower(Contact.name) == name.strip().lower()).limit(2)))
    return found[0] if len(found) == 1 else None


def _contact(db: Session, org_id: int, customers: list[str], title: str | None,
             chosen_phone: str | None) -> tuple[Contact, bool]:
    """The customer's contact, found or created; True when created."""
    named = next((a for a in customers if phone_digits(a) is None), None) or (
        title if title and phone_digits(title) is None else None)
    digits = phone_digits(chosen_phone) or phone_digits(title) or next(
        (d for a in customers if (d := phone_digits(a))), None)
    if chosen_phone and phone_digits(chosen_phone) is None:
        raise InvalidInput("the customer's phone number should have 7 to 15 digits")
    contact: Contact | None = None
    if digits:
        contact = db.scalar(select(Contact).where(Contact.org_id == org_id, Contact.wa_id == digits))
    elif named:
        contact = _contact_by_name(db, org_id, named)
    if contact is not None:
        if not contact.name and named:
            contact.name = named[:200]
        return contact, False
    if not digits and not named:
        raise InvalidInput("the chat names no customer: enter the customer's phone number")
    wa_id = digits or "import-" + hashlib.sha256(f"{org_id}|{name_key(named or '')}".encode()).hexdigest()[:24]
    contact = Contact(org_id=org_id, wa_id=wa_id, phone_e164=f"+{digits}" if digits else None,
                      name=(named or "")[:200], created_at=utcnow())
    db.add(contact)
    db.flush()
    return contact, True


def _lead(db: Session, actor: Actor, contact: Contact) -> tuple[Lead, bool]:
    """The contact's newest lead the actor may see, or a new one; refused when only colleagues' leads exist."""
    leads = select(Lead).where(Lead.org_id == actor.org_id, Lead.contact_id == contact.id)
    visible = db.scalar(leads.where(visible_leads(db, actor)).order_by(Lead.created_at.desc(), Lead.id.desc()))
    if visible is not None:
        return visible, False
    if db.scalar(leads.limit(1)) is not None:
        raise PermissionDenied("this customer's conversation belongs to a colleague: ask them or a manager to import")
    return open_leads_for_contacts(db, org_id=actor.org_id, contact_ids=[contact.id], source=LEAD_SOURCE)[0], True


def _conversation(db: Session, org_id: int, contact_id: int) -> Conversation:
    found = db.scalar(select(Conversation).where(Conversation.org_id == org_id, Conversation.contact_id == contact_id))
    if found is None:
        found = Conversation(org_id=org_id, contact_id=contact_id, unread_count=0, created_at=utcnow())
        db.add(found)
        db.flush()
    return found


def proposal_key(author: str) -> str:
    """A stable, form-safe name for one author's proposal (the page's checkbox; the author's name may be anything)."""
    return "author-" + hashlib.sha256(author.encode()).hexdigest()[:16]


def propose_members(db: Session, actor: Actor, *, authors: Mapping[str, int], my_name: str | None) -> dict[str, int]:
    """Authors whose name reads like a team member's (or like the name the importer gave as theirs): proposals
    for the importer to tick, author -> user id."""
    actor.require(Permission.CONVERSATION_VIEW)
    team = _team(db, actor.org_id)
    mine = name_key(my_name) if my_name else ""
    proposed: dict[str, int] = {}
    for author in authors:
        key = name_key(author)
        if mine and key == mine and actor.user_id is not None:
            proposed[author] = actor.user_id
        elif key in team:
            proposed[author] = team[key]
    return proposed


def cast_for(db: Session, actor: Actor, *, authors: dict[str, int], title: str | None, chosen_phone: str | None,
             members: Mapping[str, int]) -> Cast:
    """Attribute the authors the importer confirmed (`members`, author -> user id; every other author writes as the
    customer) and open (or merge into) the contact, lead and conversation."""
    actor.require(Permission.CONVERSATION_VIEW)
    team_ids = set(db.scalars(select(User.id).join(Membership, Membership.user_id == User.id).where(
        Membership.org_id == actor.org_id, Membership.is_active.is_(True), User.is_active.is_(True))))
    confirmed = {author: user_id for author, user_id in members.items() if author in authors and user_id in team_ids}
    customers = [author for author, _count in sorted(authors.items(), key=lambda item: (-item[1], item[0]))
                 if author not in confirmed]
    contact, created_contact = _contact(db, actor.org_id, customers, title, chosen_phone)
    lead, created_lead = _lead(db, actor, contact)
    conversation = _conversation(db, actor.org_id, contact.id)
    return Cast(contact_id=contact.id, lead_id=lead.id, conversation_id=conversation.id, members=confirmed,
                customers=customers, created_contact=created_contact, created_lead=created_lead)
