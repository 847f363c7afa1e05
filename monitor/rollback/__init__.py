"""Rolling back a failed deployment: actions per environment and service, delivered by the outbox."""
