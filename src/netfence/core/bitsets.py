"""Sets of small integers as Python ints, one bit per member.

The evaluator numbers the endpoints it knows and works on sets of them. A Python int is an
arbitrary-length bit string whose `&`, `|` and `~` run in C over machine words, so a set of
5,000 endpoints costs about 80 words and a union or intersection well under a microsecond:
this is what makes a full connectivity matrix affordable without NumPy.
Purely computational, no side effects.
"""

from __future__ import annotations

from collections.abc import Iterable

_BYTE_MEMBERS: tuple[tuple[int, ...], ...] = tuple(
    tuple(bit for bit in range(8) if byte >> bit & 1) for byte in range(256)
)


def full(size: int) -> int:
    """The set {0, ..., size - 1}."""
    return (1 << size) - 1


def from_indices(indices: Iterable[int], size: int) -> int:
    """The set holding `indices`, each in range(size).

    Built in a bytearray and converted once: or-ing `1 << i` into an int one member at a
    time would copy the whole int for every member.
    """
    buffer = bytearray((size + 7) // 8)
    for index in indices:
        buffer[index >> 3] |= 1 << (index & 7)
    return int.from_bytes(buffer, "little")


def indices(bits: int) -> list[int]:
    """The members of a set, ascending.

    Walks the bytes and skips the empty ones, so the cost is one step per eight possible
    members plus one per actual member.
    """
    found: list[int] = []
    if bits <= 0:
        return found
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    for position, byte in enumerate(data):
        if byte:
            base = position << 3
            found.extend(base + bit for bit in _BYTE_MEMBERS[byte])
    return found


def contains(bits: int, index: int) -> bool:
    return bool(bits >> index & 1)
