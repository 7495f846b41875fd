"""A small, fast world for access tests: two organisations with one member of each role, a colleague and a
spare member, leads, a conversation, an invitation, access reviews, an alert, SSO settings, audit entries and a
live session per member.

Everything of an organisation carries its brand ("Acme", "Globex") in names, emails, contact names, message
bodies and alert texts, so a leak of the other organisation's data shows up as its brand in a result.
Users are inserted directly with one argon2 hash computed once per process: hashing per user would dominate
the run time of a matrix that rebuilds this world for every test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, event, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from pkcrm_app.accounts.identity.models import AuthSession, Membership, MfaFactor, Organisation, User, session_id_for
from pkcrm_app.accounts.identity.passwords import hash_password
from pkcrm_app.accounts.identity.second_factor import MfaState
from pkcrm_app.accounts.identity.service import new_session_row
from pkcrm_app.accounts.identity.sessions import HANDLE_LENGTH
from pkcrm_app.accounts.identity.sso.models import SsoConnection, SsoLink
from pkcrm_app.accounts.identity.tokens import new_token
from pkcrm_app.accounts.organisations.onboarding_models import Invitation
from pkcrm_app.accounts.organisations.review_models import AccessReview, AccessReviewItem, ReviewDecision
from pkcrm_app.accounts.security.models import AlertKind, SecurityAlert
from pkcrm_app.audit.service import record
from pkcrm_app.channels.whatsapp.numbers import register_number
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import Base, Database, utcnow
from pkcrm_app.crm.models import Contact
from pkcrm_app.crm.service import create_pipeline, open_leads_for_contacts, stages_of
from pkcrm_app.inbox.models import Conversation, Direction, Message, MessageStatus

PASSWORD = "correct horse battery"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # every member's second factor (160 bits, base32)
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
ROLES = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.AGENT)
CAST: dict[str, Role] = {"owner": Role.OWNER, "admin": Role.ADMIN, "manager": Role.MANAGER, "agent": Role.AGENT,
                         "colleague": Role.AGENT, "spare": Role.AGENT}


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One argon2 hash of PASSWORD for every user of every world in this process."""
    return hash_password(PASSWORD)


@dataclass
class Side:
    """One organisation of the world and the ids of its objects."""

    brand: str
    org_id: int = 0
    org_name: str = ""
    slug: str = ""
    phone_number_id: str = ""
    app_secret: str = ""
    verify_token: str = ""
    users: dict[str, int] = field(default_factory=dict)  # cast name -> user id
    emails: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # cast name -> session cookie secret
    handles: dict[str, str] = field(default_factory=dict)  # cast name -> session handle (see accounts.sessions)
    leads: dict[str, int] = field(default_factory=dict)  # own (the agent's), colleague, unassigned
    stages: list[int] = field(default_factory=list)
    contact_names: list[str] = field(default_factory=list)
    invitation_id: int = 0
    invitation_email: str = ""
    invitation_token: str = ""
    review_id: int = 0  # open, the spare member undecided
    decided_review_id: int = 0  # open, every member decided: ready to complete
    alert_id: int = 0
    alert_message: str = ""
    issuer: str = ""
    peer: Any = field(default=None, repr=False, compare=False)  # the other organisation's Side


    def actor(self, who: str | Role, *, stepped_up: bool = False) -> Actor:
        name = who.value if isinstance(who, Role) else who
        return Actor(user_id=self.users[name], org_id=self.org_id, role=CAST[name], stepped_up=stepped_up)

    @property
    def markers(self) -> tuple[str, ...]:
        """Strings only this organisation's data contains: none may reach the other organisation's members."""
        return (self.brand, self.org_name, self.slug, *self.emails.values(), *self.names.values(),
                *self.contact_names, self.invitation_email, self.alert_message, self.issuer)


@dataclass
class World:
    own: Side
    foreign: Side
    # A person in both organisations (a member of the foreign one first): what the own organisation does to or
    # with them must stay in the own organisation.
    shared_user_id: int = 0
    shared_tokens: dict[str, str] = field(default_factory=dict)  # "own" / "foreign" -> session cookie secret

    def shared_actor(self, *, stepped_up: bool = False) -> Actor:
        return Actor(user_id=self.shared_user_id, org_id=self.own.org_id, role=Role.AGENT, stepped_up=stepped_up)


