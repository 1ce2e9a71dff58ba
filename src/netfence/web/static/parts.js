// Pieces shared by the namespace and controller views: status badges, the policy table,
// template chips, and the dialogs that enable, disable, attach, detach and update.

import { api } from "./api.js";
import { h, icon, replace, plural, relativeTime, firstLine } from "./dom.js";
import { badge, banner, button, chip, disclosure, emptyState, loading, modal, table, toast, yamlView, diffView } from "./ui.js";
import { impactBlock, impactView } from "./impact.js";

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

function namedYamlList(items, openSet, redraw, emptyText) {
  if (!items.length) return h("p", { class: "muted", text: emptyText });
  return h(
    "ul",
    { class: "yaml-list" },
    items.map((item) =>
      h(
        "li",
        null,
        disclosure(item.name, item.name, openSet, redraw),
        openSet.has(item.name) ? yamlView(item.yaml) : null,
      ),
    ),
  );
}

export function openEnableDialog(ns, ctx) {
  const body = h("div", { class: "stack" }, loading("Working out what enabling would change…"));
  const dlg = modal({
    title: `Enable netfence in ${ns}`,
    subtitle: "Nothing changes until you confirm.",
    body,
    wide: true,
    confirmLabel: "Enable",
    confirmDisabled: true,
    onConfirm: async () => {
      const result = await api.enable(ns);
      toast(result.message, { title: `Enabling ${ns}` });
      ctx.kick();
    },
  });
  const open = new Set();
  let preview = null;
  const draw = () => {
    const backedUp = preview.backup;
    const backedUpNames = new Set(backedUp.map((p) => p.name));
    const alsoDeleted = preview.delete.filter((name) => !backedUpNames.has(name));
    replace(
      body,
      preview.warnings.map((w) => banner("warn", w)),
      h(
        "ol",
        { class: "steps" },
        h(
          "li",
          null,
          h("h3", { class: "step-title" }, `Back up and delete ${plural(backedUp.length, "existing policy", "existing policies")}`),
          h("p", { class: "step-text", text: backedUp.length ? "They are saved in a backup first, so disabling netfence later can restore them. Click a name to see its YAML." : "There are no NetworkPolicies here yet: nothing to back up." }),
          namedYamlList(backedUp, open, draw, ""),
          alsoDeleted.length ? h("p", { class: "step-text", text: `Also deleted (made by netfence before, no longer wanted): ${alsoDeleted.join(", ")}.` }) : null,
        ),
        h(
          "li",
          null,
          h("h3", { class: "step-title" }, `Create ${plural(preview.create.length, "policy", "policies")}`),
          h("p", { class: "step-text", text: "Every pod then accepts traffic only from pods of this namespace, until templates open more." }),
          namedYamlList(preview.create, open, draw, "Nothing to create."),
        ),
        h(
          "li",
          null,
          h("h3", { class: "step-title", text: "Effect on connectivity" }),
          h("p", { class: "step-text", text: "Connections between controllers (and pods no controller runs), on the ports they declare." }),
          impactView(preview.impact, { here: ns, note: "See the warning above." }),
        ),
      ),
    );
  };
  api
    .enablePreview(ns)
    .then((data) => {
      preview = data;
      draw();
      dlg.setConfirmEnabled(true);
      dlg.setConfirmLabel(`Enable ${ns}`);
    })
    .catch((error) => replace(body, banner("danger", error.message, { title: "Cannot enable this namespace" })));
}

export function openDisableDialog(ns, { backup, managedPolicies }, ctx) {
  const hasBackup = Array.isArray(backup) ? backup.length > 0 : backup > 0;
  const restore = h("input", { type: "checkbox", id: "restore-backup", checked: hasBackup, disabled: !hasBackup });
  const backupText = Array.isArray(backup) && backup.length ? `: ${backup.join(", ")}` : "";
  const openWarning = banner("warn", "Without the backup, only NetworkPolicies made outside netfence remain; if there are none, every pod here accepts traffic from anywhere.");
  const body = h(
    "div",
    { class: "stack" },
    h("p", null, `netfence removes the policies it made in ${ns}`, managedPolicies !== undefined ? ` (${plural(managedPolicies, "policy", "policies")})` : "", ", including deny-all-ingress and allow-namespace-communication. Template labels on controllers stay, so enabling again brings their policies back."),
    h(
      "label",
      { class: "check", for: "restore-backup" },
      restore,
      h("span", null, h("strong", { text: "Restore the backup" }), h("span", { class: "check-help", text: hasBackup ? ` — put back the ${plural(Array.isArray(backup) ? backup.length : backup, "policy", "policies")} netfence replaced${backupText}.` : " — there is no backup of this namespace." })),
    ),
    openWarning,
  );
  const syncWarning = () => {
    openWarning.hidden = restore.checked;
  };
  restore.addEventListener("change", syncWarning);
  syncWarning();
  modal({
    title: `Disable netfence in ${ns}`,
    body,
    confirmLabel: `Disable ${ns}`,
    confirmVariant: "danger",
    onConfirm: async () => {
      const result = await api.disable(ns, restore.checked);
      const skipped = Object.entries(result.skipped || {});
      toast(result.message, { title: `Disabled ${ns}`, tone: skipped.length ? "warn" : "ok" });
      for (const [name, why] of skipped) toast(`${name} was not restored: ${why}`, { tone: "warn" });
      ctx.kick();
    },
  });
}

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
      onClick: () => openDisableDialog(row.name, { backup: row.backup !== undefined ? row.backup : row.backed_up, managedPolicies: row.managed_policies }, ctx),
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

