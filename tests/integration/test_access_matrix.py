"""The access matrix: every service action and every HTTP route, for every role, on the own organisation's data
and on a foreign organisation's, allowed or refused as ROLE_PERMISSIONS says, with nothing of the foreign
organisation leaked or changed.

It is generated: the service actions are discovered by walking the domain packages (DOMAINS below)
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
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from starlette.routing import Route
from starlette.testclient import TestClient

from pkcrm_app.accounts.identity import mfa, profile, second_factor, sessions
from pkcrm_app.accounts.identity.cookies import (
    INVITE_COOKIE,
    MFA_RESET_COOKIE,
    RESET_COOKIE,
    SESSION_COOKIE,
    SIGNUP_COOKIE,
)
from pkcrm_app.accounts.identity.mfa import code_at
from pkcrm_app.accounts.identity.mfa_reset import FactorReset
from pkcrm_app.accounts.identity.models import AuthSession, Membership, MfaFactor, Organisation, session_id_for
from pkcrm_app.accounts.identity.sso import links as sso_links
from pkcrm_app.accounts.identity.sso import oidc
from pkcrm_app.accounts.identity.sso import service as sso
from pkcrm_app.accounts.identity.sso.models import SsoLoginAttempt
from pkcrm_app.accounts.organisations import invitations, members, reviews
from pkcrm_app.accounts.organisations import settings as organisation_settings
from pkcrm_app.accounts.organisations.onboarding_models import PasswordReset
from pkcrm_app.accounts.security import alerts
from pkcrm_app.accounts.security import audit_log as browse
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.channels.whatsapp import connection as wa_connection
from pkcrm_app.channels.whatsapp import templates as wa_templates
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.channels.whatsapp.template_models import MessageTemplate
from pkcrm_app.core.authz import ROLE_PERMISSIONS, Actor, Permission, Role
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database, get_database, set_database, utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound, PermissionDenied, StepUpRequired
from pkcrm_app.crm import service as crm
from pkcrm_app.crm.models import Lead
from pkcrm_app.flows import organisation_deletion
from pkcrm_app.flows import sso as sso_flow
from pkcrm_app.http import build_api
from pkcrm_app.http.webhook import number_directory
from pkcrm_app.imports import importer as chat_import
from pkcrm_app.imports import people as chat_import_people
from pkcrm_app.imports.models import ChatImportJob, ImportState
from pkcrm_app.inbox import board as board_model
from pkcrm_app.inbox import service as inbox
from pkcrm_app.inbox.media import access as media_access
from pkcrm_app.inbox.media.downloads import MEDIA, media_key
from pkcrm_app.inbox.models import MediaState, Message, MessageMedia
from pkcrm_app.inbox.outbox import service as wa_outbox
from pkcrm_app.inbox.outbox.models import OutboxItem, OutboxState
from pkcrm_app.settings import get_settings
from pkcrm_app.storage.store import blob_store
from tests.conftest import TEST_MASTER_KEY
from tests.integration.conftest import empty_postgres
from tests.support.world import (
    PASSWORD,
    ROLES,
    TOTP_SECRET,
    Side,
    World,
    build_world,
    fingerprint,
    is_live,
    leaked,
    rolled_back,
    sqlite_savepoints,
    text_of,
)

DOMAINS = ("core", "audit", "channels", "accounts", "crm", "inbox", "imports", "flows")
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


def _start_link(db: Session, actor: Actor, side: Side) -> tuple[str, str]:
    token = side.tokens[me(actor)]
    target = sso_links.prepare_link(db, actor, password=PASSWORD, session_token=token)
    return sso_links.start_link(db, actor, target, fake_discover(target.issuer), session_token=token,
                                redirect_uri="http://testserver/auth/sso/callback")


def _visible(db: Session, actor: Actor, _side: Side) -> list[str]:
    return [f"{lead.id} {lead.title}" for lead in db.scalars(select(Lead).where(crm.visible_leads(db, actor)))]


def _message_id(db: Session, side: Side, label: str = "own") -> int:
    return int(db.scalars(select(Message.id).where(Message.wa_message_id == f"wamid.{side.slug}.{label}")).one())


def _stored_media(db: Session, side: Side) -> int:
    """A stored photo on the side's "own" lead's message (its row goes with the test's rollback)."""
    store = blob_store(get_database().keyring)
    message_id = _message_id(db, side)
    db.add(MessageMedia(message_id=message_id, org_id=side.org_id, phone_number_id=side.phone_number_id,
                        media_id="MEDIA", kind="image", mime_type="image/jpeg", sha256="", size=20,
                        state=MediaState.STORED, reason="", attempts=1))
    db.flush()
    store.put(side.org_id, MEDIA, media_key(message_id), f"photo of {side.brand}".encode())
    return message_id


MEMBERS, SETTINGS, INTEGRATIONS, AUDIT = (Permission.MEMBERS_MANAGE, Permission.SETTINGS_MANAGE,
                                          Permission.INTEGRATIONS_MANAGE, Permission.AUDIT_VIEW)
ACTIONS: dict[str, Action] = {
    "accounts.organisations.invitations.invite": Action(MEMBERS, lambda db, a, s: invitations.invite(
        db, a, f"newcomer@{s.slug}.test", Role.AGENT)),
    "accounts.organisations.invitations.list_pending": Action(MEMBERS, lambda db, a, s: invitations.list_pending(db, a),
                                                shows=lambda s: s.invitation_email),
    "accounts.organisations.invitations.resend": Action(
        MEMBERS, lambda db, a, s: invitations.resend(db, a, s.invitation_id),
        (lambda db, a, s: invitations.resend(db, a, s.invitation_id),)),
    "accounts.organisations.invitations.revoke": Action(
        MEMBERS, lambda db, a, s: invitations.revoke(db, a, s.invitation_id),
        (lambda db, a, s: invitations.revoke(db, a, s.invitation_id),)),
    "accounts.organisations.members.change_role": Action(
        MEMBERS, lambda db, a, s: members.change_role(db, a, s.users["spare"], Role.MANAGER),
        (lambda db, a, s: members.change_role(db, a, s.users["spare"], Role.MANAGER),), step_up=True),
    "accounts.organisations.members.list_members": Action(MEMBERS, lambda db, a, s: members.list_members(db, a),
                                            shows=lambda s: s.emails["spare"]),
    "accounts.organisations.members.set_member_active": Action(
        MEMBERS, lambda db, a, s: members.set_member_active(db, a, s.users["spare"], active=False),
        (lambda db, a, s: members.set_member_active(db, a, s.users["spare"], active=False),)),
    "accounts.organisations.settings.read_settings": Action(
        SETTINGS, lambda db, a, s: organisation_settings.read_settings(db, a), shows=lambda s: s.org_name),
    "accounts.organisations.settings.update_settings": Action(
        SETTINGS, lambda db, a, s: organisation_settings.update_settings(db, a, _settings(s))),
    "flows.organisation_deletion.delete_organisation": Action(
        Permission.ORGANISATION_DELETE,
        lambda db, a, s: organisation_deletion.delete_organisation(db, a, confirm_name=s.org_name),
        (lambda db, a, s: organisation_deletion.delete_organisation(db, a, confirm_name=s.org_name),),
        step_up=True),
    "accounts.identity.profile.change_password": Action(ANY_MEMBER, lambda db, a, s: profile.change_password(
        db, a, current=PASSWORD, new="a brand new passphrase", current_token=s.tokens[me(a)])),
    "accounts.identity.profile.get_profile": Action(ANY_MEMBER, lambda db, a, s: profile.get_profile(db, a),
                                           shows=lambda s: s.brand),
    "accounts.identity.profile.update_profile": Action(ANY_MEMBER, lambda db, a, s: profile.update_profile(
        db, a, name="Renamed Person", phone="+92 300 1234567", language="ur", time_zone="Asia/Karachi")),
    "accounts.organisations.reviews.complete_review": Action(
        MEMBERS, lambda db, a, s: reviews.complete_review(db, a, s.decided_review_id),
        (lambda db, a, s: reviews.complete_review(db, a, s.decided_review_id),), shows=lambda s: s.emails["spare"]),
    "accounts.organisations.reviews.decide": Action(
        MEMBERS, lambda db, a, s: reviews.decide(db, a, s.review_id, s.users["spare"], "keep"),
        (lambda db, a, s: reviews.decide(db, a, s.review_id, s.users["spare"], "keep"),
         lambda db, a, s: reviews.decide(db, a, s.peer.review_id, s.users["spare"], "keep")),
        shows=lambda s: s.emails["spare"]),
    "accounts.organisations.reviews.get_review": Action(
        MEMBERS, lambda db, a, s: reviews.get_review(db, a, s.review_id),
        (lambda db, a, s: reviews.get_review(db, a, s.review_id),),
                                          shows=lambda s: s.emails["spare"]),
    "accounts.organisations.reviews.list_reviews": Action(MEMBERS, lambda db, a, s: reviews.list_reviews(db, a)),
    "accounts.organisations.reviews.open_review": Action(MEMBERS, lambda db, a, s: reviews.open_review(db, a),
                                           shows=lambda s: s.emails["spare"]),
    "accounts.organisations.reviews.start_review": Action(MEMBERS, lambda db, a, s: reviews.start_review(db, a),
                                            shows=lambda s: s.emails["spare"]),
    "accounts.identity.second_factor.new_recovery_codes": Action(
        ANY_MEMBER, lambda db, a, s: second_factor.new_recovery_codes(db, a), step_up=True),
    "accounts.identity.second_factor.own_status": Action(ANY_MEMBER, lambda db, a, s: second_factor.own_status(db, a)),
    "accounts.identity.second_factor.reset_member_factor": Action(
        MEMBERS, lambda db, a, s: second_factor.reset_member_factor(db, a, s.users["spare"]),
        (lambda db, a, s: second_factor.reset_member_factor(db, a, s.users["spare"]),), step_up=True),
    "accounts.identity.second_factor.turn_off_own_factor": Action(
        ANY_MEMBER, lambda db, a, s: second_factor.turn_off_own_factor(db, a), step_up=True),
    "accounts.identity.sessions.end_member_sessions": Action(
        MEMBERS, lambda db, a, s: sessions.end_member_sessions(db, a, s.users["spare"]),
        (lambda db, a, s: sessions.end_member_sessions(db, a, s.users["spare"]),)),
    "accounts.identity.sessions.end_other_sessions": Action(
        ANY_MEMBER, lambda db, a, s: sessions.end_other_sessions(db, a, s.tokens[me(a)])),
    "accounts.identity.sessions.end_session": Action(
        ANY_MEMBER, lambda db, a, s: sessions.end_session(db, a, s.handles[me(a)]),
        (lambda db, a, s: sessions.end_session(db, a, s.handles["owner"]),
         lambda db, a, s: sessions.end_session(db, a, s.peer.handles["spare"]))),  # a colleague's session
    "accounts.identity.sessions.my_sessions": Action(
        ANY_MEMBER, lambda db, a, s: sessions.my_sessions(db, a, s.tokens[me(a)]),
        shows=lambda s: "Chrome"),
    "accounts.identity.sso.links.my_link": Action(ANY_MEMBER, lambda db, a, s: sso_links.my_link(db, a)),
    "accounts.identity.sso.links.own_link": Action(ANY_MEMBER, lambda db, a, s: sso_links.own_link(db, a)),
    "accounts.identity.sso.links.prepare_link": Action(ANY_MEMBER, lambda db, a, s: sso_links.prepare_link(
        db, a, password=PASSWORD, session_token=s.tokens[me(a)]), shows=lambda s: s.issuer),
    "accounts.identity.sso.links.start_link": Action(ANY_MEMBER, _start_link, shows=lambda s: s.issuer),
    "flows.sso.begin_link": Action(ANY_MEMBER, lambda db, a, s: sso_flow.begin_link(
        get_database(), a, password=PASSWORD, session_token=s.tokens[me(a)],
        redirect_uri="http://testserver/auth/sso/callback", provider_for=fake_discover), shows=lambda s: s.issuer),
    "accounts.identity.sso.service.discovery_issuer": Action(
        INTEGRATIONS, lambda db, a, s: sso.discovery_issuer(db, a), shows=lambda s: s.issuer),
    "flows.sso.check_discovery": Action(
        INTEGRATIONS, lambda db, a, s: sso_flow.check_discovery(get_database(), a, discover=fake_discover),
        shows=lambda s: s.issuer),
    # Whoever picks the provider picks who can be signed in: owners only, with a fresh second factor.
    "accounts.identity.sso.service.prepare_configuration": Action(
        Permission.SSO_MANAGE, lambda db, a, s: sso.prepare_configuration(
            db, a, issuer=s.issuer, client_id=f"{s.slug}-client-2"), shows=lambda s: s.issuer, step_up=True),
    "accounts.identity.sso.service.configure": Action(Permission.SSO_MANAGE, lambda db, a, s: sso.configure(
        db, a, sso.Configuration(s.issuer, f"{s.slug}-client-2"), fake_discover(s.issuer), enabled=True),
        shows=lambda s: s.issuer, step_up=True),
    "flows.sso.configure": Action(Permission.SSO_MANAGE, lambda db, a, s: sso_flow.configure(
        get_database(), a, issuer=s.issuer, client_id=f"{s.slug}-client-2", enabled=True, discover=fake_discover),
        shows=lambda s: s.issuer, step_up=True),
    "accounts.identity.sso.service.disable": Action(Permission.SSO_MANAGE, lambda db, a, s: sso.disable(db, a),
                                           shows=lambda s: s.issuer, step_up=True),
    "accounts.identity.sso.service.get_settings": Action(INTEGRATIONS, lambda db, a, s: sso.get_settings(db, a),
                                                shows=lambda s: s.issuer),
    "accounts.identity.sso.service.set_owner_sign_in": Action(
        Permission.SSO_MANAGE, lambda db, a, s: sso.set_owner_sign_in(db, a, allowed=True), step_up=True),
    "inbox.board.board": Action(Permission.BOARD_VIEW, lambda db, a, s: board_model.board(db, a),
                                shows=lambda s: s.contact_names[0]),
    "crm.service.get_lead": Action(ANY_MEMBER, lambda db, a, s: crm.get_lead(db, a, s.leads["own"]),
                                   (lambda db, a, s: crm.get_lead(db, a, s.leads["unassigned"]),),
                                   shows=lambda s: f"{s.brand} deal own"),
    "crm.service.move_lead": Action(
        Permission.LEAD_MOVE, lambda db, a, s: crm.move_lead(db, a, s.leads["own"], s.stages[1]),
        (lambda db, a, s: crm.move_lead(db, a, s.leads["unassigned"], s.stages[1]),
         lambda db, a, s: crm.move_lead(db, a, s.peer.leads["own"], s.stages[1]))),
    "crm.service.visible_leads": Action(ANY_MEMBER, _visible, shows=lambda s: f"{s.brand} deal own"),
    "crm.service.lead_reach": Action(ANY_MEMBER, lambda db, a, s: crm.lead_reach(db, a)),
    "inbox.service.lead_thread": Action(
        Permission.CONVERSATION_VIEW, lambda db, a, s: inbox.lead_thread(db, a, s.leads["own"]),
        (lambda db, a, s: inbox.lead_thread(db, a, s.leads["own"]),), shows=lambda s: f"Hello {s.brand}"),
    "inbox.media.access.open_media": Action(
        Permission.CONVERSATION_VIEW,
        lambda db, a, s: media_access.open_media(db, a, _stored_media(db, s)).data.decode(),
        (lambda db, a, s: media_access.open_media(db, a, _stored_media(db, s)),),
        shows=lambda s: f"photo of {s.brand}"),
    "inbox.service.mark_read": Action(Permission.CONVERSATION_VIEW,
                                      lambda db, a, s: inbox.mark_read(db, a, s.leads["own"]),
                                      (lambda db, a, s: inbox.mark_read(db, a, s.leads["own"]),)),
    # Security alerts are for whoever may see the audit log or manage members: the same roles as AUDIT_VIEW.
    "accounts.security.alerts.acknowledge": Action(AUDIT, lambda db, a, s: alerts.acknowledge(db, a, s.alert_id),
                                       (lambda db, a, s: alerts.acknowledge(db, a, s.alert_id),)),
    "accounts.security.alerts.list_alerts": Action(AUDIT, lambda db, a, s: alerts.list_alerts(db, a),
                                       shows=lambda s: s.alert_message),
    "accounts.security.alerts.unacknowledged_count": Action(AUDIT, lambda db, a, s: alerts.unacknowledged_count(db, a)),
    "accounts.security.audit_log.export_csv": Action(AUDIT, _export, step_up=True, shows=lambda s: s.invitation_email),
    "accounts.security.audit_log.record_export": Action(
        AUDIT, lambda db, a, s: browse.record_export(db, a, browse.AuditFilter()), step_up=True),
    "accounts.security.audit_log.list_events": Action(
        AUDIT, lambda db, a, s: browse.list_events(db, a, browse.AuditFilter()), shows=lambda s: s.invitation_email),
}


# WhatsApp connection, templates and sending (issue 5) ------------------------------------------------------------

def _number_id(db: Session, side: Side) -> int:
    return int(db.scalars(select(WhatsAppNumber.id).where(WhatsAppNumber.phone_number_id == side.phone_number_id))
               .one())


def _template_id(db: Session, side: Side) -> int:
    template = MessageTemplate(org_id=side.org_id, name=f"offer_{side.slug}", language="en_US", category="UTILITY",
                               status="APPROVED", source="local", body="Hi {{1}}", buttons=[], variables={"1": "name"})
    db.add(template)
    db.flush()
    return template.id


class _CloudTemplates:
    """The Cloud API's answer to a template sync, without the network."""

    def templates(self, _waba: str) -> list[dict[str, Any]]:
        return [{"name": "hello_world", "language": "en_US", "status": "APPROVED",
                 "components": [{"type": "BODY", "text": "Hello {{1}}"}]}]

    def close(self) -> None:
        pass


def _sync(db: Session, actor: Actor, side: Side) -> int:
    db.execute(update(WhatsAppNumber).where(WhatsAppNumber.org_id == actor.org_id)
               .values(business_account_id="555", access_token="token-for-sync"))
    return wa_templates.sync_templates(db, actor, _number_id(db, side), client_factory=lambda _t: _CloudTemplates())


def _failed_send(db: Session, actor: Actor, side: Side) -> int:
    """A message of the agent's lead whose send failed (its rows go with the test's rollback)."""
    lead = side.leads["own"]
    message = wa_outbox.send_text(db, side.actor(Role.OWNER), lead, "Your order")
    db.execute(update(OutboxItem).where(OutboxItem.message_id == message.id).values(state=OutboxState.FAILED))
    return message.id


def _save_number(db: Session, actor: Actor, side: Side, **secrets: str) -> object:
    return wa_connection.save_number(db, actor, number_id=_number_id(db, side), phone_number_id=side.phone_number_id,
                                     business_account_id="", display_phone_number="+1 555", **secrets)


ACTIONS.update({
    "channels.whatsapp.connection.list_numbers": Action(
        INTEGRATIONS, lambda db, a, s: wa_connection.list_numbers(db, a), shows=lambda s: s.phone_number_id),
    "channels.whatsapp.connection.get_number": Action(
        INTEGRATIONS, lambda db, a, s: wa_connection.get_number(db, a, _number_id(db, s)).phone_number_id,
        (lambda db, a, s: wa_connection.get_number(db, a, _number_id(db, s)),), shows=lambda s: s.phone_number_id),
    "channels.whatsapp.connection.save_number": Action(
        INTEGRATIONS, lambda db, a, s: _save_number(db, a, s, access_token="a-new-access-token-1234"),
        (lambda db, a, s: _save_number(db, a, s, access_token="a-new-access-token-1234"),), step_up=True),
    "channels.whatsapp.connection.check_connection": Action(
        INTEGRATIONS, lambda db, a, s: wa_connection.check_connection(db, a, _number_id(db, s)),
        (lambda db, a, s: wa_connection.check_connection(db, a, _number_id(db, s)),)),
    "channels.whatsapp.templates.list_templates": Action(
        Permission.CONVERSATION_VIEW, lambda db, a, s: (_template_id(db, s), wa_templates.list_templates(db, a)),
        shows=lambda s: f"offer_{s.slug}"),
    "channels.whatsapp.templates.get_template": Action(
        Permission.CONVERSATION_VIEW, lambda db, a, s: wa_templates.get_template(db, a, _template_id(db, s)).name,
        (lambda db, a, s: wa_templates.get_template(db, a, _template_id(db, s)),), shows=lambda s: f"offer_{s.slug}"),
    "channels.whatsapp.templates.define_template": Action(
        INTEGRATIONS, lambda db, a, s: wa_templates.define_template(db, a, name="greeting", language="en_US",
        body="Hello {{1}}")),
    "channels.whatsapp.templates.sync_templates": Action(
        INTEGRATIONS, _sync,
        (lambda db, a, s: wa_templates.sync_templates(db, a, _number_id(db, s),
                                                      client_factory=lambda _t: _CloudTemplates()),)),
    "inbox.outbox.service.conversation_window": Action(
        Permission.CONVERSATION_VIEW, lambda db, a, s: wa_outbox.conversation_window(db, a, s.leads["own"]),
        (lambda db, a, s: wa_outbox.conversation_window(db, a, s.leads["own"]),)),
    "inbox.outbox.service.send_text": Action(
        Permission.CONVERSATION_VIEW, lambda db, a, s: wa_outbox.send_text(db, a, s.leads["own"], "Thanks!").body,
        (lambda db, a, s: wa_outbox.send_text(db, a, s.leads["own"], "Thanks!"),)),
    "inbox.outbox.service.send_buttons": Action(
        Permission.CONVERSATION_VIEW,
        lambda db, a, s: wa_outbox.send_buttons(db, a, s.leads["own"], "Deliver?", ["Yes", "No"]).body,
        (lambda db, a, s: wa_outbox.send_buttons(db, a, s.leads["own"], "Deliver?", ["Yes", "No"]),)),
    "inbox.outbox.service.send_template": Action(
        Permission.CONVERSATION_VIEW,
        lambda db, a, s: wa_outbox.send_template(db, a, s.leads["own"], _template_id(db, s)).body,
        (lambda db, a, s: wa_outbox.send_template(db, a, s.leads["own"], _template_id(db, s)),)),
    "inbox.outbox.service.resend": Action(
        Permission.CONVERSATION_VIEW,
        lambda db, a, s: wa_outbox.resend(db, a, s.leads["own"], _failed_send(db, a, s)).body,
        (lambda db, a, s: wa_outbox.resend(db, a, s.leads["own"], _message_id(db, s)),
         lambda db, a, s: wa_outbox.resend(db, a, s.peer.leads["own"], _message_id(db, s)))),
})


# Chat-export import (issue 5): the job is queued in the own organisation; the matching never leaves it.

def _cast(db: Session, actor: Actor, side: Side) -> dict[str, str]:
    return chat_import_people.cast_for(db, actor, authors={f"Customer of {side.brand}": 2}, title=None,
                                       chosen_phone=None, members={}).summary()


def _review_job(db: Session, actor: Actor, side: Side) -> int:
    """An import of `side`'s waiting for its uploader's ticks (the acting member's own, on the own side)."""
    uploader = actor.user_id if actor.org_id == side.org_id else next(iter(side.users.values()))
    job = ChatImportJob(org_id=side.org_id, created_by_user_id=uploader, filename=f"{side.brand}.txt", spool_path="",
                        size_bytes=1, state=ImportState.REVIEW, total=1, processed=0, imported=0, duplicates=0,
                        media_stored=0, error="", authors={f"Customer of {side.brand}": "contact"}, created_at=utcnow())
    db.add(job)
    db.flush()
    return job.id


ACTIONS.update({
    "imports.importer.start_import": Action(
        Permission.CONVERSATION_VIEW, lambda db, a, s: chat_import.start_import(
            db, a, spool_path=Path("/nonexistent/upload"), filename=f"{s.brand}.txt", size=1).filename,
        shows=lambda s: f"{s.brand}.txt"),
    "imports.importer.recent_jobs": Action(
        Permission.CONVERSATION_VIEW, lambda db, a, s: [j.filename for j in chat_import.recent_jobs(db, a)]),
    "imports.people.cast_for": Action(Permission.CONVERSATION_VIEW, _cast,
                                                   shows=lambda s: f"Customer of {s.brand}"),
    "imports.people.propose_members": Action(
        Permission.CONVERSATION_VIEW, lambda db, a, s: chat_import_people.propose_members(
            db, a, authors={name: 1 for name in s.names.values()}, my_name=None)),
    "imports.importer.team_names": Action(
        Permission.CONVERSATION_VIEW,
        lambda db, a, s: chat_import.team_names(db, a, [*s.users.values(), *s.peer.users.values()])),
    "imports.importer.confirm_authors": Action(
        Permission.CONVERSATION_VIEW,
        lambda db, a, s: chat_import.confirm_authors(db, a, _review_job(db, a, s), accepted_keys=set()).filename,
        (lambda db, a, s: chat_import.confirm_authors(db, a, _review_job(db, a, s), accepted_keys=set()),),
        shows=lambda s: f"{s.brand}.txt"),
})


# The world, once per database; each test rolled back -----------------------------------------------------------

@dataclass
class Context:
    database: Database
    world: World
    baseline: dict[str, Any] = field(default_factory=dict, repr=False)  # fingerprints of both sides as built

    def snapshot(self, side: Side) -> list[Any]:
        with self.database.session() as db:
            return fingerprint(db, side)

    def assert_foreign_untouched(self) -> None:
        now, then = dict(self.snapshot(self.world.foreign)), dict(self.baseline["foreign"])
        assert [table for table in then if now[table] != then[table]] == [], "the foreign organisation's rows changed"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """A migrated database of each kind holding the world; mails go to an outbox folder."""
    instance = tmp_path_factory.mktemp("matrix")
    if request.param == "postgres":
        url = request.getfixturevalue("migrated_postgres_url")
        empty_postgres(url)
    else:
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), instance / "matrix.db")
        url = f"sqlite:///{instance / 'matrix.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PKCRM_INSTANCE_DIR", str(instance))
        env.setenv("PKCRM_SMTP_HOST", "")
        get_settings.cache_clear()
        database = Database(url, MasterKeys.parse(TEST_MASTER_KEY))
        if request.param == "sqlite":
            sqlite_savepoints(database.engine)
        set_database(database)
        context = Context(database, build_world(database))
        for side in (context.world.own, context.world.foreign):  # their blob keys, before any test's transaction
            blob_store(database.keyring).prepare(side.org_id)  # (a first key is written on its own connection)
        context.baseline = {"own": context.snapshot(context.world.own),
                            "foreign": context.snapshot(context.world.foreign)}
        yield context
        set_database(None)
        database.dispose()
        if request.param == "postgres":
            empty_postgres(url)
    get_settings.cache_clear()


