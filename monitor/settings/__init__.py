"""The config file's input layer: pydantic models that validate YAML and build the domain's value objects.

:mod:`monitor.settings.base` holds what every section shares (strict, closed models and the one
translator from pydantic's errors to :class:`~monitor.errors.ConfigError`); a section that belongs to
no other package has its module here (:mod:`monitor.settings.grafana`, :mod:`monitor.settings.pager`).
The file as a whole is :mod:`monitor.config.file`; profiles are :mod:`monitor.profiles.parse`.
"""
