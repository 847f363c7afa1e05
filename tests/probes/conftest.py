"""Fixtures of the probe tests: the local HTTP server of :mod:`probe_server`."""

from probe_server import target

__all__ = ["target"]
