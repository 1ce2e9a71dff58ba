// Pieces shared by the namespace and controller views: status badges, the policy table,
// template chips, and the buttons that open the dialogs of dialogs.js.

import { h, icon, relativeTime, firstLine } from "./dom.js";
import { badge, banner, button, chip, disclosure, emptyState, table, yamlView } from "./ui.js";
import { openAttachDialog, openDetachDialog, openDisableDialog, openEnableDialog, openUpdateDialog } from "./dialogs.js";

export const NO_ENABLE = "You may not enable or disable namespaces; an admin can.";
export const NO_ATTACH = "You may not attach or remove templates in this namespace; ask an admin for access.";
export const SYSTEM_NS = "netfence never manages system namespaces.";

const STATES = {
  managed: ["Managed", "ok", "netfence keeps the baseline policies here and makes one policy per attached template."],
  enabling: ["Enabling…", "info", "netfence is backing up the existing policies and creating the defaults."],
  disabling: ["Disabling…", "info", "netfence is removing the policies it made here."],
  unmanaged: ["Not managed", "muted", "netfence does not manage this namespace."],
  system: ["System", "muted", SYSTEM_NS],
  refused: ["Refused", "danger", "This system namespace is labelled managed, but netfence refuses to manage it. Remove the label."],
};

export function stateBadge(stateWord) {
  const [label, tone, title] = STATES[stateWord] || [stateWord, "muted", ""];
  return badge(label, tone, title);
}

export function kindPath(kind) {
  return kind.toLowerCase();
}

export function controllerHref(ns, kind, name) {
  return `#/namespaces/${encodeURIComponent(ns)}/controllers/${encodeURIComponent(kindPath(kind))}/${encodeURIComponent(name)}`;
}

export function namespaceHref(ns) {
  return `#/namespaces/${encodeURIComponent(ns)}`;
}

// Namespaces a person opened recently, for those who may not list them all. Kept per user
// in this browser only, and forgotten at sign-out.
let recentKey = "netfence.recent";

export function setRecentOwner(user) {
  recentKey = `netfence.recent.${user || "anonymous"}`;
}

export function forgetRecent() {
  try {
    localStorage.removeItem(recentKey);
  } catch {
    // Storage may be off; nothing was remembered then.
  }
}

export function rememberNamespace(ns) {
  try {
    const seen = recentNamespaces().filter((n) => n !== ns);
    localStorage.setItem(recentKey, JSON.stringify([ns, ...seen].slice(0, 8)));
  } catch {
    // Storage may be off; remembering is only a convenience.
  }
}

export function recentNamespaces() {
  try {
    const list = JSON.parse(localStorage.getItem(recentKey) || "[]");
    return Array.isArray(list) ? list.filter((n) => typeof n === "string") : [];
  } catch {
    return [];
  }
}

// --- enable and disable --------------------------------------------------------------------------

export function enableDisableButton(row, permissions, ctx, { small = true } = {}) {
  const may = permissions.enable_namespaces;
  if (row.state === "system" || row.state === "refused") {
    return h("span", { class: "muted small", title: SYSTEM_NS, text: "System namespace" });
  }
  if (row.state === "disabling") return button("Disabling…", { small, disabled: true, title: "netfence is removing its policies here." });
  if (row.state === "managed" || row.state === "enabling") {
    return button("Disable", {
      small,
      variant: "secondary",
      disabled: !may,
      title: may ? `Stop managing ${row.name}` : NO_ENABLE,
      ariaLabel: `Disable ${row.name}`,
      onClick: () => openDisableDialog(row.name, ctx),
    });
  }
  return button("Enable", {
    small,
    variant: "primary",
    disabled: !may,
    title: may ? `Preview and enable netfence in ${row.name}` : NO_ENABLE,
    ariaLabel: `Enable ${row.name}`,
    onClick: () => openEnableDialog(row.name, ctx),
  });
}

// --- templates on controllers ------------------------------------------------------------------

export function templateChips(ns, controller, { canAttach, ctx, namespaceManaged }) {
  const chips = controller.templates.map((t) =>
    chip(t, {
      onRemove: canAttach ? () => openDetachDialog(ns, controller, t, ctx) : undefined,
      removeLabel: `Remove template ${t} from ${controller.kind} ${controller.name}`,
    }),
  );
  const add = button("Add", {
    small: true,
    variant: "ghost",
    iconName: "plus",
    disabled: !canAttach,
    title: canAttach ? `Attach a template to ${controller.kind} ${controller.name}` : NO_ATTACH,
    ariaLabel: `Add template to ${controller.kind} ${controller.name}`,
    onClick: () => openAttachDialog(ns, controller, ctx, { namespaceManaged }),
  });
  return h("div", { class: "chips" }, chips.length ? chips : h("span", { class: "muted small", text: "No templates" }), add);
}

