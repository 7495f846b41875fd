"""The board read model: a pipeline's columns with their cards; a card carries its conversation's unread count
and last message, which is why the board lives in the inbox, above crm."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.crm.models import Contact, Lead, StageOutcome
from pkcrm_app.crm.service import default_pipeline, stages_of, visible_leads
from pkcrm_app.inbox.models import Conversation


@dataclass(frozen=True)
class LeadCard:
    lead_id: int
    stage_id: int
    contact_name: str
    preview: str
    last_activity: datetime | None
    value: Decimal
    currency: str
    unread: int


@dataclass(frozen=True)
class BoardColumn:
    stage_id: int
    name: str
    outcome: StageOutcome
    count: int
    totals: dict[str, Decimal]
    cards: list[LeadCard]


def board(db: Session, actor: Actor, *, cards_per_stage: int = 20) -> list[BoardColumn]:
    """The default pipeline's columns: counts and totals of all leads, the most recent cards."""
    actor.require(Permission.BOARD_VIEW)
    pipeline = default_pipeline(db, actor.org_id)
    stages = stages_of(db, actor.org_id, pipeline.id)
    visible = visible_leads(db, actor)
    counts: dict[int, int] = defaultdict(int)
    totals: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for stage_id, currency, count, total in db.execute(
        select(Lead.stage_id, Lead.currency, func.count(), func.coalesce(func.sum(Lead.value), 0))
        .where(visible, Lead.pipeline_id == pipeline.id)
        .group_by(Lead.stage_id, Lead.currency)
    ):
        counts[stage_id] += count
        totals[stage_id][currency] = Decimal(total)
    cards: dict[int, list[LeadCard]] = {}
    for stage in stages:  # each column's newest cards, read through the activity index
        rows = db.execute(
            select(Lead.id, Lead.value, Lead.currency, Lead.last_activity_at, Contact.name, Contact.phone_e164,
                   Conversation.last_message_preview, Conversation.unread_count)
            .join(Contact, Contact.id == Lead.contact_id)
            .outerjoin(Conversation, (Conversation.contact_id == Lead.contact_id)
                       & (Conversation.org_id == Lead.org_id))
            .where(visible, Lead.pipeline_id == pipeline.id, Lead.stage_id == stage.id)
            .order_by(Lead.last_activity_at.desc(), Lead.id.desc())
            .limit(cards_per_stage))
        cards[stage.id] = [LeadCard(
            lead_id=row.id, stage_id=stage.id, contact_name=row.name or row.phone_e164 or "Unknown",
            preview=row.last_message_preview or "", last_activity=row.last_activity_at, value=row.value,
            currency=row.currency, unread=row.unread_count or 0) for row in rows]
    return [BoardColumn(stage_id=stage.id, name=stage.name, outcome=stage.outcome, count=counts[stage.id],
                        totals=totals[stage.id], cards=cards[stage.id]) for stage in stages]
