"""Where registrations and final verdicts go: the outbox and the channels it delivers through.

``base`` defines the :class:`~monitor.channels.base.Channel` interface and the events; one module
per channel (``webhook``, ``annotation``, ``pager``, ``rollback``) builds its outbox items and
sends them, registered by kind in ``registry``; ``notify`` turns an event into every channel's
items; ``outbox`` delivers them with retries, looking channels up by kind.
"""
