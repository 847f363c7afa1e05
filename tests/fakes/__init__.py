"""Faithful HTTP fakes of external services that cannot run on this machine (see ``grafana.py``)."""
