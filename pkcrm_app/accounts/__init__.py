"""Organisations, users, memberships and roles, login sessions."""