// --- policies ------------------------------------------------------------------------------------

const TEMPLATE_STATUS = {
  current: ["up to date", "ok", "The policy matches the current version of its template."],
  outdated: ["template changed", "warn", "The template was edited after this policy was made; the policy keeps the old version until you update it."],
  deleted: ["template deleted", "danger", "The template no longer exists; the policy keeps the version it was made from."],
  invalid: ["template invalid", "danger", "The template's current text is invalid; fix it under Manage Policies."],
  unknown: ["version unknown", "muted", "This policy carries no snapshot of its template."],
};

export function templateStatusBadge(status) {
  if (!status) return null;
  const [label, tone, title] = TEMPLATE_STATUS[status] || [status, "muted", ""];
  return badge(label, tone, title);
}

function madeBy(policy) {
  if (!policy.managed) return badge("not netfence", "warn", "Made by someone else (kubectl, Helm, GitOps, ...). netfence leaves it alone while the namespace is not managed.");
  if (policy.role === "baseline") return badge("netfence default", "info", "One of the two defaults of a managed namespace.");
  return badge("netfence", "accent", "Made by netfence from a template attached to a controller.");
}

function templateCell(ns, p, { canUpdate, ctx }) {
  if (!p.template) return h("span", { class: "muted", text: "—" });
  const update =
    p.template_status === "outdated"
      ? button("Update to current template", {
          small: true,
          variant: "secondary",
          iconName: "refresh",
          disabled: !canUpdate,
          title: canUpdate ? `Preview the change to ${p.name} and update it` : NO_ATTACH,
          onClick: () => openUpdateDialog(ns, p, ctx),
        })
      : null;
  return h(
    "div",
    { class: "cell-stack" },
    h("span", { class: "cell-template" }, h("a", { href: `#/templates/${encodeURIComponent(p.template)}`, class: "mono", text: p.template }), templateStatusBadge(p.template_status)),
    update,
  );
}

function policyRow(ns, p, options) {
  const { openSet, redraw } = options;
  const key = `policy:${p.name}`;
  return {
    className: openSet.has(key) ? "is-expanded" : undefined,
    cells: [
      disclosure(p.name, key, openSet, redraw),
      madeBy(p),
      templateCell(ns, p, options),
      p.controller ? controllerLink(ns, p.controller) : h("span", { class: "muted", text: p.role === "baseline" ? "all pods" : "—" }),
    ],
    after: openSet.has(key) ? yamlView(p.yaml) : null,
  };
}

// options: { openSet, redraw, canUpdate, ctx, emptyText }; openSet holds the expanded rows.
export function policiesTable(ns, policies, options) {
  return table({
    label: "Network policies",
    columns: [{ title: "Name" }, { title: "Made by" }, { title: "Template" }, { title: "Controller" }],
    empty: emptyState({ iconName: "shield", title: "No network policies", text: options.emptyText || "Nothing restricts traffic here yet." }),
    rows: policies.map((p) => policyRow(ns, p, options)),
  });
}

function controllerLink(ns, ref) {
  const [kind, name] = ref.split("/");
  if (!name) return h("span", { text: ref });
  return h("a", { href: controllerHref(ns, kind, name) }, h("span", { class: "muted", text: `${kind} ` }), h("span", { text: name }));
}

// --- events ----------------------------------------------------------------------------------------

export function eventsList(events, { limit = 12, error } = {}) {
  if (error) return banner("warn", error);
  if (!events.length) return emptyState({ iconName: "clock", title: "No events yet", text: "What netfence does here is reported as Kubernetes Events." });
  return h(
    "ul",
    { class: "events" },
    events.slice(0, limit).map((e) =>
      h(
        "li",
        { class: ["event", e.type === "Warning" && "event-warning"] },
        h("span", { class: "event-dot", "aria-hidden": "true" }),
        h(
          "div",
          { class: "event-main" },
          h("div", { class: "event-head" }, h("strong", { text: e.reason }), h("span", { class: "muted small", text: e.object }), h("time", { class: "muted small", datetime: e.time || "", title: e.time || "", text: relativeTime(e.time) })),
          h("div", { class: "event-msg", text: e.message }),
        ),
      ),
    ),
  );
}

export function describeTemplate(t) {
  return firstLine(t.description);
}

export { icon };
