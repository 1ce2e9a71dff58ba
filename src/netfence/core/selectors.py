"""Kubernetes label selectors (metav1.LabelSelector): parsing, matching and indexing.

The semantics are metav1's `LabelSelectorAsSelector`:

* `matchLabels` and `matchExpressions` are ANDed, and so are the entries of each;
* `In` needs the key with one of the values; `NotIn` matches when the key is absent or
  its value is none of the values; `Exists` and `DoesNotExist` look at the key only;
* the empty selector `{}` matches everything. A *missing* selector means something that
  depends on where it is missing (in a NetworkPolicy peer, "not restricted by this field"),
  so callers decide that and only ever parse selectors that are present;
* an operator metav1 does not know makes the selector invalid; the API server rejects such
  objects, and here such a selector matches nothing, so a hand-written file cannot widen a
  policy by a typo.

A `LabelIndex` answers "which of these label sets does the selector match" for many label
sets at once, as a bitset (see `bitsets`): each requirement is one or a few set operations
instead of a loop over the label sets. Purely computational, no side effects.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netfence.core import bitsets


class Operator(enum.StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    # Anything else: the selector is invalid and matches nothing.
    INVALID = "(invalid)"


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        match self.operator:
            case Operator.IN:
                return labels.get(self.key) in self.values
            case Operator.NOT_IN:
                return labels.get(self.key) not in self.values
            case Operator.EXISTS:
                return self.key in labels
            case Operator.DOES_NOT_EXIST:
                return self.key not in labels
        return False

    def __str__(self) -> str:
        # kubectl's selector syntax, which people can paste into `kubectl get -l`.
        values = sorted(self.values)
        match self.operator:
            case Operator.IN if len(values) == 1:
                return f"{self.key}={values[0]}"
            case Operator.IN:
                return f"{self.key} in ({','.join(values)})"
            case Operator.NOT_IN:
                return f"{self.key} notin ({','.join(values)})"
            case Operator.EXISTS:
                return self.key
            case Operator.DOES_NOT_EXIST:
                return f"!{self.key}"
        return f"{self.key} (invalid operator)"


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed label selector; hashable, so equal selectors share cached results."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def matches_everything(self) -> bool:
        return not self.requirements

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.requirements)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def equalities(self) -> dict[str, str]:
        """The `key=value` requirements (from matchLabels or one-value `In`)."""
        return {
            r.key: next(iter(r.values))
            for r in self.requirements
            if r.operator is Operator.IN and len(r.values) == 1
        }

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements) if self.requirements else "(all)"


EVERYTHING = Selector()


def parse(selector: Mapping[str, Any] | None) -> Selector:
    """Parse a selector as the API returns it (camelCase JSON); `None` parses as `{}`."""
    if not selector:
        return EVERYTHING
    requirements: list[Requirement] = []
    match_labels = selector.get("matchLabels") or {}
    if isinstance(match_labels, Mapping):
        for key, value in match_labels.items():
            requirements.append(Requirement(str(key), Operator.IN, frozenset({str(value)})))
    else:
        requirements.append(Requirement("matchLabels", Operator.INVALID))
    expressions = selector.get("matchExpressions") or []
    for expression in expressions if isinstance(expressions, list) else [None]:
        requirements.append(_requirement(expression))
    # Sorted, so that two selectors that differ only in the order they were written
    # compare (and cache) as equal.
    return Selector(tuple(sorted(set(requirements), key=_order)))


def _requirement(expression: object) -> Requirement:
    if not isinstance(expression, Mapping):
        return Requirement("matchExpressions", Operator.INVALID)
    key = str(expression.get("key", ""))
    raw_values = expression.get("values") or []
    values = frozenset(str(v) for v in raw_values) if isinstance(raw_values, list) else None
    try:
        operator = Operator(str(expression.get("operator")))
    except ValueError:
        operator = Operator.INVALID
    # metav1 requires a key: a requirement without one is refused, never "any label".
    if values is None or operator is Operator.INVALID or not key:
        return Requirement(key, Operator.INVALID)
    # metav1 rejects In/NotIn without values and Exists/DoesNotExist with values.
    needs_values = operator in (Operator.IN, Operator.NOT_IN)
    if needs_values != bool(values):
        return Requirement(key, Operator.INVALID)
    return Requirement(key, operator, values)


def _order(requirement: Requirement) -> tuple[str, str, tuple[str, ...]]:
    return (requirement.key, requirement.operator.value, tuple(sorted(requirement.values)))


class LabelIndex:
    """Label sets numbered 0..n-1, indexed so that a selector yields its matches as a bitset."""

    __slots__ = ("_cache", "_keys", "_values", "everything", "size")

    def __init__(self, label_sets: Sequence[Mapping[str, str]]) -> None:
        self.size = len(label_sets)
        self.everything = bitsets.full(self.size)
        by_value: dict[str, dict[str, list[int]]] = {}
        for position, labels in enumerate(label_sets):
            for key, value in labels.items():
                by_value.setdefault(key, {}).setdefault(value, []).append(position)
        self._values = {
            key: {value: bitsets.from_indices(found, self.size) for value, found in values.items()}
            for key, values in by_value.items()
        }
        self._keys = {key: _union(values.values()) for key, values in self._values.items()}
        self._cache: dict[Selector, int] = {}

    def select(self, selector: Selector) -> int:
        """The label sets the selector matches, as a bitset."""
        found = self._cache.get(selector)
        if found is None:
            found = self.everything
            for requirement in selector.requirements:
                found &= self._requirement(requirement)
                if not found:
                    break
            self._cache[selector] = found
        return found

    def _requirement(self, requirement: Requirement) -> int:
        values = self._values.get(requirement.key, {})
        match requirement.operator:
            case Operator.IN:
                return _union(values.get(v, 0) for v in requirement.values)
            case Operator.NOT_IN:
                return self.everything & ~_union(values.get(v, 0) for v in requirement.values)
            case Operator.EXISTS:
                return self._keys.get(requirement.key, 0)
            case Operator.DOES_NOT_EXIST:
                return self.everything & ~self._keys.get(requirement.key, 0)
        return 0

    def carriers(self, key: str) -> int:
        """The label sets that have `key` at all."""
        return self._keys.get(key, 0)


def _union(sets: Iterable[int]) -> int:
    result = 0
    for bits in sets:
        result |= bits
    return result


# kubectl's `-l` syntax (k8s.io/apimachinery labels.Parse): requirements separated by
# commas outside parentheses.
_SET = re.compile(r"^(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(r"^(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$")
_KEY = re.compile(r"^(?P<not>!?)\s*(?P<key>[^\s!=(),]+)$")


def parse_query(text: str) -> Selector:
    """A selector written as `kubectl get -l` takes it: `app=web,tier!=db,env in (a,b),
    !legacy,owner`. ValueError names the part that cannot be read."""
    requirements: list[Requirement] = []
    for part in _split_top_level(text):
        part = part.strip()
        if not part:
            raise ValueError(f"label selector {text!r} has an empty requirement")
        if found := _SET.match(part):
            values = frozenset(v.strip() for v in found["values"].split(",") if v.strip())
            if not values:
                raise ValueError(f"label selector requirement {part!r} lists no values")
            operator = Operator.IN if found["op"] == "in" else Operator.NOT_IN
            requirements.append(Requirement(found["key"], operator, values))
        elif found := _EQUALITY.match(part):
            operator = Operator.NOT_IN if found["op"] == "!=" else Operator.IN
            requirements.append(Requirement(found["key"], operator, frozenset({found["value"]})))
        elif found := _KEY.match(part):
            operator = Operator.DOES_NOT_EXIST if found["not"] else Operator.EXISTS
            requirements.append(Requirement(found["key"], operator))
        else:
            raise ValueError(
                f"cannot read label selector requirement {part!r}; write key=value, "
                "key!=value, 'key in (a,b)', 'key notin (a,b)', key or !key"
            )
    return Selector(tuple(sorted(set(requirements), key=_order)))


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise ValueError(f"label selector {text!r} has unbalanced parentheses")
    parts.append("".join(current))
    return parts
