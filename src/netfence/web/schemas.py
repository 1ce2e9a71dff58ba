"""Request and response bodies of the REST API (documented in /api/openapi.json)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from netfence.core import templates


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(BaseModel):
    message: str


class SessionView(BaseModel):
    mode: str
    signed_in: bool
    user: str
    groups: list[str]
    csrf_token: str
    permissions: dict[str, bool]


class SignIn(Body):
    token: str = Field(min_length=1, max_length=16384)


class NamespaceRow(BaseModel):
    name: str
    state: str
    managed: bool
    managed_policies: int
    unmanaged_policies: int
    controllers: int
    attached_templates: int
    backed_up: int


class NamespaceList(BaseModel):
    namespaces: list[NamespaceRow]
    permissions: dict[str, bool]


class ControllerRow(BaseModel):
    kind: str
    name: str
    templates: list[str]
    pod_labels: dict[str, str]
    policies: list[str]


class PolicyRow(BaseModel):
    name: str
    managed: bool
    role: str | None
    template: str | None
    controller: str | None
    template_status: str | None
    yaml: str


class NamespaceDetail(BaseModel):
    name: str
    state: str
    managed: bool
    unmanaged_policies: int
    controllers: list[ControllerRow]
    policies: list[PolicyRow]
    backup: list[str] | None
    warnings: list[str]
    permissions: dict[str, bool]


class NamedYaml(BaseModel):
    name: str
    yaml: str


class EnablePreview(BaseModel):
    namespace: str
    backup: list[NamedYaml]
    delete: list[str]
    create: list[NamedYaml]
    warnings: list[str]


class Disable(Body):
    restore: bool = False


class DisableResult(BaseModel):
    message: str
    restored: list[str]
    skipped: dict[str, str]


class ControllerDetail(BaseModel):
    namespace: str
    kind: str
    name: str
    templates: list[str]
    pod_labels: dict[str, str]
    selector: dict[str, object] | None
    policies: list[PolicyRow]
    namespace_managed: bool
    permissions: dict[str, bool]


class Attach(Body):
    template: str = Field(min_length=1, max_length=templates.TEMPLATE_NAME_MAX_LENGTH)


class UpdatePreview(BaseModel):
    policy: str
    template: str
    current_yaml: str
    proposed_yaml: str
    changed: bool


class TemplateUse(BaseModel):
    namespace: str
    policy: str
    controller: str | None


class TemplateView(BaseModel):
    name: str
    description: str
    policy_types: list[str]
    yaml: str
    used_by: list[TemplateUse] | None


class InvalidTemplateView(BaseModel):
    name: str
    yaml: str
    errors: list[dict[str, str | None]]


class TemplateList(BaseModel):
    templates: list[TemplateView]
    invalid: list[InvalidTemplateView]
    resource_version: str | None
    permissions: dict[str, bool]


class TemplateDraft(Body):
    name: str = Field(min_length=1, max_length=253)
    yaml: str = Field(max_length=256 * 1024)


class TemplateWrite(Body):
    yaml: str = Field(max_length=256 * 1024)
    resource_version: str | None = None


class Validation(BaseModel):
    valid: bool
    errors: list[dict[str, str | None]]


class EventRow(BaseModel):
    type: str
    reason: str
    message: str
    object: str
    time: str | None
