"""Contacts, pipelines, stages and leads."""