function opens(template) {
  const types = template.policy_types || [];
  return types.map((t) => badge(t === "Ingress" ? "Ingress" : t === "Egress" ? "Egress" : t, t === "Ingress" ? "accent" : "info", t === "Ingress" ? "Opens traffic to the pods" : "Opens traffic from the pods"));
}

export function openAttachDialog(ns, controller, ctx, { namespaceManaged } = {}) {
  let templates = [];
  let chosen = null;
  const search = h("input", { type: "search", class: "input", placeholder: "Filter templates", "aria-label": "Filter templates" });
  const list = h("div", { class: ["pick-list", "pick-list-short"], role: "radiogroup", "aria-label": "Templates" }, loading("Loading templates…"));
  const note = namespaceManaged === false ? banner("info", `netfence does not manage ${ns} yet: the label is set now, and the policy is created once an admin enables the namespace.`) : null;
  const effect = h("div", { class: "effect-slot" });
  const body = h("div", { class: "stack" }, note, search, list, effect);
  let asked = null;
  const showEffect = (name) => {
    asked = name;
    replace(effect, impactBlock(loading(`Working out what attaching ${name} changes…`)));
    api
      .attachmentPreview(ns, controller.kind, controller.name, name, "attach")
      .then((p) => {
        if (asked !== name) return;
        const creates = p.create.map((c) => c.name);
        replace(
          effect,
          impactBlock(
            h(
              "div",
              { class: "stack small" },
              h("p", null, creates.length ? `Creates NetworkPolicy ${creates.join(", ")}.` : "Creates no NetworkPolicy now."),
              p.warnings.map((w) => banner("warn", w)),
              impactView(p.impact, { here: ns, note: p.impact_note }),
            ),
          ),
        );
      })
      .catch((error) => {
        if (asked === name) replace(effect, impactBlock(banner("warn", error.message, { title: "Could not preview the effect" })));
      });
  };
  const dlg = modal({
    title: `Attach a template to ${controller.kind} ${controller.name}`,
    subtitle: "netfence creates one NetworkPolicy that selects this controller's pods. The pods are not restarted.",
    body,
    wide: true,
    confirmLabel: "Attach",
    confirmDisabled: true,
    onConfirm: async () => {
      const result = await api.attach(ns, controller.kind, controller.name, chosen);
      toast(result.message, { title: "Template attached" });
      ctx.kick();
    },
  });
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = templates.filter((t) => !q || t.name.includes(q) || t.description.toLowerCase().includes(q));
    if (!shown.length) {
      replace(list, emptyState({ iconName: "search", title: templates.length ? "No template matches" : "There are no templates yet", text: templates.length ? "Try another word." : "An admin adds them under Manage Policies." }));
      return;
    }
    replace(
      list,
      shown.map((t) => {
        const attached = controller.templates.includes(t.name);
        const id = `pick-${t.name}`;
        const input = h("input", {
          type: "radio",
          name: "template",
          id,
          value: t.name,
          checked: chosen === t.name,
          disabled: attached,
          onchange: () => {
            chosen = t.name;
            dlg.setConfirmEnabled(true);
            dlg.setConfirmLabel(`Attach ${t.name}`);
            for (const el of list.querySelectorAll(".pick")) el.classList.toggle("is-chosen", el.dataset.name === chosen);
            showEffect(t.name);
          },
        });
        return h(
          "label",
          { class: ["pick", attached && "is-attached", chosen === t.name && "is-chosen"], for: id, dataset: { name: t.name } },
          input,
          h(
            "span",
            { class: "pick-main" },
            h("span", { class: "pick-head" }, h("span", { class: "pick-name", text: t.name }), opens(t), attached ? badge("attached", "ok") : null),
            h("span", { class: "pick-desc", text: t.description.trim() || "No description." }),
          ),
        );
      }),
    );
  };
  search.addEventListener("input", draw);
  api
    .templates()
    .then((data) => {
      templates = data.templates.slice().sort((a, b) => a.name.localeCompare(b.name));
      draw();
      search.focus();
    })
    .catch((error) => replace(list, banner("danger", error.message, { title: "Could not load the templates" })));
}

