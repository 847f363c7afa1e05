"""``monitor report-link``: print a fresh signed link to a deployment's report, or to the index page.

Signed here with the daemon's report-link key (``report_links.key_file`` of ``--config`` or
``MONITOR_REPORT_LINK_KEY_FILE``) on the daemon's ``public_url``: no daemon is asked, so whoever can
read the key file can make links (docs/security.md). The URL goes to stdout, when it expires to
stderr, so ``$(monitor report-link ID)`` is the link alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from monitor.config import KEY_FILE_VARIABLE, load_settings
from monitor.errors import InputError, MonitorError
from monitor.exitcodes import EXIT_ERROR, EXIT_PASS
from monitor.reportlinks import signed_index_url, signed_report_url
from monitor.timeparse import format_time, parse_duration_s

MAX_LIFETIME_S = 90 * 86400.0  # as report_links.lifetime_s


def report_link(args: argparse.Namespace, now_s: float) -> tuple[str, float]:
    """The signed URL ``args`` ask for and its expiry (Unix seconds)."""
    if bool(args.deployment_id) == bool(args.index):
        raise InputError("name a deployment ID or pass --index (not both)")
    settings = load_settings(Path(args.config) if args.config else None)
    key = settings.report_links
    if key is None:
        raise InputError(
            f"no report-link key: set report_links.key_file in --config, or {KEY_FILE_VARIABLE} "
            "(the daemon's key file)"
        )
    if not settings.public_url:
        raise InputError(
            "no public_url: set it in --config or MONITOR_PUBLIC_URL (the daemon as users reach it)"
        )
    lifetime_s = key.lifetime_s
    if args.lifetime:
        lifetime_s = parse_duration_s(args.lifetime, "--lifetime")
        if lifetime_s > MAX_LIFETIME_S:
            raise InputError(f"--lifetime {args.lifetime!r} is longer than 90 days; links are credentials")
    expires_s = int(now_s + lifetime_s)
    if args.index:
        return signed_index_url(settings.public_url, key, now_s, lifetime_s), expires_s
    return signed_report_url(settings.public_url, args.deployment_id, key, now_s, lifetime_s), expires_s


def run_report_link(args: argparse.Namespace) -> int:
    """Print the link; errors are one line on stderr and exit 3."""
    try:
        url, expires_s = report_link(args, time.time())
    except MonitorError as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(url, flush=True)
    print(f"expires {format_time(datetime.fromtimestamp(expires_s, UTC))}", file=sys.stderr)
    return EXIT_PASS
