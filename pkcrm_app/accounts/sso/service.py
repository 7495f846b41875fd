"""What admins do with their organisation's single sign-on: read, configure, test and disable it.

The client secret is write-only: it is stored encrypted and only ever reported as set or not set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.permissions import Actor, Permission
from pkcrm_app.accounts.sso import oidc
from pkcrm_app.accounts.sso.models import SsoConnection
from pkcrm_app.audit.service import record
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound

CALLBACK_PATH = "/auth/sso/callback"
Discover = Callable[[str], oidc.Provider]


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


def get_settings(db: Session, actor: Actor) -> SsoSettings:
    """The organisation's single sign-on settings (empty when never configured)."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    return _view(_connection(db, actor.org_id))


def configure(
    db: Session, actor: Actor, *, issuer: str, client_id: str, client_secret: str = "", enabled: bool,
    ip: str = "", device: str = "", discover: Discover = oidc.discover,
) -> SsoSettings:
    """Save the provider; an empty `client_secret` keeps the stored one. The issuer is checked by discovery."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    issuer, client_id = oidc.normalise_issuer(issuer), client_id.strip()
    if not client_id or len(client_id) > 255:
        raise InvalidInput("the client ID is required (as registered at the provider)")
    if len(issuer) > 500 or len(client_secret) > 2000:
        raise InvalidInput("the issuer or client secret is too long")
    connection = _connection(db, actor.org_id)
    if not client_secret.strip() and (connection is None or not connection.client_secret):
        raise InvalidInput("the client secret is required the first time")
    discover(issuer)  # a clear error now rather than a failed sign-in later
    if connection is None:
        connection = SsoConnection(org_id=actor.org_id, issuer=issuer, client_id=client_id)
        db.add(connection)
    connection.issuer, connection.client_id, connection.enabled = issuer, client_id, enabled
    if client_secret.strip():
        connection.client_secret = client_secret.strip()
    connection.updated_at = utcnow()
    db.flush()
    record(db, action="sso.configured", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="sso_connection", target_id=connection.id, ip_address=ip, device=device,
           details={"issuer": issuer, "client_id": client_id, "enabled": enabled,
                    "secret_changed": bool(client_secret.strip())})
    db.commit()
    return _view(connection)


def disable(db: Session, actor: Actor, *, ip: str = "", device: str = "") -> SsoSettings:
    """Switch single sign-on off; the settings stay for switching it on again."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    connection = _connection(db, actor.org_id)
    if connection is None:
        raise NotFound("single sign-on is not configured")
    connection.enabled = False
    connection.updated_at = utcnow()
    record(db, action="sso.disabled", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="sso_connection", target_id=connection.id, ip_address=ip, device=device,
           details={"issuer": connection.issuer})
    db.commit()
    return _view(connection)


def check_discovery(db: Session, actor: Actor, *, discover: Discover = oidc.discover) -> str:
    """Fetch the configured issuer's discovery document now and say what was found."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    connection = _connection(db, actor.org_id)
    if connection is None:
        raise NotFound("single sign-on is not configured")
    provider = discover(connection.issuer)
    return f"Discovery OK: {provider.issuer} signs in at {provider.authorization_endpoint}"
