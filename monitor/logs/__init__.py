"""Logs as a signal: redaction, template mining, and (later) per-version template counts."""
