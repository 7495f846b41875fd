"""What owners do with their organisation's single sign-on: configure, switch off, and opt themselves in;
what admins may still do: read the settings and test discovery.

Whoever chooses the provider chooses who can be signed in, so every change is an owner's, with a fresh
second factor, audited, and mailed to every owner. The client secret is write-only: stored encrypted and
only ever reported as set or not set. The provider is asked outside any database transaction (flows/sso.py
runs the steps here around it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.sso import directory, notices, oidc
from pkcrm_app.accounts.identity.sso.links import own_link
from pkcrm_app.accounts.identity.sso.models import SsoConnection, SsoLink
from pkcrm_app.audit.service import record
from pkcrm_app.core.after_commit import after_commit
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound

CALLBACK_PATH = "/auth/sso/callback"
Discover = directory.Lookup


def discover_now(issuer: str) -> oidc.Provider:
    """Read the provider's discovery document now (and refresh the cache sign-ins use)."""
    return directory.providers.provider(issuer, fresh=True)


@dataclass(frozen=True)
class SsoSettings:
    """What the settings page shows; never the secret itself."""

    issuer: str = ""
    client_id: str = ""
    secret_set: bool = False
    enabled: bool = False


def _view(connection: SsoConnection | None) -> SsoSettings:
    if connection is None:
        return SsoSettings()
    return SsoSettings(issuer=connection.issuer, client_id=connection.client_id,
                       secret_set=bool(connection.client_secret), enabled=connection.enabled)


def _connection(db: Session, org_id: int) -> SsoConnection | None:
    return db.scalar(select(SsoConnection).where(SsoConnection.org_id == org_id))


def _checked(provider: oidc.Provider, issuer: str) -> oidc.Provider:
    """Whatever looked the provider up, its endpoints must be on the issuer's host before they are stored."""
    if oidc.normalise_issuer(provider.issuer) != issuer:
        raise InvalidInput(f"the provider names another issuer ({provider.issuer[:200]}); use that URL")
    for url, what in ((provider.authorization_endpoint, "authorization endpoint"),
                      (provider.token_endpoint, "token endpoint"), (provider.jwks_uri, "key set URL")):
        oidc.check_endpoint(url, issuer, what)
    return provider


def _tell_owners(db: Session, actor: Actor, what: str, ip: str) -> tuple[list[int], list[notices.Notice]]:
    """(owner ids for the audit entry, their mails to send once the change is committed)."""
    who = notices.recipients(db, actor.org_id, actor.user_id)
    return [user_id for user_id, _ in who.owners], notices.to_owners(who, what, ip=ip)


def get_settings(db: Session, actor: Actor) -> SsoSettings:
    """The organisation's single sign-on settings (empty when never configured)."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    return _view(_connection(db, actor.org_id))


@dataclass(frozen=True)
class Configuration:
    """A checked settings form, waiting for the provider's discovery document (flows/sso.py)."""

    issuer: str
    client_id: str
    client_secret: str = field(default="", repr=False)


def prepare_configuration(db: Session, actor: Actor, *, issuer: str, client_id: str,
                          client_secret: str = "") -> Configuration:
    """Check a settings form (owners, step-up) before its issuer is asked for its discovery document."""
    actor.require_step_up(Permission.SSO_MANAGE)
    issuer, client_id = oidc.normalise_issuer(issuer), client_id.strip()
    if not client_id or len(client_id) > 255:
        raise InvalidInput("the client ID is required (as registered at the provider)")
    if len(issuer) > 500 or len(client_secret) > 2000:
        raise InvalidInput("the issuer or client secret is too long")
    connection = _connection(db, actor.org_id)
    if not client_secret.strip() and (connection is None or not connection.client_secret):
        raise InvalidInput("the client secret is required the first time")
    return Configuration(issuer, client_id, client_secret.strip())


