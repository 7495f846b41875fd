"""HTTP to an organisation's OpenID provider that cannot be turned against our own network (SSRF).

The provider's host is resolved once; every address must be public (loopback, private and link-local ones
only under the development setting PKCRM_SSO_ALLOW_INSECURE), and the connection goes to the address that
was checked (TLS still verifies the provider's name), so a second DNS answer cannot swap in an inside address
(rebinding). No redirect is followed, no proxy from the environment is used, answers are capped in size.

Every failure is one `ProviderUnreachable`: people see the same words whether the port was closed, open but
silent, or answered something else; the detail goes to the server log only.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from pkcrm_app.core.errors import InvalidInput

log = logging.getLogger("pkcrm.sso")
TIMEOUT = 10.0
MAX_BYTES = 512 * 1024  # discovery documents and key sets are a few kilobytes
UNREACHABLE = ("Could not reach the provider. Check the issuer URL: its discovery document is read from "
               "<issuer>/.well-known/openid-configuration.")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProviderUnreachable(InvalidInput):
    """The provider could not be asked; `detail` (for the server log) says why, the message never does."""

    def __init__(self, detail: str) -> None:
        super().__init__(UNREACHABLE)
        self.detail = detail


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = field(repr=False)

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when it is not one."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def is_public(address: IPAddress) -> bool:
    """An address on the internet: not loopback, private, link-local, shared, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str, what: str, *, allow_insecure: bool) -> SplitResult:
    """The checks on a provider URL that are safe to explain: https, a host name, no credentials, not an
    address of this machine or its network written out. Resolved addresses are checked when connecting."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_insecure and parts.scheme == "http"):
        raise InvalidInput(f"the {what} must use https")
    try:
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        raise InvalidInput(f"the {what} has an invalid port") from None
    host = parts.hostname or ""
    if not host or parts.username is not None or parts.password is not None:
        raise InvalidInput(f"the {what} must be a URL such as https://login.example.com")
    if not allow_insecure:
        if host == "localhost" or host.endswith(".localhost"):
            raise InvalidInput(f"the {what} must not point at this machine")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not is_public(literal):
            raise InvalidInput(f"the {what} must not point at a loopback, private or link-local address")
    return parts


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name resolves to (a module function, so tests can play a hostile DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _vetted_address(parts: SplitResult, allow_insecure: bool) -> IPAddress:
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise ProviderUnreachable(f"{host} does not resolve ({type(exc).__name__}: {exc})") from exc
    if not addresses:
        raise ProviderUnreachable(f"{host} resolves to no address")
    inside = [str(a) for a in addresses if not is_public(a)]
    if inside and not allow_insecure:
        raise ProviderUnreachable(f"{host} resolves to non-public addresses {inside}")
    return addresses[0]


def request(method: str, url: str, *, allow_insecure: bool, data: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None, timeout: float = TIMEOUT) -> Answer:
    """One request to the provider, over a connection to the address that was checked; any failure is
    `ProviderUnreachable` (a status other than 2xx is an answer, left to the caller)."""
    try:
        parts = check_url(url, "provider URL", allow_insecure=allow_insecure)
    except InvalidInput as exc:
        raise ProviderUnreachable(f"{method} {url} refused: {exc}") from exc
    address = _vetted_address(parts, allow_insecure)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    pinned = urlunsplit(parts._replace(netloc=f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": parts.hostname or ""} if parts.scheme == "https" else {}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client, client.stream(
            method, pinned, data=data, auth=auth, extensions=extensions,
            headers={"Host": host_header, "Accept": "application/json"},
        ) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise ProviderUnreachable(f"{method} {url}: answer larger than {MAX_BYTES} bytes")
            return Answer(status=response.status_code, body=body)
    except httpx.HTTPError as exc:
        raise ProviderUnreachable(f"{method} {url} at {address}: {type(exc).__name__}: {exc}") from exc


def logged(exc: ProviderUnreachable, context: str) -> ProviderUnreachable:
    """Write the failure's detail to the server log (never to the user or the audit log); returns it."""
    log.warning("single sign-on %s: %s", context, exc.detail)
    return exc
