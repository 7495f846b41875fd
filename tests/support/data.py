"""Builders of the named cast the tests use: two organisations, their people and numbers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pkcrm_app.accounts.identity.service import add_member, create_organisation, create_user
from pkcrm_app.channels.whatsapp.numbers import register_number
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import Database
from pkcrm_app.crm.service import create_pipeline

PASSWORD = "correct horse battery"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "whatsapp"


@dataclass(frozen=True)
class OrgFixture:
    org_id: int
    phone_number_id: str
    app_secret: str
    verify_token: str
    users: dict[str, tuple[int, str]]  # name -> (user id, email)

    def actor(self, name: str, role: Role = Role.AGENT) -> Actor:
        return Actor(user_id=self.users[name][0], org_id=self.org_id, role=role)


def make_org(database: Database, slug: str, phone_number_id: str, people: dict[str, Role]) -> OrgFixture:
    """An organisation with the default pipeline, one WhatsApp number and the given members."""
    with database.session() as db:
        org = create_organisation(db, name=slug.replace("-", " ").title(), slug=slug)
        create_pipeline(db, org_id=org.id)
        secret, token = f"secret-{slug}", f"verify-{slug}"
        register_number(db, org_id=org.id, phone_number_id=phone_number_id, app_secret=secret, verify_token=token)
        users = {}
        for name, role in people.items():
            email = f"{name}@{slug}.test"
            user = create_user(db, email=email, name=name.title(), password=PASSWORD)
            add_member(db, org_id=org.id, user_id=user.id, role=role)
            users[name] = (user.id, email)
        return OrgFixture(org.id, phone_number_id, secret, token, users)