def configure(
    db: Session, actor: Actor, form: Configuration, provider: oidc.Provider, *, enabled: bool, ip: str = "",
    device: str = "",
) -> SsoSettings:
    """Save the provider (owners, step-up) that discovery returned for `form`; an empty secret keeps the stored
    one. Links to another issuer's accounts end, since they no longer prove anything. Every owner is mailed
    once the caller commits."""
    form = prepare_configuration(db, actor, issuer=form.issuer, client_id=form.client_id,
                                 client_secret=form.client_secret)
    issuer, client_id, client_secret = form.issuer, form.client_id, form.client_secret
    _checked(provider, issuer)  # a clear error now rather than a failed sign-in later
    connection = _connection(db, actor.org_id)
    previous = connection.issuer if connection is not None else ""
    if connection is None:
        connection = SsoConnection(org_id=actor.org_id, issuer=issuer, client_id=client_id)
        db.add(connection)
    connection.issuer, connection.client_id, connection.enabled = issuer, client_id, enabled
    if client_secret:
        connection.client_secret = client_secret
    connection.updated_at = utcnow()
    ended = db.execute(delete(SsoLink).where(SsoLink.org_id == actor.org_id, SsoLink.issuer != issuer))
    db.flush()
    owners, mails = _tell_owners(db, actor, f"set single sign-on to the provider {issuer} (client ID {client_id}, "
                                            f"{'on' if enabled else 'off'})", ip)
    record(db, action="sso.configured", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="sso_connection", target_id=connection.id, ip_address=ip, device=device,
           details={"issuer": issuer, "previous_issuer": previous, "client_id": client_id, "enabled": enabled,
                    "secret_changed": bool(client_secret), "owners_notified": owners,
                    "links_ended": int(getattr(ended, "rowcount", 0) or 0)})
    if previous and previous != issuer:
        after_commit(db, lambda: directory.providers.forget(previous))
    after_commit(db, lambda: notices.deliver(mails))
    return _view(connection)


def disable(db: Session, actor: Actor, *, ip: str = "", device: str = "") -> SsoSettings:
    """Switch single sign-on off (owners, step-up); the settings and links stay for switching it on again."""
    actor.require_step_up(Permission.SSO_MANAGE)
    connection = _connection(db, actor.org_id)
    if connection is None:
        raise NotFound("single sign-on is not configured")
    connection.enabled = False
    connection.updated_at = utcnow()
    owners, mails = _tell_owners(db, actor, "switched single sign-on off", ip)
    record(db, action="sso.disabled", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="sso_connection", target_id=connection.id, ip_address=ip, device=device,
           details={"issuer": connection.issuer, "owners_notified": owners})
    after_commit(db, lambda: notices.deliver(mails))
    return _view(connection)


def set_owner_sign_in(db: Session, actor: Actor, *, allowed: bool, ip: str = "", device: str = "") -> bool:
    """An owner lets single sign-on sign them in (or stops it): their own linked account only, with step-up."""
    actor.require_step_up(Permission.SSO_MANAGE)
    link = own_link(db, actor)
    connection = _connection(db, actor.org_id)
    if link is None or connection is None or link.issuer != connection.issuer:
        raise NotFound("link your single sign-on account first")
    if link.owner_sign_in == allowed:
        return allowed
    link.owner_sign_in = allowed
    what = "let single sign-on sign them in as an owner" if allowed else "stopped single sign-on signing them in"
    owners, mails = _tell_owners(db, actor, what, ip)
    record(db, action="sso.owner_sign_in", org_id=actor.org_id, actor_user_id=actor.user_id, target_type="sso_link",
           target_id=link.id, ip_address=ip, device=device,
           details={"allowed": allowed, "issuer": link.issuer, "owners_notified": owners})
    after_commit(db, lambda: notices.deliver(mails))
    return allowed


def discovery_issuer(db: Session, actor: Actor) -> str:
    """The configured issuer, for a discovery check (flows/sso.py asks it outside any transaction)."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    connection = _connection(db, actor.org_id)
    if connection is None:
        raise NotFound("single sign-on is not configured")
    return connection.issuer


def describe_discovery(provider: oidc.Provider, issuer: str) -> str:
    """What a discovery check found, once the document passed the endpoint checks."""
    found = _checked(provider, issuer)
    return f"Discovery OK: {found.issuer} signs in at {found.authorization_endpoint}"
