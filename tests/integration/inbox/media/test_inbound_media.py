"""Inbound media: fetched through the Cloud API media flow after the webhook answered (a fake Cloud API on a
local port), checked against the size/type limits and sha256, stored encrypted under the instance folder, and
served by GET /media/{id} only to members who may see the conversation."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select, update

from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.accounts.identity.second_factor import MfaState
from pkcrm_app.accounts.identity.service import new_session_row
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.channels.whatsapp.webhook import parse_envelope, sign
from pkcrm_app.core.authz import Role
from pkcrm_app.crm.models import Lead
from pkcrm_app.flows.webhook_delivery import ingest
from pkcrm_app.http import build_api
from pkcrm_app.http.webhook import number_directory
from pkcrm_app.inbox.media.downloads import MEDIA, download_now, media_key
from pkcrm_app.inbox.models import MediaState, Message, MessageMedia
from pkcrm_app.inbox.service import lead_thread
from pkcrm_app.settings import get_settings
from pkcrm_app.storage.backend import FileSystemBackend
from tests.support.data import OrgFixture, make_org
from tests.support.fake_media_api import TOKEN, FakeFile, FakeMediaApi, free_port, running_media_api
from tests.support.webhooks import change, envelope, post_signed

CUSTOMER = "923001112222"
JPEG = b"\xff\xd8\xff\xe0" + b"holiday photo " * 200
PDF = b"%PDF-1.4 price list " * 100


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeMediaApi]:
    with running_media_api() as fake:
        monkeypatch.setenv("PKCRM_WHATSAPP_API_BASE", fake.url)
        monkeypatch.setenv("PKCRM_WHATSAPP_API_VERSION", "v21.0")
        monkeypatch.setenv("PKCRM_INSTANCE_DIR", str(tmp_path / "instance"))
        get_settings.cache_clear()
        yield fake
    get_settings.cache_clear()


@pytest.fixture
def acme(database) -> OrgFixture:  # type: ignore[no-untyped-def]
    org = make_org(database, "acme", "4001", {"owner": Role.OWNER, "agent": Role.AGENT, "other": Role.AGENT})
    with database.session() as db:
        db.execute(update(WhatsAppNumber).where(WhatsAppNumber.org_id == org.org_id).values(access_token=TOKEN))
    return org


def media_message(wamid: str, kind: str, media_id: str, **extra: Any) -> dict[str, Any]:
    return {"from": CUSTOMER, "id": wamid, "timestamp": "1700000000", "type": kind,
            kind: {"id": media_id, "mime_type": extra.pop("mime_type", "image/jpeg"), "sha256": "", **extra}}


def deliver(api, org: OrgFixture, *messages: dict[str, Any]) -> Any:  # type: ignore[no-untyped-def]
    contacts = [{"profile": {"name": "Sana"}, "wa_id": CUSTOMER}]
    return post_signed(api, envelope(change(org.phone_number_id, contacts=contacts, messages=list(messages))),
                       org.app_secret)


def media_row(database, wamid: str) -> tuple[Message, MessageMedia]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        message = db.scalars(select(Message).where(Message.wa_message_id == wamid)).one()
        media = db.get_one(MessageMedia, message.id)
        db.expunge_all()
        return message, media


def media_file(org_id: int, message_id: int) -> Path:
    """Where the filesystem blob store keeps a message's file: the organisation's `media` scope."""
    return FileSystemBackend(get_settings().instance_dir).folder(MEDIA.name, org_id) / media_key(message_id)


def signed_in(api, database, org: OrgFixture, who: str) -> None:  # type: ignore[no-untyped-def]
    with database.session() as db:
        token, session = new_session_row(user_id=org.users[who][0], org_id=org.org_id, hours=12, ip="127.0.0.1",
                                         user_agent="pytest", screen="1x1", language="en", mfa_state=MfaState.DONE)
        db.add(session)
    api.cookies.set(SESSION_COOKIE, token)


def test_image_is_stored_encrypted_and_shown_to_members(api, database, cloud: FakeMediaApi, acme) -> None:
    cloud.files["IMG1"] = FakeFile(JPEG, "image/jpeg")
    image = media_message("wamid.img", "image", "IMG1", caption="Is this in stock?")
    assert deliver(api, acme, image).status_code == 200
    message, media = media_row(database, "wamid.img")
    assert (media.state, media.size, media.mime_type, media.reason) == (MediaState.STORED, len(JPEG), "image/jpeg", "")
    on_disk = media_file(acme.org_id, message.id)
    assert on_disk.is_relative_to(get_settings().instance_dir) and on_disk.stat().st_mode & 0o077 == 0
    assert JPEG[:40] not in on_disk.read_bytes() and b"holiday" not in on_disk.read_bytes()
    assert cloud.calls == ["lookup IMG1", "download IMG1"]

    signed_in(api, database, acme, "agent")
    served = api.get(f"/media/{message.id}")
    assert served.status_code == 200 and served.content == JPEG
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["content-disposition"].startswith("inline")
    with database.session() as db:
        lead_id = db.scalars(select(Lead.id).where(Lead.org_id == acme.org_id)).one()
        [bubble] = lead_thread(db, acme.actor("agent"), lead_id).messages
    assert (bubble.kind, bubble.text, bubble.media_url, bubble.media_note) == (
        "image", "📷 Photo\nIs this in stock?", f"/media/{message.id}", "")


def test_document_downloads_under_its_file_name(api, database, cloud: FakeMediaApi, acme) -> None:
    cloud.files["DOC1"] = FakeFile(PDF, "application/pdf")
    deliver(api, acme, media_message("wamid.doc", "document", "DOC1", mime_type="application/pdf",
                                     filename="Price list ü.pdf"))
    message, _ = media_row(database, "wamid.doc")
    signed_in(api, database, acme, "owner")
    served = api.get(f"/media/{message.id}")
    assert served.content == PDF and served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == (
        "attachment; filename=\"Price list _.pdf\"; filename*=UTF-8''Price%20list%20%C3%BC.pdf")
    with database.session() as db:
        lead_id = db.scalars(select(Lead.id).where(Lead.org_id == acme.org_id)).one()
        [bubble] = lead_thread(db, acme.actor("owner", Role.OWNER), lead_id).messages
    assert bubble.file_label == "Price list ü.pdf · 2 KB"


def test_media_is_only_served_to_members_who_see_the_conversation(api, database, cloud: FakeMediaApi, acme) -> None:
    cloud.files["IMG2"] = FakeFile(JPEG, "image/jpeg")
    deliver(api, acme, media_message("wamid.img2", "image", "IMG2"))
    message, _ = media_row(database, "wamid.img2")
    assert api.get(f"/media/{message.id}").status_code == 401  # no session
    with database.session() as db:  # the lead now belongs to agent "agent": agent "other" may not see it
        db.execute(update(Lead).where(Lead.org_id == acme.org_id).values(owner_user_id=acme.users["agent"][0]))
    signed_in(api, database, acme, "other")
    assert api.get(f"/media/{message.id}").status_code == 404
    signed_in(api, database, acme, "agent")
    assert api.get(f"/media/{message.id}").status_code == 200
    assert api.get(f"/media/{message.id + 1000}").status_code == 404
    assert api.get("/media/not-a-number").status_code == 404
    assert api.get("/media/99999999999999999999").status_code == 404
    foreign = make_org(database, "globex", "4002", {"boss": Role.OWNER})
    signed_in(api, database, foreign, "boss")
    assert api.get(f"/media/{message.id}").status_code == 404


@pytest.mark.parametrize(("file", "kind", "reason"), [
    (FakeFile(b"x" * 100, "image/jpeg", declared_size=6 * 1024 * 1024), "image",
     "the file is 6.0 MB, over the 5.0 MB limit for a image"),
    (FakeFile(b"GIF89a", "image/gif"), "image", "a image of type image/gif is not accepted"),
    (FakeFile(b"RIFF" + b"w" * 200 * 1024, "image/webp"), "sticker", "over the 0.1 MB limit for a sticker"),
    (FakeFile(b"x", "video/x-msvideo"), "video", "a video of type video/x-msvideo is not accepted"),
])
def test_files_over_the_cloud_api_limits_are_refused(api, database, cloud: FakeMediaApi, acme, file: FakeFile,
                                                     kind: str, reason: str) -> None:
    cloud.files["BIG"] = file
    deliver(api, acme, media_message("wamid.big", kind, "BIG", mime_type=file.mime_type))
    message, media = media_row(database, "wamid.big")
    assert media.state == MediaState.FAILED and reason in media.reason
    assert not media_file(acme.org_id, message.id).exists()
    with database.session() as db:
        lead_id = db.scalars(select(Lead.id).where(Lead.org_id == acme.org_id)).one()
        [bubble] = lead_thread(db, acme.actor("agent"), lead_id).messages
    assert bubble.media_url == "" and bubble.media_note.startswith("The file could not be fetched: ")


def _ingest_only(database, org: OrgFixture, *messages: dict[str, Any]) -> list[int]:  # type: ignore[no-untyped-def]
    """Store a delivery without the route (so no background download runs) and return the pending media."""
    delivery = parse_envelope(envelope(change(org.phone_number_id, messages=list(messages))))
    return ingest(database, org.org_id, delivery).media_pending


def test_transient_failures_are_retried_with_back_off(database, cloud: FakeMediaApi, acme) -> None:
    cloud.files["FLAKY"] = FakeFile(JPEG, "image/jpeg", fail_lookups=[503, 500])
    pending = _ingest_only(database, acme, media_message("wamid.flaky", "image", "FLAKY"))
    waits: list[float] = []
    assert download_now(database, pending, sleep=waits.append) == {pending[0]: MediaState.STORED}
    _, media = media_row(database, "wamid.flaky")
    assert media.attempts == 3 and media.reason == ""
    assert len(waits) == 2 and 0 < waits[0] < waits[1] <= 1.0  # 0.5 s, then 1 s


def test_a_file_that_never_matches_its_checksum_fails_after_the_last_attempt(database, cloud: FakeMediaApi,
                                                                               acme) -> None:
    cloud.files["BAD"] = FakeFile(JPEG, "image/jpeg", sha256=hashlib.sha256(b"other").hexdigest())
    pending = _ingest_only(database, acme, media_message("wamid.bad", "image", "BAD"))
    assert download_now(database, pending, sleep=lambda _s: None) == {pending[0]: MediaState.FAILED}
    _, media = media_row(database, "wamid.bad")
    assert media.reason == "the file does not match its sha256 checksum (gave up after 5 attempts)"


def test_a_revoked_token_fails_at_once_in_plain_words(database, cloud: FakeMediaApi, acme) -> None:
    cloud.files["IMG3"] = FakeFile(JPEG, "image/jpeg")
    with database.session() as db:
        db.execute(update(WhatsAppNumber).where(WhatsAppNumber.org_id == acme.org_id).values(access_token="old"))
    pending = _ingest_only(database, acme, media_message("wamid.tok", "image", "IMG3"))
    assert download_now(database, pending, sleep=lambda _s: None) == {pending[0]: MediaState.FAILED}
    _, media = media_row(database, "wamid.tok")
    assert media.attempts == 1
    assert media.reason == "WhatsApp refused looking the media up (HTTP 401: the access token was refused)"


def test_the_webhook_answers_before_the_file_is_fetched(database, cloud: FakeMediaApi, acme) -> None:
    """A real server: the download is held back by the fake Cloud API, yet the webhook has already answered."""
    cloud.files["SLOW"] = FakeFile(JPEG, "image/jpeg")
    cloud.hold.clear()
    number_directory.cache_clear()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_api(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        body = envelope(change(acme.phone_number_id, messages=[media_message("wamid.slow", "image", "SLOW")]))
        raw = httpx.Request("POST", "/", json=body).content
        response = httpx.post(f"http://127.0.0.1:{port}/webhooks/whatsapp", content=raw, timeout=5,
                              headers={"content-type": "application/json",
                                       "x-hub-signature-256": sign(raw, acme.app_secret)})
        assert response.status_code == 200 and response.json()["stored"] == 1
        _, media = media_row(database, "wamid.slow")
        assert media.state == MediaState.PENDING  # answered while the file transfer is still held
        cloud.hold.set()
        deadline = time.monotonic() + 10
        while media.state == MediaState.PENDING and time.monotonic() < deadline:
            time.sleep(0.05)
            _, media = media_row(database, "wamid.slow")
        assert media.state == MediaState.STORED
    finally:
        cloud.hold.set()
        server.should_exit = True
        thread.join(5)
        number_directory.cache_clear()