@pytest.fixture
def ctx(built: Context) -> Iterator[Context]:
    set_database(built.database)
    number_directory.cache_clear()
    with rolled_back(built.database):
        yield built
    number_directory.cache_clear()


# Service tests -------------------------------------------------------------------------------------------------

def test_every_service_action_is_in_the_matrix() -> None:
    """A new service action fails here until it has an entry in ACTIONS (its permission and its targets)."""
    found = discovered_actions()
    assert sorted(found - set(ACTIONS)) == [], "service actions without a matrix entry"
    assert sorted(set(ACTIONS) - found) == [], "matrix entries of actions that no longer exist"


@pytest.mark.parametrize("role", ROLES, ids=[role.value for role in ROLES])
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_service_action_for_role(ctx: Context, name: str, role: Role) -> None:
    """Allowed exactly when the role has the permission; never reaches the foreign organisation."""
    action, own, foreign = ACTIONS[name], ctx.world.own, ctx.world.foreign
    actor = own.actor(role, stepped_up=action.step_up)
    allowed = action.needs is ANY_MEMBER or action.needs in ROLE_PERMISSIONS[role]
    try:
        with ctx.database.session() as db:
            text = text_of(action.own(db, actor, own))
    except PermissionDenied as denied:
        assert not allowed, f"{role.value} was refused: {denied}"
        assert not isinstance(denied, StepUpRequired), "refused for the missing factor, not the role"
        assert leaked(str(denied), foreign) == []
        assert ctx.snapshot(own) == ctx.baseline["own"], "a refused action changed something"
    else:
        assert allowed, f"{role.value} may not {action.needs} but was allowed"
        assert leaked(text, foreign) == [], "the result shows the foreign organisation's data"
        if action.shows is not None:
            assert action.shows(own).lower() in text.lower(), "the result should show the own organisation's data"
    before = ctx.snapshot(own)
    for attempt in action.refused:
        with pytest.raises(REFUSALS) as refused, ctx.database.session() as db:
            leak = attempt(db, actor, foreign)
            pytest.fail(f"reached another organisation's (or colleague's) data: {text_of(leak)[:200]}")
        assert leaked(str(refused.value), foreign) == [], "the refusal names the foreign organisation's data"
    assert ctx.snapshot(own) == before, "a refused attempt changed something"
    ctx.assert_foreign_untouched()


