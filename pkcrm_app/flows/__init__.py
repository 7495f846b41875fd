"""Cross-domain work: sign-up, webhook delivery, organisation deletion; registry.py composes the domains."""
