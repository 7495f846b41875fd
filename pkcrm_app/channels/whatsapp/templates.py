"""Message templates: sync from the Cloud API, define locally, fill {{n}} variables from contact fields."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.audit.service import record
from pkcrm_app.channels.whatsapp.client import CloudApiError, CloudClient
from pkcrm_app.channels.whatsapp.connection import get_number, refusal_words
from pkcrm_app.channels.whatsapp.template_models import MessageTemplate
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound
from pkcrm_app.core.events import TemplatesChanged, emit_on_commit

PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


# The contact fields a template variable can be filled from; the caller reads them off the contact.
CONTACT_FIELDS = ("name", "first_name", "phone")
NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")


@dataclass(frozen=True)
class TemplateView:
    id: int
    name: str
    language: str
    category: str
    source: str
    body: str
    buttons: list[str]
    variables: dict[str, str]


def _view(t: MessageTemplate) -> TemplateView:
    return TemplateView(id=t.id, name=t.name, language=t.language, category=t.category, source=t.source,
                        body=t.body, buttons=list(t.buttons or []), variables=dict(t.variables or {}))


def placeholders(body: str) -> list[str]:
    """The variable numbers used in a body, in order: '{{1}} and {{2}}' -> ['1', '2']."""
    return sorted({m.group(1) for m in PLACEHOLDER.finditer(body)}, key=int)


def fill(template: MessageTemplate | TemplateView, fields: Mapping[str, str]) -> tuple[str, list[str]]:
    """The text the customer will read and the parameter values, each from its mapped contact field
    (`fields` holds every name of CONTACT_FIELDS)."""
    mapping = dict(template.variables or {})
    values = {n: fields[mapping.get(n, "name") if mapping.get(n, "name") in CONTACT_FIELDS else "name"]
              for n in placeholders(template.body)}
    text = PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template.body)
    return text, [values[n] for n in placeholders(template.body)]


def cloud_payload(template: MessageTemplate | TemplateView, parameters: list[str]) -> dict[str, Any]:
    """The `template` object of a Cloud API send."""
    body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if parameters:
        body["components"] = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}]
    return body


def list_templates(db: Session, actor: Actor) -> list[TemplateView]:
    """The approved templates agents may send."""
    actor.require(Permission.CONVERSATION_VIEW)
    rows = db.scalars(select(MessageTemplate).where(MessageTemplate.org_id == actor.org_id,
                                                    MessageTemplate.status == "APPROVED")
                      .order_by(MessageTemplate.name, MessageTemplate.language))
    return [_view(t) for t in rows]


def get_template(db: Session, actor: Actor, template_id: int) -> MessageTemplate:
    actor.require(Permission.CONVERSATION_VIEW)
    found = db.scalar(select(MessageTemplate).where(MessageTemplate.id == template_id,
                                                    MessageTemplate.org_id == actor.org_id))
    if found is None:
        raise NotFound("that template does not exist in this organisation")
    return found


def _check_variables(body: str, variables: dict[str, str]) -> dict[str, str]:
    unknown = {v for v in variables.values() if v not in CONTACT_FIELDS}
    if unknown:
        raise InvalidInput(f"unknown contact field {sorted(unknown)[0]!r}; use one of {', '.join(CONTACT_FIELDS)}")
    return {n: variables.get(n, "name") for n in placeholders(body)}


def define_template(
    db: Session, actor: Actor, *, name: str, language: str, body: str, category: str = "UTILITY",
    buttons: list[str] | None = None, variables: dict[str, str] | None = None,
) -> TemplateView:
    """Define (or replace) an organisation template; it must also exist, approved, at Meta to be delivered."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    name, language = name.strip(), language.strip() or "en_US"
    if not NAME_RE.match(name):
        raise InvalidInput("a template name is lower-case letters, digits and underscores")
    if not body.strip() or len(body) > 1024:
        raise InvalidInput("the template body is required (at most 1024 characters)")
    titles = [b.strip() for b in buttons or [] if b.strip()]
    if len(titles) > 3 or any(len(b) > 20 for b in titles):
        raise InvalidInput("at most 3 quick-reply buttons of at most 20 characters")
    found = db.scalar(select(MessageTemplate).where(MessageTemplate.org_id == actor.org_id,
                                                    MessageTemplate.name == name,
                                                    MessageTemplate.language == language))
    if found is None:
        found = MessageTemplate(org_id=actor.org_id, name=name, language=language)
        db.add(found)
    found.body, found.category, found.buttons, found.source = body, category.upper(), titles, "local"
    found.variables, found.status, found.updated_at = _check_variables(body, variables or {}), "APPROVED", utcnow()
    db.flush()
    record(db, action="whatsapp.template_defined", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="message_template", target_id=found.id, details={"name": name, "language": language})
    emit_on_commit(db, TemplatesChanged(org_id=actor.org_id, template_ids=(found.id,)))
    return _view(found)


def _parse_remote(raw: dict[str, Any]) -> tuple[str, list[str]]:
    body, buttons = "", []
    for component in raw.get("components") or []:
        if not isinstance(component, dict):
            continue
        if component.get("type") == "BODY":
            body = str(component.get("text") or "")
        if component.get("type") == "BUTTONS":
            buttons = [str(b.get("text")) for b in component.get("buttons") or []
                       if isinstance(b, dict) and b.get("type") == "QUICK_REPLY"]
    return body, buttons


def sync_templates(
    db: Session, actor: Actor, number_id: int, *, client_factory: Callable[[str], CloudClient] = CloudClient,
) -> int:
    """Read the business account's templates from the Cloud API and store them; returns how many were read."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    number = get_number(db, actor, number_id)
    if not number.business_account_id or not number.access_token:
        raise InvalidInput("set the business account ID and access token of this number first")
    client = client_factory(number.access_token)
    try:
        remote = client.templates(number.business_account_id)
    except CloudApiError as exc:
        raise InvalidInput("Templates were not read: " + refusal_words(exc, what="this business account ID")) from None
    finally:
        client.close()
    existing = {(t.name, t.language): t for t in db.scalars(
        select(MessageTemplate).where(MessageTemplate.org_id == actor.org_id))}
    for raw in remote:
        name, language = str(raw.get("name") or ""), str(raw.get("language") or "")
        if not name or not language:
            continue
        row = existing.get((name, language))
        if row is None:
            row = existing[(name, language)] = MessageTemplate(org_id=actor.org_id, name=name, language=language)
            db.add(row)
        row.body, row.buttons = _parse_remote(raw)
        row.category, row.status = str(raw.get("category") or ""), str(raw.get("status") or "")
        row.source, row.updated_at = "synced", utcnow()
        row.variables = {n: (row.variables or {}).get(n, "name") for n in placeholders(row.body)}
    record(db, action="whatsapp.templates_synced", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="whatsapp_number", target_id=number.id, details={"templates": len(remote)})
    db.flush()  # ids of the templates read for the first time, for the live event
    emit_on_commit(db, TemplatesChanged(org_id=actor.org_id,
                                        template_ids=tuple(sorted(t.id for t in existing.values()))))
    return len(remote)