@pytest.mark.parametrize("name", sorted(name for name, action in ACTIONS.items() if action.step_up))
def test_sensitive_action_needs_a_fresh_second_factor_even_for_the_owner(ctx: Context, name: str) -> None:
    own = ctx.world.own
    with pytest.raises(StepUpRequired), ctx.database.session() as db:
        ACTIONS[name].own(db, own.actor(Role.OWNER, stepped_up=False), own)
    assert ctx.snapshot(own) == ctx.baseline["own"]


def test_agents_see_only_their_own_and_unassigned_leads(ctx: Context) -> None:
    own = ctx.world.own
    with ctx.database.session() as db:
        for role in ROLES:
            shown = {card.lead_id for column in board_model.board(db, own.actor(role)) for card in column.cards}
            mine = {own.leads["own"], own.leads["unassigned"]}
            assert shown == (mine if role == Role.AGENT else set(own.leads.values())), role
        agent, colleagues = own.actor(Role.AGENT), own.leads["colleague"]
        for attempt in (lambda: crm.get_lead(db, agent, colleagues), lambda: inbox.lead_thread(db, agent, colleagues),
                        lambda: crm.move_lead(db, agent, colleagues, own.stages[1]),
                        lambda: inbox.mark_read(db, agent, colleagues)):
            with pytest.raises(NotFound):
                attempt()
        assert crm.get_lead(db, own.actor(Role.MANAGER), colleagues).id == colleagues



