"""Backups over several ConfigMaps: split in order under the limit, read back whole, and
never half: a missing part makes the backup unreadable instead of smaller."""

from __future__ import annotations

import random
from typing import Any

import pytest

from netfence.core import backups, conversion, errors, naming
from netfence.core.objects import JsonDict, Phase

NS = "shop"


def policy(name: str, *, blocks: int = 1) -> JsonDict:
    """A NetworkPolicy manifest; ``blocks`` ipBlock peers take about 37 bytes each as YAML."""
    peers = [{"ipBlock": {"cidr": f"10.{i // 256 % 256}.{i % 256}.0/24"}} for i in range(blocks)]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": NS, "labels": {"team": "a"}},
        "spec": {"podSelector": {}, "ingress": [{"from": peers}]},
    }


# The logic is the same at any part size: small parts keep these tests fast, and the few
# tests of the real limits use text entries, which are written as they are.
PART = 4096


def many(count: int) -> dict[str, JsonDict]:
    """``count`` policies of about 1 KB each as YAML."""
    return {f"p-{i:02d}": policy(f"p-{i:02d}", blocks=20) for i in range(count)}


def split(phase: Phase, entries: dict[str, JsonDict]) -> tuple[backups.Part, ...]:
    return backups.split(NS, phase, entries, part_bytes=PART)


def text_entries(count: int, size: int) -> dict[str, JsonDict]:
    """``count`` entries of ``size`` bytes of YAML text each (a comment: no parsing)."""
    return {f"p-{i:02d}": {conversion.UNPARSED: "#" * size} for i in range(count)}


def stored(part: backups.Part) -> dict[str, Any]:
    """The ConfigMap as the API returns it."""
    return {
        "metadata": {
            "name": part.name,
            "namespace": "netfence-system",
            "labels": dict(part.labels),
            "annotations": dict(part.annotations),
        },
        "data": dict(part.data),
    }


def pieces(parts: tuple[backups.Part, ...]) -> list[conversion.BackupPiece | None]:
    return [conversion.backup_piece_from(stored(part)) for part in parts]


# --- Splitting ----------------------------------------------------------------------------


def test_a_small_backup_is_one_configmap_exactly_as_before_parts() -> None:
    entries = {"a": policy("a"), "b": policy("b")}
    (head,) = backups.split(NS, Phase.PRUNING, entries)
    assert head.name == naming.backup_configmap_name(NS) == "netfence-backup-shop"
    assert head.annotations == {naming.PHASE_ANNOTATION: "pruning"}
    assert head.labels == {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.BACKUP_OF_LABEL: NS,
    }
    assert head.data == conversion.backup_data(entries)
    assert backups.part_count(entries) == 1


def test_a_backup_over_1_mib_is_split_in_name_order_with_each_part_under_900_kib() -> None:
    entries = text_entries(40, 40_000)  # 40 policies of 40 KB: 1.5 MiB
    data = conversion.backup_data(entries)

    parts = backups.split(NS, Phase.PRUNING, entries)

    assert len(parts) == backups.part_count(entries) == 2
    assert [part.size for part in parts] == [23 * 40_009, 17 * 40_009]  # "p-00.yaml" + text
    assert all(part.size <= backups.PART_DATA_BYTES == 900 * 1024 for part in parts)
    # Every entry once, in name order across the parts, head first.
    keys = [key for part in parts for key in part.data]
    assert keys == sorted(data)
    assert [part.index for part in parts] == [0, 1]
    generation = parts[0].annotations[naming.BACKUP_GENERATION_ANNOTATION]
    assert parts[0].name == "netfence-backup-shop"
    assert parts[0].annotations == {
        naming.PHASE_ANNOTATION: "pruning",
        naming.BACKUP_PARTS_ANNOTATION: "2",
        naming.BACKUP_GENERATION_ANNOTATION: generation,
    }
    assert parts[1].name == f"netfence-backup-shop.part-1-{generation}"
    assert parts[1].annotations == {
        naming.BACKUP_PART_ANNOTATION: "1",
        naming.BACKUP_GENERATION_ANNOTATION: generation,
    }
    assert all(part.labels[naming.BACKUP_OF_LABEL] == NS for part in parts)


