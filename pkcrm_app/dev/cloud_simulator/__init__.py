"""A local WhatsApp Cloud API (a web server, so outside the domain packages): send, media, templates, numbers;
plays customers through signed webhooks."""
