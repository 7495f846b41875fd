"""What people do with pipelines and leads: pipelines, stages, who sees which lead, moving leads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Organisation
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound
from pkcrm_app.core.events import LeadMoved, emit_on_commit
from pkcrm_app.crm.models import Lead, LeadStageChange, Pipeline, Stage, StageOutcome

DEFAULT_STAGES: tuple[tuple[str, StageOutcome], ...] = (
    ("New", StageOutcome.OPEN),
    ("Qualified", StageOutcome.OPEN),
    ("Proposal", StageOutcome.OPEN),
    ("Won", StageOutcome.WON),
    ("Lost", StageOutcome.LOST),
)
MAX_STAGES = 12  # a board shows at most this many columns (ui/pages/board/state.py has one var per column)


def create_pipeline(
    db: Session, *, org_id: int, name: str = "Sales", stages: Sequence[tuple[str, StageOutcome]] = DEFAULT_STAGES
) -> Pipeline:
    """A pipeline with its stages; the organisation's first becomes the default."""
    if not 0 < len(stages) <= MAX_STAGES:
        raise InvalidInput(f"a pipeline has 1 to {MAX_STAGES} stages")
    has_default = db.scalar(select(Pipeline.id).where(Pipeline.org_id == org_id, Pipeline.is_default.is_(True)))
    pipeline = Pipeline(org_id=org_id, name=name, is_default=has_default is None)
    db.add(pipeline)
    db.flush()
    for position, (stage_name, outcome) in enumerate(stages):
        db.add(Stage(org_id=org_id, pipeline_id=pipeline.id, name=stage_name, position=position, outcome=outcome))
    db.flush()
    return pipeline


def default_pipeline(db: Session, org_id: int) -> Pipeline:
    pipeline = db.scalar(select(Pipeline).where(Pipeline.org_id == org_id, Pipeline.is_default.is_(True)))
    if pipeline is None:
        raise NotFound("this organisation has no default pipeline")
    return pipeline


def stages_of(db: Session, org_id: int, pipeline_id: int) -> list[Stage]:
    return list(db.scalars(
        select(Stage).where(Stage.org_id == org_id, Stage.pipeline_id == pipeline_id).order_by(Stage.position)
    ))


def visible_leads(db: Session, actor: Actor) -> ColumnElement[bool]:  # noqa: ARG001 (services take db first)
    """The leads the actor may see: the organisation's; for agents only their own and unassigned ones,
    unless the organisation lets agents see all."""
    in_org = Lead.org_id == actor.org_id
    if actor.can(Permission.LEADS_VIEW_ALL):
        return in_org
    # One round trip: the organisation's setting is read inside the same query.
    agents_see_all = select(Organisation.agents_see_all).where(Organisation.id == actor.org_id).scalar_subquery()
    return in_org & or_(agents_see_all.is_(true()), Lead.owner_user_id == actor.user_id,
                        Lead.owner_user_id.is_(None))


def lead_reach(db: Session, actor: Actor) -> tuple[int, int]:
    """(leads this member sees, leads of the organisation), for an access review's 'what they can reach'."""
    total = db.scalar(select(func.count()).select_from(Lead).where(Lead.org_id == actor.org_id)) or 0
    visible = db.scalar(select(func.count()).select_from(Lead).where(visible_leads(db, actor))) or 0
    return visible, total


def get_lead(db: Session, actor: Actor, lead_id: int) -> Lead:
    """A lead the actor may see, or NotFound (never another organisation's, nor a colleague's for agents)."""
    lead = db.scalar(select(Lead).where(Lead.id == lead_id, visible_leads(db, actor)))
    if lead is None:
        raise NotFound("lead not found")
    return lead


def move_lead(db: Session, actor: Actor, lead_id: int, stage_id: int) -> Lead:
    """Move a lead to another stage of its pipeline, with history and audit."""
    actor.require(Permission.LEAD_MOVE)
    lead = get_lead(db, actor, lead_id)
    stage = db.scalar(select(Stage).where(Stage.id == stage_id, Stage.org_id == actor.org_id))
    if stage is None or stage.pipeline_id != lead.pipeline_id:
        raise InvalidInput("that stage is not in this lead's pipeline")
    if stage.id == lead.stage_id:
        return lead
    now, from_stage_id = utcnow(), lead.stage_id
    db.add(LeadStageChange(org_id=actor.org_id, lead_id=lead.id, from_stage_id=lead.stage_id,
                           to_stage_id=stage.id, actor_user_id=actor.user_id, changed_at=now))
    record(db, action="lead.moved", org_id=actor.org_id, actor_user_id=actor.user_id, target_type="lead",
           target_id=lead.id, details={"from": lead.stage_id, "to": stage.id})
    lead.stage_id, lead.stage_entered_at, lead.updated_at = stage.id, now, now
    db.flush()
    emit_on_commit(db, LeadMoved(org_id=actor.org_id, lead_id=lead.id, from_stage_id=from_stage_id,
                                  to_stage_id=stage.id))
    return lead


def open_leads_for_contacts(
    db: Session, *, org_id: int, contact_ids: list[int], source: str = "whatsapp"
) -> list[Lead]:
    """New leads, one per contact, in the first stage of the default pipeline (one lookup for all)."""
    if not contact_ids:
        return []
    first = db.scalar(
        select(Stage).join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .where(Pipeline.org_id == org_id, Pipeline.is_default.is_(True)).order_by(Stage.position).limit(1)
    )
    if first is None:
        raise NotFound("this organisation has no default pipeline with stages")
    now = utcnow()
    leads = [Lead(org_id=org_id, contact_id=cid, pipeline_id=first.pipeline_id, stage_id=first.id, source=source,
                  created_at=now, updated_at=now, stage_entered_at=now) for cid in contact_ids]
    db.add_all(leads)
    db.flush()
    db.add_all(LeadStageChange(org_id=org_id, lead_id=lead.id, from_stage_id=None, to_stage_id=first.id,
                               changed_at=now) for lead in leads)
    return leads
