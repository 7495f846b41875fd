"""TOTP second factor and recovery codes, on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from pkcrm_app.accounts.identity import mfa
from pkcrm_app.accounts.identity.models import MfaFactor
from pkcrm_app.accounts.identity.service import add_member, create_user
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.audit.service import verify_chain
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import Database
from pkcrm_app.core.errors import InvalidInput
from tests.support.data import PASSWORD, make_org

T0 = 59_000_000 * mfa.TIME_STEP + 7  # seven seconds into a time step
STEP = mfa.TIME_STEP


def enrolled(database: Database) -> tuple[int, int, str, list[str]]:
    """A member with a confirmed factor (confirmed at T0): org id, user id, secret, recovery codes."""
    org = make_org(database, "acme", "1001", {"amina": Role.AGENT})
    user_id = org.users["amina"][0]
    with database.session() as db:
        enrolment = mfa.begin_enrolment(db, user_id)
    with database.session() as db:
        codes = mfa.confirm_enrolment(db, user_id, mfa.code_at(enrolment.secret, T0), now=T0)
    return org.org_id, user_id, enrolment.secret, codes


def verify(database: Database, user_id: int, code: str, now: float | datetime) -> bool:
    with database.session() as db:
        return mfa.verify_code(db, user_id, code, now=now)


def other_code(secret: str, now: int) -> str:
    """A six-digit code no step of the window around `now` produces."""
    window = {mfa.code_at(secret, now + k * STEP) for k in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in window)


def test_enrolment_gives_a_secret_uri_and_qr_code_then_confirms_with_a_code(database) -> None:
    org = make_org(database, "acme", "1001", {"amina": Role.AGENT})
    user_id, email = org.users["amina"]
    with database.session() as db:
        enrolment = mfa.begin_enrolment(db, user_id)
        assert not mfa.has_confirmed_factor(db, user_id)
    assert re.fullmatch(r"[A-Z2-7]{32}", enrolment.secret)  # 20 random bytes
    assert enrolment.provisioning_uri.startswith("otpauth://totp/PK%20WhatsApp%20CRM:" + email.replace("@", "%40"))
    assert f"secret={enrolment.secret}" in enrolment.provisioning_uri
    assert "issuer=PK+WhatsApp+CRM" in enrolment.provisioning_uri
    assert enrolment.qr_svg.startswith("<svg") and enrolment.qr_svg.rstrip().endswith("</svg>")
    assert enrolment.qr_svg_data_uri.startswith("data:image/svg+xml")
    assert enrolment.secret not in repr(enrolment)

    with database.session() as db, pytest.raises(InvalidInput):
        mfa.confirm_enrolment(db, user_id, other_code(enrolment.secret, T0), now=T0)
    with database.session() as db:
        assert not mfa.has_confirmed_factor(db, user_id)
        codes = mfa.confirm_enrolment(db, user_id, mfa.code_at(enrolment.secret, T0), now=T0)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", code) for code in codes)
    with database.session() as db:
        assert mfa.has_confirmed_factor(db, user_id)
        assert mfa.recovery_codes_left(db, user_id) == 10
        with pytest.raises(InvalidInput):  # already confirmed
            mfa.confirm_enrolment(db, user_id, mfa.code_at(enrolment.secret, T0), now=T0)
    # The code that confirmed the enrolment cannot also pass a login.
    assert not verify(database, user_id, mfa.code_at(enrolment.secret, T0), T0)


def test_re_enrolment_replaces_an_unconfirmed_factor_but_not_a_confirmed_one(database) -> None:
    org = make_org(database, "acme", "1001", {"amina": Role.AGENT})
    user_id = org.users["amina"][0]
    with database.session() as db:
        first = mfa.begin_enrolment(db, user_id)
    with database.session() as db:
        second = mfa.begin_enrolment(db, user_id, issuer="Acme", account="amina")
        assert db.scalar(select(MfaFactor.secret).where(MfaFactor.user_id == user_id)) == second.secret
        assert len(db.scalars(select(MfaFactor)).all()) == 1
    assert first.secret != second.secret
    assert second.provisioning_uri.startswith("otpauth://totp/Acme:amina?")
    with database.session() as db, pytest.raises(InvalidInput):  # the abandoned secret is dead
        mfa.confirm_enrolment(db, user_id, mfa.code_at(first.secret, T0), now=T0)
    with database.session() as db:
        mfa.confirm_enrolment(db, user_id, mfa.code_at(second.secret, T0), now=T0)
    with database.session() as db:
        with pytest.raises(InvalidInput):
            mfa.begin_enrolment(db, user_id)
        assert db.scalar(select(MfaFactor.secret)) == second.secret


def test_totp_codes_are_accepted_once_within_the_window(database) -> None:
    _, user_id, secret, _ = enrolled(database)
    t = T0 + 10 * STEP

    assert not verify(database, user_id, other_code(secret, t), t)  # wrong code
    assert not verify(database, user_id, "12345", t)  # not even six digits

    assert verify(database, user_id, mfa.code_at(secret, t), t)
    assert not verify(database, user_id, mfa.code_at(secret, t), t)  # same code twice
    assert not verify(database, user_id, mfa.code_at(secret, t), t + 20)  # still its window, still refused

    # A code from the previous step (slow typing, slow clock) is accepted once within the window ...
    t = T0 + 20 * STEP
    assert verify(database, user_id, mfa.code_at(secret, t - STEP), t)
    assert not verify(database, user_id, mfa.code_at(secret, t - STEP), t)
    # ... but once a newer step was used, an older code of the window is refused.
    t = T0 + 30 * STEP
    assert verify(database, user_id, mfa.code_at(secret, t), t)
    assert not verify(database, user_id, mfa.code_at(secret, t - STEP), t)
    # A code from the next step (fast clock) is fine; a code two steps old is not.
    t = T0 + 40 * STEP
    assert not verify(database, user_id, mfa.code_at(secret, t - 2 * STEP), t)
    assert verify(database, user_id, mfa.code_at(secret, t + STEP), t)
    assert not verify(database, user_id, mfa.code_at(secret, t + 3 * STEP), t)  # too far ahead

    # The clock may be given as a datetime (naive means UTC) as well as epoch seconds.
    t = T0 + 50 * STEP
    moment = datetime.fromtimestamp(t, UTC).replace(tzinfo=None)
    assert verify(database, user_id, " " + mfa.code_at(secret, t)[:3] + " " + mfa.code_at(secret, t)[3:], moment)


def test_recovery_code_works_once(database) -> None:
    _, user_id, _, codes = enrolled(database)
    t = T0 + 10 * STEP
    assert verify(database, user_id, codes[3], t)
    assert not verify(database, user_id, codes[3], t)
    assert verify(database, user_id, codes[4].upper().replace("-", " "), t)  # as typed from a printout
    assert not verify(database, user_id, "abcd-efgh-ijkm", t)
    with database.session() as db:
        assert mfa.recovery_codes_left(db, user_id) == 8


def test_only_hashes_of_recovery_codes_and_ciphertext_of_the_secret_are_stored(database) -> None:
    _, user_id, secret, codes = enrolled(database)
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM mfa_recovery_code")).all()
        raw_secret = conn.execute(text("SELECT secret FROM mfa_factor")).scalar_one()
    assert len(rows) == 10
    stored = "\n".join(repr(tuple(row)) for row in rows)
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored
    raw = bytes(raw_secret)
    assert secret.encode() not in raw and secret.lower().encode() not in raw
    assert mfa._key(secret) not in raw
    with database.session() as db:  # the app still reads the secret back
        assert db.scalar(select(MfaFactor.secret).where(MfaFactor.user_id == user_id)) == secret


def test_reset_removes_the_factor_and_its_codes(database) -> None:
    org_id, user_id, secret, codes = enrolled(database)
    admin = make_org(database, "beta", "2002", {"boss": Role.ADMIN}).users["boss"][0]
    with database.session() as db:
        assert mfa.reset_factor(db, user_id, actor_user_id=admin)
    with database.session() as db:
        assert not mfa.has_confirmed_factor(db, user_id)
        assert mfa.recovery_codes_left(db, user_id) == 0
        assert db.scalar(text("SELECT count(*) FROM mfa_factor")) == 0
        assert db.scalar(text("SELECT count(*) FROM mfa_recovery_code")) == 0
        assert not mfa.reset_factor(db, user_id)  # nothing left to reset
    t = T0 + 10 * STEP
    assert not verify(database, user_id, mfa.code_at(secret, t), t)
    assert not verify(database, user_id, codes[0], t)
    with database.session() as db:
        assert mfa.begin_enrolment(db, user_id).secret != secret  # enrolling again is allowed
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == "mfa.reset")).one()
    assert (event.org_id, event.actor_user_id, event.target_id) == (org_id, admin, str(user_id))


def test_mfa_events_are_audited_in_the_users_organisation(database) -> None:
    org_id, user_id, secret, codes = enrolled(database)
    t = T0 + 10 * STEP
    verify(database, user_id, mfa.code_at(secret, t), t)
    verify(database, user_id, mfa.code_at(secret, t), t)
    verify(database, user_id, codes[0], t)
    with database.session() as db:
        mfa.reset_factor(db, user_id)
    with database.session() as db:
        events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert verify_chain(db, org_id).ok
    assert [(e.action, e.details) for e in events] == [
        ("mfa.enrolled", {}),
        ("mfa.verified", {"method": "totp"}),
        ("mfa.failed", {"reason": "reused"}),
        ("mfa.recovery_code_used", {"left": "9"}),
        ("mfa.reset", {}),
    ]
    assert {(e.org_id, e.actor_user_id, e.target_type, e.target_id) for e in events} == {
        (org_id, user_id, "user", str(user_id))
    }
    for code in [secret, *codes]:
        assert all(code not in repr(e.details) for e in events)


def test_a_user_without_membership_is_audited_without_organisation(database) -> None:
    with database.session() as db:
        user_id = create_user(db, email="solo@example.test", name="Solo", password=PASSWORD).id
    with database.session() as db:
        secret = mfa.begin_enrolment(db, user_id).secret
    assert not verify(database, user_id, mfa.code_at(secret, T0), T0)  # not confirmed yet
    with database.session() as db:
        mfa.confirm_enrolment(db, user_id, mfa.code_at(secret, T0), now=T0)
    with database.session() as db:
        events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.org_id) for e in events] == [("mfa.failed", None), ("mfa.enrolled", None)]
    assert not verify(database, user_id + 1000, "123456", T0)  # an unknown user is simply refused


def test_a_persons_factor_reset_is_recorded_in_every_organisation_they_belong_to(database) -> None:
    """The factor is the person's: each organisation relying on it sees it go, in its own audit log."""
    org_id, user_id, _, _ = enrolled(database)
    beta = make_org(database, "beta", "2002", {"boss": Role.ADMIN})
    with database.session() as db:
        add_member(db, org_id=beta.org_id, user_id=user_id, role=Role.AGENT)
    with database.session() as db:
        assert mfa.reset_factor(db, user_id, actor_user_id=user_id, how="self")
    with database.session() as db:
        resets = db.scalars(select(AuditEvent).where(AuditEvent.action == "mfa.reset")).all()
        assert verify_chain(db, org_id).ok and verify_chain(db, beta.org_id).ok
    assert sorted((e.org_id, e.actor_user_id, e.details["how"]) for e in resets) == [
        (org_id, user_id, "self"), (beta.org_id, user_id, "self")]
