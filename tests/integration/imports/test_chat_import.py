"""Importing WhatsApp chat exports: contact, lead and conversation created or merged, idempotent re-imports,
corrupt files importing nothing, media stored encrypted, permissions, and the upload route."""

from __future__ import annotations

import shutil
import time
import zipfile
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pkcrm_app.accounts.identity.models import User
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound
from pkcrm_app.crm.models import Contact, Lead
from pkcrm_app.crm.service import open_leads_for_contacts
from pkcrm_app.imports.importer import (
    IMPORT_QUEUE,
    ChatImports,
    chat_import_kind,
    confirm_authors,
    proposed_members,
    recent_jobs,
    run_job,
    start_import,
)
from pkcrm_app.imports.models import ChatImportJob, ImportState
from pkcrm_app.imports.people import proposal_key
from pkcrm_app.imports.spool import IMPORT_SPOOLS, spool_upload
from pkcrm_app.inbox.media.access import open_media
from pkcrm_app.inbox.models import Conversation, Direction, Message, MessageMedia
from pkcrm_app.inbox.service import lead_thread
from pkcrm_app.jobs.runner import run_round
from pkcrm_app.settings import get_settings
from pkcrm_app.storage.store import blob_store
from tests.support.data import PASSWORD, SHARED_DATA, OrgFixture, make_org
from tests.support.jobs import running_jobs

OWN = Path(__file__).resolve().parents[2] / "fixtures" / "chat_exports"
PHONE = "+49 151 2345678"
WA_ID = "491512345678"


@pytest.fixture(autouse=True)
def instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("PKCRM_INSTANCE_DIR", str(tmp_path / "instance"))
    get_settings.cache_clear()
    yield tmp_path / "instance"
    get_settings.cache_clear()


@pytest.fixture
def acme(database: Database) -> OrgFixture:
    org = make_org(database, "acme", "5001", {"owner": Role.OWNER, "sam": Role.AGENT, "other": Role.AGENT})
    with database.session() as db:
        db.get_one(User, org.users["sam"][0]).name = "Sam  seller"  # matched whatever the case and spacing
    return org


def _confirm(database: Database, actor: Actor, job_id: int, accept: Collection[str] | None) -> None:
    """The importer's ticks on a job waiting in review (None: every proposal), then the job runs on."""
    with database.session() as db:
        job = db.get_one(ChatImportJob, job_id)
        if job.state != ImportState.REVIEW:
            return
        proposed = proposed_members(job.authors)
        ticked = proposed if accept is None else [a for a in proposed if a in accept]
        confirm_authors(db, actor, job_id, accepted_keys={proposal_key(a) for a in ticked})
    run_job(database, job_id)


def _spool(database: Database, org_id: int, data: bytes) -> str:
    """An upload in the organisation's import spool (as the route stores it); returns its key."""
    return spool_upload(database, org_id, [data[:1000], data[1000:]])[0]


def _spooled(database: Database, org_id: int, key: str) -> bool:
    return any(n.org_id == org_id and n.key == key for n in blob_store(database.keyring).names(IMPORT_SPOOLS))


def _spool_files() -> list[Path]:
    return [p for p in (get_settings().instance_dir / IMPORT_SPOOLS.name).rglob("*") if p.is_file()]


def _import(database: Database, actor: Actor, source: Path, *, name: str = "", phone: str = PHONE,
            my_name: str = "", accept: Collection[str] | None = None) -> ChatImportJob:
    """What the route and the page do, run in this thread: spool, queue, run, tick the proposed team members
    (`accept`; None: all of them), run on; returns the finished job."""
    spooled = _spool(database, actor.org_id, source.read_bytes())
    with database.session() as db:
        job_id = start_import(db, actor, spool_path=spooled, filename=name or source.name, size=source.stat().st_size,
                              contact_phone=phone, my_name=my_name).id
    run_job(database, job_id)
    _confirm(database, actor, job_id, accept)
    with database.session() as db:
        job = db.get_one(ChatImportJob, job_id)
        db.expunge(job)
    assert not _spooled(database, actor.org_id, spooled)  # the upload is removed once the job ended
    return job


def _count(database: Database, model: type, org_id: int) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model).where(model.org_id == org_id)) or 0


