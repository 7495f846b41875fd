"""PK WhatsApp Mini CRM."""
