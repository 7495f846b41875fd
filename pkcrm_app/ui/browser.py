"""The one way the UI posts to our own HTTP routes: the browser fetches the route itself (rx.call_script), so
passwords, codes, files and link tokens never enter websocket state.

`post_script` is the only fetch in the UI; the builders below say what is posted and what happens with the
answer. Values (URLs, element ids, lead ids) enter the JavaScript only as JSON literals, so a value from a
browser event or the database can never close a string and run code of its own.
"""

import json

import reflex as rx

NO_ANSWER = "({ok: false, error: 'The server did not answer. Try again.'})"
FOLLOW_ON_SUCCESS = " if (d.ok || d.next) { window.location.assign(d.next || window.location.pathname); }"


def post_script(url: str, *, body: str = "null", before: str = "", then: str = "", fallback: str = NO_ANSWER) -> str:
    """JavaScript that POSTs `body` to `url` (same origin, JSON answer wanted) and evaluates to the answer `d`.

    `before` builds the body, `then` acts on `d`; both are fixed code of this module's builders, never values.
    An answer that is not JSON becomes `fallback`."""
    return (
        "(async () => {" + before +
        f" const r = await fetch({json.dumps(url)}, {{method: 'POST', credentials: 'same-origin',"
        f" headers: {{'Accept': 'application/json'}}, body: {body}}});"
        f" const d = await r.json().catch(() => {fallback});" + then + " return d; })()"
    )


def _form(form_id: str) -> str:
    """Binds `f` to the form `form_id` and `b` to its fields (null without the form)."""
    return f" const f = document.getElementById({json.dumps(form_id)}); const b = f ? new FormData(f) : null;"


def follow_script(url: str, form_id: str | None = None) -> str:
    """POST the form (with the screen size and language the privacy policy lists as device information) to
    `url`, then load the page the route names."""
    before = (_form(form_id) if form_id else " const b = null;") + (
        " if (b) { b.append('screen', `${screen.width}x${screen.height}`); b.append('language', navigator.language); }")
    return post_script(url, body="b", before=before, fallback="({})",
                       then=" window.location.assign(d.next || '/login');")


def post_and_follow(url: str, form_id: str | None = None) -> rx.event.EventSpec:
    """`follow_script` as an event a button or form sends."""
    return rx.call_script(follow_script(url, form_id))


def post_form_script(url: str, form_id: str) -> str:
    """POST the form `form_id` to `url`, for a call_script callback; an answer that went through (`ok`) or names
    `next` loads that page."""
    return post_script(url, body="b", before=_form(form_id), then=FOLLOW_ON_SUCCESS)


def post_code_script(url: str, input_id: str) -> str:
    """POST the code typed in `input_id` to `url` and clear the field, for a call_script callback; an answer
    naming `next` (the session ended) loads that page."""
    before = (f" const el = document.getElementById({json.dumps(input_id)});"
              " const b = new FormData(); b.append('code', el ? el.value : ''); if (el) el.value = '';")
    return post_script(url, body="b", before=before, then=" if (d.next) { window.location.assign(d.next); }")


def recovery_codes_script() -> str:
    """Ask for new recovery codes and write them into #new-recovery-codes (never into state); evaluates to
    {shown: true} or the route's refusal ({error, step_up})."""
    then = (" if (d.codes) { const box = document.getElementById('new-recovery-codes');"
            " box.textContent = d.codes.join('\\n'); box.style.display = 'block'; return {shown: true}; }")
    return post_script("/auth/mfa/recovery-codes", then=then,
                       fallback="({error: 'The server did not answer. Try again.'})")


def enrolment_script(input_id: str) -> str:
    """POST the first code of a new authenticator; on success show the recovery codes (in the page only, never
    in state) and where to go on, else say why in #enrol-error."""
    before = (f" const el = document.getElementById({json.dumps(input_id)});"
              " const b = new FormData(); b.append('code', el.value);")
    then = (" const err = document.getElementById('enrol-error');"
            " if (!d.codes) { err.textContent = d.error || 'That code is not right.'; err.style.display = 'block';"
            "   if (d.next) { window.location.assign(d.next); } return d; }"
            " document.getElementById('recovery-codes').textContent = d.codes.join('\\n');"
            " document.getElementById('enrol-continue').setAttribute('href', d.next);"
            " document.getElementById('enrol-step').style.display = 'none';"
            " document.getElementById('recovery-panel').style.display = 'flex';")
    return post_script("/auth/mfa/enrol", body="b", before=before, then=then,
                       fallback="({error: 'The server did not answer. Try again.'})")


def upload_script(url: str, form_id: str, *, missing: str, lead_id: int | None = None,
                  fallback: str = NO_ANSWER) -> str:
    """POST the file chosen in the form `form_id` (with the lead it is for), for a call_script callback; without
    a file the answer is `missing` and nothing is sent; the form is emptied once the route took the file."""
    before = (f" const f = document.getElementById({json.dumps(form_id)});"
              f" if (!f || !f.file.files.length) {{ return {{error: {json.dumps(missing)}}}; }}"
              " const b = new FormData(f);")
    if lead_id is not None:
        before += f" b.append('lead_id', {json.dumps(str(lead_id))});"
    return post_script(url, body="b", before=before, then=" if (d.ok || (d.next && !d.error)) { f.reset(); }",
                       fallback=fallback)
