"""Policy templates: reusable ingress/egress rules that admins curate and developers attach.

A template is stored as YAML text under its name in one ConfigMap, so parsing has to cope
with anything a person can type: every problem is collected with its field path and raised
once as ``InvalidTemplate``. A parsed ``Template`` is always valid and, its rules being deep
copies, effectively immutable. Purely computational, no side effects.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import types
from collections.abc import Mapping
from typing import Any, Final, Literal, TypedDict, cast

import yaml

from netfence.core import errors, name_syntax, naming, rules, shapes, validation

# The name is the name part of the label key `templates.netfence.io/<name>` (at most 63
# characters) and a data key of the catalog ConfigMap; a DNS-1123 label is valid in both
# and, being lower case, cannot name two templates that differ only in case.
TEMPLATE_NAME_MAX_LENGTH: Final = 63
TEMPLATE_NAME_PATTERN: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
TEMPLATE_NAME_RULE: Final = (
    "at most 63 lower case letters, digits and '-', starting and ending with a letter or digit"
)

TEMPLATE_FIELDS: Final = ("description", "ingress", "egress")

# Limits that keep one bad template from hurting anything but itself. The deepest valid
# template nests 9 lists and mappings (ingress[0].from[0].namespaceSelector.
# matchExpressions[0].values); 32 leaves room for honest mistakes to get field errors, and
# keeps every recursive walk (the YAML composer, validation, copies, JSON) far from
# Python's recursion limit.
MAX_TEMPLATE_DEPTH: Final = 32
# The text of one template, checked before it is parsed. Half the catalog ConfigMap
# (1 MiB in all): far above any real template, and well above the snapshot limit below,
# so a large real template meets that limit's precise message first.
MAX_TEMPLATE_TEXT_BYTES: Final = 512 * 1024
# Every policy made from a template carries its snapshot in one annotation; Kubernetes
# allows 256 KiB of annotations per object in all, and netfence keeps 16 KiB of that for
# its controller annotation and for what people and tools add.
ANNOTATIONS_LIMIT_BYTES: Final = 256 * 1024
MAX_SNAPSHOT_BYTES: Final = ANNOTATIONS_LIMIT_BYTES - 16 * 1024

_DEPTH_FIX: Final = (
    "a template needs at most 9 levels of lists and mappings "
    "(ingress[0].from[0].namespaceSelector.matchExpressions[0].values); "
    "remove the extra brackets or indentation"
)
_SPLIT_FIX: Final = "split its rules over several templates and attach them all"

PolicyType = Literal["Ingress", "Egress"]

# Fields people carry over from a NetworkPolicy manifest, with why they do not belong.
_DOCUMENT_HINTS: Final = {
    "podSelector": "netfence selects the pods of the controller the template is attached "
    "to; remove podSelector",
    "policyTypes": "netfence derives policyTypes from the ingress and egress rules; remove it",
    "spec": "a template holds only the rules: move spec.ingress and spec.egress to the top",
    "apiVersion": "a template is not a manifest: keep only description, ingress and egress",
    "kind": "a template is not a manifest: keep only description, ingress and egress",
    "metadata": "a template is not a manifest: keep only description, ingress and egress",
    "name": "a template's name is its key in the catalog, not a field; remove it",
    "from": "rules go in a list under ingress: ingress: [{from: [...], ports: [...]}]",
    "to": "rules go in a list under egress: egress: [{to: [...], ports: [...]}]",
    "ports": "rules go in a list under ingress or egress: ingress: [{ports: [...]}]",
}


class TemplateDocument(TypedDict, total=False):
    """A template as stored: what ``to_document`` returns and ``template_from_document`` reads."""

    description: str
    ingress: list[rules.IngressRule]
    egress: list[rules.EgressRule]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Template:
    """A valid template; constructing an invalid one raises ``InvalidTemplate``.

    The rules are copied on the way in, with their keys in the order of the API's Go
    structs, so neither the caller's later edits nor the input's key order leak in. Treat
    ``ingress`` and ``egress`` as read-only: ``to_document`` hands out copies to edit.
    """

    name: str
    description: str = ""
    ingress: tuple[rules.IngressRule, ...] = ()
    egress: tuple[rules.EgressRule, ...] = ()

    def __post_init__(self) -> None:
        document = {
            "description": self.description,
            "ingress": list(self.ingress),
            "egress": list(self.egress),
        }
        problems = _problems(self.name, document)
        if problems:
            raise errors.InvalidTemplate(self.name, problems)
        # Frozen: object.__setattr__ is the documented way to finish initialising.
        object.__setattr__(self, "ingress", tuple(_copy_ingress(rule) for rule in self.ingress))
        object.__setattr__(self, "egress", tuple(_copy_egress(rule) for rule in self.egress))
        too_large = _snapshot_problem(self)
        if too_large is not None:
            raise errors.InvalidTemplate(self.name, [too_large])

    def __hash__(self) -> int:
        # The generated hash would fail on the dicts inside; sorted JSON is equal exactly
        # when the templates are equal.
        return hash((self.name, json.dumps(self.to_document(), sort_keys=True)))

    @property
    def policy_types(self) -> tuple[PolicyType, ...]:
        """The ``policyTypes`` of a policy made from this template, Ingress first."""
        found: list[PolicyType] = []
        if self.ingress:
            found.append("Ingress")
        if self.egress:
            found.append("Egress")
        return tuple(found)

    def to_document(self) -> TemplateDocument:
        """A fresh copy as plain data, leaving out empty parts."""
        document: TemplateDocument = {}
        if self.description:
            document["description"] = self.description
        if self.ingress:
            document["ingress"] = copy.deepcopy(list(self.ingress))
        if self.egress:
            document["egress"] = copy.deepcopy(list(self.egress))
        return document

    def to_yaml(self) -> str:
        """The text to store: block style, keys in a fixed order, multi-line text as ``|``."""
        return yaml.dump(
            self.to_document(),
            Dumper=_TemplateDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            # No wrapping: a line of the text is then a line of the description, which
            # keeps diffs of the stored ConfigMap small and predictable.
            width=1_000_000,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Catalog:
    """Every template of the catalog ConfigMap: the usable ones and, apart, the broken ones.

    One broken entry never hides the others; the broken ones are kept with their errors so
    they can be shown to the admin who has to fix them.
    """

    templates: Mapping[str, Template] = dataclasses.field(default_factory=dict)
    broken: Mapping[str, errors.InvalidTemplate] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, template in self.templates.items():
            if key != template.name:
                raise ValueError(f"catalog key {key!r} holds template {template.name!r}")
        # Read-only views in name order: listings come out stable without sorting again.
        object.__setattr__(self, "templates", _frozen_by_name(self.templates))
        object.__setattr__(self, "broken", _frozen_by_name(self.broken))


def validate_template_name(name: str) -> list[errors.FieldError]:
    """Why ``name`` cannot name a template, if it cannot."""
    if not name:
        return [errors.FieldError("name", "must not be empty", "e.g. 'postgres' or 'metrics'")]
    problems = name_syntax.dns1123_label_errors(name)
    if not problems:
        return []
    suggestion = _suggest_name(name)
    fix = f"e.g. {suggestion!r}" if suggestion else TEMPLATE_NAME_RULE
    return [
        errors.FieldError("name", f"invalid template name {name!r}: {problem}", fix)
        for problem in problems
    ]


def parse_template(name: str, text: str) -> Template:
    """The template stored as ``text``; raises ``InvalidTemplate`` listing every problem.

    Text of any size and nesting is safe to pass: too much text is refused before it is
    parsed, and nesting deeper than ``MAX_TEMPLATE_DEPTH`` while it is parsed.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TEMPLATE_TEXT_BYTES:
        problem = errors.FieldError(
            "",
            f"the template is {_kib(size)} of text; a template may hold at most "
            f"{_kib(MAX_TEMPLATE_TEXT_BYTES)}",
            _SPLIT_FIX,
        )
        raise errors.InvalidTemplate(name, [*validate_template_name(name), problem])
    try:
        document = _load_yaml(text)
    except _TooDeep as e:
        problem = errors.FieldError(e.path, e.problem or "", _DEPTH_FIX)
        raise errors.InvalidTemplate(name, [*validate_template_name(name), problem]) from e
    except yaml.YAMLError as e:
        problems = [*validate_template_name(name), _yaml_error(e)]
        raise errors.InvalidTemplate(name, problems) from e
    return template_from_document(name, document)