def _people(db: Session, side: Side) -> None:
    now = utcnow()
    for name, role in CAST.items():
        user = User(email=f"{name}@{side.slug}.test", name=f"{name.title()} {side.brand}",
                    password_hash=password_hash(), created_at=now)
        db.add(user)
        db.flush()
        db.add(Membership(org_id=side.org_id, user_id=user.id, role=role, created_at=now))
        # Every member has a working second factor (own-factor actions need one) and a live, stepped-up session.
        db.add(MfaFactor(user_id=user.id, secret=TOTP_SECRET, confirmed_at=now, created_at=now))
        token, session = new_session_row(user_id=user.id, org_id=side.org_id, hours=12, ip="127.0.0.1",
                                          user_agent=USER_AGENT, screen="1280x800", language="en",
                                          mfa_state=MfaState.DONE)
        db.add(session)
        side.users[name], side.emails[name], side.names[name] = user.id, user.email, user.name
        side.tokens[name], side.handles[name] = token, session.id[:HANDLE_LENGTH]
    db.flush()


def _leads(db: Session, side: Side) -> None:
    owners = {"own": side.users["agent"], "colleague": side.users["colleague"], "unassigned": None}
    now = utcnow()
    for label, owner in owners.items():
        contact = Contact(org_id=side.org_id, wa_id=f"{side.slug}-{label}", phone_e164=None,
                          name=f"{label.title()} Customer of {side.brand}", created_at=now)
        db.add(contact)
        db.flush()
        lead = open_leads_for_contacts(db, org_id=side.org_id, contact_ids=[contact.id])[0]
        lead.owner_user_id, lead.value, lead.title = owner, Decimal(100), f"{side.brand} deal {label}"
        conversation = Conversation(org_id=side.org_id, contact_id=contact.id, last_message_at=now,
                                    last_inbound_at=now, last_message_preview=f"Hello {side.brand}", unread_count=1)
        db.add(conversation)
        db.flush()
        db.add(Message(org_id=side.org_id, conversation_id=conversation.id, wa_message_id=f"wamid.{side.slug}.{label}",
                       direction=Direction.INBOUND, type="text", body=f"Hello {side.brand}, price please",
                       status=MessageStatus.RECEIVED, sent_at=now))
        side.leads[label] = lead.id
        side.contact_names.append(contact.name)


def _review(db: Session, side: Side, *, decided: bool) -> int:
    now = utcnow()
    review = AccessReview(org_id=side.org_id, started_by_user_id=side.users["owner"], started_at=now)
    db.add(review)
    db.flush()
    db.add(AccessReviewItem(review_id=review.id, user_id=side.users["spare"], name=side.names["spare"],
                            email=side.emails["spare"], role_at_review=Role.AGENT, active=True, mfa_enabled=True,
                            reach=f"Own and unassigned leads of {side.brand}", reach_details={},
                            decision=ReviewDecision.KEEP if decided else None,
                            decided_by_user_id=side.users["owner"] if decided else None,
                            decided_at=now if decided else None))
    db.flush()
    return review.id


def _side(db: Session, brand: str, phone_number_id: str) -> Side:
    side = Side(brand=brand, org_name=f"{brand} Trading", slug=brand.lower(), phone_number_id=phone_number_id,
                app_secret=f"app-secret-{brand.lower()}", verify_token=f"verify-token-{brand.lower()}",
                issuer=f"https://login.{brand.lower()}.test")
    org = Organisation(name=side.org_name, slug=side.slug, created_at=utcnow() - timedelta(days=1))
    db.add(org)
    db.flush()
    side.org_id = org.id
    pipeline = create_pipeline(db, org_id=org.id)
    register_number(db, org_id=org.id, phone_number_id=phone_number_id, app_secret=side.app_secret,
                    verify_token=side.verify_token)
    _people(db, side)
    _leads(db, side)
    side.stages = [stage.id for stage in stages_of(db, org.id, pipeline.id)]
    token, digest = new_token()
    side.invitation_email, side.invitation_token = f"invitee@{side.slug}.test", token
    invitation = Invitation(org_id=org.id, email=side.invitation_email, role=Role.AGENT, token_hash=digest,
                            invited_by=side.users["admin"], expires_at=utcnow() + timedelta(days=7))
    db.add(invitation)
    side.decided_review_id = _review(db, side, decided=True)
    side.review_id = _review(db, side, decided=False)
    side.alert_message = f"Spare {brand} signed in from a new device"
    alert = SecurityAlert(org_id=org.id, kind=AlertKind.NEW_DEVICE, user_id=side.users["spare"],
                          message=side.alert_message, details={"browser": "Chrome 126"}, created_at=utcnow())
    db.add(alert)
    db.add(SsoConnection(org_id=org.id, issuer=side.issuer, client_id=f"{side.slug}-client",
                         client_secret=f"{side.slug}-client-secret", enabled=True))
    # The owner linked their provider account (not yet trusted to sign them in: that is their opt-in).
    db.add(SsoLink(org_id=org.id, user_id=side.users["owner"], issuer=side.issuer, subject=f"owner-{side.slug}"))
    db.flush()
    side.invitation_id, side.alert_id = invitation.id, alert.id
    record(db, action="member.invited", org_id=org.id, actor_user_id=side.users["admin"], target_type="invitation",
           target_id=invitation.id, details={"email": side.invitation_email, "role": "agent"}, ip_address="10.0.0.1")
    record(db, action="login.succeeded", org_id=org.id, actor_user_id=side.users["spare"],
           details={"method": "password"}, device=f"{brand} laptop")
    return side


