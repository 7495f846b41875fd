"""A conversation's summary (last message time, preview, unread count, reply window) has one writer with one rule,
whoever adds the message: a webhook, an agent's reply or an imported chat."""

from __future__ import annotations

import ast
from datetime import datetime, timedelta
from pathlib import Path

from pkcrm_app.inbox.inbound import PREVIEW_CHARS, note_message
from pkcrm_app.inbox.models import Conversation

PACKAGE_ROOT = Path(__file__).resolve().parents[3] / "pkcrm_app"
SUMMARY = {"last_message_at", "last_message_preview", "last_inbound_at", "unread_count"}
WRITER = PACKAGE_ROOT / "inbox" / "inbound.py"
SEED = PACKAGE_ROOT / "dev"  # the demo seed writes made-up history as it likes
T0 = datetime(2026, 11, 1, 12, 0)


def summary_assignments(tree: ast.Module) -> list[int]:
    """Lines assigning (or adding to) a summary field of some object."""
    lines = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign) else []
        for target in targets:
            for leaf in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(leaf, ast.Attribute) and leaf.attr in SUMMARY:
                    lines.append(node.lineno)
    return lines


def test_only_the_inbox_writes_a_conversation_summary() -> None:
    writers = {str(path.relative_to(PACKAGE_ROOT)): lines for path in sorted(PACKAGE_ROOT.rglob("*.py"))
               if path != WRITER and SEED not in path.parents
               and (lines := summary_assignments(ast.parse(path.read_text())))}
    assert writers == {}, "write a conversation's summary through inbox.inbound.note_message"
    assert summary_assignments(ast.parse(WRITER.read_text()))  # the check does see the one writer's lines


def conversation() -> Conversation:
    return Conversation(org_id=1, contact_id=1, unread_count=0)


def test_the_newest_message_gives_time_and_preview_whatever_order_they_come_in() -> None:
    found = conversation()
    note_message(found, at=T0, preview="Our offer", received=False)
    note_message(found, at=T0 - timedelta(days=3), preview="an old imported line", received=False)
    assert (found.last_message_at, found.last_message_preview) == (T0, "Our offer")
    note_message(found, at=T0 + timedelta(minutes=1), preview="x" * 500, received=True)
    assert found.last_message_preview == "x" * PREVIEW_CHARS and found.last_message_at == T0 + timedelta(minutes=1)


def test_only_a_message_received_now_counts_unread_and_opens_the_reply_window() -> None:
    found = conversation()
    note_message(found, at=T0, preview="imported from the customer", received=False)
    note_message(found, at=T0, preview="agent's reply", received=False)
    assert found.unread_count == 0 and found.last_inbound_at is None
    note_message(found, at=T0 + timedelta(minutes=2), preview="Is it in stock?", received=True)
    note_message(found, at=T0 + timedelta(minutes=1), preview="Hello?", received=True)  # arrived late
    assert found.unread_count == 2 and found.last_inbound_at == T0 + timedelta(minutes=2)
    assert found.last_message_preview == "Is it in stock?"
