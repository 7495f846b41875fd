"""OpenID Connect protocol steps (discovery, authorization URL with PKCE, code exchange, ID-token checks).

No database here: each step takes what it needs and raises `SsoFailed` with the reason for the audit log.
Every URL of the provider is checked before it is used: https (plain http only under the development
setting), and the endpoints on the issuer's own host, so a discovery document cannot send the browser, the
client secret or our key requests anywhere else. Network goes through `fetch` (no inside addresses).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from pkcrm_app.accounts.identity.sso import fetch
from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput
from pkcrm_app.settings import get_settings

SCOPE = "openid email profile"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CLOCK_SKEW = 120  # seconds allowed between our clock and the provider's
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")
DEFAULT_PORTS = {"https": 443, "http": 80}


class SsoFailed(AuthenticationFailed):
    """Single sign-on refused; the user sees one message, the audit log gets `reason`.

    `outcome` names the message the browser is sent to (the login page's `?error=` or the profile's `?sso=`)."""

    def __init__(self, reason: str, *, outcome: str = "sso") -> None:
        super().__init__("Single sign-on could not sign you in. Ask your administrator to check your account "
                         "and the organisation's single sign-on settings.")
        self.reason = reason
        self.outcome = outcome


@dataclass(frozen=True)
class Provider:
    """What discovery says about an OpenID provider (only ever built from checked URLs)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def allow_insecure() -> bool:
    """The development setting: providers over plain http and on loopback or private addresses."""
    return get_settings().sso_allow_insecure


def normalise_issuer(issuer: str, *, insecure: bool | None = None) -> str:
    """The issuer as compared everywhere: trimmed, no trailing slash, https, a public host."""
    insecure = allow_insecure() if insecure is None else insecure
    issuer = issuer.strip().rstrip("/")
    parts = fetch.check_url(issuer, "issuer", allow_insecure=insecure)
    if parts.query or parts.fragment:
        raise InvalidInput("the issuer must be a URL such as https://login.example.com")
    return issuer


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(parts.scheme)


def check_endpoint(url: str, issuer: str, what: str, *, insecure: bool | None = None) -> str:
    """An endpoint named by discovery: https like the issuer, and on the issuer's own host and port."""
    insecure = allow_insecure() if insecure is None else insecure
    fetch.check_url(url, what, allow_insecure=insecure)
    if _origin(url) != _origin(issuer) or urlsplit(url).fragment:
        raise InvalidInput(f"the provider's {what} ({url[:200]}) is not on the issuer's host {issuer}")
    return url


def provider_from_document(issuer: str, document: dict[str, Any], *, insecure: bool | None = None) -> Provider:
    """Check a discovery document against the issuer it was read from."""
    missing = [k for k in ("issuer", *ENDPOINTS) if not isinstance(document.get(k), str) or not document.get(k)]
    if missing:
        raise InvalidInput(f"the discovery document lacks {', '.join(missing)}")
    if str(document["issuer"]).rstrip("/") != issuer:
        raise InvalidInput(f"the discovery document names another issuer ({str(document['issuer'])[:200]}); "
                           "use that URL")
    urls = {k: check_endpoint(str(document[k]), issuer, k.replace("_", " "), insecure=insecure) for k in ENDPOINTS}
    return Provider(issuer=issuer, **urls)


def discover(issuer: str) -> Provider:
    """Fetch and check the provider's discovery document; InvalidInput says what is wrong with the document,
    `fetch.ProviderUnreachable` (one message, detail logged) when there is no usable answer."""
    insecure = allow_insecure()
    issuer = normalise_issuer(issuer, insecure=insecure)
    url = issuer + "/.well-known/openid-configuration"
    try:
        answer = fetch.request("GET", url, allow_insecure=insecure)
        document = answer.json_object() if answer.status == 200 else None
        if document is None:
            raise fetch.ProviderUnreachable(f"GET {url} answered {answer.status} without a JSON document")
    except fetch.ProviderUnreachable as exc:
        raise fetch.logged(exc, "discovery") from exc
    return provider_from_document(issuer, document, insecure=insecure)


