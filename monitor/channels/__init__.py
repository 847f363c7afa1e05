"""Acting on final verdicts: notifications written to the outbox and delivered with retries."""
