"""Did-you-mean: the known names closest to a mistyped one (pure)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, known: Iterable[str], *, limit: int = 3) -> list[str]:
    """The known names that look most like `word`, best first (difflib's ratio >= 0.6)."""
    return difflib.get_close_matches(word, sorted(set(known)), n=limit, cutoff=0.6)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`; did you mean http?` (or `http or https?`), or "" when nothing is close."""
    found = closest(word, known)
    if not found:
        return ""
    return f"; did you mean {' or '.join(found)}?"
