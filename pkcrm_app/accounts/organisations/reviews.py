"""Access reviews: an admin goes through every member (role, last login, MFA, reach) and keeps, changes or
revokes each; the completed review is stored and audited, and the next one falls due after the organisation's
interval (90 days by default).

An organisation that never completed a review is due one interval after it was created: a new organisation
is not nagged on its first day, and one older than the interval without any review shows as overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from pkcrm_app.accounts.identity.models import Organisation, User
from pkcrm_app.accounts.organisations.members import Member, change_role, member_rows, set_member_active
from pkcrm_app.accounts.organisations.reach import member_reach
from pkcrm_app.accounts.organisations.review_models import AccessReview, AccessReviewItem, ReviewDecision
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission, Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound
from pkcrm_app.core.events import ReviewsChanged, emit_on_commit


@dataclass(frozen=True)
class ReviewItem(Member):
    """A member as the review saw them, with what they can reach and the reviewer's decision."""

    reach: str
    decision: ReviewDecision | None
    new_role: Role | None
    decided_at: datetime | None


@dataclass(frozen=True)
class Review:
    review_id: int
    started_at: datetime
    started_by: str
    completed_at: datetime | None
    completed_by: str
    next_due_at: datetime | None
    items: list[ReviewItem]

    @property
    def decided(self) -> int:
        return sum(1 for item in self.items if item.decision is not None)

    def count(self, decision: ReviewDecision) -> int:
        return sum(1 for item in self.items if item.decision == decision)


@dataclass(frozen=True)
class ReviewStatus:
    last_completed_at: datetime | None
    next_due_at: datetime
    overdue: bool
    open_review_id: int | None


def _open(db: Session, org_id: int) -> AccessReview | None:
    return db.scalar(select(AccessReview).where(AccessReview.org_id == org_id, AccessReview.completed_at.is_(None))
                     .order_by(AccessReview.id.desc()).limit(1))


def _review(db: Session, actor: Actor, review_id: int) -> AccessReview:
    review = db.scalar(select(AccessReview).where(AccessReview.id == review_id, AccessReview.org_id == actor.org_id))
    if review is None:
        raise NotFound("no such access review")
    return review


def _view(db: Session, review: AccessReview) -> Review:
    names = {user_id: name for user_id, name in db.execute(select(User.id, User.name).where(
        User.id.in_([review.started_by_user_id or 0, review.completed_by_user_id or 0])))}
    rows = db.scalars(select(AccessReviewItem).where(AccessReviewItem.review_id == review.id)
                      .order_by(AccessReviewItem.name, AccessReviewItem.id))
    items = [ReviewItem(user_id=i.user_id, name=i.name, email=i.email, role=i.role_at_review, active=i.active,
                        last_login_at=i.last_login_at, mfa_enabled=i.mfa_enabled, reach=i.reach, decision=i.decision,
                        new_role=i.new_role, decided_at=i.decided_at) for i in rows]
    return Review(review_id=review.id, started_at=review.started_at,
                  started_by=names.get(review.started_by_user_id or 0, ""), completed_at=review.completed_at,
                  completed_by=names.get(review.completed_by_user_id or 0, ""), next_due_at=review.next_due_at,
                  items=items)


def start_review(db: Session, actor: Actor) -> Review:
    """Snapshot every member of the organisation; while a review is open, that one is returned instead."""
    actor.require(Permission.MEMBERS_MANAGE)
    existing = _open(db, actor.org_id)
    if existing is not None:
        return _view(db, existing)
    review = AccessReview(org_id=actor.org_id, started_by_user_id=actor.user_id, started_at=utcnow())
    db.add(review)
    db.flush()
    rows = member_rows(db, actor.org_id)
    for user, membership, confirmed in rows:
        reach, details = member_reach(db, org_id=actor.org_id, user_id=user.id, role=membership.role,
                                      active=membership.is_active)
        db.add(AccessReviewItem(review_id=review.id, user_id=user.id, name=user.name, email=user.email,
                                role_at_review=membership.role, active=membership.is_active,
                                last_login_at=user.last_login_at, mfa_enabled=confirmed is not None, reach=reach,
                                reach_details=details))
    record(db, action="access_review.started", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="access_review", target_id=review.id, details={"members": len(rows)})
    emit_on_commit(db, ReviewsChanged(org_id=actor.org_id, review_id=review.id))
    return _view(db, review)


def open_review(db: Session, actor: Actor) -> Review | None:
    """The review under way, if any."""
    actor.require(Permission.MEMBERS_MANAGE)
    review = _open(db, actor.org_id)
    return None if review is None else _view(db, review)


def get_review(db: Session, actor: Actor, review_id: int) -> Review:
    actor.require(Permission.MEMBERS_MANAGE)
    return _view(db, _review(db, actor, review_id))