def _shared_session(db: Session, world: World) -> AuthSession:
    return db.get_one(AuthSession, session_id_for(world.shared_tokens["own"]))


# What the own organisation does to or with a person who also belongs to the foreign one. Left out on purpose:
# their own password change, which signs them out of every organisation by design.
SHARED: dict[str, Callable[[Session, World], object]] = {
    "admin deactivates them": lambda db, w: members.set_member_active(
        db, w.own.actor(Role.OWNER), w.shared_user_id, active=False),
    "admin changes their role": lambda db, w: members.change_role(
        db, w.own.actor(Role.OWNER, stepped_up=True), w.shared_user_id, Role.MANAGER),
    "admin ends their sessions": lambda db, w: sessions.end_member_sessions(
        db, w.own.actor(Role.OWNER), w.shared_user_id),
    "they end their other sessions": lambda db, w: sessions.end_other_sessions(
        db, w.shared_actor(), w.shared_tokens["own"]),
    "they replace their recovery codes": lambda db, w: second_factor.new_recovery_codes(
        db, w.shared_actor(stepped_up=True)),
    "they step up with a code": lambda db, w: second_factor.check_code(db, _shared_session(db, w),
                                                                      code_at(TOTP_SECRET)),
}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_a_person_in_both_organisations_is_handled_in_each_separately(ctx: Context, name: str) -> None:
    """Nothing of it reaches the foreign organisation: not its membership, sessions or audit log."""
    with ctx.database.session() as db:
        SHARED[name](db, ctx.world)
    ctx.assert_foreign_untouched()
    with ctx.database.session() as db:
        assert is_live(db, ctx.world.shared_tokens["foreign"])


