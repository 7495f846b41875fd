"""The one composition module: it imports every domain and says, explicitly, what the layers below look up by
kind. Nothing registers itself on import: a table, a file scope or a hook is known because it is named here.

- ORGANISATION_ROWS: every table holding an organisation's rows (deleted with it), KEPT_ROWS what stays,
  OTHER_ROWS the tables that belong to no organisation; a test fails when a table is in none of them.
- ORGANISATION_FILES: every folder of an organisation's files (deleted with it).
- install(): hands the lower layers what they need from above (the lead count of an access review).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import MetaData, Table

from pkcrm_app.accounts.identity.mail_throttle import MailRequest
from pkcrm_app.accounts.identity.mfa_reset import FactorReset
from pkcrm_app.accounts.identity.models import AuthSession, Membership, MfaFactor, MfaRecoveryCode, Organisation, User
from pkcrm_app.accounts.identity.sso.models import SsoConnection, SsoLink, SsoLoginAttempt
from pkcrm_app.accounts.identity.tabs import LiveTab
from pkcrm_app.accounts.identity.throttle import LoginAttempt
from pkcrm_app.accounts.organisations import reach
from pkcrm_app.accounts.organisations.onboarding_models import Invitation, PasswordReset, SignupRequest
from pkcrm_app.accounts.organisations.review_models import AccessReview, AccessReviewItem
from pkcrm_app.accounts.security.models import SecurityAlert
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.channels.whatsapp.template_models import MessageTemplate
from pkcrm_app.core.crypto import DataKey
from pkcrm_app.core.db import Base
from pkcrm_app.crm import service as crm
from pkcrm_app.crm.models import Contact, Lead, LeadStageChange, Pipeline, Stage
from pkcrm_app.imports.models import ChatImportJob
from pkcrm_app.inbox.media.downloads import org_media_dir
from pkcrm_app.inbox.models import Conversation, Message, MessageMedia
from pkcrm_app.inbox.outbox.models import OutboxItem

# An organisation's rows, deleted with it (a table without org_id goes through its parent's, e.g. review items).
ORGANISATION_ROWS: tuple[type[Base], ...] = (
    Membership, AuthSession, SsoConnection, SsoLink, SsoLoginAttempt, Invitation, AccessReview, AccessReviewItem,
    SecurityAlert, WhatsAppNumber, MessageTemplate, Contact, Pipeline, Stage, Lead, LeadStageChange,
    Conversation, Message, MessageMedia, OutboxItem, ChatImportJob,
)
# Kept when the organisation goes: the append-only audit log, filed under the emptied organisation row.
KEPT_ROWS: tuple[type[Base], ...] = (AuditEvent, Organisation)
# Rows of people or of the whole installation: a deleted organisation's people are handled by the deletion flow.
OTHER_ROWS: tuple[type[Base], ...] = (
    User, MfaFactor, MfaRecoveryCode, SignupRequest, PasswordReset, FactorReset, MailRequest, LoginAttempt, LiveTab,
    DataKey,
)
# Folders of an organisation's files, removed once its rows are gone for good.
ORGANISATION_FILES: tuple[Callable[[int], Path], ...] = (org_media_dir,)


def metadata() -> MetaData:
    """Every table of the app (Alembic, the schema tests): complete because this module imports every model."""
    return Base.metadata


def tables(models: tuple[type[Base], ...]) -> list[Table]:
    return [model.__table__ for model in models]  # type: ignore[misc]


def install() -> None:
    """Hand the lower layers their hooks (idempotent): app start-up, the command line and the tests call it."""
    reach.count_leads_with(crm.lead_reach)
