"""Fixtures of the probe tests: the local HTTP server of :mod:`probe_server`, and a store on a
manual clock (:mod:`worker_fixtures`)."""

from probe_server import target
from worker_fixtures import clock, store

__all__ = ["clock", "store", "target"]
