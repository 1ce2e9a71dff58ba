"""Messages cut to a limit keep their cause: lists of names shrink first, the end stays."""

from __future__ import annotations

from netfence.core import messages

NAMES = [f"policy-{i:03d}" for i in range(200)]
CAUSE = "cannot write the backup: the API server is unreachable; will retry"


def test_a_short_list_is_written_out() -> None:
    assert messages.name_list(["a", "b", "c"]) == "a, b, c"
    assert messages.name_list(["a", "b", "c"], at_most=3) == "a, b, c"


def test_a_long_list_keeps_its_first_names_and_counts_the_rest() -> None:
    assert messages.name_list(["a", "b", "c", "d"], at_most=2) == "a, b, … (+2 more)"
    assert messages.name_list(NAMES) == (", ".join(NAMES[:10]) + ", … (+190 more)")


def test_a_message_within_the_limit_is_left_alone() -> None:
    assert messages.shorten("short", 1024) == "short"


def test_a_long_list_in_a_message_is_shortened_and_the_cause_kept_whole() -> None:
    message = f"could not record backup of shop (pruning): {', '.join(NAMES)}: {CAUSE}"
    assert len(message) > 2000

    short = messages.shorten(message, 1024)

    assert len(short.encode()) <= 1024  # "…" is 3 bytes: the API server counts bytes
    assert short.startswith("could not record backup of shop (pruning): policy-000, policy-001")
    assert short.endswith(f", … (+{200 - short.count('policy-')} more): {CAUSE}")
    # As many names as fit: one more would not.
    assert len(short.encode()) > 1024 - len("policy-000, ")


def test_without_a_list_the_middle_is_cut_and_the_end_kept() -> None:
    message = "x" * 3000 + " " + CAUSE
    short = messages.shorten(message, 1024)
    assert len(short.encode()) <= 1024
    assert short.endswith(CAUSE)
    assert " … " in short
    assert short.startswith("x" * 300)


def test_a_list_too_long_even_when_shortened_falls_back_to_the_cut() -> None:
    message = ", ".join(NAMES) + ": " + "y" * 2000 + " " + CAUSE
    short = messages.shorten(message, 500)
    assert len(short.encode()) <= 500
    assert short.endswith(CAUSE)


def test_the_limit_is_in_bytes_and_no_character_is_cut_in_two() -> None:
    message = "ü" * 1000 + " " + CAUSE  # 2 bytes each
    short = messages.shorten(message, 1024)
    assert len(short.encode()) <= 1024
    assert short.endswith(CAUSE)
    assert set(short.split(" … ")[0]) == {"ü"}
