"""Replaying a profile over a service's Prometheus history: how it would have judged past deploys,
how often it alarms on the service's own noise, and allowances that would keep that rare."""
