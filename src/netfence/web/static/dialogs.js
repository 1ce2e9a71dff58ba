// The dialogs that change a namespace or a controller: enable, disable, attach, detach and
// update. Each previews what would change (policies, connectivity) before it is confirmed.

import { api } from "./api.js";
import { h, replace, plural } from "./dom.js";
import { badge, banner, disclosure, emptyState, loading, modal, toast, yamlView, diffView } from "./ui.js";
import { impactBlock, impactView } from "./impact.js";

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

function backupStep(preview, open, redraw) {
  const backedUp = preview.backup;
  const backedUpNames = new Set(backedUp.map((p) => p.name));
  const alsoDeleted = preview.delete.filter((name) => !backedUpNames.has(name));
  return h(
    "li",
    null,
    h("h3", { class: "step-title" }, `Back up and delete ${plural(backedUp.length, "existing policy", "existing policies")}`),
    h("p", { class: "step-text", text: backedUp.length ? "They are saved in a backup first, so disabling netfence later can restore them. Click a name to see its YAML." : "There are no NetworkPolicies here yet: nothing to back up." }),
    namedYamlList(backedUp, open, redraw, ""),
    alsoDeleted.length ? h("p", { class: "step-text", text: `Also deleted (made by netfence before, no longer wanted): ${alsoDeleted.join(", ")}.` }) : null,
  );
}

function createStep(preview, open, redraw) {
  return h(
    "li",
    null,
    h("h3", { class: "step-title" }, `Create ${plural(preview.create.length, "policy", "policies")}`),
    h("p", { class: "step-text", text: "Every pod then accepts traffic only from pods of this namespace, until templates open more." }),
    namedYamlList(preview.create, open, redraw, "Nothing to create."),
  );
}

