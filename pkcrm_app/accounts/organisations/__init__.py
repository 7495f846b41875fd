"""Organisations as admins run them: settings, members, invitations, access reviews."""
