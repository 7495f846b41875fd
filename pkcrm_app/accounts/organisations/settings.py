"""The organisation's own settings, as admins change them: name, time zone, MFA policy, what agents see,
how often access is reviewed. Every change is audited with its old and new value."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Organisation
from pkcrm_app.accounts.identity.second_factor import MfaPolicy
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.errors import InvalidInput, NotFound

REVIEW_INTERVALS = (30, 90, 180, 365)


@dataclass(frozen=True)
class OrganisationSettings:
    name: str
    time_zone: str
    mfa_policy: str
    agents_see_all: bool
    access_review_interval_days: int


def _org(db: Session, actor: Actor) -> Organisation:
    actor.require(Permission.SETTINGS_MANAGE)
    org = db.get(Organisation, actor.org_id)
    if org is None:
        raise NotFound("no such organisation")
    return org


def read_settings(db: Session, actor: Actor) -> OrganisationSettings:
    org = _org(db, actor)
    return OrganisationSettings(name=org.name, time_zone=org.time_zone, mfa_policy=org.mfa_policy,
                                agents_see_all=org.agents_see_all,
                                access_review_interval_days=org.access_review_interval_days)


def _validated(wanted: OrganisationSettings) -> OrganisationSettings:
    if not wanted.name.strip() or len(wanted.name) > 200:
        raise InvalidInput("the organisation needs a name of at most 200 characters")
    try:
        ZoneInfo(wanted.time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {wanted.time_zone!r}") from exc
    if wanted.mfa_policy not in set(MfaPolicy):
        raise InvalidInput("two-factor policy must be off, admins or everyone")
    if wanted.access_review_interval_days not in REVIEW_INTERVALS:
        raise InvalidInput(f"access reviews run every {', '.join(map(str, REVIEW_INTERVALS))} days")
    return OrganisationSettings(wanted.name.strip(), wanted.time_zone, wanted.mfa_policy, wanted.agents_see_all,
                                wanted.access_review_interval_days)


def update_settings(db: Session, actor: Actor, wanted: OrganisationSettings) -> int:
    """Apply the changed settings; returns how many changed (each one audited)."""
    org = _org(db, actor)
    wanted = _validated(wanted)
    changed = 0
    for setting, value in vars(wanted).items():
        old = getattr(org, setting)
        if old != value:
            setattr(org, setting, value)
            record(db, action="settings.changed", org_id=actor.org_id, actor_user_id=actor.user_id,
                   target_type="organisation", target_id=actor.org_id,
                   details={"setting": setting, "from": str(old), "to": str(value)})
            changed += 1
    return changed
