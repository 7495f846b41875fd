"""Suspicious-activity alerts raised to an organisation's admins."""
