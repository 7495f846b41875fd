"""Typed settings read from the environment, with safe defaults for the embedded run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment (12-factor)."""

    instance_dir: Path = field(
        default_factory=lambda: Path(_env("PKCRM_INSTANCE_DIR") or PROJECT_ROOT / "instance")
    )
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL"))
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL") or _env("REFLEX_REDIS_URL"))
    master_key: str = field(default_factory=lambda: _env("PKCRM_MASTER_KEY"))
    cookie_secure: bool = field(default_factory=lambda: _env("PKCRM_COOKIE_SECURE") == "1")
    session_hours: int = field(default_factory=lambda: int(_env("PKCRM_SESSION_HOURS", "12")))
    webhook_max_bytes: int = field(
        default_factory=lambda: int(_env("PKCRM_WEBHOOK_MAX_BYTES", str(1024 * 1024)))
    )
    # Largest chat export (.txt or .zip) one upload may carry; streamed to disk, never held in memory.
    import_max_bytes: int = field(
        default_factory=lambda: int(_env("PKCRM_IMPORT_MAX_BYTES", str(200 * 1024 * 1024))))
    # Outgoing mail (invitations, sign-up confirmations, password resets); no host: .eml files in instance/outbox/.
    smtp_host: str = field(default_factory=lambda: _env("PKCRM_SMTP_HOST"))
    smtp_port: int = field(default_factory=lambda: int(_env("PKCRM_SMTP_PORT", "587")))
    smtp_user: str = field(default_factory=lambda: _env("PKCRM_SMTP_USER"))
    smtp_password: str = field(default_factory=lambda: _env("PKCRM_SMTP_PASSWORD"), repr=False)
    smtp_starttls: bool = field(default_factory=lambda: _env("PKCRM_SMTP_STARTTLS", "1") == "1")
    mail_from: str = field(default_factory=lambda: _env("PKCRM_MAIL_FROM", "PK WhatsApp CRM <no-reply@localhost>"))
    public_url: str = field(default_factory=lambda: _env("PKCRM_PUBLIC_URL", "http://localhost:3000").rstrip("/"))
    # WhatsApp Cloud API: production points at Meta; the demo and tests at the local simulator.
    whatsapp_api_base: str = field(
        default_factory=lambda: _env("PKCRM_WHATSAPP_API_BASE", "https://graph.facebook.com").rstrip("/"))
    whatsapp_api_version: str = field(default_factory=lambda: _env("PKCRM_WHATSAPP_API_VERSION", "v21.0"))
    # Outbox sender: sends per second per number (Meta's default), lease of one attempt, wait for a receipt.
    whatsapp_messages_per_second: float = field(
        default_factory=lambda: float(_env("PKCRM_WHATSAPP_MESSAGES_PER_SECOND", "80")))
    outbox_lease_seconds: float = field(default_factory=lambda: float(_env("PKCRM_OUTBOX_LEASE_SECONDS", "60")))
    outbox_reconcile_seconds: float = field(
        default_factory=lambda: float(_env("PKCRM_OUTBOX_RECONCILE_SECONDS", "600")))
    outbox_in_app: bool = field(default_factory=lambda: _env("PKCRM_OUTBOX_IN_APP", "1") == "1")

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
