"""Typed settings read from the environment, with safe defaults for the embedded run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


class SettingsError(ValueError):
    """A setting holds a value the app does not understand: it refuses to start rather than guess."""


LOOPBACK_NAMES = ("localhost", "127.0.0.1")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _flag(name: str, default: bool) -> bool:
    """A yes/no setting: only the documented spellings (1/0, true/false, yes/no, on/off) are accepted."""
    raw = _env(name).lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise SettingsError(f"{name}={raw!r} is not understood: use one of 1/0, true/false, yes/no, on/off")


def _number(name: str, default: str, kind: type[int] | type[float] = int) -> Any:
    raw = _env(name, default)
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a {kind.__name__}") from None


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = _env(name, default).upper()
    if raw not in allowed:
        raise SettingsError(f"{name}={raw!r} is not understood: use one of {', '.join(allowed)}")
    return raw


def _is_local_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_NAMES


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment (12-factor)."""

    instance_dir: Path = field(
        default_factory=lambda: Path(_env("PKCRM_INSTANCE_DIR") or PROJECT_ROOT / "instance")
    )
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL"))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL") or _env("REFLEX_REDIS_URL"))
    master_key: str = field(default_factory=lambda: _env("PKCRM_MASTER_KEY"))
    public_url: str = field(default_factory=lambda: _env("PKCRM_PUBLIC_URL", "http://localhost:3000").rstrip("/"))
    # The session cookie is Secure unless the app is served over plain http on this machine (the demo).
    cookie_secure: bool = field(
        default_factory=lambda: _flag("PKCRM_COOKIE_SECURE",
                                      not _is_local_http(_env("PKCRM_PUBLIC_URL", "http://localhost:3000"))))
    # Reverse proxies in front of the app that append X-Forwarded-For; 0 = the peer address is the client.
    trusted_proxy_count: int = field(default_factory=lambda: _number("PKCRM_TRUSTED_PROXIES", "0"))
    # Development only: single sign-on providers over plain http or on loopback/private addresses.
    sso_allow_insecure: bool = field(default_factory=lambda: _flag("PKCRM_SSO_ALLOW_INSECURE", False))
    session_hours: int = field(default_factory=lambda: _number("PKCRM_SESSION_HOURS", "12"))
    webhook_max_bytes: int = field(default_factory=lambda: _number("PKCRM_WEBHOOK_MAX_BYTES", str(1024 * 1024)))
    # Largest chat export (.txt or .zip) one upload may carry; streamed to disk, never held in memory.
    import_max_bytes: int = field(
        default_factory=lambda: _number("PKCRM_IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
    # Outgoing mail (invitations, sign-up confirmations, password resets); no host: .eml files in instance/outbox/.
    smtp_host: str = field(default_factory=lambda: _env("PKCRM_SMTP_HOST"))
    smtp_port: int = field(default_factory=lambda: _number("PKCRM_SMTP_PORT", "587"))
    smtp_user: str = field(default_factory=lambda: _env("PKCRM_SMTP_USER"))
    smtp_password: str = field(default_factory=lambda: _env("PKCRM_SMTP_PASSWORD"), repr=False)
    smtp_starttls: bool = field(default_factory=lambda: _flag("PKCRM_SMTP_STARTTLS", True))
    mail_from: str = field(default_factory=lambda: _env("PKCRM_MAIL_FROM", "PK WhatsApp CRM <no-reply@localhost>"))
    # WhatsApp Cloud API: production points at Meta; the demo and tests at the local simulator.
    whatsapp_api_base: str = field(
        default_factory=lambda: _env("PKCRM_WHATSAPP_API_BASE", "https://graph.facebook.com").rstrip("/"))
    whatsapp_api_version: str = field(default_factory=lambda: _env("PKCRM_WHATSAPP_API_VERSION", "v21.0"))
    # Outbox sender: sends per second per number (Meta's default), lease of one attempt, wait for a receipt.
    whatsapp_messages_per_second: float = field(
        default_factory=lambda: _number("PKCRM_WHATSAPP_MESSAGES_PER_SECOND", "80", float))
    outbox_lease_seconds: float = field(default_factory=lambda: _number("PKCRM_OUTBOX_LEASE_SECONDS", "60", float))
    outbox_reconcile_seconds: float = field(
        default_factory=lambda: _number("PKCRM_OUTBOX_RECONCILE_SECONDS", "600", float))
    outbox_in_app: bool = field(default_factory=lambda: _flag("PKCRM_OUTBOX_IN_APP", True))
    # The app's own log lines (sign-in failures, refused codes, cut-off tabs): DEBUG, INFO, WARNING or ERROR.
    log_level: str = field(default_factory=lambda: _choice("PKCRM_LOG_LEVEL", "INFO", LOG_LEVELS))

    def __post_init__(self) -> None:
        # A master key file is invented only for the embedded SQLite run: with a shared database every machine
        # must read the same key, and a second machine inventing its own would seal data no other one can read.
        if not self.master_key and not self.sqlalchemy_url.startswith("sqlite"):
            raise SettingsError("PKCRM_MASTER_KEY is not set, but DATABASE_URL names a shared database: set the "
                                "same PKCRM_MASTER_KEY on every machine (a key file is created only for SQLite)")

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL; the embedded default is a SQLite file under the instance folder."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            elif url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{self.instance_dir / 'pkcrm.db'}"

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """Origins the browser may call the app from: the public URL (both loopback spellings on this machine)."""
        parts = urlsplit(self.public_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.hostname in LOOPBACK_NAMES:
            port = f":{parts.port}" if parts.port else ""
            return tuple(f"{parts.scheme}://{name}{port}" for name in LOOPBACK_NAMES)
        return (origin,)

    @property
    def state_manager_mode(self) -> str:
        """Reflex's tab-state store: Redis across workers, else memory (never Reflex's default on-disk pickles)."""
        return "redis" if self.redis_url else "memory"

    @property
    def key_file(self) -> Path:
        return self.instance_dir / "master.key"

    @property
    def outbox_dir(self) -> Path:
        """Where mails are saved as .eml files when no SMTP host is set (the embedded demo)."""
        return self.instance_dir / "outbox"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests clear this cache after changing the environment)."""
    return Settings()