def test_the_own_organisation_may_not_reset_the_factor_of_a_person_the_foreign_one_shares(ctx: Context) -> None:
    """The factor is the person's, and the foreign organisation relies on it: the own admin is refused (pointed
    to the person's own recovery), and nothing of either organisation changes."""
    world = ctx.world
    with pytest.raises(PermissionDenied, match="another organisation") as refused, \
            ctx.database.session() as db:
        second_factor.reset_member_factor(db, world.own.actor(Role.OWNER, stepped_up=True), world.shared_user_id)
    assert leaked(str(refused.value), world.foreign) == []
    with ctx.database.session() as db:
        assert mfa.has_confirmed_factor(db, world.shared_user_id)
    ctx.assert_foreign_untouched()
    assert ctx.snapshot(world.own) == ctx.baseline["own"]


def test_a_person_turning_off_their_factor_is_told_to_every_organisation_they_belong_to(ctx: Context) -> None:
    """Turning off one's own factor while acting in the own organisation adds one entry, which names nothing of the
    own organisation, to the foreign organisation's audit log; nothing else of it changes."""
    world = ctx.world
    before = dict(ctx.baseline["foreign"])
    with ctx.database.session() as db:
        second_factor.turn_off_own_factor(db, world.shared_actor(stepped_up=True))
    now = dict(ctx.snapshot(world.foreign))
    assert [table for table in before if now[table] != before[table]] == ["audit_event"]
    with ctx.database.session() as db:
        told = db.scalars(select(AuditEvent).where(AuditEvent.org_id == world.foreign.org_id)
                          .order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (told.action, told.actor_user_id, told.details) == ("mfa.reset", world.shared_user_id, {"how": "self"})
    assert leaked(text_of(told), world.own) == []
    assert len(now["audit_event"]) == len(before["audit_event"]) + 1

# HTTP matrix ---------------------------------------------------------------------------------------------------

WHO = ("anon", *(role.value for role in ROLES))
# Routes anyone may call: their anonymous answer is their documented public behaviour, checked in their case.
PUBLIC = {"/healthz", "/webhooks/whatsapp", "/auth/login", "/auth/mfa/verify", "/auth/mfa/lost", "/auth/mfa/reset",
          "/auth/mfa/reset/{token}", "/auth/sso/start", "/auth/sso/callback",
          "/auth/signup", "/auth/signup/confirm", "/auth/signup/confirm/{token}", "/auth/invite/{token}",
          "/auth/invite/accept", "/auth/forgot", "/auth/reset", "/auth/reset/{token}"}


class Http:
    """The routes, as one visitor: anonymous or signed in as the own organisation's member `who`."""

    def __init__(self, client: TestClient, ctx: Context, who: str) -> None:
        self.client, self.ctx, self.who = client, ctx, who
        self.responses: list[Any] = []
        self.role = None if who == "anon" else Role(who)

    def sign_in(self, *, stepped_up: bool = True) -> None:
        """Use the member's live session (made with new_session_row), its second factor fresh or not."""
        self.client.cookies.clear()
        if self.role is None:
            return
        token = self.ctx.world.own.tokens[self.who]
        with self.ctx.database.session() as db:
            db.execute(update(AuthSession).where(AuthSession.id == session_id_for(token))
                       .values(mfa_verified_at=utcnow() if stepped_up else None, last_seen_at=utcnow()))
        self.client.cookies.set(SESSION_COOKIE, token)

    def can(self, permission: Permission | None) -> bool:
        return self.role is not None and (permission is None or permission in ROLE_PERMISSIONS[self.role])

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._keep(self.client.get(path, **kwargs))

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._keep(self.client.post(path, **kwargs))

    def _keep(self, response: Any) -> Any:
        self.responses.append(response)
        return response

    def db(self) -> Any:
        return self.ctx.database.session()

    @property
    def user_id(self) -> int:
        return self.ctx.world.own.users[self.who]


def to_login(response: Any) -> bool:
    return bool(response.status_code == 303 and response.headers["location"].startswith("/login"))


def refused(response: Any) -> bool:
    return response.status_code in (401, 403) or to_login(response)


def count(h: Http, model: Any) -> int:
    with h.db() as db:
        return len(db.scalars(select(model)).all())


def r_healthz(h: Http) -> None:
    assert h.get("/healthz").json() == {"ok": True}


def r_webhook_verify(h: Http) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "4242"}
    wrong = h.get("/webhooks/whatsapp", params={**query, "hub.verify_token": "not-ours"})
    assert wrong.status_code == 403 and "4242" not in wrong.text
    right = h.get("/webhooks/whatsapp", params={**query, "hub.verify_token": h.ctx.world.own.verify_token})
    assert right.status_code == 200 and right.text == "4242"


