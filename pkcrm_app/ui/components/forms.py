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