def decide(db: Session, actor: Actor, review_id: int, user_id: int, decision: ReviewDecision | str,
           new_role: Role | str | None = None) -> ReviewItem:
    """Keep a member as they are, change their role (a sensitive action: step-up), or revoke their access
    (deactivated, sessions ended). A decision is final within its review."""
    actor.require(Permission.MEMBERS_MANAGE)
    try:
        decision = ReviewDecision(decision)
        role = Role(new_role) if new_role else None
    except ValueError as exc:
        raise InvalidInput(f"unknown decision or role: {exc}") from None
    review = _review(db, actor, review_id)
    if review.completed_at is not None:
        raise InvalidInput("this access review is already completed")
    item = db.scalar(select(AccessReviewItem).where(AccessReviewItem.review_id == review.id,
                                                    AccessReviewItem.user_id == user_id))
    if item is None:
        raise NotFound("this member is not part of the review")
    if item.decision is not None:
        raise InvalidInput(f"{item.name} was already decided ({item.decision.value})")
    if decision is ReviewDecision.CHANGE:
        if role is None or role == item.role_at_review:
            raise InvalidInput("choose a different role to change to, or keep the member as they are")
        change_role(db, actor, user_id, role)  # StepUpRequired propagates: the caller asks for a code
    elif decision is ReviewDecision.REVOKE:
        set_member_active(db, actor, user_id, active=False)
    item.decision, item.new_role = decision, role if decision is ReviewDecision.CHANGE else None
    item.decided_by_user_id, item.decided_at = actor.user_id, utcnow()
    record(db, action="access_review.decided", org_id=actor.org_id, actor_user_id=actor.user_id, target_type="user",
           target_id=user_id, details={"review_id": review.id, "decision": decision.value,
                                       "role": item.role_at_review.value,
                                       "new_role": item.new_role.value if item.new_role else ""})
    emit_on_commit(db, ReviewsChanged(org_id=actor.org_id, review_id=review.id))
    return ReviewItem(user_id=item.user_id, name=item.name, email=item.email, role=item.role_at_review,
                      active=item.active, last_login_at=item.last_login_at, mfa_enabled=item.mfa_enabled,
                      reach=item.reach, decision=item.decision, new_role=item.new_role, decided_at=item.decided_at)


def complete_review(db: Session, actor: Actor, review_id: int) -> Review:
    """Close a review whose members are all decided; the next one is due after the organisation's interval."""
    actor.require(Permission.MEMBERS_MANAGE)
    review = _review(db, actor, review_id)
    if review.completed_at is not None:
        raise InvalidInput("this access review is already completed")
    left = db.scalar(select(func.count()).select_from(AccessReviewItem).where(
        AccessReviewItem.review_id == review.id, AccessReviewItem.decision.is_(None))) or 0
    if left:
        raise InvalidInput(f"{left} member{'s' if left != 1 else ''} still to decide before the review can be "
                           "completed")
    interval = db.scalar(select(Organisation.access_review_interval_days).where(Organisation.id == actor.org_id))
    now = utcnow()
    review.completed_at, review.completed_by_user_id = now, actor.user_id
    review.next_due_at = now + timedelta(days=interval or 90)
    view = _view(db, review)
    record(db, action="access_review.completed", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="access_review", target_id=review.id,
           details={"members": len(view.items), "kept": view.count(ReviewDecision.KEEP),
                    "changed": view.count(ReviewDecision.CHANGE), "revoked": view.count(ReviewDecision.REVOKE),
                    "next_due_at": review.next_due_at.isoformat()})
    emit_on_commit(db, ReviewsChanged(org_id=actor.org_id, review_id=review.id))
    return view


def review_status(db: Session, org_id: int) -> ReviewStatus:
    """When the organisation was last reviewed, when the next review is due, and whether it is overdue."""
    org = db.get(Organisation, org_id)
    if org is None:
        raise NotFound("no such organisation")
    last = db.scalar(select(AccessReview).where(AccessReview.org_id == org_id, AccessReview.completed_at.is_not(None))
                     .order_by(AccessReview.completed_at.desc(), AccessReview.id.desc()).limit(1))
    if last is not None and last.next_due_at is not None:
        due = last.next_due_at
    else:
        due = org.created_at + timedelta(days=org.access_review_interval_days or 90)
    opened = _open(db, org_id)
    return ReviewStatus(last_completed_at=last.completed_at if last else None, next_due_at=due,
                        overdue=utcnow() >= due, open_review_id=opened.id if opened else None)


@dataclass(frozen=True)
class PastReview:
    review_id: int
    started_at: datetime
    completed_at: datetime
    completed_by: str
    members: int
    kept: int
    changed: int
    revoked: int


def list_reviews(db: Session, actor: Actor, *, limit: int = 20) -> list[PastReview]:
    """Completed reviews, newest first, with what was decided."""
    actor.require(Permission.MEMBERS_MANAGE)
    completer = aliased(User)
    counts = (select(AccessReviewItem.review_id, AccessReviewItem.decision, func.count().label("n"))
              .group_by(AccessReviewItem.review_id, AccessReviewItem.decision).subquery())
    reviews = db.execute(
        select(AccessReview, completer.name).outerjoin(completer, completer.id == AccessReview.completed_by_user_id)
        .where(AccessReview.org_id == actor.org_id, AccessReview.completed_at.is_not(None))
        .order_by(AccessReview.completed_at.desc(), AccessReview.id.desc()).limit(limit)
    ).all()
    tallies: dict[int, dict[str, int]] = {}
    ids = [review.id for review, _ in reviews]
    for review_id, decision, n in db.execute(select(counts).where(counts.c.review_id.in_(ids))):
        tallies.setdefault(review_id, {})[str(decision)] = n
    past = []
    for review, name in reviews:
        tally = tallies.get(review.id, {})
        assert review.completed_at is not None
        past.append(PastReview(review_id=review.id, started_at=review.started_at, completed_at=review.completed_at,
                               completed_by=name or "", members=sum(tally.values()),
                               kept=tally.get(ReviewDecision.KEEP.value, 0),
                               changed=tally.get(ReviewDecision.CHANGE.value, 0),
                               revoked=tally.get(ReviewDecision.REVOKE.value, 0)))
    return past