def r_webhook_receive(h: Http) -> None:
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    assert h.post("/webhooks/whatsapp", content=body, headers={"content-type": "application/json"}).status_code == 401
    forged = {"content-type": "application/json", "x-hub-signature-256": "sha256=" + "0" * 64}
    assert h.post("/webhooks/whatsapp", content=body, headers=forged).status_code == 401


def r_login(h: Http) -> None:
    wrong = h.post("/auth/login", data={"email": h.ctx.world.own.emails["agent"], "password": "not the password"})
    assert wrong.headers["location"] == "/login?error=1" and SESSION_COOKIE not in wrong.cookies
    if h.role is None:  # the public behaviour, once: the right password opens a session that waits for the code
        right = h.post("/auth/login", data={"email": h.ctx.world.own.emails["agent"], "password": PASSWORD})
        assert right.headers["location"] == "/login/verify" and right.cookies.get(SESSION_COOKIE)


def r_logout(h: Http) -> None:
    response = h.post("/auth/logout")
    assert to_login(response)
    if h.role is not None:
        with h.db() as db:
            assert not is_live(db, h.ctx.world.own.tokens[h.who]), "logout must end the session"


def r_mfa_verify(h: Http) -> None:
    response = h.post("/auth/mfa/verify", data={"code": code_at(TOTP_SECRET)})
    assert response.headers["location"] == "/login?error=mfa" and SESSION_COOKIE not in response.cookies


def _drop_factor(h: Http) -> None:
    with h.db() as db:
        db.execute(delete(MfaFactor).where(MfaFactor.user_id == h.user_id))


def r_mfa_qr(h: Http) -> None:
    if h.role is None:
        assert h.get("/auth/mfa/qr.svg").status_code == 401
        return
    assert h.get("/auth/mfa/qr.svg").status_code == 400, "a confirmed factor is reset before enrolling again"
    _drop_factor(h)
    response = h.get("/auth/mfa/qr.svg")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")


