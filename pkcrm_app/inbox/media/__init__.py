"""Inbound media files: downloaded after the webhook answered, read only by members who may see them."""
