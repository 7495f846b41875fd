"""What agents send: queued in the outbox in the message's transaction, delivered by the sender."""
