"""Check kinds: what a profile's check reads at a look and how it is judged.

Each kind implements :class:`monitor.checks.kind.CheckKind` in its own module and is registered
by one line in :mod:`monitor.profiles.kinds`, the vocabulary the profile parser checks names
against. To add one, write the module (a metric kind subclasses
:class:`monitor.checks.metric.MetricKind`; a log or trace kind is an
:class:`monitor.checks.aggregated.AggregatedKind` of a pure judge) and its ``register(...)`` line:
the profile parser then accepts its name, and the engine fetches, claims and judges it through
:func:`monitor.checks.registry.kind_for`.
"""
