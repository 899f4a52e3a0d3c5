"""HTTP byte ranges (RFC 9110 §14): one range per request, as media players send."""

from __future__ import annotations

import re

# At most 19 digits a bound (an int64 offset): a longer number is not satisfiable, not a crash.
_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


class RangeNotSatisfiable(ValueError):
    """The Range header is malformed or lies outside the object."""


def parse_range(header: str, size: int) -> tuple[int, int]:
    """The inclusive ``(start, end)`` byte offsets a ``Range`` header asks for."""
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise RangeNotSatisfiable(header)
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:  # suffix range: the last N bytes
        start = max(size - int(m.group(2)), 0)
        end = size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable(header)
    return start, end
