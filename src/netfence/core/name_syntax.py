"""Name and value syntax of Kubernetes objects, as apimachinery's util/validation checks it.

Each function returns why a text is not a valid name of its kind, as messages worded like
the API server's, and an empty list when it is valid; callers attach the field path and
any fix. Purely computational, no I/O.
"""

from __future__ import annotations

import re
from typing import Final

_DNS1123_LABEL: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE: Final = re.compile(_DNS1123_LABEL)
_DNS1123_SUBDOMAIN_RE: Final = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
_QUALIFIED_NAME_RE: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE_RE: Final = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_PORT_NAME_CHARSET_RE: Final = re.compile(r"[-a-z0-9]+")


def dns1123_label_errors(value: str) -> list[str]:
    """Why ``value`` is not a DNS-1123 label (a namespace or label-safe name), if it is not."""
    found = []
    if len(value) > 63:
        found.append("must be no more than 63 characters")
    if not _DNS1123_LABEL_RE.fullmatch(value):
        found.append(
            "must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character"
        )
    return found


def dns1123_subdomain_errors(value: str) -> list[str]:
    """Why ``value`` is not a DNS-1123 subdomain (``example.com``), if it is not."""
    found = []
    if len(value) > 253:
        found.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        found.append(
            "must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return found


def qualified_name_errors(value: str) -> list[str]:
    """Why ``value`` is not a label key (``[prefix/]name``), if it is not."""
    parts = value.split("/")
    if len(parts) > 2:
        return ["must be a name with at most one '/', e.g. 'example.com/name'"]
    found = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            found.append("prefix part must not be empty")
        else:
            found.extend(f"prefix part {message}" for message in dns1123_subdomain_errors(prefix))
    if not name:
        found.append("name part must not be empty")
        return found
    if len(name) > 63:
        found.append("name part must be no more than 63 characters")
    if not _QUALIFIED_NAME_RE.fullmatch(name):
        found.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return found


def label_value_errors(value: str) -> list[str]:
    """Why ``value`` is not a label value (which may be empty), if it is not."""
    found = []
    if len(value) > 63:
        found.append("must be no more than 63 characters")
    if not _LABEL_VALUE_RE.fullmatch(value):
        found.append(
            "must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return found


def port_name_errors(value: str) -> list[str]:
    """Why ``value`` is not an IANA service name usable as a named port, if it is not."""
    if not value:
        return ["must not be empty"]
    found = []
    if len(value) > 15:
        found.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARSET_RE.fullmatch(value):
        found.append("must contain only lower case letters (a-z), digits (0-9) and '-'")
    elif not re.search("[a-z]", value):
        found.append("must contain at least one letter (a-z)")
    if "--" in value:
        found.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        found.append("must not begin or end with a hyphen")
    return found
