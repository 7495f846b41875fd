"""What an organisation may change of a person.

A person (User) is one account shared by every organisation they belong to: their name, email, phone,
password and second factor are theirs, not any one organisation's. What lives on the membership (role,
active) each organisation manages alone. What lives on the person an admin may change only for someone who
belongs to no other organisation: otherwise one organisation could weaken what another relies on (remove
the second factor the other requires, so the person signs in there with the password alone) without the
other even being told.

Every service that writes a person's own fields on behalf of someone else calls `require_only_here` first;
tests/integration/test_members.py finds such writes in accounts/ and fails for one that does not.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, User
from pkcrm_app.core.errors import PermissionDenied

# The person's own way back in when they lost their authenticator app (mfa_reset.py, mfa.py).
OWN_FACTOR_RECOVERY = (
    "they can sign in with one of their recovery codes, or choose \"Lost your authenticator app?\" on the code "
    "step of signing in to get an email with a link that resets it")


def belongs_elsewhere(db: Session, user_id: int, org_id: int) -> bool:
    """Whether the person has a membership (active or not) in any organisation but `org_id`."""
    return bool(db.scalar(select(func.count()).select_from(Membership).where(
        Membership.user_id == user_id, Membership.org_id != org_id)))


def require_only_here(db: Session, user_id: int, *, org_id: int, what: str, own_way: str) -> None:
    """Refuse, with the person's own way to do it, when they belong to another organisation than `org_id` (the
    acting admin's) too.

    `what` completes "only they can ..." (e.g. "reset their two-factor authentication"). The message never
    names the other organisation."""
    if not belongs_elsewhere(db, user_id, org_id):
        return
    name = db.scalar(select(User.name).where(User.id == user_id)) or "This person"
    raise PermissionDenied(f"{name} also belongs to another organisation, so only they can {what}: {own_way}.")