def test_import_creates_contact_lead_and_conversation_and_matches_team_members(database, acme) -> None:
    agent = acme.actor("sam")
    job = _import(database, agent, OWN / "android_24h_ddmmyy.txt")
    assert job.state == ImportState.DONE and job.error == ""
    assert (job.total, job.imported, job.duplicates) == (6, 6, 0)
    assert job.authors == {"Alice Martin": "contact", "Sam Seller": f"member:{acme.users['sam'][0]}"}
    with database.session() as db:
        contact = db.scalar(select(Contact).where(Contact.org_id == acme.org_id))
        assert (contact.wa_id, contact.phone_e164, contact.name) == (WA_ID, "+" + WA_ID, "Alice Martin")
        lead = db.scalar(select(Lead).where(Lead.contact_id == contact.id))
        assert lead.source == "chat import" and job.lead_id == lead.id
        messages = list(db.scalars(select(Message).order_by(Message.sent_at, Message.id)))
        assert [m.direction for m in messages].count(Direction.OUTBOUND) == 2
        assert {m.author_user_id for m in messages if m.direction == Direction.OUTBOUND} == {acme.users["sam"][0]}
        assert [m.type for m in messages][:2] == ["system", "text"]
        conversation = db.get_one(Conversation, messages[0].conversation_id)
        assert conversation.unread_count == 0 and conversation.last_inbound_at is None  # no 24-hour window opened
        assert conversation.last_message_preview == "Great, see you Friday"
        thread = lead_thread(db, agent, lead.id)
    assert thread.total_messages == 6
    assert "Delivery is free within 20 km." in thread.messages[2].text
    assert thread.messages[3].media_note == "No file came with this message"  # '<Media omitted>'


def test_reimporting_the_same_file_adds_nothing(database, acme) -> None:
    agent = acme.actor("sam")
    first = _import(database, agent, OWN / "ios_brackets_seconds.txt")
    again = _import(database, agent, OWN / "ios_brackets_seconds.txt", name="another name.txt")
    assert first.imported == 6 and (again.imported, again.duplicates) == (0, 6)
    assert _count(database, Message, acme.org_id) == 6
    assert _count(database, Lead, acme.org_id) == 1 and _count(database, Contact, acme.org_id) == 1


def test_import_merges_into_the_existing_contact_lead_and_conversation(database, acme) -> None:
    with database.session() as db:
        contact = Contact(org_id=acme.org_id, wa_id=WA_ID, phone_e164="+" + WA_ID, name="Alice M.", created_at=utcnow())
        db.add(contact)
        db.flush()
        lead = open_leads_for_contacts(db, org_id=acme.org_id, contact_ids=[contact.id])[0]
        conversation = Conversation(org_id=acme.org_id, contact_id=contact.id, unread_count=2, created_at=utcnow())
        db.add(conversation)
        db.flush()
        lead_id, conversation_id = lead.id, conversation.id
    job = _import(database, acme.actor("owner", Role.OWNER), OWN / "android_12h_mmddyy.txt", phone=PHONE)
    assert job.state == ImportState.DONE and job.imported == 5
    assert job.lead_id == lead_id
    assert _count(database, Contact, acme.org_id) == 1 and _count(database, Lead, acme.org_id) == 1
    with database.session() as db:
        assert set(db.scalars(select(Message.conversation_id))) == {conversation_id}
        assert db.get_one(Conversation, conversation_id).unread_count == 2
        assert db.get_one(Contact, job.contact_id).name == "Alice M."  # an existing name is kept


@pytest.fixture
def renamed_chat(tmp_path: Path) -> Path:
    """android_12h_mmddyy.txt under the name Android gives a chat with a saved number."""
    target = tmp_path / f"WhatsApp Chat with {PHONE}.txt"
    shutil.copyfile(OWN / "android_12h_mmddyy.txt", target)
    return target


def test_phone_number_in_the_file_name_finds_the_contact(database, acme, renamed_chat: Path) -> None:
    with database.session() as db:
        db.add(Contact(org_id=acme.org_id, wa_id=WA_ID, phone_e164="+" + WA_ID, name="", created_at=utcnow()))
    job = _import(database, acme.actor("owner", Role.OWNER), renamed_chat, phone="")
    with database.session() as db:
        contact = db.get_one(Contact, job.contact_id)
    assert contact.wa_id == WA_ID and contact.name == "Alice Martin" and _count(database, Contact, acme.org_id) == 1


