"""Sign-up across domains: the confirmed account gets its organisation's default pipeline in the same
transaction, so a new owner lands on a working board."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pkcrm_app.accounts.organisations import signup
from pkcrm_app.crm.service import create_pipeline


def confirm_sign_up(db: Session, token: str | None, *, browser: str | None = None, confirmed_email: str = "",
                    ip: str = "", device: str = "") -> signup.SignedUp:
    """Confirm the sign-up (organisation, owner, membership) and create the default pipeline."""
    done = signup.confirm_sign_up(db, token, browser=browser, confirmed_email=confirmed_email, ip=ip, device=device)
    create_pipeline(db, org_id=done.org.id)
    return done
