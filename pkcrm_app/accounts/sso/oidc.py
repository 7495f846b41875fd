"""OpenID Connect protocol steps (discovery, authorization URL with PKCE, code exchange, ID-token checks).

No database here: each step takes what it needs and raises `SsoFailed` with the reason for the audit log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput

HTTP_TIMEOUT = 10.0
SCOPE = "openid email profile"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CLOCK_SKEW = 120  # seconds allowed between our clock and the provider's


class SsoFailed(AuthenticationFailed):
    """Single sign-on refused; the user sees one message, the audit log gets `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__("Single sign-on could not sign you in. Ask your administrator to check your account "
                         "and the organisation's single sign-on settings.")
        self.reason = reason


@dataclass(frozen=True)
class Provider:
    """What discovery says about an OpenID provider."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def normalise_issuer(issuer: str) -> str:
    """The issuer as compared everywhere: trimmed, no trailing slash; HTTPS unless on this machine (loopback)."""
    issuer = issuer.strip().rstrip("/")
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidInput("the issuer must be a URL such as https://login.example.com")
    if not is_secure_transport(issuer):
        raise InvalidInput("the issuer must use https (plain http is allowed only on loopback)")
    return issuer


def discover(issuer: str, *, timeout: float = HTTP_TIMEOUT) -> Provider:
    """Fetch and check the provider's discovery document; InvalidInput says what is wrong."""
    issuer = normalise_issuer(issuer)
    url = issuer + "/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise InvalidInput(f"the issuer did not answer at {url} ({type(exc).__name__})") from exc
    if response.status_code != 200:
        raise InvalidInput(f"the issuer answered {response.status_code} at {url}; is the issuer URL right?")
    try:
        document = response.json()
    except ValueError as exc:
        raise InvalidInput(f"{url} did not return a JSON discovery document") from exc
    if not isinstance(document, dict):
        raise InvalidInput(f"{url} did not return a JSON discovery document")
    missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not document.get(k)]
    if missing:
        raise InvalidInput(f"the discovery document lacks {', '.join(missing)}")
    if str(document["issuer"]).rstrip("/") != issuer:
        raise InvalidInput(f"the discovery document names another issuer ({document['issuer']}); use that URL")
    return Provider(issuer=issuer, authorization_endpoint=str(document["authorization_endpoint"]),
                    token_endpoint=str(document["token_endpoint"]), jwks_uri=str(document["jwks_uri"]))


def authorization_url(provider: Provider, *, client_id: str, redirect_uri: str, state: str, nonce: str,
                      code_verifier: str) -> str:
    """The provider's sign-in URL for the authorization code flow with PKCE (S256), state and nonce."""
    return str(prepare_grant_uri(
        provider.authorization_endpoint, client_id=client_id, response_type="code", redirect_uri=redirect_uri,
        scope=SCOPE, state=state, nonce=nonce, code_challenge=create_s256_code_challenge(code_verifier),
        code_challenge_method="S256",
    ))


def exchange_code(provider: Provider, *, client_id: str, client_secret: str, redirect_uri: str, code: str,
                  code_verifier: str) -> str:
    """Swap the authorization code (and PKCE verifier) for tokens; returns the raw ID token."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}
    try:
        basic = (quote(client_id, safe=""), quote(client_secret, safe=""))  # RFC 6749 2.3.1: form-encoded first
        response = httpx.post(provider.token_endpoint, data=form, auth=basic,
                              headers={"Accept": "application/json"}, timeout=HTTP_TIMEOUT)
        token = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SsoFailed(f"token endpoint unreachable or invalid ({type(exc).__name__})") from exc
    if not isinstance(token, dict):
        raise SsoFailed("token endpoint answered without a JSON object")
    if response.status_code != 200 or "error" in token:
        raise SsoFailed(f"token endpoint refused the code ({str(token.get('error', response.status_code))[:60]})")
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise SsoFailed("token response has no ID token")
    return id_token


def provider_keys(provider: Provider, *, timeout: float = HTTP_TIMEOUT) -> KeySet:
    """The provider's public signing keys (JWKS)."""
    try:
        response = httpx.get(provider.jwks_uri, timeout=timeout)
        response.raise_for_status()
        return KeySet.import_key_set(response.json())
    except (httpx.HTTPError, ValueError, JoseError) as exc:
        raise SsoFailed(f"provider keys unavailable ({type(exc).__name__})") from exc


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


def verified_email(claims: dict[str, Any]) -> str:
    """The email the provider vouches for; refused when absent or not verified."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SsoFailed("ID token has no email")
    if claims.get("email_verified") not in (True, "true"):
        raise SsoFailed("email not verified by the provider")
    return email.strip().lower()
