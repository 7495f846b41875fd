"""Imports every table so Base.metadata is complete (Alembic, tests)."""

import pkcrm_app.accounts.mail_throttle  # limits on requests that send mail
import pkcrm_app.accounts.mfa_reset  # emailed links that reset one's own second factor
import pkcrm_app.accounts.review_models  # access reviews and their items
import pkcrm_app.accounts.tabs  # open tabs bound to their login session
import pkcrm_app.audit.alert_models  # noqa: F401  (security alerts)
from pkcrm_app.accounts import onboarding_models  # noqa: F401  (invitations, sign-up requests, resets)
from pkcrm_app.accounts.models import AuthSession, Membership, MfaFactor, MfaRecoveryCode, Organisation, User
from pkcrm_app.accounts.sso import models as sso_models  # noqa: F401  (single sign-on)
from pkcrm_app.accounts.throttle import LoginAttempt
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.crypto import DataKey
from pkcrm_app.core.db import Base
from pkcrm_app.crm.models import Contact, Lead, LeadStageChange, Pipeline, Stage
from pkcrm_app.inbox.models import Conversation, Message
from pkcrm_app.whatsapp import import_models, outbox_models, template_models  # noqa: F401  (imports, outbox, templates)
from pkcrm_app.whatsapp.models import WhatsAppNumber

__all__ = [
    "AuditEvent", "AuthSession", "Base", "Contact", "Conversation", "DataKey", "Lead",
    "LeadStageChange", "LoginAttempt", "Membership", "Message", "MfaFactor", "MfaRecoveryCode", "Organisation",
    "Pipeline", "Stage", "User", "WhatsAppNumber",
]