def authorization_url(provider: Provider, *, client_id: str, redirect_uri: str, state: str, nonce: str,
                      code_verifier: str) -> str:
    """The provider's sign-in URL for the authorization code flow with PKCE (S256), state and nonce; the
    endpoint is checked again here, so nothing but a checked endpoint ever becomes a redirect."""
    try:
        endpoint = check_endpoint(provider.authorization_endpoint, normalise_issuer(provider.issuer),
                                  "authorization endpoint")
    except InvalidInput as exc:
        raise SsoFailed(f"authorization endpoint refused: {exc}") from exc
    return str(prepare_grant_uri(
        endpoint, client_id=client_id, response_type="code", redirect_uri=redirect_uri,
        scope=SCOPE, state=state, nonce=nonce, code_challenge=create_s256_code_challenge(code_verifier),
        code_challenge_method="S256",
    ))


def exchange_code(provider: Provider, *, client_id: str, client_secret: str, redirect_uri: str, code: str,
                  code_verifier: str) -> str:
    """Swap the authorization code (and PKCE verifier) for tokens; returns the raw ID token."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}
    basic = (quote(client_id, safe=""), quote(client_secret, safe=""))  # RFC 6749 2.3.1
    try:
        endpoint = check_endpoint(provider.token_endpoint, provider.issuer, "token endpoint")
        answer = fetch.request("POST", endpoint, data=form, auth=basic, allow_insecure=allow_insecure())
    except fetch.ProviderUnreachable as exc:
        raise SsoFailed("token endpoint unreachable") from fetch.logged(exc, "code exchange")
    except InvalidInput as exc:
        raise SsoFailed(f"token endpoint refused: {exc}") from exc
    token = answer.json_object()
    if token is None:
        raise SsoFailed("token endpoint answered without a JSON object")
    if answer.status != 200 or "error" in token:
        raise SsoFailed(f"token endpoint refused the code ({str(token.get('error', answer.status))[:60]})")
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise SsoFailed("token response has no ID token")
    return id_token


def fetch_keys(provider: Provider) -> KeySet:
    """The provider's public signing keys (JWKS), read from its checked key URL."""
    try:
        url = check_endpoint(provider.jwks_uri, provider.issuer, "key set URL")
        answer = fetch.request("GET", url, allow_insecure=allow_insecure())
        document = answer.json_object() if answer.status == 200 else None
        if document is None:
            raise fetch.ProviderUnreachable(f"GET {url} answered {answer.status} without a JSON key set")
        return KeySet.import_key_set(document)  # type: ignore[arg-type]
    except fetch.ProviderUnreachable as exc:
        raise SsoFailed("provider keys unavailable") from fetch.logged(exc, "key set")
    except (InvalidInput, ValueError, JoseError) as exc:
        raise SsoFailed(f"provider keys unusable ({type(exc).__name__})") from exc


def key_id(id_token: str) -> str | None:
    """The `kid` the token's header names (unverified: only used to pick or refresh the key set)."""
    try:
        header = extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError, AttributeError):
        return None
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def has_key(keys: KeySet, kid: str) -> bool:
    try:
        keys.get_by_kid(kid)
    except (JoseError, ValueError):
        return False
    return True


def verify_id_token(id_token: str, keys: KeySet, *, issuer: str, client_id: str, nonce: str,
                    now: float | None = None) -> dict[str, Any]:
    """Check the ID token's signature against the provider's keys, then iss, aud, azp, exp, iat and nonce."""
    try:
        claims: dict[str, Any] = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS)).claims
    except (JoseError, ValueError) as exc:
        raise SsoFailed(f"ID token signature invalid ({type(exc).__name__})") from exc
    now = time.time() if now is None else now
    if str(claims.get("iss", "")).rstrip("/") != issuer:
        raise SsoFailed("ID token issuer mismatch")
    audience = claims.get("aud")
    if audience != client_id and audience != [client_id]:
        raise SsoFailed("ID token audience mismatch")
    if claims.get("azp") not in (None, client_id):
        raise SsoFailed("ID token authorised party mismatch")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp <= now - CLOCK_SKEW:
        raise SsoFailed("ID token expired")
    if not isinstance(iat, int | float) or iat > now + CLOCK_SKEW:
        raise SsoFailed("ID token issued in the future")
    if claims.get("nonce") != nonce:
        raise SsoFailed("ID token nonce mismatch")
    return claims


def subject(claims: dict[str, Any]) -> str:
    """The provider's stable id of the person (`sub`): what a link stores and a sign-in matches."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise SsoFailed("ID token has no usable subject")
    return sub