def test_the_part_count_grows_with_the_backup() -> None:
    assert backups.part_count({}) == 1
    assert backups.part_count(text_entries(23, 40_000)) == 1  # 898.6 KiB
    assert backups.part_count(text_entries(24, 40_000)) == 2
    assert backups.part_count(text_entries(100, 40_000)) == 5
    assert len(backups.split(NS, Phase.ADOPTED, text_entries(100, 40_000))) == 5
    assert backups.part_count(many(30), part_bytes=PART) == len(split(Phase.PRUNING, many(30)))


def test_the_generation_follows_the_content_and_not_the_phase() -> None:
    entries = many(30)
    pruning = split(Phase.PRUNING, entries)
    adopted = split(Phase.ADOPTED, entries)
    more = split(Phase.PRUNING, {**entries, "zz": policy("zz")})
    assert len(pruning) > 2
    # Recording a phase rewrites only the head; the parts keep their names and data.
    assert [(p.name, p.data) for p in pruning[1:]] == [(p.name, p.data) for p in adopted[1:]]
    assert {p.name for p in more[1:]}.isdisjoint(p.name for p in pruning[1:])


def test_a_policy_larger_than_a_part_gets_one_of_its_own() -> None:
    big = {conversion.UNPARSED: "#" * 1_000_000}
    entries = {"a": policy("a"), "big": big, "c": policy("c")}
    parts = backups.split(NS, Phase.PRUNING, entries)
    assert [sorted(part.data) for part in parts] == [["a.yaml"], ["big.yaml"], ["c.yaml"]]
    assert backups.PART_DATA_BYTES < parts[1].size <= backups.MAX_CONFIGMAP_DATA_BYTES


def test_a_policy_larger_than_a_configmap_is_refused_with_its_name_and_size() -> None:
    entries = {"a": policy("a"), "huge": {conversion.UNPARSED: "#" * 1_100_000}}
    with pytest.raises(errors.Refused) as caught:
        backups.split(NS, Phase.PRUNING, entries)
    message = str(caught.value)
    assert message.startswith("NetworkPolicy shop/huge takes 1074 KiB as YAML")
    assert "more than one ConfigMap holds (1024 KiB), so netfence cannot back it up" in message
    assert "deletes nothing" in message
    with pytest.raises(errors.Refused):
        backups.part_count(entries)


def test_part_names_never_meet_another_namespaces_head_or_parts() -> None:
    # A namespace name has no dot, so `shop.part-1-...` is no head and no part of `shop-x`.
    part = naming.backup_part_name("shop", 1, "0123456789")
    assert part == "netfence-backup-shop.part-1-0123456789"
    assert naming.is_backup_part_name("shop", part)
    assert not naming.is_backup_part_name("sho", part)
    assert not naming.is_backup_part_name("shop", naming.backup_configmap_name("shop-part-1"))
    assert not naming.is_backup_part_name("shop-part", part)


# --- Reading back -------------------------------------------------------------------------


@pytest.mark.parametrize("phase", list(Phase))
def test_the_parts_assemble_into_the_backup_in_any_order(phase: Phase) -> None:
    entries = many(60)
    entries["odd"] = {conversion.UNPARSED: "not: [valid"}
    found = pieces(split(phase, entries))
    random.Random(7).shuffle(found)  # noqa: S311 - an order, not a secret

    assembly = backups.assemble(NS, [*found, None])

    assert assembly.backup is not None
    assert assembly.backup.namespace == NS
    assert assembly.backup.phase is phase
    assert dict(assembly.backup.entries) == entries
    assert assembly.missing == ()
    assert assembly.stray == ()


def test_a_backup_of_one_configmap_without_part_annotations_reads_as_always() -> None:
    document = {
        "metadata": {
            "name": "netfence-backup-shop",
            "labels": {naming.BACKUP_OF_LABEL: NS},
            "annotations": {naming.PHASE_ANNOTATION: "adopted"},
        },
        "data": {"legacy.yaml": "kind: NetworkPolicy\nmetadata: {name: legacy}\n"},
    }
    backup = backups.assemble(NS, [conversion.backup_piece_from(document)]).backup
    assert backup is not None
    assert backup.phase is Phase.ADOPTED
    assert dict(backup.entries) == {
        "legacy": {"kind": "NetworkPolicy", "metadata": {"name": "legacy"}}
    }
    assert conversion.backup_from(document) == backup