def template_from_document(name: str, document: object) -> Template:
    """The template for already-parsed data (YAML or JSON); raises ``InvalidTemplate``."""
    if document is None:
        problem = errors.FieldError(
            "", "the template is empty", "give it ingress and/or egress rules"
        )
        raise errors.InvalidTemplate(name, [*validate_template_name(name), problem])
    if not isinstance(document, Mapping):
        problem = errors.FieldError(
            "",
            "a template must be a mapping with description, ingress and/or egress, "
            f"got {shapes.describe(document)}",
        )
        raise errors.InvalidTemplate(name, [*validate_template_name(name), problem])
    # Parsed JSON may come from anywhere: measure it before anything walks it recursively.
    deep = shapes.too_deep(document, "", limit=MAX_TEMPLATE_DEPTH, fix=_DEPTH_FIX)
    if deep is not None:
        raise errors.InvalidTemplate(name, [*validate_template_name(name), deep])
    problems = _problems(name, document)
    if problems:
        raise errors.InvalidTemplate(name, problems)
    # Validated above, so the casts only tell mypy what the checks established.
    return Template(
        name=name,
        description=cast(str, document.get("description", "")),
        ingress=tuple(cast(list[rules.IngressRule], document.get("ingress", []))),
        egress=tuple(cast(list[rules.EgressRule], document.get("egress", []))),
    )