def build_world(database: Database) -> World:
    """Both organisations, committed: "Acme" is the actors' own, "Globex" the foreign one."""
    with database.session() as db:
        world = World(own=_side(db, "Acme", "1001"), foreign=_side(db, "Globex", "2002"))
        _shared_person(db, world)
    world.own.peer, world.foreign.peer = world.foreign, world.own
    return world


def _shared_person(db: Session, world: World) -> None:
    now = utcnow()
    user = User(email="dana@both.test", name="Dana Both", password_hash=password_hash(), created_at=now)
    db.add(user)
    db.flush()
    db.add(MfaFactor(user_id=user.id, secret=TOTP_SECRET, confirmed_at=now, created_at=now))
    world.shared_user_id = user.id
    for label, side in (("foreign", world.foreign), ("own", world.own)):  # the foreign membership comes first
        db.add(Membership(org_id=side.org_id, user_id=user.id, role=Role.AGENT, created_at=now))
        db.flush()
        token, session = new_session_row(user_id=user.id, org_id=side.org_id, hours=12, ip="127.0.0.1",
                                          user_agent=USER_AGENT, screen="", language="en", mfa_state=MfaState.DONE)
        db.add(session)
        world.shared_tokens[label] = token
    db.flush()


def is_live(db: Session, token: str) -> bool:
    """Whether the session behind a cookie secret is still open (not revoked)."""
    session = db.get(AuthSession, session_id_for(token))
    return session is not None and session.revoked_at is None


# Per-test isolation: the world is built and committed once per database; each test runs inside one outer
# transaction that is rolled back afterwards. Every session the app opens (services, routes, threads) is bound to
# that connection and turns its commits into savepoints, so a service that commits changes nothing for good.


def sqlite_savepoints(engine: Engine) -> None:
    """Let pysqlite nest SAVEPOINTs in an outer transaction (SQLAlchemy's documented recipe)."""

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    engine.dispose()  # pooled connections predate the listeners


@contextmanager
def rolled_back(database: Database) -> Iterator[None]:
    """Everything done through `database` inside this block is undone when it ends."""
    connection = database.engine.connect()
    outer = connection.begin()
    saved = database.sessions
    database.sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                                     expire_on_commit=False)
    try:
        yield
    finally:
        database.sessions = saved
        outer.rollback()
        connection.close()


def fingerprint(db: Session, side: Side) -> list[Any]:
    """Every row of the side's organisation, its members and their second factors and sessions, in order."""
    users = list(side.users.values())
    reviews = [side.review_id, side.decided_review_id]
    rows: list[Any] = []
    for table in Base.metadata.sorted_tables:
        if "org_id" in table.c:
            where = table.c.org_id == side.org_id
        elif "user_id" in table.c:
            where = table.c.user_id.in_(users)
        elif "review_id" in table.c:
            where = table.c.review_id.in_(reviews)
        elif table.name == "app_user":
            where = table.c.id.in_(users)
        else:
            continue
        key = list(table.primary_key.columns)
        rows.append((table.name, [tuple(row) for row in db.execute(select(table).where(where).order_by(*key))]))
    return rows


def text_of(value: Any) -> str:
    """Everything a returned value says, as text (dataclasses, rows of the ORM, lists, strings)."""
    if isinstance(value, Base):
        return repr({attr.key: getattr(value, attr.key) for attr in inspect(value).mapper.column_attrs})
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return repr(dataclasses.asdict(value))
    if isinstance(value, list | tuple | set):
        return "[" + ", ".join(text_of(item) for item in value) + "]"
    return str(value)


def leaked(text: str, side: Side) -> list[str]:
    """The side's markers found in `text` (case-insensitive): empty when nothing of that side shows."""
    lowered = text.lower()
    return sorted({marker for marker in side.markers if marker and marker.lower() in lowered})
