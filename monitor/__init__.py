"""Deployment health monitor: compares a new version with its baseline and emits a verdict."""

__version__ = "0.1.0"
