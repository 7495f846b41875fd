"""Small, display-ready rows for the board and the conversation pane (what a tab holds)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from pkcrm_app.crm.service import MAX_STAGES
from pkcrm_app.inbox.board import BoardColumn
from pkcrm_app.inbox.models import Direction, MessageStatus
from pkcrm_app.inbox.service import ThreadView
from pkcrm_app.ui.format import money, short_time
from pkcrm_app.ui.live_parts import part_key

TICKS = {
    MessageStatus.PENDING: ("🕓", "gray"),
    MessageStatus.SENT: ("✓", "gray"),
    MessageStatus.DELIVERED: ("✓✓", "gray"),
    MessageStatus.READ: ("✓✓", "blue"),
    MessageStatus.PLAYED: ("✓✓", "blue"),
    MessageStatus.FAILED: ("⚠ failed", "red"),
}


@dataclass
class CardView:
    lead_id: int = 0
    contact_name: str = ""
    preview: str = ""
    when: str = ""
    value: str = ""
    unread: int = 0


@dataclass
class StageHead:
    """A column without its cards: what its header shows."""

    stage_id: str = ""
    name: str = ""
    outcome: str = ""
    count: int = 0
    total: str = ""
    hidden: int = 0


@dataclass
class ColumnView(StageHead):
    cards: list[CardView] = field(default_factory=list)


def stage_heads(columns: list[ColumnView]) -> list[StageHead]:
    return [StageHead(**{f.name: getattr(c, f.name) for f in fields(StageHead)}) for c in columns]


@dataclass(frozen=True)
class BoardParts:
    """A board as tabs get it: its column headers and each column's cards, with the key of each part
    (ui/live_parts.py), made once per view and change."""

    heads: list[StageHead]
    cards: list[list[CardView]]
    keys: dict[str, str]

    @classmethod
    def of(cls, columns: list[ColumnView]) -> BoardParts:
        heads = stage_heads(columns)
        cards = [column.cards for column in columns]
        keys = {"stages": part_key(heads)} | {f"cards_{i}": part_key(cards[i]) if i < len(cards) else ""
                                               for i in range(MAX_STAGES)}
        return cls(heads, cards, keys)

    def cards_of(self, index: int) -> list[CardView]:
        return self.cards[index] if index < len(self.cards) else []


@dataclass
class MessageRow:
    message_id: int = 0
    inbound: bool = True
    text: str = ""
    supported: bool = True
    when: str = ""
    ticks: str = ""
    tick_color: str = "gray"
    error: str = ""
    kind: str = "text"  # per-type parts of the bubble (see inbox.service.MessageView)
    quote: str = ""
    forwarded: str = ""
    reactions: str = ""
    referral: str = ""
    map_url: str = ""
    media_url: str = ""
    media_note: str = ""
    file_label: str = ""
    failed: bool = False  # an outbound message that could not be delivered: the agent may send it again


@dataclass
class ThreadPane:
    lead_id: int = 0
    contact_name: str = ""
    phone: str = ""
    stage_id: str = ""
    stage_name: str = ""
    earlier: int = 0
    messages: list[MessageRow] = field(default_factory=list)


CARD_PREVIEW_CHARS = 90  # the two lines a card shows of the last message; the thread has the whole of it


def card_preview(text: str) -> str:
    return text if len(text) <= CARD_PREVIEW_CHARS else text[:CARD_PREVIEW_CHARS - 1].rstrip() + "…"


def column_views(columns: list[BoardColumn], tz: str) -> list[ColumnView]:
    return [
        ColumnView(
            stage_id=str(c.stage_id), name=c.name, outcome=c.outcome.value, count=c.count,
            total=" · ".join(money(v, cur) for cur, v in sorted(c.totals.items())) or money(0, "USD"),
            hidden=max(0, c.count - len(c.cards)),
            cards=[
                CardView(lead_id=card.lead_id, contact_name=card.contact_name,
                         preview=card_preview(card.preview), when=short_time(card.last_activity, tz),
                         value=money(card.value, card.currency), unread=card.unread)
                for card in c.cards
            ],
        )
        for c in columns
    ]


def thread_pane(thread: ThreadView, tz: str) -> ThreadPane:
    rows = []
    for m in thread.messages:
        ticks, color = ("", "gray") if m.direction == Direction.INBOUND else TICKS.get(m.status, ("", "gray"))
        rows.append(MessageRow(message_id=m.message_id, inbound=m.direction == Direction.INBOUND, text=m.text,
                               supported=m.supported, when=short_time(m.sent_at, tz), ticks=ticks,
                               tick_color=color, error=m.error, kind=m.kind, quote=m.quote,
                               forwarded=m.forwarded, reactions=m.reactions, referral=m.referral,
                               map_url=m.map_url, media_url=m.media_url, media_note=m.media_note,
                               file_label=m.file_label,
                               failed=m.direction == Direction.OUTBOUND and m.status == MessageStatus.FAILED))
    return ThreadPane(lead_id=thread.lead_id, contact_name=thread.contact_name, phone=thread.phone,
                      stage_id=str(thread.stage_id), stage_name=thread.stage_name,
                      earlier=max(0, thread.total_messages - len(rows)), messages=rows)
