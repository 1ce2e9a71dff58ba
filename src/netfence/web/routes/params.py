"""Path and query parameters that name Kubernetes objects, checked before any call.

A name from the URL goes into the URL of an API server request (or into a label key), so
one the API server could never accept is refused here, with 422 naming the parameter, in
the words of apimachinery's validation (`core.name_syntax`): a control character would
otherwise fail as an invalid URL (a 500), a malformed resourceVersion as the API server's
rejection (a 502). The OpenAPI schema documents each rule as a pattern and a length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import Path, Query
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from netfence.core import name_syntax, templates

_LABEL: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL: Final = f"^{_LABEL}$"
DNS1123_SUBDOMAIN: Final = rf"^{_LABEL}(\.{_LABEL})*$"
# The API server issues resourceVersions as decimal numbers (etcd revisions, uint64).
RESOURCE_VERSION: Final = r"^[0-9]+$"
RESOURCE_VERSION_MAX_LENGTH: Final = 20
_UINT64_MAX: Final = 2**64 - 1
_SHOWN: Final = 60  # characters of a refused value quoted in the message


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _refuse(value: str, problems: list[str], fix: str | None = None) -> PydanticCustomError:
    # The context travels to the error handler, which shows `fix` beside the message.
    return PydanticCustomError(
        "kubernetes_syntax",
        "invalid value {value}: {problems}",
        {"value": _shown(value), "problems": "; ".join(problems), "fix": fix},
    )


def _checked(problems_of: Callable[[str], list[str]]) -> AfterValidator:
    def check(value: str) -> str:
        problems = problems_of(value)
        if problems:
            raise _refuse(value, problems)
        return value

    return AfterValidator(check)


def _template_name(value: str) -> str:
    problems = templates.validate_template_name(value)
    if problems:
        raise PydanticCustomError(
            "template_name",
            "{message}",
            {"message": "; ".join(p.message for p in problems), "fix": problems[0].fix},
        )
    return value


def _resource_version(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > RESOURCE_VERSION_MAX_LENGTH or not value.isascii() or not value.isdigit():
        raise _refuse(
            value,
            ["must be a resourceVersion as the API server gives it: a number, digits only"],
            "leave it out, or send the resource_version the listing returned",
        )
    if int(value) > _UINT64_MAX:
        raise _refuse(value, ["is larger than any resourceVersion the API server gives"])
    return value


def _documented(description: str, pattern: str, max_length: int) -> dict[str, Any]:
    return {
        "description": description,
        "json_schema_extra": {"pattern": pattern, "maxLength": max_length},
    }


NamespaceName = Annotated[
    str,
    Path(**_documented("A namespace: a DNS-1123 label.", DNS1123_LABEL, 63)),
    _checked(name_syntax.dns1123_label_errors),
]
ControllerName = Annotated[
    str,
    Path(**_documented("The controller's name: a DNS-1123 subdomain.", DNS1123_SUBDOMAIN, 253)),
    _checked(name_syntax.dns1123_subdomain_errors),
]
PolicyName = Annotated[
    str,
    Path(**_documented("A NetworkPolicy's name: a DNS-1123 subdomain.", DNS1123_SUBDOMAIN, 253)),
    _checked(name_syntax.dns1123_subdomain_errors),
]
_TEMPLATE_DOC: Final = _documented(
    f"A template's name: {templates.TEMPLATE_NAME_RULE}.",
    DNS1123_LABEL,
    templates.TEMPLATE_NAME_MAX_LENGTH,
)
TemplateName = Annotated[str, Path(**_TEMPLATE_DOC), AfterValidator(_template_name)]
# PUT checks the name with the rest of the template, so a draft's every problem is listed
# together (the editor shows them all); the path only documents the rule.
NewTemplateName = Annotated[str, Path(**_TEMPLATE_DOC)]

_VERSION_DOC: Final = _documented(
    "The catalog's resourceVersion as the listing returned it: the write fails with 409 "
    "if the catalog changed since.",
    RESOURCE_VERSION,
    RESOURCE_VERSION_MAX_LENGTH,
)
ResourceVersionQuery = Annotated[
    str | None, Query(**_VERSION_DOC), AfterValidator(_resource_version)
]
ResourceVersionField = Annotated[
    str | None, Field(**_VERSION_DOC), AfterValidator(_resource_version)
]
