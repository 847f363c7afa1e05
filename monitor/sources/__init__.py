"""I/O to telemetry backends. ``base`` holds the protocol; one module per backend."""
