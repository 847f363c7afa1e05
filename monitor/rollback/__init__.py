"""Rollback actions: what each does (Helm, HTTP, Kubernetes), how one runs, which a fail triggers.

``run`` runs one action by its type, ``plan`` says which actions a final fail triggers. The
outbox runs them through the rollback channel (:mod:`monitor.channels.rollback`); this package
imports no channel.
"""