def r_mfa_enrol(h: Http) -> None:
    if h.role is None:
        assert h.post("/auth/mfa/enrol", data={"code": "123456"}).status_code == 401
        return
    assert h.post("/auth/mfa/enrol", data={"code": "123456"}).status_code == 400, "nothing is waiting for a code"
    _drop_factor(h)
    with h.db() as db:
        secret = mfa.begin_enrolment(db, h.user_id).secret
    response = h.post("/auth/mfa/enrol", data={"code": code_at(secret)})
    assert response.status_code == 200 and len(response.json()["codes"]) == 10


def r_recovery_codes(h: Http) -> None:
    if h.role is None:
        assert h.post("/auth/mfa/recovery-codes").status_code == 401
        return
    h.sign_in(stepped_up=False)
    stale = h.post("/auth/mfa/recovery-codes")
    assert stale.status_code == 403 and stale.json()["step_up"] is True
    h.sign_in(stepped_up=True)
    assert len(h.post("/auth/mfa/recovery-codes").json()["codes"]) == 10


def r_step_up(h: Http) -> None:
    if h.role is None:
        assert h.post("/auth/step-up", data={"code": code_at(TOTP_SECRET)}).status_code == 401
        return
    assert h.post("/auth/step-up", data={"code": "not-a-code"}).status_code == 400
    assert h.post("/auth/step-up", data={"code": code_at(TOTP_SECRET)}).json() == {"ok": True}


def r_mfa_lost(h: Http) -> None:
    """Only a login waiting for its code may ask for a reset link: nobody else, signed in or not, gets a mail."""
    response = h.post("/auth/mfa/lost")
    assert response.headers["location"] == "/login?error=mfa"
    assert count(h, FactorReset) == 0


def r_mfa_reset_link(h: Http) -> None:
    """The mailed link only keeps its token in a cookie; the code page's button confirms."""
    response = h.get("/auth/mfa/reset/forged-token")
    assert response.headers["location"] == "/login/verify" and response.cookies.get(MFA_RESET_COOKIE) == "forged-token"


def r_mfa_reset(h: Http) -> None:
    """A forged link resets nobody's factor, whoever confirms it."""
    h.client.cookies.set(MFA_RESET_COOKIE, "forged-token")
    response = h.post("/auth/mfa/reset")
    assert response.headers["location"] == "/login/verify?reset_error=link"
    with h.db() as db:
        assert mfa.has_confirmed_factor(db, h.ctx.world.shared_user_id)
        if h.role is not None:
            assert mfa.has_confirmed_factor(db, h.user_id)


def r_sso_start(h: Http) -> None:
    response = h.get("/auth/sso/start", params={"org": "no-such-organisation"})
    assert response.headers["location"] == "/login?error=sso" and "pkcrm_sso_state" not in response.cookies


def r_sso_callback(h: Http) -> None:
    response = h.get("/auth/sso/callback", params={"state": "forged", "code": "forged"})
    assert response.headers["location"] == "/login?error=sso" and SESSION_COOKIE not in response.cookies


def r_sso_save(h: Http) -> None:
    """The settings form answers with a redirect: to the login page, an error message, or "saved"."""
    response = h.post("/settings/sso/save", data={"action": "disable"})
    with h.db() as db:
        enabled = sso.get_settings(db, h.ctx.world.own.actor(Role.OWNER)).enabled
    if h.role is None:
        assert to_login(response) and enabled
    elif h.can(Permission.SSO_MANAGE):
        assert response.headers["location"] == "/settings/sso?done=disabled" and not enabled
    else:
        assert "error=" in response.headers["location"] and enabled


def r_sso_link(h: Http) -> None:
    """Linking one's own provider account: any member, confirming their password; a visitor signs in first."""
    response = h.post("/auth/sso/link", data={"password": "not the password"})
    if h.role is None:
        assert to_login(response)
    else:
        assert response.headers["location"] == "/profile?sso=password"
    with h.db() as db:
        assert db.scalars(select(SsoLoginAttempt)).all() == [], "a wrong password starts nothing"


def r_signup(h: Http) -> None:
    orgs = count(h, Organisation)
    response = h.post("/auth/signup", data={"email": f"founder-{h.who}@newco.test", "name": "Founder",
                                            "org_name": "Newco", "password": "a long enough passphrase"})
    assert response.headers["location"] == "/signup?sent=1" and count(h, Organisation) == orgs


def r_signup_link(h: Http) -> None:
    """The mailed link only keeps its token in a cookie (mail scanners prefetch links); the button confirms."""
    response = h.get("/auth/signup/confirm/forged-token")
    assert response.headers["location"] == "/signup/confirm" and response.cookies.get(SIGNUP_COOKIE) == "forged-token"


def r_signup_confirm(h: Http) -> None:
    orgs = count(h, Organisation)
    h.client.cookies.set(SIGNUP_COOKIE, "forged-token")
    response = h.post("/auth/signup/confirm")
    assert response.headers["location"].startswith("/signup/confirm?error=") and SESSION_COOKIE not in response.cookies
    assert count(h, Organisation) == orgs


def r_invite_link(h: Http) -> None:
    response = h.get("/auth/invite/forged-token")
    assert response.headers["location"] == "/invite" and response.cookies.get(INVITE_COOKIE) == "forged-token"


def r_invite_accept(h: Http) -> None:
    joined = count(h, Membership)
    h.client.cookies.set(INVITE_COOKIE, "forged-token")
    response = h.post("/auth/invite/accept", data={"name": "Intruder", "password": "a long enough passphrase"})
    assert response.headers["location"].startswith("/invite?error=") and SESSION_COOKIE not in response.cookies
    assert count(h, Membership) == joined


def r_forgot(h: Http) -> None:
    response = h.post("/auth/forgot", data={"email": "nobody@nowhere.test"})
    assert response.headers["location"] == "/forgot?sent=1" and count(h, PasswordReset) == 0


def r_reset_link(h: Http) -> None:
    response = h.get("/auth/reset/forged-token")
    assert response.headers["location"] == "/reset" and response.cookies.get(RESET_COOKIE) == "forged-token"


def r_reset(h: Http) -> None:
    h.client.cookies.set(RESET_COOKIE, "forged-token")
    response = h.post("/auth/reset", data={"password": "a long enough passphrase",
                                           "password_again": "a long enough passphrase"})
    assert response.headers["location"].startswith("/reset?error=") and SESSION_COOKIE not in response.cookies


