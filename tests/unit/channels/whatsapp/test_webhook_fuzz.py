"""Fuzzing the pure webhook parser: arbitrary JSON-ish bodies and mutated real fixtures never raise anything but
WebhookFormatError (for a body that is not an envelope at all), and every message with an id and a sender is kept."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkcrm_app.channels.whatsapp.inbound_types import extract
from pkcrm_app.channels.whatsapp.webhook import WebhookFormatError, parse_envelope
from pkcrm_app.inbox.rendering import render
from tests.support.data import SHARED_DATA

FIXTURES = sorted((SHARED_DATA / "webhooks").glob("*/*.json"))
TYPES = ["text", "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive", "button",
         "reaction", "order", "system", "unsupported", "unknown", "edit", "revoke", "request_welcome"]
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_ish = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.sampled_from(["id", "type", "from", "text", "body", "context",
                                                           "emoji", "message_id", "latitude", "errors", "title"])
                                          | st.text(max_size=8), inner, max_size=5), max_leaves=30)


def parse(payload: Any) -> None:
    try:
        batches = parse_envelope(payload)
    except WebhookFormatError:
        return
    for batch in batches:
        for message in batch.messages:
            json.dumps(message.kind.content)  # what is stored must be JSON
            render(message.type, message.text, message.kind.content)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_ish)
def test_arbitrary_bodies_never_crash_the_parser(payload: Any) -> None:
    parse(payload)
    parse({"object": "whatsapp_business_account", "entry": payload})
    parse({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": payload}]}]})


@settings(max_examples=400)
@given(st.sampled_from(TYPES), st.dictionaries(st.sampled_from([*TYPES, "context", "referral", "errors"]), json_ish,
                                               max_size=4))
def test_every_type_with_any_content_is_extracted_and_rendered(msg_type: str, raw: dict[str, Any]) -> None:
    kind = extract(msg_type, raw)
    json.dumps(kind.content)
    text, _supported = render(msg_type, kind.text, kind.content)
    assert isinstance(text, str)


def _mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """Replace the node reached by walking `path` (indexes into dict values / list items) with `replacement`."""
    if not path or not isinstance(value, dict | list) or not value:
        return replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    value[key] = _mutate(value[key], path[1:], replacement)
    return value


@pytest.mark.skipif(not FIXTURES, reason=f"no Cloud API fixture files under {SHARED_DATA / 'webhooks'}")
@settings(max_examples=500)
@given(st.sampled_from(FIXTURES or [Path("none")]), st.lists(st.integers(0, 50), max_size=8), json_ish)
def test_mutated_real_fixtures_never_crash_the_parser(path: Path, walk: list[int], replacement: Any) -> None:
    payload = _mutate(copy.deepcopy(json.loads(path.read_text())), walk, replacement)
    parse(payload)


def test_one_bad_message_does_not_lose_the_others_of_its_batch() -> None:
    good = {"from": "111", "id": "wamid.ok", "timestamp": "1", "type": "text", "text": {"body": "kept"}}
    weird = [None, 7, {"id": ""}, {"id": "wamid.x"}, {"from": "111", "id": "wamid.y", "type": "location",
                                                      "location": {"latitude": "north", "longitude": []}}]
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": "PN"}, "messages": [*weird, good]}}]}]}
    [batch] = parse_envelope(payload)
    assert [m.wa_message_id for m in batch.messages] == ["wamid.y", "wamid.ok"]
    assert len(batch.skipped) == 4
