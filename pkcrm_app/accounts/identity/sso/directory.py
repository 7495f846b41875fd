"""Providers' discovery documents and signing keys, cached for a while in this process.

A sign-in should not ask the provider what it already told us a minute ago, and network I/O should not
happen while a database transaction waits: callers end their transaction, ask here, then write. A key the
cached set lacks (the provider rotated its keys) is fetched again, at most once per `KEY_REFRESH_INTERVAL`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from joserfc.jwk import KeySet

from pkcrm_app.accounts.identity.sso import oidc

TTL_SECONDS = 15 * 60.0
KEY_REFRESH_INTERVAL = 60.0
Clock = Callable[[], float]
Lookup = Callable[[str], oidc.Provider]  # issuer -> checked provider (tests pass one without the network)


class ProviderDirectory:
    """Discovery and key sets by issuer (and by the development setting, which changes what is allowed)."""

    def __init__(self, *, ttl: float = TTL_SECONDS, clock: Clock = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._lock = threading.Lock()
        self._providers: dict[tuple[str, bool], tuple[float, oidc.Provider]] = {}
        self._keys: dict[tuple[str, bool], tuple[float, KeySet]] = {}

    def provider(self, issuer: str, *, fresh: bool = False) -> oidc.Provider:
        """The checked provider of `issuer`; `fresh` reads the document now (settings page, its test button)."""
        key = (oidc.normalise_issuer(issuer), oidc.allow_insecure())
        with self._lock:
            cached = self._providers.get(key)
        if cached is not None and not fresh and self.clock() - cached[0] < self.ttl:
            return cached[1]
        found = oidc.discover(key[0])
        with self._lock:
            self._providers[key] = (self.clock(), found)
        return found

    def keys(self, provider: oidc.Provider, *, kid: str | None = None) -> KeySet:
        """The provider's signing keys; read again when they are old, or lack `kid` and were not just read."""
        key = (provider.jwks_uri, oidc.allow_insecure())
        now = self.clock()
        with self._lock:
            cached = self._keys.get(key)
        if cached is not None:
            age = now - cached[0]
            missing = kid is not None and not oidc.has_key(cached[1], kid)
            if age < self.ttl and (not missing or age < KEY_REFRESH_INTERVAL):
                return cached[1]
        found = oidc.fetch_keys(provider)
        with self._lock:
            self._keys[key] = (self.clock(), found)
        return found

    def forget(self, issuer: str) -> None:
        """Drop what is cached of one issuer (its settings changed)."""
        with self._lock:
            dropped = [k for k in self._providers if k[0] == issuer]
            for k in dropped:
                _, provider = self._providers.pop(k)
                self._keys.pop((provider.jwks_uri, k[1]), None)

    def clear(self) -> None:
        with self._lock:
            self._providers.clear()
            self._keys.clear()


providers = ProviderDirectory()
