"""Check kinds: what a profile's check reads at a look and how it is judged.

Each kind implements :class:`monitor.checks.kind.CheckKind` in its own module and is registered
by one line in :mod:`monitor.checks.registry`. This package's root imports nothing, so that the
profile parser can ask the registry for valid names without loading the judges.
"""
