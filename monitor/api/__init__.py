"""The HTTP API of ``monitor serve`` (aiohttp): a thin edge over the store and the engine."""
