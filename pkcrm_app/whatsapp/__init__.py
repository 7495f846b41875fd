"""WhatsApp Cloud API: webhook parsing and signature, ingestion, customer simulator."""
