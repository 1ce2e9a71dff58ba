"""Manifest texts (the contents of files, YAML or JSON) decoded into documents.

A text that is one JSON document (`kubectl get -o json`) is read by orjson; anything else
as YAML, one or more documents, by libyaml's C loader where PyYAML has it (its wheels do),
the pure-Python loader only as a fallback: on a cluster's worth of manifests the C loader
is about seven times faster, and reading files was most of what `--from-files` cost; the
loader below takes another third off by doing less in Python per node.

Documents are decoded one at a time, so a large file is never held twice in memory. The
text itself is kept for the error path: a YAML value the API server would refuse (`team:
on` read as a boolean) is reported with how it was written and on which line, which the
decoded document no longer knows. Purely computational, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import yaml

# Where a document's spelling is looked for: field names and list indices from its root.
Path = Sequence[str | int]

_BASE_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR: Final = "tag:yaml.org,2002:str"
_MAP: Final = "tag:yaml.org,2002:map"
_SEQ: Final = "tag:yaml.org,2002:seq"
_MERGE: Final = "tag:yaml.org,2002:merge"
# Plain scalars whose type is remembered per text: a cluster's files repeat a few thousand
# words (field names, label values, protocols) hundreds of thousands of times.
_REMEMBERED: Final = 65_536
_JSON_START: Final = frozenset(b"{[")
_SEGMENT: Final = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


class _Loader(_BASE_LOADER):  # type: ignore[misc]  # a base chosen at import time
    """The safe loader, with its two slowest steps taken off the common path.

    libyaml parses in C but calls back into Python to resolve the type of every plain
    scalar (a dozen regular expressions) and to construct every node; together they were
    most of the time a file took. Resolved types are remembered per word, and strings,
    mappings and lists are built directly from the nodes; every other node (numbers,
    booleans, merge keys `<<`, explicit tags) goes through the safe constructor as before,
    so the documents are the same as `yaml.safe_load_all` gives (tests hold it).
    """

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self._tags: dict[str, str] = {}

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        # A plain scalar's type depends on its text alone: the safe loader has no path
        # resolvers.
        if kind is not yaml.ScalarNode or not implicit[0]:
            return str(super().resolve(kind, value, implicit))
        tag = self._tags.get(value)
        if tag is None:
            tag = str(super().resolve(kind, value, implicit))
            if len(self._tags) < _REMEMBERED:
                self._tags[value] = tag
        return tag

    def construct_document(self, node: yaml.Node) -> Any:
        try:
            data = self._build(node)
        except (TypeError, RecursionError):
            # An unhashable key or an alias that contains itself: the safe constructor
            # says what is wrong, or builds what it can, as it always did.
            self._forget()
            return super().construct_document(node)
        self._forget()
        return data

    def _forget(self) -> None:
        # What the safe constructor remembers of one document, as its own
        # construct_document resets it.
        self.constructed_objects: dict[yaml.Node, Any] = {}

    def _build(self, node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR and type(node) is yaml.ScalarNode:
            return node.value
        if tag == _MAP and type(node) is yaml.MappingNode:
            build = self._build
            mapping = {}
            for key, value in node.value:
                if key.tag == _MERGE:
                    return self.construct_object(node, deep=True)
                mapping[build(key)] = build(value)
            return mapping
        if tag == _SEQ and type(node) is yaml.SequenceNode:
            build = self._build
            return [build(item) for item in node.value]
        return self.construct_object(node, deep=True)


class Unreadable(ValueError):
    """A text that is not YAML or JSON, with where it stops being readable."""


@dataclass(frozen=True, slots=True)
class Spelling:
    """A scalar as written in the text: `on`, `1`, `0x1F`, and the line it is on."""

    text: str
    line: int


class _Nodes:
    """The nodes of one text's documents, composed again on the error path only.

    The reader asks about documents in order, so one pass over the text answers every
    question about it, however many values in it need quoting.
    """

    def __init__(self, source: bytes) -> None:
        self._source = source
        self._nodes: Iterator[yaml.Node] | None = None
        self._index = -1
        self._node: yaml.Node | None = None

    def document(self, index: int) -> yaml.Node | None:
        if self._nodes is None or index < self._index:
            self._nodes = iter(yaml.compose_all(self._source, Loader=_BASE_LOADER))
            self._index, self._node = -1, None
        try:
            while self._index < index:
                self._node = next(self._nodes)
                self._index += 1
        except (StopIteration, yaml.YAMLError):
            self._nodes = None
            return None
        return self._node


@dataclass(frozen=True, slots=True)
class Document:
    # "NAME" for a text holding one document, "NAME document N" for one of several.
    origin: str
    content: object
    _nodes: _Nodes
    _index: int

    def spelling(self, path: Path) -> Spelling | None:
        """How the plain (unquoted) scalar at `path` is written, if it is one; slow, as it
        parses the text again: for error messages only."""
        found = self._nodes.document(self._index)
        for segment in path:
            if found is None:
                return None
            found = _child(found, segment)
        # Plain style is None for the pure parser and "" for libyaml's.
        if isinstance(found, yaml.ScalarNode) and not found.style:
            return Spelling(str(found.value), found.start_mark.line + 1)
        return None


def documents(name: str, text: bytes | str) -> Iterator[Document]:
    """The documents of one text in order, empty ones (a trailing `---`) included as None.

    Raises Unreadable, naming `name` and the line, at the first syntax error.
    """
    source = text.encode() if isinstance(text, str) else text
    if source.lstrip()[:1] and source.lstrip()[0] in _JSON_START:
        try:
            content = orjson.loads(source)
        except orjson.JSONDecodeError:
            pass  # a YAML flow mapping such as {kind: Pod, ...}: read as YAML below
        else:
            yield Document(name, content, _Nodes(source), 0)
            return
    loaded = yaml.load_all(source, Loader=_Loader)
    nodes = _Nodes(source)
    # One document ahead, so that a text holding one is named as a whole.
    try:
        current = next(loaded, _END)
        index = 0
        while current is not _END:
            following = next(loaded, _END)
            several = index > 0 or following is not _END
            origin = f"{name} document {index + 1}" if several else name
            yield Document(origin, current, nodes, index)
            current, index = following, index + 1
    except yaml.YAMLError as e:
        raise Unreadable(_yaml_problem(name, e)) from e


_END: Final = object()


def path_of(field: str) -> list[str | int]:
    """A field path as messages write it (`spec.ingress[0].from[1]`, `labels[app]`) split
    into its names and indices."""
    found: list[str | int] = []
    for name, bracketed in _SEGMENT.findall(field):
        if name:
            found.append(name)
        else:
            found.append(int(bracketed) if bracketed.isdigit() else bracketed)
    return found


def _child(node: yaml.Node, segment: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        wanted = str(segment)
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == wanted:
                return value  # type: ignore[no-any-return]  # untyped in the stubs
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(segment, int):
        items = node.value
        return items[segment] if 0 <= segment < len(items) else None
    return None


def _yaml_problem(name: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f"{name}:{mark.line + 1}" if mark is not None else name
    return f"{where}: not valid YAML ({getattr(error, 'problem', None) or error})"
