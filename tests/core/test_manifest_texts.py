"""Manifest texts decoded into documents: the same documents as PyYAML's safe loader."""

from __future__ import annotations

import pytest
import yaml

from netfence.core import manifest_texts

TRICKY = [
    "a: 1\nb: 0x1F\nc: 010\nd: 1_000\ne: 1.5\nf: .inf\ng: on\nh: No\ni: ~\nj: null\n",
    "when: 2024-01-01\nat: 2024-01-01T10:00:00Z\nraw: !!binary aGVsbG8=\n",
    "base: &base {app: web, tier: front}\nlabels:\n  <<: *base\n  tier: back\n",
    "list: &l [1, two, {three: 3}]\nagain: *l\n",
    "forced: !!str 1\nnumber: !!int '3'\nset: !!set {a, b}\npairs: !!omap [{a: 1}, {b: 2}]\n",
    "? complex key\n: value\n'quoted': \"on\"\nempty:\nnested: [[1, [2, [3]]], {a: {b: {c: []}}}]\n",
    "kind: Pod\n---\n---\nkind: Service\n...\n",
    "dup: 1\ndup: 2\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_documents_are_those_of_the_safe_loader(text: str) -> None:
    decoded = [d.content for d in manifest_texts.documents("f.yaml", text)]
    assert decoded == list(yaml.safe_load_all(text))


def test_a_recursive_alias_is_built_as_the_safe_loader_builds_it() -> None:
    (document,) = manifest_texts.documents("f.yaml", "&a [*a]\n")
    assert isinstance(document.content, list)
    assert document.content[0] is document.content


def test_an_unhashable_key_is_unreadable_with_its_line() -> None:
    with pytest.raises(manifest_texts.Unreadable) as raised:
        list(manifest_texts.documents("f.yaml", "a: 1\n? [x]\n: b\n"))
    assert str(raised.value).startswith("f.yaml:2: not valid YAML (found unhashable key")


def test_documents_are_named_by_their_place_only_when_a_text_holds_several() -> None:
    one = [d.origin for d in manifest_texts.documents("a.yaml", "kind: Pod\n")]
    several = [d.origin for d in manifest_texts.documents("b.yaml", "kind: Pod\n---\nkind: X\n")]
    assert one == ["a.yaml"]
    assert several == ["b.yaml document 1", "b.yaml document 2"]


def test_a_json_text_is_read_as_json_and_a_flow_mapping_as_yaml() -> None:
    (json_document,) = manifest_texts.documents("a.json", b'{"kind": "Pod", "n": 1}')
    (flow_document,) = manifest_texts.documents("b.yaml", b"{kind: Pod, n: 1}")
    assert json_document.content == flow_document.content == {"kind": "Pod", "n": 1}


def test_the_spelling_of_a_plain_scalar_is_found_by_its_path() -> None:
    text = "kind: List\nitems:\n- metadata:\n    labels: {team: on, tier: '1', app.kubernetes.io/x: 0x1F}\n"
    (document,) = manifest_texts.documents("f.yaml", text)
    labels: list[str | int] = ["items", 0, "metadata", "labels"]
    assert document.spelling([*labels, "team"]) == manifest_texts.Spelling("on", 4)
    assert document.spelling([*labels, "app.kubernetes.io/x"]) == manifest_texts.Spelling("0x1F", 4)
    # Quoted, so YAML read it as written: there is nothing to say about its spelling.
    assert document.spelling([*labels, "tier"]) is None
    assert document.spelling([*labels, "missing"]) is None
    assert manifest_texts.path_of("items[0].metadata.labels[app.kubernetes.io/x]") == [
        "items",
        0,
        "metadata",
        "labels",
        "app.kubernetes.io/x",
    ]
