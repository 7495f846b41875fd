"""The one composition module: it imports every domain and says, explicitly, what the layers below look up by
kind. Nothing registers itself on import: a table, a file scope or a hook is known because it is named here.

- ORGANISATION_ROWS: every table holding an organisation's rows (deleted with it), KEPT_ROWS what stays,
  OTHER_ROWS the tables that belong to no organisation; a test fails when a table is in none of them.
- ORGANISATION_FILES: every blob scope of an organisation's files (deleted with it); a test fails when a
  `BlobScope` declared anywhere is not named here.
- JOB_KINDS: every kind of job the runner knows (the app's lifespan task and `cli worker` read it).
- install(): hands the lower layers what they need from above (the lead count of an access review).
"""

from __future__ import annotations

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
from pkcrm_app.core.db import Base
from pkcrm_app.core.keyring import DataKey
from pkcrm_app.crm import service as crm
from pkcrm_app.crm.models import Contact, Lead, LeadStageChange, Pipeline, Stage
from pkcrm_app.imports.importer import chat_import_kind
from pkcrm_app.imports.models import ChatImportJob
from pkcrm_app.imports.spool import IMPORT_SPOOLS
from pkcrm_app.inbox.media.downloads import MEDIA, media_download_kind
from pkcrm_app.inbox.models import Conversation, Message, MessageMedia
from pkcrm_app.inbox.outbox.files import OUTBOUND_MEDIA
from pkcrm_app.inbox.outbox.models import OutboxItem
from pkcrm_app.inbox.outbox.sender import outbox_kind
from pkcrm_app.jobs.kinds import JobKind
from pkcrm_app.jobs.models import Job
from pkcrm_app.settings import get_settings
from pkcrm_app.storage.reseal import reseal_kind
from pkcrm_app.storage.store import BlobScope

# An organisation's rows, deleted with it (a table without org_id goes through its parent's, e.g. review items).
ORGANISATION_ROWS: tuple[type[Base], ...] = (
    Membership, AuthSession, SsoConnection, SsoLink, SsoLoginAttempt, Invitation, AccessReview, AccessReviewItem,
    SecurityAlert, WhatsAppNumber, MessageTemplate, Contact, Pipeline, Stage, Lead, LeadStageChange,
    Conversation, Message, MessageMedia, OutboxItem, ChatImportJob, Job,
)
# Kept when the organisation goes: the append-only audit log, filed under the emptied organisation row.
KEPT_ROWS: tuple[type[Base], ...] = (AuditEvent, Organisation)
# Rows of people or of the whole installation: a deleted organisation's people are handled by the deletion flow.
OTHER_ROWS: tuple[type[Base], ...] = (
    User, MfaFactor, MfaRecoveryCode, SignupRequest, PasswordReset, FactorReset, MailRequest, LoginAttempt, LiveTab,
    DataKey,
)
# Scopes of an organisation's blobs, removed (and its blob key erased) once its rows are gone for good.
ORGANISATION_FILES: tuple[BlobScope, ...] = (MEDIA, OUTBOUND_MEDIA, IMPORT_SPOOLS)
# Every kind of job; the outbox kind is the WhatsApp sender.
OUTBOX_KIND = outbox_kind()
JOB_KINDS: tuple[JobKind, ...] = (OUTBOX_KIND, media_download_kind(), chat_import_kind(),
                                  reseal_kind(ORGANISATION_FILES))


def job_kind(name: str) -> JobKind:
    """A kind by name; KeyError naming the known ones."""
    for kind in JOB_KINDS:
        if kind.name == name:
            return kind
    raise KeyError(f"no job kind {name!r}; known: {', '.join(k.name for k in JOB_KINDS)}")


def in_app_job_kinds() -> tuple[JobKind, ...]:
    """The kinds the web app runs: all of them, but the sender only with PKCRM_OUTBOX_IN_APP on (otherwise
    dedicated `cli worker` / `cli send-outbox` processes deliver the outbox)."""
    if get_settings().outbox_in_app:
        return JOB_KINDS
    return tuple(kind for kind in JOB_KINDS if kind is not OUTBOX_KIND)


def metadata() -> MetaData:
    """Every table of the app (Alembic, the schema tests): complete because this module imports every model."""
    return Base.metadata


def tables(models: tuple[type[Base], ...]) -> list[Table]:
    return [model.__table__ for model in models]  # type: ignore[misc]


def install() -> None:
    """Hand the lower layers their hooks (idempotent): app start-up, the command line and the tests call it."""
    reach.count_leads_with(crm.lead_reach)
