"""The typed live contract: every topic a service emits is mapped to counters by the bridge's one table, every
mapped topic is emitted somewhere, and the marks tell a tab whether a change concerns the ids it shows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pkcrm_app.core import events
from pkcrm_app.core.events import EVENT_TYPES, MessagesChanged, SessionsEnded, Topic
from pkcrm_app.live import marks
from pkcrm_app.live.bridge import COUNTERS, Changes, merge
from pkcrm_app.live.state import COUNTER_NAMES, LiveTab

PACKAGE = Path(events.__file__).resolve().parents[1]
EVENT_CLASSES = {cls.__name__: cls for cls in EVENT_TYPES}


def emitted_topics() -> dict[Topic, list[str]]:
    """Topic -> the places that emit it, from every `emit_on_commit(db, SomeEvent(...))` call in the package."""
    found: dict[Topic, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name != "emit_on_commit" or path.name == "events.py":
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            event = node.args[1] if len(node.args) == 2 else None
            assert isinstance(event, ast.Call) and isinstance(event.func, ast.Name), (
                f"{where}: emit an event built in place, emit_on_commit(db, SomeEvent(...))")
            assert event.func.id in EVENT_CLASSES, f"{where}: {event.func.id} is not an event of core.events"
            found.setdefault(EVENT_CLASSES[event.func.id].topic, []).append(where)
    return found


def test_every_emitted_topic_is_mapped_and_every_mapped_topic_is_emitted() -> None:
    emitted = emitted_topics()
    assert emitted, "the scan found no emit_on_commit call at all"
    unmapped = sorted(set(emitted) - set(COUNTERS))
    assert not unmapped, f"emitted but not mapped in live.bridge.COUNTERS: {[(t, emitted[t]) for t in unmapped]}"
    never = sorted(set(COUNTERS) - set(emitted))
    assert not never, f"mapped in live.bridge.COUNTERS but emitted nowhere: {never}"


def test_each_topic_has_one_event_type_and_the_table_names_real_counters() -> None:
    assert sorted(cls.topic for cls in EVENT_TYPES) == sorted(Topic)
    assert set(COUNTERS) == set(Topic)
    fields = LiveTab.get_fields()
    assert all(counter in fields for counter in COUNTER_NAMES)
    assert {counter for counters in COUNTERS.values() for counter in counters} == set(COUNTER_NAMES)


def test_merged_changes_keep_ids_and_an_event_naming_none_concerns_all() -> None:
    changes: Changes = {}
    merge(changes, MessagesChanged(org_id=1, conversation_ids=(3,), message_ids=(30,)))
    merge(changes, MessagesChanged(org_id=1, conversation_ids=(4,)))
    assert changes == {"messages_rev": {3, 4}}
    merge(changes, SessionsEnded(org_id=1, user_ids=(7,)))
    assert changes == {"messages_rev": {3, 4}}
    merge(changes, MessagesChanged(org_id=1, conversation_ids=()))
    assert changes == {"messages_rev": None}


def test_marks_tell_which_ids_moved_since_a_read() -> None:
    recent, floor = marks.note([], 0, {3}, 1)
    recent, floor = marks.note(recent, floor, {4, 3}, 2)
    assert (recent, floor) == ([(3, 2), (4, 2)], 0)
    assert not marks.changed_since(recent, floor, 2, 2, [3])
    assert marks.changed_since(recent, floor, 2, 1, [3])
    assert not marks.changed_since(recent, floor, 3, 2, [3])  # moved for other ids only
    assert marks.changed_since(recent, floor, 2, 1, None)  # a view of everything
    assert marks.changed_since(recent, floor, 1, 2, [5])  # the counter went back: it was reset


@pytest.mark.parametrize("extra", [marks.RECENT, marks.RECENT + 5])
def test_marks_stay_bounded_and_ids_past_them_count_as_changed(extra: int) -> None:
    recent, floor = marks.note([], 0, {1}, 1)
    for n in range(extra):
        recent, floor = marks.note(recent, floor, {100 + n}, 2 + n)
    assert len(recent) <= marks.RECENT
    assert (1, 1) not in recent and floor >= 1
    assert marks.changed_since(recent, floor, 1 + extra, 0, [1])  # forgotten: maybe changed
    assert not marks.changed_since(recent, floor, 1 + extra, floor, [1])
    recent, floor = marks.note(recent, floor, None, 99)
    assert (recent, floor) == ([], 99)
