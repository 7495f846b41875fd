"""Form posts to our own HTTP routes, made by the browser so secrets never enter websocket state."""

import json

import reflex as rx


def post_and_follow(url: str, form_id: str | None = None) -> rx.event.EventSpec:
    """POST the form (read from the DOM by the browser, with the screen size and language the privacy
    policy lists as device information) to `url`, then load the page the route names."""
    form = f"document.getElementById({json.dumps(form_id)})" if form_id else "null"
    script = (
        "(async () => { const f = " + form + "; const b = f ? new FormData(f) : null;"
        " if (b) { b.append('screen', `${screen.width}x${screen.height}`); b.append('language', navigator.language); }"
        f" const r = await fetch({json.dumps(url)}, {{method: 'POST', credentials: 'same-origin',"
        " headers: {'Accept': 'application/json'}, body: b});"
        " const d = await r.json().catch(() => ({})); window.location.assign(d.next || '/login'); })()"
    )
    return rx.call_script(script)


STEP_UP_INPUT_ID = "step-up-code"


def post_code_script(url: str, input_id: str) -> str:
    """JavaScript that POSTs the code typed in `input_id` to `url`, clears the field and evaluates to the JSON
    answer (for a call_script callback); an answer naming `next` (the session ended) loads that page."""
    return (
        "(async () => { const el = document.getElementById(" + json.dumps(input_id) + ");"
        " const b = new FormData(); b.append('code', el ? el.value : ''); if (el) el.value = '';"
        f" const r = await fetch({json.dumps(url)}, {{method: 'POST', credentials: 'same-origin',"
        " headers: {'Accept': 'application/json'}, body: b});"
        " const d = await r.json().catch(() => ({ok: false, error: 'The server did not answer. Try again.'}));"
        " if (d.next) { window.location.assign(d.next); } return d; })()"
    )


def recovery_codes_script() -> str:
    """JavaScript that asks for new recovery codes and writes them into #new-recovery-codes (never into state);
    evaluates to {shown: true} or the route's refusal ({error, step_up})."""
    return (
        "(async () => { const r = await fetch('/auth/mfa/recovery-codes', {method: 'POST',"
        " credentials: 'same-origin', headers: {'Accept': 'application/json'}});"
        " const d = await r.json().catch(() => ({error: 'The server did not answer. Try again.'}));"
        " if (!d.codes) { return d; }"
        " const box = document.getElementById('new-recovery-codes'); box.textContent = d.codes.join('\\n');"
        " box.style.display = 'block'; return {shown: true}; })()"
    )


def post_form_script(url: str, form_id: str) -> str:
    """JavaScript that POSTs the form `form_id` to `url` and evaluates to the JSON answer (for a call_script
    callback); an answer that went through (`ok`) or names `next` loads that page."""
    return (
        "(async () => { const f = document.getElementById(" + json.dumps(form_id) + ");"
        " const b = f ? new FormData(f) : null;"
        f" const r = await fetch({json.dumps(url)}, {{method: 'POST', credentials: 'same-origin',"
        " headers: {'Accept': 'application/json'}, body: b});"
        " const d = await r.json().catch(() => ({ok: false, error: 'The server did not answer. Try again.'}));"
        " if (d.ok || d.next) { window.location.assign(d.next || window.location.pathname); } return d; })()"
    )