def read_documents(text: str, *, origin: str) -> list[object]:
    """Every YAML document of a file of templates, read by the rules of one template (no
    aliases, no duplicate keys, at most MAX_TEMPLATE_DEPTH deep), so a file of any
    nesting is safe to read. Raises ``InvalidTemplate`` named ``origin``, the field path
    starting with the document (``document[1].ingress[0]...``)."""
    documents: list[object] = []
    loader = _TemplateLoader(text)
    try:
        while loader.check_data():  # type: ignore[no-untyped-call]  # untyped in the stubs
            documents.append(loader.get_data())
    except _TooDeep as e:
        field = shapes.child(f"document[{len(documents)}]", e.path) if e.path else ""
        problem = errors.FieldError(field, e.problem or "", _DEPTH_FIX)
        raise errors.InvalidTemplate(origin, [problem]) from e
    except yaml.YAMLError as e:
        raise errors.InvalidTemplate(origin, [_yaml_error(e)]) from e
    finally:
        loader.dispose()
    return documents


def parse_catalog(data: Mapping[str, str]) -> Catalog:
    """Every entry of the catalog ConfigMap's ``data``, parsed independently."""
    good: dict[str, Template] = {}
    broken: dict[str, errors.InvalidTemplate] = {}
    for name, text in data.items():
        try:
            good[name] = parse_template(name, text)
        except errors.InvalidTemplate as e:
            broken[name] = e
    return Catalog(templates=good, broken=broken)


# --- Validation ---------------------------------------------------------------------------


def _problems(name: str, document: Mapping[Any, object]) -> list[errors.FieldError]:
    found = validate_template_name(name)
    unknown = shapes.unknown_fields(document, "", TEMPLATE_FIELDS, hints=_DOCUMENT_HINTS)
    found.extend(unknown)

    description = document.get("description", "")
    if not isinstance(description, str):
        fix = "write text after 'description:', or remove it" if description is None else "quote it"
        message = f"must be a string, got {shapes.describe(description)}"
        found.append(errors.FieldError("description", message, fix))

    rule_problems = []
    if "ingress" in document:
        rule_problems.extend(validation.validate_ingress_rules(document["ingress"], "ingress"))
    if "egress" in document:
        rule_problems.extend(validation.validate_egress_rules(document["egress"], "egress"))
    found.extend(rule_problems)

    # Only say so when the rules are readable and no misspelt key (`ingres`) explains it.
    opens_nothing = not document.get("ingress") and not document.get("egress")
    if opens_nothing and not rule_problems and not unknown:
        found.append(
            errors.FieldError("", "template opens no traffic: give ingress and/or egress rules")
        )
    return found


