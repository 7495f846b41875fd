"""Single sign-on steps that ask the provider: each owns its transactions, so no database transaction is open
while the provider answers (discovery, keys, the code exchange). The services in accounts/identity/sso/ do
the work of each transaction; here they are run in order, committed, and the provider asked between them."""

from __future__ import annotations

from pkcrm_app.accounts.identity.sso import attempts, directory, links, login
from pkcrm_app.accounts.identity.sso import service as sso
from pkcrm_app.accounts.identity.sso.models import SsoLoginAttempt
from pkcrm_app.core.authz import Actor
from pkcrm_app.core.db import Database


def begin_login(database: Database, *, org_slug: str, redirect_uri: str) -> tuple[str, str]:
    """Start a sign-in for the organisation: returns (provider URL to send the browser to, state)."""
    with database.session() as db:
        target = login.login_target(db, org_slug=org_slug)
    provider = login.provider_of(target.issuer)
    with database.session() as db:
        return login.start_login(db, target, provider, redirect_uri=redirect_uri)


def finish_login(
    database: Database, *, state: str, code: str, browser_state: str | None, error: str = "", ip: str,
    user_agent: str, hours: int, session_token: str | None = None,
) -> login.Finished:
    """Finish what the browser started: `browser_state` is the state kept in its cookie, `session_token` its
    session cookie. The states are spent (committed) before anything is checked, so a refused callback can
    never be replayed; a refusal is audited in a transaction of its own, then raised (SsoFailed)."""
    attempt: SsoLoginAttempt | None = None
    try:
        with database.session() as db:
            claimed = attempts.spend(db, state, browser_state)
        with database.session() as db:
            attempt = attempts.spent_attempt(db, state, browser_state, claimed)
            if error or not code:
                raise login.SsoFailed(f"provider returned an error ({error[:60] or 'no code'})")
            client = login.client_of(db, attempt.org_id)
        claims = login.claims_of(client, attempt, code)
        with database.session() as db:
            return login.complete(db, attempt, client, claims, ip=ip, user_agent=user_agent, hours=hours,
                                  session_token=session_token)
    except login.SsoFailed as failure:
        with database.session() as db:
            login.record_refusal(db, failure, attempt, ip=ip, user_agent=user_agent)
        raise


def begin_link(
    database: Database, actor: Actor, *, password: str, session_token: str | None, redirect_uri: str, ip: str = "",
    device: str = "", provider_for: directory.Lookup = directory.providers.provider,
) -> tuple[str, str]:
    """Start linking the signed-in member's provider account: returns (provider URL, state). A wrong password
    is counted (committed) although it refuses the link."""
    with database.session() as db:
        target = links.prepare_link(db, actor, password=password, session_token=session_token, ip=ip, device=device)
    provider = provider_for(target.issuer)
    with database.session() as db:
        return links.start_link(db, actor, target, provider, session_token=session_token or "",
                                redirect_uri=redirect_uri, ip=ip, device=device)


def configure(
    database: Database, actor: Actor, *, issuer: str, client_id: str, client_secret: str = "", enabled: bool,
    ip: str = "", device: str = "", discover: sso.Discover = sso.discover_now,
) -> sso.SsoSettings:
    """Save the organisation's provider (owners, step-up) once discovery vouched for the issuer; every owner is
    mailed after the commit."""
    with database.session() as db:
        form = sso.prepare_configuration(db, actor, issuer=issuer, client_id=client_id, client_secret=client_secret)
    provider = discover(form.issuer)
    with database.session() as db:
        return sso.configure(db, actor, form, provider, enabled=enabled, ip=ip, device=device)


def check_discovery(database: Database, actor: Actor, *, discover: sso.Discover = sso.discover_now) -> str:
    """Fetch the configured issuer's discovery document now and say what was found."""
    with database.session() as db:
        issuer = sso.discovery_issuer(db, actor)
    return sso.describe_discovery(discover(issuer), issuer)

