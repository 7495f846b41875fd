"""Typed domain errors that routes and states turn into clear messages."""

from typing import TypeVar

E = TypeVar("E", bound="DomainError")


class DomainError(Exception):
    """Base class of every error a user may be shown.

    `recorded`: the refusal itself was written down in the caller's transaction (a failed attempt counted, a
    lockout audited), so whoever owns that transaction commits it before passing the error on (core/db.py's
    session does), instead of rolling the count back with the rest."""

    recorded: bool = False


def recorded(error: E) -> E:
    """Mark a refusal whose writes must stand although the operation failed (see DomainError)."""
    error.recorded = True
    return error


class NotFound(DomainError):
    """The object does not exist in the caller's organisation."""


class PermissionDenied(DomainError):
    """The caller's role does not allow this action."""


class StepUpRequired(PermissionDenied):
    """A sensitive action needs a second factor entered in the last few minutes (step-up)."""

    def __init__(self, message: str = "This action needs a fresh code from your authenticator app "
                 "(or one of your recovery codes).") -> None:
        super().__init__(message)


class InvalidInput(DomainError):
    """The input was rejected; the message says why."""


class AuthenticationFailed(DomainError):
    """Login failed; deliberately says nothing about which part was wrong.

    `delay_seconds` is how long the caller should wait before answering (progressive slow-down).
    """

    def __init__(self, message: str = "Email or password is incorrect.", *, delay_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


class LoginThrottled(AuthenticationFailed):
    """Too many recent failures for this email or address; the same for existing and unknown emails."""

    def __init__(self, *, delay_seconds: float = 0.0) -> None:
        super().__init__("Too many failed sign-ins. Try again in 15 minutes.", delay_seconds=delay_seconds)
