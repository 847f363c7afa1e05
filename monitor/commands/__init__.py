"""The work behind each CLI command."""