@pytest.mark.parametrize("content", [b"just some notes\nnot a chat\n", b"PK\x03\x04 not really a zip", b""])
def test_an_unrecognised_file_imports_nothing(database, acme, tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "chat.txt"
    bad.write_bytes(content)
    job = _import(database, acme.actor("sam"), bad)
    assert job.state == ImportState.FAILED and job.error.startswith("Nothing was imported:")
    assert (_count(database, Message, acme.org_id), _count(database, Contact, acme.org_id),
            _count(database, Lead, acme.org_id)) == (0, 0, 0)


def test_a_zip_damaged_near_its_end_imports_nothing(database, acme, tmp_path: Path) -> None:
    archive = tmp_path / "chat.zip"
    lines = "".join(f"13/03/23, 09:{i % 60:02d} - Alice Martin: message number {i} {i * 7919}\n" for i in range(3000))
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_chat.txt", lines)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x55  # late in the compressed chat: the first messages read fine
    archive.write_bytes(bytes(data))
    job = _import(database, acme.actor("sam"), archive)
    assert job.state == ImportState.FAILED and "Nothing was imported" in job.error
    assert _count(database, Message, acme.org_id) == 0 and _count(database, Contact, acme.org_id) == 0


def test_a_zip_with_media_stores_the_files_encrypted(database, acme, tmp_path: Path, instance: Path) -> None:
    archive = tmp_path / "WhatsApp Chat with Alice Martin.zip"
    photo = b"\xff\xd8\xff\xe0" + b"the corner of the room " * 50
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(OWN / "android_attached_zip_chat.txt", "WhatsApp Chat with Alice Martin.txt")
        zf.writestr("IMG-20230313-WA0001.jpg", photo)
        zf.writestr("PTT-20230313-WA0002.opus", b"OggS voice note")
    agent = acme.actor("sam")
    job = _import(database, agent, archive, phone="")
    assert job.state == ImportState.DONE and (job.imported, job.media_stored) == (4, 2)
    with database.session() as db:
        image = db.scalar(select(Message).where(Message.type == "image"))
        assert image.content["caption"] == "the corner where it goes"
        file = open_media(db, agent, image.id)
        assert file.data == photo and file.mime_type == "image/jpeg"
        assert db.scalar(select(func.count()).select_from(MessageMedia)) == 2
        contact = db.get_one(Contact, job.contact_id)
    assert contact.name == "Alice Martin" and contact.phone_e164 is None  # matched by name: no number known
    stored = list((instance / "media").rglob("*.bin"))
    assert len(stored) == 2 and all(b"corner of the room" not in p.read_bytes() for p in stored)


def test_an_agent_cannot_import_into_a_colleagues_conversation(database, acme) -> None:
    with database.session() as db:
        contact = Contact(org_id=acme.org_id, wa_id=WA_ID, phone_e164="+" + WA_ID, name="Alice", created_at=utcnow())
        db.add(contact)
        db.flush()
        lead = open_leads_for_contacts(db, org_id=acme.org_id, contact_ids=[contact.id])[0]
        lead.owner_user_id = acme.users["other"][0]
    job = _import(database, acme.actor("sam"), OWN / "android_24h_ddmmyy.txt")
    assert job.state == ImportState.FAILED and "colleague" in job.error
    assert _count(database, Message, acme.org_id) == 0
    manager = _import(database, acme.actor("owner", Role.OWNER), OWN / "android_24h_ddmmyy.txt")
    assert manager.state == ImportState.DONE and manager.imported == 6
    with database.session() as db:
        assert [j.id for j in recent_jobs(db, acme.actor("sam"))] == [job.id]  # agents see their own jobs
        assert len(recent_jobs(db, acme.actor("owner", Role.OWNER))) == 2


needs_shared = pytest.mark.skipif(not (SHARED_DATA / "exports").is_dir(), reason="shared export fixtures absent")


@needs_shared
@pytest.mark.parametrize("name", ["whatsapp_chat.zip", "_chat_file4.txt", "_chat_file6.txt"])
def test_shared_datadonation_exports_import_their_ten_entries_once(database, acme, name: str) -> None:
    source = SHARED_DATA / "exports" / "port-whatsapp-datadonation" / name
    owner = acme.actor("owner", Role.OWNER)
    job = _import(database, owner, source, my_name="person2")
    assert job.state == ImportState.DONE and (job.total, job.imported) == (10, 10)
    assert job.authors["person2"] == f"member:{acme.users['owner'][0]}"
    with database.session() as db:
        outbound = db.scalar(select(func.count()).where(Message.direction == Direction.OUTBOUND))
    assert outbound == 3  # person2's three messages are the uploader's
    assert _import(database, owner, source, my_name="person2").duplicates == 10


def _login(api, email: str):  # type: ignore[no-untyped-def]
    response = api.post("/auth/login", data={"email": email, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303
    return response


def _wait_done(database: Database, job_id: int) -> ChatImportJob:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with database.session() as db:
            job = db.get_one(ChatImportJob, job_id)
            if job.state in (ImportState.DONE, ImportState.FAILED, ImportState.REVIEW):
                db.expunge(job)
                return job
        time.sleep(0.05)
    raise AssertionError("the import job did not finish")


def test_upload_route_checks_origin_session_and_size_then_runs_the_job(database, acme, api, monkeypatch) -> None:
    body = (OWN / "android_24h_ddmmyy.txt").read_bytes()
    files = {"file": ("WhatsApp Chat with Alice.txt", body, "text/plain")}
    assert api.post("/import/upload", files=files, data={"phone": PHONE}).status_code == 401
    _login(api, "sam@acme.test")
    cross = api.post("/import/upload", files=files, headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
    with running_jobs(database, [chat_import_kind()]):  # the app runs it as a lifespan task
        answer = api.post("/import/upload", files=files, data={"phone": PHONE},
                          headers={"accept": "application/json"})
        assert answer.status_code == 200 and answer.json()["next"].startswith("/import?job=")
        job = _wait_done(database, int(answer.json()["next"].split("=")[1]))
        assert job.state == ImportState.REVIEW and job.imported == 0  # "Sam Seller" waits for sam's tick
        [waiting] = _spool_files()  # the upload waits sealed with the organisation's key
        assert waiting.stat().st_mode & 0o077 == 0 and b"Alice" not in waiting.read_bytes()
        _confirm(database, acme.actor("sam"), job.id, ["Sam Seller"])
        job = _wait_done(database, job.id)
        assert job.state == ImportState.DONE and job.imported == 6
        bad_phone = api.post("/import/upload", files=files, data={"phone": "12"},
                             headers={"accept": "application/json"})
        assert bad_phone.status_code == 400 and "phone" in bad_phone.json()["error"]
        monkeypatch.setenv("PKCRM_IMPORT_MAX_BYTES", "100")
        get_settings.cache_clear()
        too_big = api.post("/import/upload", files=files, headers={"accept": "application/json"})
        assert too_big.status_code == 413
        with database.session() as db:
            assert db.scalar(select(func.count()).select_from(ChatImportJob)) == 1
        assert _spool_files() == []  # refused uploads leave nothing on disk


def test_an_interrupted_import_is_completed_by_importing_again_without_duplicates(database, acme, monkeypatch) -> None:
    from pkcrm_app.imports import importer as chat_import

    monkeypatch.setattr(chat_import, "BATCH", 2)
    real, calls = chat_import._store_batch, []

    def failing_second_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(chat_import, "_store_batch", failing_second_batch)
    owner = acme.actor("owner", Role.OWNER)
    broken = _import(database, owner, OWN / "android_24h_ddmmyy.txt")
    assert broken.state == ImportState.FAILED and "2 messages were stored" in broken.error
    monkeypatch.setattr(chat_import, "_store_batch", real)
    again = _import(database, owner, OWN / "android_24h_ddmmyy.txt")
    assert (again.imported, again.duplicates) == (4, 2) and _count(database, Message, acme.org_id) == 6


def test_a_job_whose_worker_died_is_resumed_at_start_up(database, acme) -> None:
    from datetime import timedelta

    spooled = _spool(database, acme.org_id, (OWN / "german_dotted.txt").read_bytes())
    with database.session() as db:
        job = start_import(db, acme.actor("owner", Role.OWNER), spool_path=spooled, filename="chat.txt", size=1,
                           contact_phone=PHONE)
        job.state, job.lease_owner = ImportState.RUNNING, "a worker that died"
        job.lease_until = utcnow() - timedelta(seconds=5)  # its heartbeat stopped: the lease ran out
        job_id = job.id
    with database.session() as db:  # what the interrupted run had stored: its first three messages
        actor = acme.actor("owner", Role.OWNER)
        spare = _spool(database, acme.org_id, "".join(
            (OWN / "german_dotted.txt").read_text("utf-8").splitlines(keepends=True)[:3]).encode())
        first_id = start_import(db, actor, spool_path=spare, filename="c.txt", size=1, contact_phone=PHONE).id
    run_job(database, first_id)
    _confirm(database, actor, first_id, None)
    with database.session() as db:  # the interrupted run had got past the importer's choices
        interrupted = db.get_one(ChatImportJob, job_id)
        interrupted.imported, interrupted.authors = 3, db.get_one(ChatImportJob, first_id).authors
    worker = ChatImports(database)
    assert run_round(database, IMPORT_QUEUE, worker, batch=5) == 1  # the runner claims it again
    finished = _wait_done(database, job_id)
    assert finished.state == ImportState.DONE and (finished.imported, finished.duplicates) == (5, 0)
    assert _count(database, Message, acme.org_id) == 5


def test_progress_is_pushed_on_the_imports_topic(database, acme) -> None:
    from pkcrm_app.core import events

    seen: list[events.Topic] = []

    def collect(batch: list[events.DomainEvent]) -> None:
        seen.extend(e.topic for e in batch if e.org_id == acme.org_id)

    events.subscribe(collect)
    try:
        _import(database, acme.actor("owner", Role.OWNER), OWN / "android_24h_ddmmyy.txt")
    finally:
        events.unsubscribe(collect)
    assert seen.count(events.Topic.IMPORTS) >= 4  # queued, checked, each batch, finished
    assert events.Topic.MESSAGES in seen and events.Topic.LEADS in seen


def test_the_import_page_lines_show_progress_result_and_matches(database, acme) -> None:
    from pkcrm_app.ui.pages.chat_import.state import _jobs

    owner = acme.actor("owner", Role.OWNER)
    _import(database, owner, OWN / "android_24h_ddmmyy.txt")
    bad = OWN / "missing.txt"
    with database.session() as db:
        failed_id = start_import(db, owner, spool_path=bad, filename="notes.txt", size=3).id
    run_job(database, failed_id)
    failed, done = _jobs(owner, "UTC")
    assert (done.words, done.percent, done.result) == ("Done", 100, "6 messages imported, 0 already there")
    assert done.authors == "team: Sam Seller · customer: Alice Martin"  # as the chat writes them
    assert failed.words == "Failed" and failed.error.startswith("Nothing was imported: the file could not be read")


def test_a_name_match_is_only_proposed_until_the_importer_ticks_it(database, acme) -> None:
    from pkcrm_app.ui.pages.chat_import.state import _jobs

    owner = acme.actor("owner", Role.OWNER)
    spooled = _spool(database, acme.org_id, (OWN / "android_24h_ddmmyy.txt").read_bytes())
    with database.session() as db:
        job_id = start_import(db, owner, spool_path=spooled, filename="chat.txt", size=1, contact_phone=PHONE).id
    run_job(database, job_id)
    with database.session() as db:
        waiting = db.get_one(ChatImportJob, job_id)
        assert waiting.state == ImportState.REVIEW and waiting.imported == 0
        assert proposed_members(waiting.authors) == {"Sam Seller": acme.users["sam"][0]}
    assert _count(database, Message, acme.org_id) == 0  # nothing is attributed (or stored) before the tick
    [line] = _jobs(owner, "UTC")
    assert line.mine and [(p.author, p.member) for p in line.proposals] == [("Sam Seller", "Sam  seller")]
    assert line.authors == ""
    with database.session() as db, pytest.raises(NotFound):  # only the importer decides
        confirm_authors(db, acme.actor("sam"), job_id, accepted_keys={proposal_key("Sam Seller")})
    with database.session() as db:  # unticked: the default is unmatched
        confirm_authors(db, owner, job_id, accepted_keys={proposal_key("Alice Martin")})
    run_job(database, job_id)
    with database.session() as db:
        done = db.get_one(ChatImportJob, job_id)
        assert done.state == ImportState.DONE and done.imported == 6
        assert done.authors == {"Alice Martin": "contact", "Sam Seller": "contact"}
        messages = list(db.scalars(select(Message).where(Message.org_id == acme.org_id)))
    assert {m.author_user_id for m in messages} == {None}
    assert {m.direction for m in messages} == {Direction.INBOUND}


def test_a_ticked_proposal_names_its_member_and_nothing_else_can_be_ticked(database, acme) -> None:
    sam = acme.actor("sam")
    job = _import(database, sam, OWN / "android_24h_ddmmyy.txt", accept=["Sam Seller", "Alice Martin"])
    assert job.authors == {"Alice Martin": "contact", "Sam Seller": f"member:{acme.users['sam'][0]}"}
    with database.session() as db, pytest.raises(InvalidInput):  # decided once
        confirm_authors(db, sam, job.id, accepted_keys=set())
