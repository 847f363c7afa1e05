"""The channels by kind: each channel module registers its factory; the outbox looks channels up here.

Adding a channel is one new module under :mod:`monitor.channels` that calls :func:`register`,
and its name in :data:`BUILTIN`. The modules are imported when channels are first built, not
by the outbox core, which knows channels only by the kind of their items.
"""

from __future__ import annotations

import importlib

from monitor.channels.base import Channel, ChannelFactory, Setup
from monitor.config import Settings
from monitor.environments import Environments
from monitor.own_metrics import EngineMetrics
from monitor.store import Store

# Channel modules, in the order their items are written (webhooks first, rollback actions last).
BUILTIN = ("webhook", "annotation", "pager", "rollback")

_FACTORIES: dict[str, ChannelFactory] = {}


def register(kind: str, factory: ChannelFactory) -> None:
    """Make ``factory`` build the channel of items whose kind starts with ``kind``."""
    if kind in _FACTORIES and _FACTORIES[kind] is not factory:
        raise ValueError(f"channel kind {kind!r} is already registered")
    _FACTORIES[kind] = factory


def kinds() -> tuple[str, ...]:
    """The registered channel kinds."""
    _load_builtin()
    return tuple(sorted(_FACTORIES, key=_rank))


def build(setup: Setup) -> dict[str, Channel]:
    """The channels ``setup`` configures, by kind, in the order of :data:`BUILTIN` (others after)."""
    _load_builtin()
    built = {kind: _FACTORIES[kind](setup) for kind in sorted(_FACTORIES, key=_rank)}
    return {kind: channel for kind, channel in built.items() if channel is not None}


def _rank(kind: str) -> int:
    # Whichever channel module was imported first, items are written in one order.
    module = _FACTORIES[kind].__module__.rpartition(".")[2]
    return BUILTIN.index(module) if module in BUILTIN else len(BUILTIN)


def channels_for(
    settings: Settings,
    store: Store | None = None,
    metrics: EngineMetrics | None = None,
    environments: Environments | None = None,
) -> dict[str, Channel]:
    """The configured channels of the outbox worker (rollback actions need ``store`` to send)."""
    return build(Setup(settings, environments or Environments(settings.environments), store, metrics))


def _load_builtin() -> None:
    for name in BUILTIN:
        importlib.import_module(f"monitor.channels.{name}")
