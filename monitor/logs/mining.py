"""Log template mining: drain3's Drain tree behind fast masking and a cache of seen lines.

Method: Drain (He et al., ICWS 2017) as implemented by drain3, with its defaults (similarity
threshold 0.4, depth 4, numeric tokens as parameters). Before the tree, secrets are redacted and
variable parts masked: UUIDs, hex numbers and long hex ids (``<ID>``), IPv4 addresses with a
port (``<IP>``), and numbers, also inside tokens (``blk_-<NUM>``, ``port=<NUM>``).

Most lines of a template differ only in their digits, so a bounded cache keyed by the line with
its digits removed answers them before any pattern runs; a second key, the masked line, catches
the rest (ids, UUIDs) before the tree. Real logs repeat a lot, which more than pays for masking.

Assumes lines are messages (timestamp and level already split off).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from drain3.drain import Drain

from monitor.logs.redact import redact

# UUIDs, 0x numbers and long hex ids (trace and span ids, digests): one alternation.
_ID = re.compile(
    r"\b(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|0[xX][0-9a-fA-F]+|[0-9a-f]{16,})\b"
)
_IP = re.compile(r"(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?::\d{1,5})?(?![\d.])")
_NUM = re.compile(r"\d[\d.:]*")
CACHE_LINES = 100_000
_NO_DIGITS = str.maketrans("", "", "0123456789")


def mask(line: str) -> str:
    """``line`` with its variable parts replaced by ``<ID>``, ``<IP>`` and ``<NUM>``.

    Replacements are template strings (no Python call per match) and the IP pattern runs only
    where three dots make an address possible: a combined pattern with a callback costs twice
    as much, and masking is most of the cost of mining.
    """
    line = _ID.sub("<ID>", line)
    if line.count(".") >= 3:
        line = _IP.sub("<IP>", line)
    return _NUM.sub("<NUM>", line)


@dataclass(frozen=True)
class Template:
    """A mined template: its id (stable for the miner's life) and its current text."""

    id: int
    text: str


class TemplateMiner:
    """Assigns each log line a template id; one miner per comparison, fed both versions' lines."""

    def __init__(self, *, similarity: float = 0.4, depth: int = 4, cache_lines: int = CACHE_LINES) -> None:
        self._drain = Drain(sim_th=similarity, depth=depth)
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._cache_lines = cache_lines

    def add(self, line: str) -> int:
        """The template id of ``line`` (redacted and masked first), learning from it."""
        # Lines that differ only in their digits mask alike (numbers and addresses are digits);
        # the digit-free shape, made at C speed, finds them before any pattern runs.
        shape = line.translate(_NO_DIGITS)
        cached = self._cache.get(shape)
        if cached is not None:
            return cached
        masked = mask(redact(line.strip()))
        template_id = self._cache.get(masked)
        if template_id is None:
            cluster, _ = self._drain.add_log_message(masked)
            template_id = int(cluster.cluster_id)
        self._remember(masked, template_id)
        self._remember(shape, template_id)
        return template_id

    def _remember(self, key: str, template_id: int) -> None:
        self._cache[key] = template_id
        if len(self._cache) > self._cache_lines:
            self._cache.popitem(last=False)

    def template(self, template_id: int) -> Template:
        """The current text of a template (it generalises as lines arrive)."""
        cluster = self._drain.id_to_cluster[template_id]
        return Template(template_id, cluster.get_template())

    @property
    def templates(self) -> list[Template]:
        """Every template mined so far."""
        return [Template(c.cluster_id, c.get_template()) for c in self._drain.clusters]
