"""A PromQL SLI read as text: the metrics it selects without braces, its counting functions, and
one version's label matchers added to every selector (pure).

Scans, not a parser: outside string literals and ``#`` comments, PromQL writes ``{`` only to open a
selector's label matchers and ``[`` only to open a range (or a subquery), and a name followed by
``(`` is a function or an aggregation. Keywords are matched whatever their case, as Prometheus does
(``BY``, ``Inf``, ``NaN``, ``bool``, ``offset``...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# PromQL words that are not metric names where a selector could stand (lower case).
_KEYWORDS = frozenset((
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "atan2", "inf", "nan", "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
))  # fmt: skip
# Their parenthesised lists hold label names, not selectors.
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
# Functions whose value over a range is a number of events (or a difference), not events a second:
# an SLI read as rates times the window's seconds would count them hundreds of times over.
COUNTING_FUNCTIONS = frozenset({"increase", "delta", "idelta", "count_over_time", "sum_over_time"})
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"[0-9.](?:[eE][+-]|[0-9A-Za-z_.])*")


def _skip_string(query: str, start: int) -> int:
    """The index just after the string literal opening at ``start``."""
    quote, index = query[start], start + 1
    while index < len(query) and query[index] != quote:
        index += 2 if query[index] == "\\" and quote != "`" else 1
    return index + 1


def _skip_comment(query: str, start: int) -> int:
    """The index of the line break ending the comment opening at ``start`` (or the end)."""
    end = query.find("\n", start)
    return len(query) if end < 0 else end


def _skip_group(query: str, start: int) -> int:
    """The index just after the ``{...}`` or ``[...]`` opening at ``start``."""
    close = "}" if query[start] == "{" else "]"
    index = start + 1
    while index < len(query) and query[index] != close:
        index = _skip_string(query, index) if query[index] in "\"'`" else index + 1
    return index + 1


def _names(query: str) -> Iterator[tuple[str, str]]:
    """Each name outside strings, comments, label matchers and ranges, with what follows it (its
    next character other than a space, "" at the end); ``)`` comes as a name of its own, so a
    reader can tell where a label list ends."""
    index = 0
    while index < len(query):
        char = query[index]
        if char in "\"'`":
            index = _skip_string(query, index)
        elif char == "#":
            index = _skip_comment(query, index)
        elif char in "{[":
            index = _skip_group(query, index)
        elif char == ")":
            index += 1
            yield ")", ""
        elif number := _NUMBER.match(query, index):  # 0.5, 1e-3, 0x1f, a duration such as 5m
            index = number.end()
        elif match := _NAME.match(query, index):
            index = match.end()
            following = query[index:].lstrip()
            yield match.group(), following[:1]
        else:
            index += 1


def bare_metric(query: str) -> str | None:
    """The first metric selected by name alone (``x_total`` rather than ``x_total{}``), or None.

    A name that is no keyword, no function (followed by ``(``), no label list's member and no
    number selects a metric; followed by ``{`` it has braces.
    """
    in_labels = False
    for name, following in _names(query):
        if name == ")":
            in_labels = False
        elif name.lower() in _LABEL_LISTS:
            in_labels = True
        elif not (in_labels or name.lower() in _KEYWORDS or following in ("(", "{")):
            return name
    return None


def counting_function(query: str) -> str | None:
    """The first of :data:`COUNTING_FUNCTIONS` ``query`` calls (as written), or None."""
    for name, following in _names(query):
        if following == "(" and name.lower() in COUNTING_FUNCTIONS:
            return name
    return None


def inject_matchers(query: str, matchers: str) -> str:
    """``query`` with ``matchers`` (``a="1", b="2"``) added to every selector's ``{...}``.

    Each ``{`` outside string literals and comments is followed by ``matchers``, and a comma when
    the selector had matchers of its own; a comment is copied as it is.
    """
    out: list[str] = []
    index = 0
    while index < len(query):
        char = query[index]
        if char in "\"'`#":
            end = _skip_string(query, index) if char != "#" else _skip_comment(query, index)
            out.append(query[index:end])
            index = end
            continue
        out.append(char)
        index += 1
        if char == "{" and matchers:
            empty = query[index:].lstrip().startswith("}")
            out.append(matchers if empty else matchers + ", ")
    return "".join(out)


_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|!~|=)\s*("(?:[^"\\]|\\.)*")\s*(?:,|$)')


def rename_labels(matchers: str, names: dict[str, str]) -> str:
    """``matchers`` (``a="1", b=~"2"``, as :func:`monitor.profiles.templates.selector` writes them)
    with each label named in ``names`` renamed: a version's matchers in another profile's labels.

    :class:`ValueError` when ``matchers`` is not a list of quoted matchers.
    """
    pairs: list[str] = []
    index = 0
    while index < len(matchers):
        match = _MATCHER.match(matchers, index)
        if match is None or match.end() == index:
            raise ValueError(f"not label matchers: {matchers!r}")
        name, operator, value = match.groups()
        pairs.append(f"{names.get(name, name)}{operator}{value}")
        index = match.end()
    return ", ".join(pairs)