export function openDetachDialog(ns, controller, template, ctx) {
  const effect = h("div", { class: "effect-slot" }, impactBlock(loading("Working out what removing it changes…")));
  api
    .attachmentPreview(ns, controller.kind, controller.name, template, "detach")
    .then((p) => replace(effect, impactBlock(h("div", { class: "stack small" }, p.warnings.map((w) => banner("warn", w)), impactView(p.impact, { here: ns, note: p.impact_note })))))
    .catch((error) => replace(effect, impactBlock(banner("warn", error.message, { title: "Could not preview the effect" }))));
  modal({
    title: `Remove template ${template}?`,
    wide: true,
    body: h(
      "div",
      { class: "stack" },
      h("p", null, `netfence deletes the NetworkPolicy it made from ${template} for ${controller.kind} ${controller.name} in ${ns}. The traffic it opened is blocked again.`),
      effect,
    ),
    confirmLabel: `Remove ${template}`,
    confirmVariant: "danger",
    onConfirm: async () => {
      const result = await api.detach(ns, controller.kind, controller.name, template);
      toast(result.message, { title: "Template removed" });
      ctx.kick();
    },
  });
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

export function policiesTable(ns, policies, { openSet, redraw, canUpdate, ctx, emptyText }) {
  return table({
    label: "Network policies",
    columns: [{ title: "Name" }, { title: "Made by" }, { title: "Template" }, { title: "Controller" }],
    empty: emptyState({ iconName: "shield", title: "No network policies", text: emptyText || "Nothing restricts traffic here yet." }),
    rows: policies.map((p) => {
      const key = `policy:${p.name}`;
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
      const controller = p.controller ? controllerLink(ns, p.controller) : h("span", { class: "muted", text: p.role === "baseline" ? "all pods" : "—" });
      return {
        className: openSet.has(key) ? "is-expanded" : undefined,
        cells: [
          disclosure(p.name, key, openSet, redraw),
          madeBy(p),
          p.template
            ? h(
                "div",
                { class: "cell-stack" },
                h("span", { class: "cell-template" }, h("a", { href: `#/templates/${encodeURIComponent(p.template)}`, class: "mono", text: p.template }), templateStatusBadge(p.template_status)),
                update,
              )
            : h("span", { class: "muted", text: "—" }),
          controller,
        ],
        after: openSet.has(key) ? yamlView(p.yaml) : null,
      };
    }),
  });
}

function controllerLink(ns, ref) {
  const [kind, name] = ref.split("/");
  if (!name) return h("span", { text: ref });
  return h("a", { href: controllerHref(ns, kind, name) }, h("span", { class: "muted", text: `${kind} ` }), h("span", { text: name }));
}

export function openUpdateDialog(ns, policy, ctx) {
  const body = h("div", { class: "stack" }, loading("Rendering the current template…"));
  const dlg = modal({
    title: `Update ${policy.name} to the current template`,
    subtitle: "Only this policy changes; every other policy made from the template keeps its version.",
    body,
    wide: true,
    confirmLabel: "Update policy",
    confirmDisabled: true,
    onConfirm: async () => {
      const result = await api.update(ns, policy.name);
      toast(result.message, { title: "Policy updated" });
      ctx.kick();
    },
  });
  api
    .updatePreview(ns, policy.name)
    .then((p) => {
      replace(
        body,
        p.changed ? null : banner("info", "The rules are the same; updating only records the template's current version."),
        h("p", null, "Template ", h("strong", { class: "mono", text: p.template }), ": lines marked − go, lines marked + come."),
        diffView(p.current_yaml, p.proposed_yaml),
        impactBlock(impactView(p.impact, { here: ns, note: p.impact_note })),
      );
      dlg.setConfirmEnabled(true);
    })
    .catch((error) => replace(body, banner("danger", error.message, { title: "Cannot preview the update" })));
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
