"""Messages for people that stay readable at any size: long lists of names are shortened
to their first names and a count, and a message cut to a limit keeps its end, which is
where netfence's messages say why (the cause) and what happens next.

Limits are in UTF-8 bytes, as the API server counts them (an Event's message holds at most
1024). Purely computational.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

ELLIPSIS: Final = "…"
_MARK: Final = f" {ELLIPSIS} "
# Names as netfence lists them: object names, Kind/name, namespace/name; 4 or more of
# them joined by ", " make a list worth shortening.
_LIST: Final = re.compile(r"(?<![\w./-])[\w./-]+(?:, [\w./-]+){3,}")


def name_list(names: Sequence[str], *, at_most: int = 10) -> str:
    """``a, b, c, … (+N more)``: the first ``at_most`` names, and how many more there are."""
    if len(names) <= at_most:
        return ", ".join(names)
    return f"{', '.join(names[:at_most])}, {ELLIPSIS} (+{len(names) - at_most} more)"


def shorten(message: str, limit: int) -> str:
    """``message`` in at most ``limit`` bytes (UTF-8), its end kept whole where possible.

    The lists of names in it are shortened first, longest first (`name_list`); only when
    that is not enough is the middle cut out, keeping a third of the limit from the start
    and the rest from the end.
    """
    if _size(message) <= limit:
        return message
    for match in sorted(_LIST.finditer(message), key=lambda m: len(m.group()), reverse=True):
        excess = _size(message) - limit
        if excess <= 0:
            break
        # Spans of later matches are stale once an earlier one is rewritten, so rewrite
        # from the found text, not from the offsets.
        listed = match.group()
        shorter = _shortened(listed.split(", "), _size(listed) - excess)
        message = message.replace(listed, shorter, 1)
    if _size(message) <= limit:
        return message
    encoded = message.encode()
    head = limit // 3
    tail = limit - head - _size(_MARK)
    if tail <= 0:
        return encoded[:limit].decode(errors="ignore")
    # A character cut in two at either edge is dropped, never half kept.
    start = encoded[:head].decode(errors="ignore").rstrip()
    end = encoded[-tail:].decode(errors="ignore").lstrip()
    return f"{start}{_MARK}{end}"


def _shortened(names: list[str], room: int) -> str:
    """The longest `name_list` of ``names`` in ``room`` bytes (at least one name)."""
    # Each name takes at least 3 bytes with its ", ": no more than room // 3 fit.
    keep = min(len(names) - 1, room // 3 + 1)
    while keep > 1 and _size(name_list(names, at_most=keep)) > room:
        keep -= 1
    return name_list(names, at_most=keep)


def _size(text: str) -> int:
    return len(text.encode())
