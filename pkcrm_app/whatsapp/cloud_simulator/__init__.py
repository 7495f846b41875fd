"""A local WhatsApp Cloud API: send, media, templates, numbers; plays customers through signed webhooks."""