def _snapshot_problem(template: Template) -> errors.FieldError | None:
    """Why policies made from ``template`` could not carry its snapshot, if they could not.

    Measured on the text `policies.snapshot_of` stores (tests pin that the two agree).
    """
    document = {"name": template.name, **template.to_document()}
    size = _json_bytes(document)
    if size <= MAX_SNAPSHOT_BYTES:
        return None
    # Point at the part that makes it large: the rules, most of the time.
    parts = {key: _json_bytes(document[key]) for key in TEMPLATE_FIELDS if key in document}
    largest = max(parts, key=lambda key: parts[key])
    return errors.FieldError(
        largest,
        f"the template is too large to attach: its snapshot, which every policy made from "
        f"it carries in annotation {naming.SNAPSHOT_ANNOTATION}, would take {_kib(size)}, "
        f"{_kib(parts[largest])} of it for {largest}; at most {_kib(MAX_SNAPSHOT_BYTES)} fit "
        f"(Kubernetes allows {_kib(ANNOTATIONS_LIMIT_BYTES)} of annotations per object, and "
        f"netfence keeps {_kib(ANNOTATIONS_LIMIT_BYTES - MAX_SNAPSHOT_BYTES)} for its other "
        f"annotations)",
        _SPLIT_FIX,
    )


def _json_bytes(value: object) -> int:
    # The format of `policies.snapshot_of`: compact, sorted keys, ASCII only.
    return len(json.dumps(value, sort_keys=True, separators=(",", ":")))


def _kib(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size / 1024:.1f} KiB"


def _suggest_name(name: str) -> str | None:
    candidate = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    candidate = candidate[:TEMPLATE_NAME_MAX_LENGTH].rstrip("-")
    return candidate if TEMPLATE_NAME_PATTERN.fullmatch(candidate) else None


# --- Canonical copies ---------------------------------------------------------------------
# Rebuilding each rule from known fields both deep-copies it and fixes the key order, so
# to_yaml writes the same text for the same rules however they were typed.


def _copy_ingress(rule: rules.IngressRule) -> rules.IngressRule:
    result: rules.IngressRule = {}
    if "from" in rule:
        result["from"] = [_copy_peer(peer) for peer in rule["from"]]
    if "ports" in rule:
        result["ports"] = [_copy_port(port) for port in rule["ports"]]
    return result


def _copy_egress(rule: rules.EgressRule) -> rules.EgressRule:
    result: rules.EgressRule = {}
    if "to" in rule:
        result["to"] = [_copy_peer(peer) for peer in rule["to"]]
    if "ports" in rule:
        result["ports"] = [_copy_port(port) for port in rule["ports"]]
    return result


def _copy_peer(peer: rules.NetworkPolicyPeer) -> rules.NetworkPolicyPeer:
    result: rules.NetworkPolicyPeer = {}
    if "podSelector" in peer:
        result["podSelector"] = _copy_selector(peer["podSelector"])
    if "namespaceSelector" in peer:
        result["namespaceSelector"] = _copy_selector(peer["namespaceSelector"])
    if "ipBlock" in peer:
        block: rules.IPBlock = {"cidr": peer["ipBlock"]["cidr"]}
        if "except" in peer["ipBlock"]:
            block["except"] = list(peer["ipBlock"]["except"])
        result["ipBlock"] = block
    return result


