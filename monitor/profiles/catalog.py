"""The profiles one process serves, each parsed once.

Parsing a profile's YAML costs more than the rest of a registration, and profiles do not change
while the daemon runs: ``monitor serve`` creates one catalog and gives it to the API (which checks
a registration's profile) and to the engine (which judges with it). The engine's own process, when
it has one, holds its own catalog: processes share no memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from monitor.profiles import BUILTIN_PROFILES, Profile, load_profile


class ProfileCatalog:
    """Profiles by name: the built-ins and those the configured environments name."""

    def __init__(
        self, configured: Iterable[str] = (), loader: Callable[[str], Profile] = load_profile
    ) -> None:
        self._available = frozenset(BUILTIN_PROFILES) | frozenset(configured)
        self._loader = loader
        self._loaded: dict[str, Profile] = {}

    @property
    def available(self) -> frozenset[str]:
        """The names an API caller may ask for (never a path: the daemon would read any file it can)."""
        return self._available

    def get(self, name: str) -> Profile:
        """The profile ``name``, parsed on first use; a :class:`~monitor.errors.ConfigError` if invalid."""
        profile = self._loaded.get(name)
        if profile is None:
            profile = self._loaded[name] = self._loader(name)
        return profile
