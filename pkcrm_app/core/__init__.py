"""Shared infrastructure: database, encryption at rest, domain events, errors."""