def r_password(h: Http) -> None:
    response = h.post("/auth/password", data={"current_password": PASSWORD,
                                              "new_password": "a long enough passphrase",
                                              "new_password_again": "a long enough passphrase"})
    if h.role is None:
        assert to_login(response)
    else:
        assert response.headers["location"].startswith("/profile?done=password")


def r_audit_export(h: Http) -> None:
    response = h.get("/audit/export.csv")
    if h.role is None:
        assert response.status_code == 401
    elif not h.can(Permission.AUDIT_VIEW):
        assert response.status_code == 403 and "," not in response.text
    else:
        assert response.status_code == 200 and h.ctx.world.own.invitation_email in response.text
        h.sign_in(stepped_up=False)
        assert h.get("/audit/export.csv").status_code == 403, "an export needs a fresh second factor"


def r_media(h: Http) -> None:
    """Files only for members who see the conversation; nothing of another organisation (404)."""
    with h.db() as db:
        foreign, own = _message_id(db, h.ctx.world.foreign), _message_id(db, h.ctx.world.own)
    for message_id in (foreign, own):  # neither has a stored file: nothing to serve
        response = h.get(f"/media/{message_id}")
        assert response.status_code == (401 if h.role is None else 404)


def r_whatsapp_save(h: Http) -> None:
    """Connection settings: integration managers only; a visitor is sent to sign in."""
    with h.db() as db:
        number_id = _number_id(db, h.ctx.world.own)
    response = h.post("/settings/whatsapp/save", data={
        "number_id": str(number_id), "phone_number_id": h.ctx.world.own.phone_number_id,
        "business_account_id": "777", "display_phone_number": "+1 555 0100"})
    with h.db() as db:
        shown = db.scalars(select(WhatsAppNumber.business_account_id).where(WhatsAppNumber.id == number_id)).one()
    if h.role is None:
        assert response.status_code == 401 and shown != "777"
    elif h.can(Permission.INTEGRATIONS_MANAGE):
        assert response.json()["ok"] and shown == "777"
    else:
        assert response.status_code == 403 and shown != "777"


def r_import_upload(h: Http) -> None:
    """Chat-export upload: members who view conversations (every role); a visitor is sent to sign in. A refused
    phone number keeps the background job from starting inside the matrix's rolled-back world."""
    response = h.post("/import/upload", data={"phone": "12"}, headers={"accept": "application/json"},
                      files={"file": ("WhatsApp Chat with Zed.txt", b"13/03/23, 09:15 - Zed: hi\n", "text/plain")})
    if h.role is None:
        assert response.status_code == 401
    else:
        assert response.status_code == 400 and "phone" in response.json()["error"]


def r_message_media(h: Http) -> None:
    """An agent's file goes to the own lead's conversation; another organisation's lead is not found."""
    own, foreign = h.ctx.world.own, h.ctx.world.foreign
    for side, lead in ((own, own.leads["own"]), (foreign, foreign.leads["own"])):
        response = h.post("/messages/media", data={"lead_id": str(lead), "caption": "Invoice"},
                          files={"file": ("invoice.pdf", b"%PDF-1.4 test", "application/pdf")})
        if h.role is None:
            assert response.status_code == 401
        elif side is own:
            assert response.json()["ok"], response.text
        else:
            assert response.status_code == 404


ROUTES: dict[tuple[str, str], Callable[[Http], None]] = {
    ("/webhooks/whatsapp", "GET"): r_webhook_verify,
    ("/webhooks/whatsapp", "POST"): r_webhook_receive,
    ("/auth/login", "POST"): r_login,
    ("/auth/logout", "POST"): r_logout,
    ("/auth/mfa/verify", "POST"): r_mfa_verify,
    ("/auth/mfa/qr.svg", "GET"): r_mfa_qr,
    ("/auth/mfa/enrol", "POST"): r_mfa_enrol,
    ("/auth/mfa/recovery-codes", "POST"): r_recovery_codes,
    ("/auth/step-up", "POST"): r_step_up,
    ("/auth/mfa/lost", "POST"): r_mfa_lost,
    ("/auth/mfa/reset/{token}", "GET"): r_mfa_reset_link,
    ("/auth/mfa/reset", "POST"): r_mfa_reset,
    ("/auth/sso/start", "GET"): r_sso_start,
    ("/auth/sso/callback", "GET"): r_sso_callback,
    ("/auth/sso/link", "POST"): r_sso_link,
    ("/settings/sso/save", "POST"): r_sso_save,
    ("/auth/signup", "POST"): r_signup,
    ("/auth/signup/confirm", "POST"): r_signup_confirm,
    ("/auth/signup/confirm/{token}", "GET"): r_signup_link,
    ("/auth/invite/accept", "POST"): r_invite_accept,
    ("/auth/invite/{token}", "GET"): r_invite_link,
    ("/auth/forgot", "POST"): r_forgot,
    ("/auth/reset", "POST"): r_reset,
    ("/auth/reset/{token}", "GET"): r_reset_link,
    ("/auth/password", "POST"): r_password,
    ("/audit/export.csv", "GET"): r_audit_export,
    ("/media/{message_id}", "GET"): r_media,
    ("/settings/whatsapp/save", "POST"): r_whatsapp_save,
    ("/messages/media", "POST"): r_message_media,
    ("/import/upload", "POST"): r_import_upload,
    ("/healthz", "GET"): r_healthz,
}


def test_every_route_is_in_the_matrix() -> None:
    """A new route fails here until it has an entry in ROUTES (what it does for whom)."""
    routes = {(route.path, method) for route in build_api().routes if isinstance(route, Route)
              for method in (route.methods or set()) - {"HEAD"}}
    assert sorted(routes - set(ROUTES)) == [], "routes without a matrix entry"
    assert sorted(set(ROUTES) - routes) == [], "matrix entries of routes that no longer exist"


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("route", sorted(ROUTES), ids=[f"{method} {path}" for path, method in sorted(ROUTES)])
def test_route_for_visitor(ctx: Context, route: tuple[str, str], who: str) -> None:
    """Refused without a session (public routes: their documented public answer), allowed or refused per the
    permission when signed in, and no answer ever shows the foreign organisation's data."""
    with TestClient(build_api(), base_url="http://testserver", follow_redirects=False) as client:
        visitor = Http(client, ctx, who)
        visitor.sign_in()
        ROUTES[route](visitor)
    for response in visitor.responses:
        shown = response.text + " " + response.headers.get("location", "")
        assert leaked(shown, ctx.world.foreign) == [], f"{response.request.url} shows foreign data"
        if who == "anon" and route[0] not in PUBLIC:
            assert refused(response), f"{route} answered {response.status_code} without a session"
    ctx.assert_foreign_untouched()