def test_the_head_alone_is_not_a_backup_when_it_spans_several() -> None:
    head = stored(split(Phase.ADOPTED, many(40))[0])
    assert conversion.backup_from(head) is None


def test_a_missing_part_makes_the_backup_unreadable_not_smaller() -> None:
    parts = split(Phase.ADOPTED, many(70))
    assert len(parts) > 3
    assembly = backups.assemble(NS, pieces(parts[:2] + parts[3:]))
    assert assembly.backup is None
    assert assembly.incomplete
    assert assembly.missing == (parts[2].name,)


def test_the_head_missing_means_no_backup_and_its_parts_are_stray() -> None:
    parts = split(Phase.PRUNING, many(40))
    assembly = backups.assemble(NS, pieces(parts[1:]))
    assert assembly.backup is None
    assert not assembly.incomplete  # nothing to repair: the next write starts afresh
    assert assembly.stray == tuple(sorted(part.name for part in parts[1:]))


def test_a_crash_before_the_new_head_leaves_the_old_backup_whole() -> None:
    # The writer writes the new parts, then the head; here it stopped in between.
    old_entries = many(45)
    old = split(Phase.PRUNING, old_entries)
    new = split(Phase.PRUNING, {**old_entries, "a-new": policy("a-new")})
    assembly = backups.assemble(NS, pieces(old + new[1:]))
    assert assembly.backup is not None
    assert dict(assembly.backup.entries) == old_entries
    assert assembly.stray == tuple(sorted(part.name for part in new[1:]))

    # Once the new head is written, the old parts are the stray ones.
    after = backups.assemble(NS, pieces(old[1:] + new))
    assert after.backup is not None
    assert "a-new" in after.backup.entries
    assert after.stray == tuple(sorted(part.name for part in old[1:]))


def test_a_smaller_backup_leaves_the_old_parts_stray() -> None:
    old = split(Phase.ADOPTED, many(70))
    (head,) = split(Phase.ADOPTED, many(3))
    assembly = backups.assemble(NS, pieces((head, *old[1:])))
    assert assembly.backup is not None
    assert len(assembly.backup.entries) == 3
    assert assembly.stray == tuple(sorted(part.name for part in old[1:]))


def test_a_part_of_another_generation_under_the_expected_name_does_not_count() -> None:
    parts = split(Phase.ADOPTED, many(40))
    tampered = stored(parts[1])
    tampered["metadata"]["annotations"][naming.BACKUP_GENERATION_ANNOTATION] = "other"
    found = [*pieces(parts[:1]), conversion.backup_piece_from(tampered), *pieces(parts[2:])]
    assembly = backups.assemble(NS, found)
    assert assembly.missing == (parts[1].name,)


@pytest.mark.parametrize("count", ["", "zero", "0", "-1", "²"])
def test_a_garbled_part_count_is_an_incomplete_backup(count: str) -> None:
    head = stored(split(Phase.ADOPTED, many(40))[0])
    head["metadata"]["annotations"][naming.BACKUP_PARTS_ANNOTATION] = count
    assembly = backups.assemble(NS, [conversion.backup_piece_from(head)])
    assert assembly.backup is None
    assert assembly.missing == (
        "netfence-backup-shop (annotation netfence.io/backup-parts is not a positive number)",
    )


def test_pieces_of_other_namespaces_are_ignored() -> None:
    mine = split(Phase.ADOPTED, many(40))
    theirs = backups.split("shop-part-1", Phase.PRUNING, many(40), part_bytes=PART)
    assembly = backups.assemble(NS, pieces(mine + theirs))
    assert assembly.backup is not None
    assert assembly.backup.phase is Phase.ADOPTED
    assert assembly.stray == ()


def test_the_incomplete_error_says_what_is_missing_and_both_ways_out() -> None:
    message = backups.incomplete_error(
        NS, ["netfence-backup-shop.part-2-abc"], netfence_namespace="netfence-system"
    )
    assert message == (
        "the backup of namespace shop is incomplete: ConfigMap "
        "netfence-backup-shop.part-2-abc is missing in netfence-system, so netfence neither "
        "overwrites the backup nor deletes anything on its basis; put it back, or give up "
        "what it held by deleting the backup: kubectl delete configmap -n netfence-system "
        "-l netfence.io/backup-of=shop"
    )