def _copy_selector(selector: rules.LabelSelector) -> rules.LabelSelector:
    result: rules.LabelSelector = {}
    if "matchLabels" in selector:
        result["matchLabels"] = dict(selector["matchLabels"])
    if "matchExpressions" in selector:
        expressions = []
        for expression in selector["matchExpressions"]:
            requirement: rules.LabelSelectorRequirement = {
                "key": expression["key"],
                "operator": expression["operator"],
            }
            if "values" in expression:
                requirement["values"] = list(expression["values"])
            expressions.append(requirement)
        result["matchExpressions"] = expressions
    return result


def _copy_port(port: rules.NetworkPolicyPort) -> rules.NetworkPolicyPort:
    result: rules.NetworkPolicyPort = {}
    if "protocol" in port:
        result["protocol"] = port["protocol"]
    if "port" in port:
        result["port"] = port["port"]
    if "endPort" in port:
        result["endPort"] = port["endPort"]
    return result


def _frozen_by_name(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(sorted(mapping.items())))


# --- YAML ---------------------------------------------------------------------------------


class _TooDeep(yaml.composer.ComposerError):
    """Lists and mappings nested more than MAX_TEMPLATE_DEPTH deep, at ``path``."""

    def __init__(self, path: str, mark: yaml.Mark) -> None:
        where = f" (line {mark.line + 1}, column {mark.column + 1})"
        super().__init__(None, None, shapes.nesting_message(MAX_TEMPLATE_DEPTH, where), mark)
        self.path = path


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that also refuses duplicate keys, aliases and deep nesting.

    PyYAML keeps the last of duplicate keys, so a second ``ingress:`` would silently drop
    the first one's rules. Aliases could make a small text expand into a huge structure
    (the "billion laughs") that validation would then walk; templates do not need them.
    PyYAML's scanner and parser are iterative but its composer recurses once per level of
    nesting, so ``ingress: [[[[...]]]]`` a few hundred deep would raise RecursionError:
    the depth is counted here, before the composer descends into a collection.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # The path of each collection being composed, outermost first.
        self._paths: list[str] = []

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not supported in templates", event.start_mark
            )
        if not self.check_event(yaml.CollectionStartEvent):
            return super().compose_node(parent, index)  # type: ignore[arg-type]  # index: int | Node | None
        path = self._path_of(parent, index)
        if len(self._paths) >= MAX_TEMPLATE_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
            raise _TooDeep(path, event.start_mark)
        self._paths.append(path)
        try:
            return super().compose_node(parent, index)  # type: ignore[arg-type]  # as above
        finally:
            self._paths.pop()

    def _path_of(self, parent: yaml.Node | None, index: object) -> str:
        """The field path of the node composed at ``index`` of ``parent``: an int in a
        sequence, the key node for a mapping's value, None for a key (or the document)."""
        outer = self._paths[-1] if self._paths else ""
        if parent is None:
            return ""
        if isinstance(index, int):
            return f"{outer}[{index}]"
        if isinstance(index, yaml.ScalarNode):
            return shapes.child(outer, str(index.value))
        return shapes.child(outer, "(a key)") if index is None else f"{outer}[?]"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Merge keys (<<) may legitimately repeat a key; only explicit keys must be unique.
        explicit = [key for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"]
        mapping = super().construct_mapping(node, deep=deep)
        seen: set[object] = set()
        for key_node in explicit:
            key = self.construct_object(key_node)  # already built above; this is a lookup
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return mapping


def _load_yaml(text: str) -> object:
    loader = _TemplateLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_error(error: yaml.YAMLError) -> errors.FieldError:
    if not isinstance(error, yaml.MarkedYAMLError):
        return errors.FieldError("", f"invalid YAML: {error}")
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "cannot be read"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return errors.FieldError("", f"invalid YAML{where}: {problem}", _yaml_fix(problem))


def _yaml_fix(problem: str) -> str | None:
    if "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "duplicate key" in problem:
        return "keep one of them, merging their entries"
    if "aliases" in problem:
        return "write the repeated part out in full"
    return None


class _TemplateDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # Never write &anchors: every part of a stored template reads on its own.
        return True


def _represent_str(dumper: _TemplateDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_TemplateDumper.add_representer(str, _represent_str)
