"""Messaging channels: adapters that turn a provider's API into neutral values."""
