"""Settings refuse what they do not understand: yes/no words, numbers, the Secure cookie default, and a shared
database without a master key (a second machine must never invent its own key)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request

from pkcrm_app.accounts.identity.service import OpenedSession
from pkcrm_app.core.crypto import EncryptionKeyError, load_master_keys
from pkcrm_app.core.db import Database
from pkcrm_app.http.auth import start_session
from pkcrm_app.settings import Settings, SettingsError, get_settings

PG_URL = "postgresql://crm:secret@db.internal:5432/crm"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("PKCRM_SMTP_STARTTLS", "PKCRM_COOKIE_SECURE", "PKCRM_PUBLIC_URL", "PKCRM_SESSION_HOURS",
                 "DATABASE_URL", "PKCRM_OUTBOX_IN_APP", "PKCRM_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PKCRM_INSTANCE_DIR", str(tmp_path / "instance"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("word", ["true", "TRUE", "yes", "on", "1"])
def test_starttls_stays_on_for_every_yes_word(monkeypatch: pytest.MonkeyPatch, word: str) -> None:
    monkeypatch.setenv("PKCRM_SMTP_STARTTLS", word)
    assert Settings().smtp_starttls is True


@pytest.mark.parametrize("word", ["false", "no", "off", "0"])
def test_starttls_goes_off_only_for_a_no_word(monkeypatch: pytest.MonkeyPatch, word: str) -> None:
    monkeypatch.setenv("PKCRM_SMTP_STARTTLS", word)
    assert Settings().smtp_starttls is False


def _session_cookie() -> str:
    request = Request({"type": "http", "method": "POST", "path": "/auth/login", "headers": [], "query_string": b""})
    response = start_session(request, OpenedSession(token="t" * 43, next_url="/board"))
    return next(value for key, value in response.raw_headers if key == b"set-cookie").decode()


def test_cookie_secure_true_sets_the_secure_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKCRM_PUBLIC_URL", "http://localhost:3000")
    monkeypatch.setenv("PKCRM_COOKIE_SECURE", "true")
    assert Settings().cookie_secure is True
    assert "secure" in _session_cookie().lower().split("; ")


def test_the_session_cookie_is_secure_by_default_off_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PKCRM_PUBLIC_URL", "https://crm.example.com")
    assert Settings().cookie_secure is True
    assert "secure" in _session_cookie().lower().split("; ")
    monkeypatch.setenv("PKCRM_PUBLIC_URL", "http://localhost:3000")  # the embedded demo over plain http
    get_settings.cache_clear()
    assert Settings().cookie_secure is False
    monkeypatch.setenv("PKCRM_COOKIE_SECURE", "off")
    monkeypatch.setenv("PKCRM_PUBLIC_URL", "https://crm.example.com")
    assert Settings().cookie_secure is False  # said explicitly, it is obeyed


@pytest.mark.parametrize(("name", "value"), [
    ("PKCRM_COOKIE_SECURE", "maybe"), ("PKCRM_SMTP_STARTTLS", "ture"), ("PKCRM_OUTBOX_IN_APP", "2"),
    ("PKCRM_SESSION_HOURS", "twelve"), ("PKCRM_SESSION_HOURS", "1.5"), ("PKCRM_LOG_LEVEL", "verbose"),
])
def test_junk_values_refuse_at_start_up_naming_the_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                                             value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        get_settings()


def test_a_shared_database_without_a_master_key_refuses_to_start(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.delenv("PKCRM_MASTER_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", PG_URL)
    with pytest.raises(SettingsError, match="PKCRM_MASTER_KEY") as refused:
        get_settings()
    assert "secret" not in str(refused.value)  # the database password is not repeated
    assert not (tmp_path / "instance" / "master.key").exists()


def test_opening_a_shared_database_never_invents_a_key_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PKCRM_MASTER_KEY", raising=False)
    with pytest.raises(EncryptionKeyError, match="PKCRM_MASTER_KEY"):
        load_master_keys("postgresql+psycopg://crm@127.0.0.1:5432/crm")
    with pytest.raises(EncryptionKeyError, match="PKCRM_MASTER_KEY"):
        Database("postgresql+psycopg://crm@127.0.0.1:5432/crm")
    assert not (tmp_path / "instance" / "master.key").exists()


def test_the_embedded_sqlite_default_still_creates_its_key_file(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.delenv("PKCRM_MASTER_KEY", raising=False)
    assert get_settings().sqlalchemy_url.startswith("sqlite")
    keys = load_master_keys()
    assert (tmp_path / "instance" / "master.key").exists()
    assert load_master_keys(get_settings().sqlalchemy_url) == keys


def test_a_shared_database_with_a_master_key_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", PG_URL)
    assert get_settings().sqlalchemy_url.startswith("postgresql+psycopg://")
