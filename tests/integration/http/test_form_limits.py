"""Every form a route reads is bounded while it streams: a huge sign-in body, a chunked body without a length,
and uploads past their limit are refused with 413 and a plain sentence, before they cost memory or disk."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pkcrm_app.core.authz import Role
from pkcrm_app.http.forms import FORM_MAX_BYTES
from pkcrm_app.imports.importer import chat_import_kind
from pkcrm_app.imports.models import ChatImportJob, ImportState
from pkcrm_app.imports.spool import IMPORT_SPOOLS
from pkcrm_app.inbox.outbox import files as outbound_media
from pkcrm_app.settings import get_settings
from tests.support.data import PASSWORD, make_org
from tests.support.jobs import running_jobs

ROUTES = Path(__file__).resolve().parents[3] / "pkcrm_app" / "http"
FORM_ROUTES = ["/auth/login", "/auth/mfa/verify", "/auth/mfa/enrol", "/auth/step-up", "/settings/sso/save",
               "/auth/signup", "/auth/signup/confirm", "/auth/invite/accept", "/auth/forgot", "/auth/reset",
               "/auth/password", "/settings/whatsapp/save"]
CHAT = b"16/03/2022, 15:10 - Alice: Hello\n16/03/2022, 15:11 - Sam: Hi Alice\n"


@pytest.fixture(autouse=True)
def instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("PKCRM_INSTANCE_DIR", str(tmp_path / "instance"))
    get_settings.cache_clear()
    yield tmp_path / "instance"
    get_settings.cache_clear()


def test_no_route_reads_a_form_but_through_the_bounded_reader() -> None:
    readers = {path.name for path in ROUTES.glob("*.py") if re.search(r"\.form\(", path.read_text("utf-8"))}
    assert readers == {"forms.py"}


def _chunks(size: int, piece: int = 16 * 1024) -> Iterator[bytes]:
    yield b"email=a%40b.test&password="
    for _ in range(size // piece):
        yield b"x" * piece


def test_a_huge_sign_in_body_is_refused_unread(api) -> None:  # type: ignore[no-untyped-def]
    body = b"email=a%40b.test&password=" + b"x" * (2 * 1024 * 1024)
    declared = api.post("/auth/login", content=body,
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert declared.status_code == 413 and "at most 64 KB" in declared.text
    chunked = api.post("/auth/login", content=_chunks(2 * 1024 * 1024),
                       headers={"content-type": "application/x-www-form-urlencoded", "accept": "application/json"})
    assert chunked.status_code == 413 and "too large" in chunked.json()["error"]


@pytest.mark.parametrize("url", FORM_ROUTES)
def test_every_form_route_has_a_body_limit(api, url: str) -> None:  # type: ignore[no-untyped-def]
    response = api.post(url, content=_chunks(4 * FORM_MAX_BYTES),
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def _multipart(fields: dict[str, str], filename: str, data: Iterator[bytes]) -> tuple[Iterator[bytes], str]:
    boundary = "pkcrm-test-boundary"

    def body() -> Iterator[bytes]:
        for name, value in fields.items():
            yield f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
               "Content-Type: application/octet-stream\r\n\r\n").encode()
        yield from data
        yield f"\r\n--{boundary}--\r\n".encode()

    return body(), f"multipart/form-data; boundary={boundary}"


def _sign_in(api, database, role: Role = Role.AGENT) -> None:  # type: ignore[no-untyped-def]
    make_org(database, "acme", "5001", {"sam": role})
    signed = api.post("/auth/login", data={"email": "sam@acme.test", "password": PASSWORD}, follow_redirects=False)
    assert signed.status_code == 303


def _settled(database, job_id: int) -> None:  # type: ignore[no-untyped-def]
    """Wait for the background job the upload started (it must not outlive the test's database)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with database.session() as db:
            if db.get_one(ChatImportJob, job_id).state not in (ImportState.QUEUED, ImportState.RUNNING):
                return
        time.sleep(0.05)
    raise AssertionError("the import job did not settle")


def test_a_chunked_chat_import_is_counted_while_it_streams(api, database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _sign_in(api, database)
    monkeypatch.setenv("PKCRM_IMPORT_MAX_BYTES", str(100 * 1024))
    get_settings.cache_clear()
    body, kind = _multipart({"phone": "+49 151 2345678"}, "chat.txt", iter([CHAT]))
    with running_jobs(database, [chat_import_kind()]):  # the app's lifespan task runs the queued import
        fits = api.post("/import/upload", content=body, headers={"content-type": kind, "accept": "application/json"})
        assert fits.status_code == 200 and fits.json()["next"].startswith("/import?job=")  # no length needed
        _settled(database, int(fits.json()["next"].split("=")[1]))
    endless = (CHAT * 1024 for _ in range(10_000))  # about 700 MB if it were all read
    body, kind = _multipart({"phone": "+49 151 2345678"}, "big.txt", endless)
    refused = api.post("/import/upload", content=body, headers={"content-type": kind, "accept": "application/json"})
    assert refused.status_code == 413 and "limit" in refused.json()["error"]
    spooled = get_settings().instance_dir / IMPORT_SPOOLS.name
    assert [p for p in spooled.rglob("*") if p.is_file() and p.stat().st_size > 100 * 1024] == []


def test_a_chunked_media_upload_is_counted_while_it_streams(api, database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(outbound_media, "MAX_BYTES", 100 * 1024)
    body, kind = _multipart({"lead_id": "1"}, "photo.jpg", iter([b"\xff" * 1024]))
    assert api.post("/messages/media", content=body, headers={"content-type": kind}).status_code == 401
    _sign_in(api, database)
    endless = (b"\xff" * 64 * 1024 for _ in range(10_000))  # 640 MB if it were all read
    body, kind = _multipart({"lead_id": "1"}, "photo.jpg", endless)
    refused = api.post("/messages/media", content=body, headers={"content-type": kind, "accept": "application/json"})
    assert refused.status_code == 413 and "100 MB" in refused.json()["error"]
