"""A conversation's summary (last message time, preview, unread count, reply window) has one writer with one rule,
whoever adds the message: a webhook, an agent's reply or an imported chat (its behaviour:
tests/integration/inbox/test_conversation_summary.py)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[3] / "pkcrm_app"
SUMMARY = {"last_message_at", "last_message_preview", "last_inbound_at", "unread_count"}
WRITER = PACKAGE_ROOT / "inbox" / "inbound.py"
READ_BADGE = PACKAGE_ROOT / "inbox" / "service.py"  # mark_read clears the unread count, and writes nothing else
SEED = PACKAGE_ROOT / "dev"  # the demo seed writes made-up history as it likes


def summary_writes(tree: ast.Module) -> list[int]:
    """Lines assigning (or adding to) a summary field of some object, or setting one in an UPDATE's values()."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values":
            lines += [node.lineno for keyword in node.keywords if keyword.arg in SUMMARY]
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign) else []
        for target in targets:
            for leaf in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(leaf, ast.Attribute) and leaf.attr in SUMMARY:
                    lines.append(node.lineno)
    return lines


def test_only_the_inbox_writes_a_conversation_summary() -> None:
    writers = {str(path.relative_to(PACKAGE_ROOT)): lines for path in sorted(PACKAGE_ROOT.rglob("*.py"))
               if path not in (WRITER, READ_BADGE) and SEED not in path.parents
               and (lines := summary_writes(ast.parse(path.read_text())))}
    assert writers == {}, "write a conversation's summary through inbox.inbound.note_messages"
    assert summary_writes(ast.parse(WRITER.read_text()))  # the check does see the one writer's lines
