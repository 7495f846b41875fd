"""The WhatsApp Cloud API adapter: webhook parsing and signature, client, media download, numbers, templates."""
