"""The access matrix: every service action and every HTTP route, for every role, on the own organisation's data
and on a foreign organisation's, allowed or refused as ROLE_PERMISSIONS says, with nothing of the foreign
organisation leaked or changed.

It is generated: the service actions are discovered by walking pkcrm_app.{accounts,crm,inbox,audit,whatsapp}
(every public function taking `actor` among its first two parameters) and the routes are read from
build_api(). A new service action or route without an entry in ACTIONS or ROUTES fails
`test_every_service_action_is_in_the_matrix` / `test_every_route_is_in_the_matrix`: add its entry here.

Speed: the world (tests/support/world.py) is built once per database and every test runs in a transaction that
is rolled back, services' own commits included, so several hundred cases stay quick on SQLite and PostgreSQL.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.routing import Route
from starlette.testclient import TestClient

from pkcrm_app.accounts import invitations, members, organisation_settings, profile, reviews, second_factor, sessions
from pkcrm_app.accounts.models import AuthSession, MfaFactor, session_id_for
from pkcrm_app.accounts.permissions import ROLE_PERMISSIONS, Actor, Permission, Role
from pkcrm_app.accounts.sso import oidc
from pkcrm_app.accounts.sso import service as sso
from pkcrm_app.audit import alerts, browse
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database, set_database
from pkcrm_app.core.errors import InvalidInput, NotFound, PermissionDenied, StepUpRequired
from pkcrm_app.crm import service as crm
from pkcrm_app.crm.models import Lead
from pkcrm_app.inbox import service as inbox
from pkcrm_app.settings import get_settings
from tests.conftest import TEST_MASTER_KEY
from tests.integration.conftest import empty_postgres
from tests.support.world import (ROLES, Side, World, build_world, fingerprint, leaked, rolled_back, sqlite_savepoints,
                                 text_of)

DOMAINS = ("accounts", "crm", "inbox", "audit", "whatsapp")
REFUSALS = (NotFound, PermissionDenied, InvalidInput)


def discovered_actions() -> set[str]:
    """'accounts.members.change_role', ...: every public function of the domain packages that acts as an actor."""
    found = set()
    for domain in DOMAINS:
        package = importlib.import_module(f"pkcrm_app.{domain}")
        modules = [package] + [importlib.import_module(info.name)
                               for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
        for module in modules:
            for name, function in inspect.getmembers(module, inspect.isfunction):
                if name.startswith("_") or function.__module__ != module.__name__:
                    continue
                if "actor" in list(inspect.signature(function).parameters)[:2]:
                    found.add(f"{module.__name__.removeprefix('pkcrm_app.')}.{name}")
    return found


# Service matrix ------------------------------------------------------------------------------------------------

Call = Callable[[Session, Actor, Side], object]
ANY_MEMBER = None  # own-account actions: every member may, on their own account only


def fake_discover(issuer: str) -> oidc.Provider:
    """A provider document as discovery returns it, without the network."""
    return oidc.Provider(issuer=issuer, authorization_endpoint=issuer + "/authorize",
                         token_endpoint=issuer + "/token", jwks_uri=issuer + "/jwks")


def me(actor: Actor) -> str:
    return actor.role.value  # matrix actors are the cast member named after their role


@dataclass(frozen=True)
class Action:
    needs: Permission | None
    own: Call  # aimed at the actor's own organisation (or own account)
    # Aimed at what the actor must not reach: the foreign organisation's objects (or a colleague's session).
    # Actions without such a target are checked by their own result, which must show nothing foreign.
    refused: tuple[Call, ...] = ()
    step_up: bool = False
    shows: Callable[[Side], str] | None = None  # something of the own organisation an allowed result must show


def _settings(side: Side) -> organisation_settings.OrganisationSettings:
    return organisation_settings.OrganisationSettings(f"{side.org_name} Renamed", "Asia/Karachi", "off", False, 90)


def _export(db: Session, actor: Actor, _side: Side) -> str:
    return "".join(browse.export_csv(db, actor, browse.AuditFilter()))


def _visible(db: Session, actor: Actor, _side: Side) -> list[str]:
    return [f"{lead.id} {lead.title}" for lead in db.scalars(select(Lead).where(crm.visible_leads(db, actor)))]


MEMBERS, SETTINGS, INTEGRATIONS, AUDIT = (Permission.MEMBERS_MANAGE, Permission.SETTINGS_MANAGE,
                                          Permission.INTEGRATIONS_MANAGE, Permission.AUDIT_VIEW)
ACTIONS: dict[str, Action] = {
    "accounts.invitations.invite": Action(MEMBERS, lambda db, a, s: invitations.invite(
        db, a, f"newcomer@{s.slug}.test", Role.AGENT)),
    "accounts.invitations.list_pending": Action(MEMBERS, lambda db, a, s: invitations.list_pending(db, a),
                                                shows=lambda s: s.invitation_email),
    "accounts.invitations.resend": Action(MEMBERS, lambda db, a, s: invitations.resend(db, a, s.invitation_id),
                                          (lambda db, a, s: invitations.resend(db, a, s.invitation_id),)),
    "accounts.invitations.revoke": Action(MEMBERS, lambda db, a, s: invitations.revoke(db, a, s.invitation_id),
                                          (lambda db, a, s: invitations.revoke(db, a, s.invitation_id),)),
    "accounts.members.change_role": Action(
        MEMBERS, lambda db, a, s: members.change_role(db, a, s.users["spare"], Role.MANAGER),
        (lambda db, a, s: members.change_role(db, a, s.users["spare"], Role.MANAGER),), step_up=True),
    "accounts.members.list_members": Action(MEMBERS, lambda db, a, s: members.list_members(db, a),
                                            shows=lambda s: s.emails["spare"]),
    "accounts.members.set_member_active": Action(
        MEMBERS, lambda db, a, s: members.set_member_active(db, a, s.users["spare"], active=False),
        (lambda db, a, s: members.set_member_active(db, a, s.users["spare"], active=False),)),
    "accounts.organisation_settings.read_settings": Action(
        SETTINGS, lambda db, a, s: organisation_settings.read_settings(db, a), shows=lambda s: s.org_name),
    "accounts.organisation_settings.update_settings": Action(
        SETTINGS, lambda db, a, s: organisation_settings.update_settings(db, a, _settings(s))),
    "accounts.profile.change_password": Action(ANY_MEMBER, lambda db, a, s: profile.change_password(
        db, a, current="correct horse battery", new="a brand new passphrase", current_token=s.tokens[me(a)])),
    "accounts.profile.get_profile": Action(ANY_MEMBER, lambda db, a, s: profile.get_profile(db, a),
                                           shows=lambda s: s.emails["agent"] if False else s.brand),
    "accounts.profile.update_profile": Action(ANY_MEMBER, lambda db, a, s: profile.update_profile(
        db, a, name="Renamed Person", phone="+92 300 1234567", language="ur", time_zone="Asia/Karachi")),
    "accounts.reviews.complete_review": Action(
        MEMBERS, lambda db, a, s: reviews.complete_review(db, a, s.decided_review_id),
        (lambda db, a, s: reviews.complete_review(db, a, s.decided_review_id),), shows=lambda s: s.emails["spare"]),
    "accounts.reviews.decide": Action(
        MEMBERS, lambda db, a, s: reviews.decide(db, a, s.review_id, s.users["spare"], "keep"),
        (lambda db, a, s: reviews.decide(db, a, s.review_id, s.users["spare"], "keep"),),
        shows=lambda s: s.emails["spare"]),
    "accounts.reviews.get_review": Action(MEMBERS, lambda db, a, s: reviews.get_review(db, a, s.review_id),
                                          (lambda db, a, s: reviews.get_review(db, a, s.review_id),),
                                          shows=lambda s: s.emails["spare"]),
    "accounts.reviews.list_reviews": Action(MEMBERS, lambda db, a, s: reviews.list_reviews(db, a)),
    "accounts.reviews.open_review": Action(MEMBERS, lambda db, a, s: reviews.open_review(db, a),
                                           shows=lambda s: s.emails["spare"]),
    "accounts.reviews.start_review": Action(MEMBERS, lambda db, a, s: reviews.start_review(db, a),
                                            shows=lambda s: s.emails["spare"]),
    "accounts.second_factor.new_recovery_codes": Action(
        ANY_MEMBER, lambda db, a, s: second_factor.new_recovery_codes(db, a), step_up=True),
    "accounts.second_factor.own_status": Action(ANY_MEMBER, lambda db, a, s: second_factor.own_status(db, a)),
    "accounts.second_factor.reset_member_factor": Action(
        MEMBERS, lambda db, a, s: second_factor.reset_member_factor(db, a, s.users["spare"]),
        (lambda db, a, s: second_factor.reset_member_factor(db, a, s.users["spare"]),), step_up=True),
    "accounts.second_factor.turn_off_own_factor": Action(
        ANY_MEMBER, lambda db, a, s: second_factor.turn_off_own_factor(db, a), step_up=True),
    "accounts.sessions.end_member_sessions": Action(
        MEMBERS, lambda db, a, s: sessions.end_member_sessions(db, a, s.users["spare"]),
        (lambda db, a, s: sessions.end_member_sessions(db, a, s.users["spare"]),)),
    "accounts.sessions.end_other_sessions": Action(
        ANY_MEMBER, lambda db, a, s: sessions.end_other_sessions(db, a, s.tokens[me(a)])),
    "accounts.sessions.end_session": Action(
        ANY_MEMBER, lambda db, a, s: sessions.end_session(db, a, s.handles[me(a)]),
        (lambda db, a, s: sessions.end_session(db, a, s.handles["owner"]),
         lambda db, a, s: sessions.end_session(db, a, s.handles["spare"]))),
    "accounts.sessions.my_sessions": Action(ANY_MEMBER, lambda db, a, s: sessions.my_sessions(db, a, s.tokens[me(a)]),
                                            shows=lambda s: "Chrome"),
    "accounts.sso.service.check_discovery": Action(
        INTEGRATIONS, lambda db, a, s: sso.check_discovery(db, a, discover=fake_discover), shows=lambda s: s.issuer),
    "accounts.sso.service.configure": Action(INTEGRATIONS, lambda db, a, s: sso.configure(
        db, a, issuer=s.issuer, client_id=f"{s.slug}-client-2", enabled=True, discover=fake_discover),
        shows=lambda s: s.issuer),
    "accounts.sso.service.disable": Action(INTEGRATIONS, lambda db, a, s: sso.disable(db, a),
                                           shows=lambda s: s.issuer),
    "accounts.sso.service.get_settings": Action(INTEGRATIONS, lambda db, a, s: sso.get_settings(db, a),
                                                shows=lambda s: s.issuer),
    "crm.service.board": Action(Permission.BOARD_VIEW, lambda db, a, s: crm.board(db, a),
                                shows=lambda s: s.contact_names[0]),
    "crm.service.get_lead": Action(ANY_MEMBER, lambda db, a, s: crm.get_lead(db, a, s.leads["own"]),
                                   (lambda db, a, s: crm.get_lead(db, a, s.leads["unassigned"]),),
                                   shows=lambda s: f"{s.brand} deal own"),
    "crm.service.move_lead": Action(
        Permission.LEAD_MOVE, lambda db, a, s: crm.move_lead(db, a, s.leads["own"], s.stages[1]),
        (lambda db, a, s: crm.move_lead(db, a, s.leads["unassigned"], s.stages[1]),)),
    "crm.service.visible_leads": Action(ANY_MEMBER, _visible, shows=lambda s: f"{s.brand} deal own"),
    "inbox.service.lead_thread": Action(
        Permission.CONVERSATION_VIEW, lambda db, a, s: inbox.lead_thread(db, a, s.leads["own"]),
        (lambda db, a, s: inbox.lead_thread(db, a, s.leads["own"]),), shows=lambda s: f"Hello {s.brand}"),
    "inbox.service.mark_read": Action(Permission.CONVERSATION_VIEW,
                                      lambda db, a, s: inbox.mark_read(db, a, s.leads["own"]),
                                      (lambda db, a, s: inbox.mark_read(db, a, s.leads["own"]),)),
    # Security alerts are for whoever may see the audit log or manage members: the same roles as AUDIT_VIEW.
    "audit.alerts.acknowledge": Action(AUDIT, lambda db, a, s: alerts.acknowledge(db, a, s.alert_id),
                                       (lambda db, a, s: alerts.acknowledge(db, a, s.alert_id),)),
    "audit.alerts.list_alerts": Action(AUDIT, lambda db, a, s: alerts.list_alerts(db, a),
                                       shows=lambda s: s.alert_message),
    "audit.alerts.unacknowledged_count": Action(AUDIT, lambda db, a, s: alerts.unacknowledged_count(db, a)),
    "audit.browse.export_csv": Action(AUDIT, _export, step_up=True, shows=lambda s: s.invitation_email),
    "audit.browse.list_events": Action(AUDIT, lambda db, a, s: browse.list_events(db, a, browse.AuditFilter()),
                                       shows=lambda s: s.invitation_email),
}
