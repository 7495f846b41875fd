"""Access reviews: an admin snapshots every member, keeps, changes or revokes each, and completes the review;
the completion is stored and audited and the next review falls due after the organisation's interval."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity import service
from pkcrm_app.accounts.identity.models import Membership, MfaFactor, Organisation
from pkcrm_app.accounts.organisations import members, reviews
from pkcrm_app.accounts.organisations.review_models import AccessReview, ReviewDecision
from pkcrm_app.accounts.security.audit_log import AuditFilter, list_events
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, PermissionDenied, StepUpRequired
from pkcrm_app.crm import service as crm
from pkcrm_app.crm.models import Contact
from tests.support.data import PASSWORD, make_org

PEOPLE = {"olive": Role.OWNER, "adam": Role.ADMIN, "mona": Role.MANAGER, "ann": Role.AGENT}


def _lead(db: Session, org_id: int, owner: int | None, name: str) -> None:
    contact = Contact(org_id=org_id, wa_id=name, name=name)
    db.add(contact)
    db.flush()
    crm.open_leads_for_contacts(db, org_id=org_id, contact_ids=[contact.id])[0].owner_user_id = owner


@pytest.fixture
def acme(database):  # type: ignore[no-untyped-def]
    acme = make_org(database, "acme", "1001", PEOPLE)
    with database.session() as db:
        ann, mona = acme.users["ann"][0], acme.users["mona"][0]
        for i, owner in enumerate((ann, mona, mona, None)):
            _lead(db, acme.org_id, owner, f"lead-{i}")
        db.add(MfaFactor(user_id=acme.users["adam"][0], secret="JBSWY3DPEHPK3PXP", confirmed_at=utcnow()))
    return acme


def _by_email(review: reviews.Review) -> dict[str, reviews.ReviewItem]:
    return {item.email: item for item in review.items}


def test_a_review_snapshots_every_member_with_role_login_mfa_and_reach(database, acme) -> None:  # type: ignore[no-untyped-def]
    make_org(database, "globex", "2002", {"gus": Role.ADMIN, "gil": Role.AGENT})
    with database.session() as db:
        service.login(db, email="ann@acme.test", password=PASSWORD, ip="", user_agent="", hours=1)
    with database.session() as db:
        review = reviews.start_review(db, acme.actor("adam", Role.ADMIN))
    items = _by_email(review)
    assert set(items) == {"olive@acme.test", "adam@acme.test", "mona@acme.test", "ann@acme.test"}  # no globex
    assert items["ann@acme.test"].role is Role.AGENT and items["ann@acme.test"].last_login_at is not None
    assert items["mona@acme.test"].last_login_at is None
    assert items["adam@acme.test"].mfa_enabled and not items["ann@acme.test"].mfa_enabled
    assert "Own and unassigned leads (2 of 4)" in items["ann@acme.test"].reach
    assert "All 4 leads" in items["mona@acme.test"].reach and "analytics" in items["mona@acme.test"].reach
    assert "members" not in items["mona@acme.test"].reach
    assert "audit log" in items["adam@acme.test"].reach and "billing" not in items["adam@acme.test"].reach
    assert "billing" in items["olive@acme.test"].reach
    assert review.decided == 0 and review.completed_at is None


def test_agents_see_all_setting_shows_in_an_agents_reach(database, acme) -> None:  # type: ignore[no-untyped-def]
    with database.session() as db:
        db.execute(update(Organisation).where(Organisation.id == acme.org_id).values(agents_see_all=True))
    with database.session() as db:
        review = reviews.start_review(db, acme.actor("adam", Role.ADMIN))
    assert _by_email(review)["ann@acme.test"].reach.startswith("All 4 leads")


def test_only_one_review_is_open_at_a_time(database, acme) -> None:  # type: ignore[no-untyped-def]
    admin = acme.actor("adam", Role.ADMIN)
    with database.session() as db:
        first = reviews.start_review(db, admin)
    with database.session() as db:
        again = reviews.start_review(db, acme.actor("olive", Role.OWNER))
        assert again.review_id == first.review_id
        assert db.scalar(select(AccessReview.id).where(AccessReview.org_id == acme.org_id)
                         .order_by(AccessReview.id.desc())) == first.review_id


def test_agents_and_managers_cannot_review(database, acme) -> None:  # type: ignore[no-untyped-def]
    with database.session() as db:
        with pytest.raises(PermissionDenied):
            reviews.start_review(db, acme.actor("ann"))
        with pytest.raises(PermissionDenied):
            reviews.start_review(db, acme.actor("mona", Role.MANAGER))
        with pytest.raises(PermissionDenied):
            reviews.list_reviews(db, acme.actor("ann"))


def test_keep_change_and_revoke(database, acme) -> None:  # type: ignore[no-untyped-def]
    admin = acme.actor("adam", Role.ADMIN)
    ann, mona = acme.users["ann"][0], acme.users["mona"][0]
    with database.session() as db:
        review_id = reviews.start_review(db, admin).review_id
    with database.session() as db:
        token = service.login(db, email="ann@acme.test", password=PASSWORD, ip="", user_agent="", hours=1).token

    with database.session() as db, pytest.raises(StepUpRequired):
        reviews.decide(db, admin, review_id, mona, "change", "agent")  # no fresh second factor
    with database.session() as db:
        assert db.scalar(select(Membership.role).where(Membership.user_id == mona)) is Role.MANAGER
        assert _by_email(reviews.get_review(db, admin, review_id))["mona@acme.test"].decision is None

    with database.session() as db:
        reviews.decide(db, replace(admin, stepped_up=True), review_id, mona, ReviewDecision.CHANGE, Role.AGENT)
        reviews.decide(db, admin, review_id, ann, "revoke")
        reviews.decide(db, admin, review_id, acme.users["olive"][0], "keep")
    with database.session() as db:
        assert db.scalar(select(Membership.role).where(Membership.user_id == mona)) is Role.AGENT
        assert db.scalar(select(Membership.is_active).where(Membership.user_id == ann)) is False
        assert service.resolve_session(db, token) is None  # the revoked member's session ended
        items = _by_email(reviews.get_review(db, admin, review_id))
        assert items["mona@acme.test"].decision is ReviewDecision.CHANGE
        assert items["mona@acme.test"].new_role is Role.AGENT
        assert items["ann@acme.test"].decision is ReviewDecision.REVOKE
        with pytest.raises(InvalidInput, match="already decided"):
            reviews.decide(db, admin, review_id, ann, "keep")
        with pytest.raises(InvalidInput, match="yourself"):
            reviews.decide(db, admin, review_id, acme.users["adam"][0], "revoke")


def test_completing_needs_every_member_decided_then_is_stored_audited_and_due_again(database, acme) -> None:  # type: ignore[no-untyped-def]
    admin = acme.actor("adam", Role.ADMIN)
    with database.session() as db:
        review_id = reviews.start_review(db, admin).review_id
        reviews.decide(db, admin, review_id, acme.users["ann"][0], "keep")
    with database.session() as db, pytest.raises(InvalidInput, match="3 members still to decide"):
        reviews.complete_review(db, admin, review_id)
    with database.session() as db:
        for name in ("olive", "adam"):
            reviews.decide(db, admin, review_id, acme.users[name][0], "keep")
        reviews.decide(db, admin, review_id, acme.users["mona"][0], "revoke")
        done = reviews.complete_review(db, admin, review_id)
    assert done.completed_at is not None and done.next_due_at is not None
    assert done.next_due_at - done.completed_at == timedelta(days=90)
    with database.session() as db:
        status = reviews.review_status(db, acme.org_id)
        assert status.last_completed_at == done.completed_at and status.next_due_at == done.next_due_at
        assert not status.overdue and status.open_review_id is None
        [past] = reviews.list_reviews(db, admin)
        assert (past.review_id, past.members, past.kept, past.changed, past.revoked) == (review_id, 4, 3, 0, 1)
        assert past.completed_by == "Adam"
        events, _ = list_events(db, admin, AuditFilter(action="access_review.completed"))
        assert len(events) == 1 and '"kept": 3' in events[0].details and '"revoked": 1' in events[0].details
        with pytest.raises(InvalidInput, match="already completed"):
            reviews.decide(db, admin, review_id, acme.users["ann"][0], "revoke")
        # a new review can start once the last one is complete
        assert reviews.start_review(db, admin).review_id != review_id


def test_overdue_when_the_interval_has_passed(database, acme) -> None:  # type: ignore[no-untyped-def]
    with database.session() as db:
        fresh = reviews.review_status(db, acme.org_id)
        assert not fresh.overdue and fresh.last_completed_at is None  # a new organisation: due in 90 days
        db.execute(update(Organisation).where(Organisation.id == acme.org_id)
                   .values(created_at=utcnow() - timedelta(days=91)))
    with database.session() as db:
        assert reviews.review_status(db, acme.org_id).overdue  # never reviewed, older than the interval
    admin = acme.actor("adam", Role.ADMIN)
    with database.session() as db:
        review = reviews.start_review(db, admin)
        for item in review.items:
            reviews.decide(db, admin, review.review_id, item.user_id, "keep")
        reviews.complete_review(db, admin, review.review_id)
    with database.session() as db:
        assert not reviews.review_status(db, acme.org_id).overdue
        db.execute(update(AccessReview).where(AccessReview.id == review.review_id)
                   .values(next_due_at=utcnow() - timedelta(days=1)))
    with database.session() as db:
        assert reviews.review_status(db, acme.org_id).overdue


def test_another_organisations_review_is_out_of_reach(database, acme) -> None:  # type: ignore[no-untyped-def]
    globex = make_org(database, "globex", "2002", {"gus": Role.ADMIN})
    with database.session() as db:
        review_id = reviews.start_review(db, acme.actor("adam", Role.ADMIN)).review_id
    with database.session() as db:
        with pytest.raises(Exception, match="no such access review"):
            reviews.get_review(db, globex.actor("gus", Role.ADMIN), review_id)
        with pytest.raises(Exception, match="no such access review"):
            reviews.decide(db, globex.actor("gus", Role.ADMIN), review_id, acme.users["ann"][0], "revoke")
        theirs = reviews.start_review(db, globex.actor("gus", Role.ADMIN))
        assert [item.email for item in theirs.items] == ["gus@globex.test"]
        assert members.list_members(db, acme.actor("adam", Role.ADMIN))[0].active  # nothing changed in acme
