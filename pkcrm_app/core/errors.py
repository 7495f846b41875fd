"""Typed domain errors that routes and states turn into clear messages."""


class DomainError(Exception):
    """Base class of every error a user may be shown."""


class NotFound(DomainError):
    """The object does not exist in the caller's organisation."""


class PermissionDenied(DomainError):
    """The caller's role does not allow this action."""


class InvalidInput(DomainError):
    """The input was rejected; the message says why."""


class AuthenticationFailed(DomainError):
    """Login failed; deliberately says nothing about which part was wrong."""

    def __init__(self) -> None:
        super().__init__("Email or password is incorrect.")
