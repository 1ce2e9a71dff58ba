"""Template documents from a file (`netfence templates apply -f`), validated before any write.

Purely computational: the caller reads the file; this splits and checks its documents.
"""

from __future__ import annotations

from typing import Any

import yaml

from netfence.core import errors, templates


def read_documents(text: str, *, origin: str, name: str | None = None) -> dict[str, str]:
    """Template documents, each `{name, description, ingress, egress}`, by name.

    Every document is validated here, before anything is written, so a file with one bad
    template writes none of them. `name` names a single document that has none.
    """
    # Read by the rules of one template (bounded depth, no aliases): a file of any nesting
    # is one clear error, never a RecursionError.
    documents = [d for d in templates.read_documents(text, origin=origin) if d is not None]
    if not documents:
        raise errors.InvalidTemplate(origin, [errors.FieldError("", "the file holds no template")])
    found: dict[str, str] = {}
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise errors.InvalidTemplate(
                origin, [errors.FieldError(f"document[{index}]", "must be a mapping")]
            )
        body: dict[str, Any] = dict(document)
        _drop_header(body, origin, index)
        doc_name = body.pop("name", None) or (name if len(documents) == 1 else None)
        if not isinstance(doc_name, str) or not doc_name:
            raise errors.InvalidTemplate(
                origin,
                [
                    errors.FieldError(
                        f"document[{index}].name",
                        "is required",
                        "add `name: my-template` or pass --name",
                    )
                ],
            )
        text_out = yaml.safe_dump(body, sort_keys=False)
        templates.parse_template(doc_name, text_out)  # raises InvalidTemplate with field paths
        found[doc_name] = text_out
    return found


# What `netfence templates show` and `export` write above a template, so their output
# reads back as it is (as `kubectl get -o yaml` output goes back into `kubectl apply`).
API_VERSION = "netfence.io/v1"
KIND = "Template"


def _drop_header(body: dict[str, Any], origin: str, index: int) -> None:
    for key, wanted in (("apiVersion", API_VERSION), ("kind", KIND)):
        if key not in body:
            continue
        if body.pop(key) != wanted:
            raise errors.InvalidTemplate(
                origin,
                [
                    errors.FieldError(
                        f"document[{index}].{key}",
                        f"must be {wanted}",
                        f"write `{key}: {wanted}` or leave it out",
                    )
                ],
            )