function effectStep(preview, ns) {
  return h(
    "li",
    null,
    h("h3", { class: "step-title", text: "Effect on connectivity" }),
    h("p", { class: "step-text", text: "Connections between controllers (and pods no controller runs), on the ports they declare." }),
    impactView(preview.impact, { here: ns, note: "See the warning above." }),
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
  const draw = (preview) => {
    const redraw = () => draw(preview);
    replace(body, preview.warnings.map((w) => banner("warn", w)), h("ol", { class: "steps" }, backupStep(preview, open, redraw), createStep(preview, open, redraw), effectStep(preview, ns)));
  };
  api
    .enablePreview(ns)
    .then((preview) => {
      draw(preview);
      dlg.setConfirmEnabled(true);
      dlg.setConfirmLabel(`Enable ${ns}`);
    })
    .catch((error) => replace(body, banner("danger", error.message, { title: "Cannot enable this namespace" })));
}

function restoreChoice(restore, backup) {
  return h(
    "label",
    { class: "check", for: "restore-backup" },
    restore,
    h("span", null, h("strong", { text: "Restore the backup" }), h("span", { class: "check-help", text: ` — put back the ${plural(backup.length, "policy", "policies")} netfence replaced: ${backup.join(", ")}.` })),
  );
}

function noBackupNote(backup) {
  if (backup === null) return h("p", { class: "muted", text: "There is no backup to restore: netfence has not replaced any policy here." });
  return h("p", { class: "muted", text: "The backup is empty: there were no policies here when netfence took over, so there is nothing to restore." });
}

function disableSteps(preview, ns, open, redraw) {
  const deleteStep = h(
    "li",
    null,
    h("h3", { class: "step-title" }, `Delete ${plural(preview.delete.length, "policy", "policies")} netfence made`),
    h("p", { class: "step-text", text: preview.delete.length ? `${preview.delete.join(", ")}. Template labels on controllers stay, so enabling again brings their policies back.` : "netfence made no policy here." }),
  );
  const restoreStep = preview.restore.length || Object.keys(preview.skipped).length
    ? h(
        "li",
        null,
        h("h3", { class: "step-title" }, `Restore ${plural(preview.restore.length, "policy", "policies")} from the backup`),
        h("p", { class: "step-text", text: "Once netfence's policies are gone, with your own rights. Click a name to see its YAML." }),
        namedYamlList(preview.restore, open, redraw, "Nothing to restore."),
        Object.entries(preview.skipped).map(([name, why]) => h("p", { class: "step-text", text: `${name} is not restored: ${why}.` })),
      )
    : null;
  const effect = h(
    "li",
    null,
    h("h3", { class: "step-title", text: "Effect on connectivity" }),
    h("p", { class: "step-text", text: "Connections between controllers (and pods no controller runs), on the ports they declare." }),
    impactView(preview.impact, { here: ns, note: preview.impact_note }),
  );
  return h("ol", { class: "steps" }, deleteStep, restoreStep, effect);
}

// "Restore the backup" is offered only when there is a backup with policies in it; the
// preview (what is deleted, restored and the connections that change) follows the choice.
export function openDisableDialog(ns, ctx) {
  const choice = h("div", { class: "restore-slot" });
  const steps = h("div", { class: "stack" }, loading("Working out what disabling would change…"));
  const body = h("div", { class: "stack" }, choice, steps);
  const restore = h("input", { type: "checkbox", id: "restore-backup", checked: true });
  const open = new Set();
  let asked = 0;
  let offered = false;
  let refused = false;
  const dlg = modal({
    title: `Disable netfence in ${ns}`,
    subtitle: "Nothing changes until you confirm.",
    body,
    wide: true,
    confirmLabel: `Disable ${ns}`,
    confirmVariant: "danger",
    confirmDisabled: true,
    onConfirm: async () => {
      const result = await api.disable(ns, offered && restore.checked);
      const skipped = Object.entries(result.skipped || {});
      toast(result.message, { title: `Disabled ${ns}`, tone: skipped.length ? "warn" : "ok" });
      for (const [name, why] of skipped) toast(`${name} was not restored: ${why}`, { tone: "warn" });
      ctx.kick();
    },
  });
  const show = (wanted) => {
    const mine = ++asked;
    replace(steps, loading("Working out what disabling would change…"));
    api
      .disablePreview(ns, wanted)
      .then((preview) => {
        if (mine !== asked) return;
        const hasBackup = Array.isArray(preview.backup) && preview.backup.length > 0;
        if (!offered && !refused && hasBackup) {
          offered = true;
          replace(choice, restoreChoice(restore, preview.backup));
        } else if (!hasBackup && !refused) {
          // Nothing to restore: the preview asked with a restore is the plain one.
          replace(choice, noBackupNote(preview.backup));
        }
        const redraw = () => replace(steps, preview.warnings.map((w) => banner("warn", w)), disableSteps(preview, ns, open, redraw));
        redraw();
        dlg.setConfirmEnabled(true);
      })
      .catch((error) => {
        if (mine !== asked) return;
        if (wanted && error.status === 403) {
          // Restoring recreates policies with the caller's own rights: not theirs to offer.
          refused = true;
          replace(choice, h("p", { class: "muted", text: error.message }));
          show(false);
          return;
        }
        replace(steps, banner("warn", error.message, { title: "Could not preview the effect" }));
        dlg.setConfirmEnabled(true);
      });
  };
  restore.addEventListener("change", () => show(restore.checked));
  show(true);
}

// --- templates on controllers ------------------------------------------------------------------

function opens(template) {
  const types = template.policy_types || [];
  return types.map((t) => badge(t === "Ingress" ? "Ingress" : t === "Egress" ? "Egress" : t, t === "Ingress" ? "accent" : "info", t === "Ingress" ? "Opens traffic to the pods" : "Opens traffic from the pods"));
}

const cannotPreview = (error) => impactBlock(banner("warn", error.message, { title: "Could not preview the effect" }));

function attachEffect(preview, ns) {
  const creates = preview.create.map((c) => c.name);
  return h(
    "div",
    { class: "stack small" },
    h("p", null, creates.length ? `Creates NetworkPolicy ${creates.join(", ")}.` : "Creates no NetworkPolicy now."),
    preview.warnings.map((w) => banner("warn", w)),
    impactView(preview.impact, { here: ns, note: preview.impact_note }),
  );
}

// `pick`: the attach dialog's state: { ns, controller, templates, chosen, asked, search,
// list, effect, dlg }. Only the answer for the template chosen last is shown.
function showAttachEffect(pick, name) {
  const { ns, controller } = pick;
  pick.asked = name;
  replace(pick.effect, impactBlock(loading(`Working out what attaching ${name} changes…`)));
  api
    .attachmentPreview(ns, controller.kind, controller.name, name, "attach")
    .then((preview) => {
      if (pick.asked !== name) return;
      replace(pick.effect, impactBlock(attachEffect(preview, ns)));
    })
    .catch((error) => {
      if (pick.asked === name) replace(pick.effect, cannotPreview(error));
    });
}

function choose(pick, name) {
  pick.chosen = name;
  pick.dlg.setConfirmEnabled(true);
  pick.dlg.setConfirmLabel(`Attach ${name}`);
  for (const el of pick.list.querySelectorAll(".pick")) el.classList.toggle("is-chosen", el.dataset.name === pick.chosen);
  showAttachEffect(pick, name);
}

function pickItem(pick, t) {
  const attached = pick.controller.templates.includes(t.name);
  const id = `pick-${t.name}`;
  const input = h("input", { type: "radio", name: "template", id, value: t.name, checked: pick.chosen === t.name, disabled: attached, onchange: () => choose(pick, t.name) });
  return h(
    "label",
    { class: ["pick", attached && "is-attached", pick.chosen === t.name && "is-chosen"], for: id, dataset: { name: t.name } },
    input,
    h(
      "span",
      { class: "pick-main" },
      h("span", { class: "pick-head" }, h("span", { class: "pick-name", text: t.name }), opens(t), attached ? badge("attached", "ok") : null),
      h("span", { class: "pick-desc", text: t.description.trim() || "No description." }),
    ),
  );
}

function drawPicks(pick) {
  const { templates } = pick;
  const q = pick.search.value.trim().toLowerCase();
  const shown = templates.filter((t) => !q || t.name.includes(q) || t.description.toLowerCase().includes(q));
  if (!shown.length) {
    replace(pick.list, emptyState({ iconName: "search", title: templates.length ? "No template matches" : "There are no templates yet", text: templates.length ? "Try another word." : "An admin adds them under Manage Policies." }));
    return;
  }
  replace(pick.list, shown.map((t) => pickItem(pick, t)));
}

export function openAttachDialog(ns, controller, ctx, { namespaceManaged } = {}) {
  const pick = {
    ns,
    controller,
    templates: [],
    chosen: null,
    asked: null,
    search: h("input", { type: "search", class: "input", placeholder: "Filter templates", "aria-label": "Filter templates" }),
    list: h("div", { class: ["pick-list", "pick-list-short"], role: "radiogroup", "aria-label": "Templates" }, loading("Loading templates…")),
    effect: h("div", { class: "effect-slot" }),
  };
  const note = namespaceManaged === false ? banner("info", `netfence does not manage ${ns} yet: the label is set now, and the policy is created once an admin enables the namespace.`) : null;
  pick.dlg = modal({
    title: `Attach a template to ${controller.kind} ${controller.name}`,
    subtitle: "netfence creates one NetworkPolicy that selects this controller's pods. The pods are not restarted.",
    body: h("div", { class: "stack" }, note, pick.search, pick.list, pick.effect),
    wide: true,
    confirmLabel: "Attach",
    confirmDisabled: true,
    onConfirm: async () => {
      const result = await api.attach(ns, controller.kind, controller.name, pick.chosen);
      toast(result.message, { title: "Template attached" });
      ctx.kick();
    },
  });
  pick.search.addEventListener("input", () => drawPicks(pick));
  api
    .templates()
    .then((data) => {
      pick.templates = data.templates.slice().sort((a, b) => a.name.localeCompare(b.name));
      drawPicks(pick);
      pick.search.focus();
    })
    .catch((error) => replace(pick.list, banner("danger", error.message, { title: "Could not load the templates" })));
}

export function openDetachDialog(ns, controller, template, ctx) {
  const effect = h("div", { class: "effect-slot" }, impactBlock(loading("Working out what removing it changes…")));
  api
    .attachmentPreview(ns, controller.kind, controller.name, template, "detach")
    .then((p) => replace(effect, impactBlock(h("div", { class: "stack small" }, p.warnings.map((w) => banner("warn", w)), impactView(p.impact, { here: ns, note: p.impact_note })))))
    .catch((error) => replace(effect, cannotPreview(error)));
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
