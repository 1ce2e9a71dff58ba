// Manage Policies: the template catalog. The editor of one template is view-template-editor.js.

import { api } from "./api.js";
import { h, icon, replace, plural, firstLine } from "./dom.js";
import { badge, banner, button, card, emptyState, modal, pageHeader, table, toast } from "./ui.js";
import { namespaceHref } from "./parts.js";

export const NO_EDIT = "You may not edit templates; an admin can.";

export function typeBadges(types) {
  return h(
    "span",
    { class: "badges" },
    (types || []).map((t) => badge(t, t === "Ingress" ? "accent" : "info", t === "Ingress" ? "Opens traffic to the selected pods" : "Opens traffic from the selected pods")),
  );
}

function usedByCell(usedBy) {
  if (usedBy === null) return h("span", { class: "muted", title: "You may not list the policies of every namespace.", text: "not visible to you" });
  if (!usedBy.length) return h("span", { class: "muted", text: "not used" });
  const namespaces = [...new Set(usedBy.map((u) => u.namespace))];
  return h(
    "span",
    { title: usedBy.map((u) => `${u.namespace}/${u.policy}${u.controller ? ` (${u.controller})` : ""}`).join("\n") },
    `${plural(usedBy.length, "policy", "policies")} in `,
    namespaces.length === 1 ? h("a", { href: namespaceHref(namespaces[0]), text: namespaces[0] }) : plural(namespaces.length, "namespace"),
  );
}

// --- the list -----------------------------------------------------------------------------------

const openTemplate = (ctx, name) => ctx.navigate(`#/templates/${encodeURIComponent(name)}`);

function newTemplateButton(may, ctx) {
  return button("New template", {
    variant: "primary",
    iconName: "plus",
    disabled: !may,
    title: may ? "Write a new template" : NO_EDIT,
    onClick: () => ctx.navigate("#/templates/_new"),
  });
}

function invalidCard(invalid, may, ctx) {
  return card({
    title: "Invalid templates",
    subtitle: "Someone edited these into the ConfigMap by hand. Controllers that ask for them get no policy until they are fixed.",
    className: "card-danger",
    body: table({
      label: "Invalid templates",
      columns: [{ title: "Name" }, { title: "Problems" }, { title: "", className: "col-actions" }],
      rows: invalid.map((t) => [
        h("span", { class: "mono strong", text: t.name }),
        h("ul", { class: "plain-list" }, t.errors.map((e) => h("li", null, e.field ? h("code", { class: "field-path", text: e.field }) : null, " ", e.message))),
        button(may ? "Fix" : "View", { small: true, iconName: may ? "edit" : undefined, onClick: () => openTemplate(ctx, t.name) }),
      ]),
    }),
  });
}

function rowActions(t, { may, resourceVersion, ctx }) {
  return h(
    "div",
    { class: "row-actions" },
    button(may ? "Edit" : "View", { small: true, iconName: may ? "edit" : undefined, ariaLabel: `${may ? "Edit" : "View"} ${t.name}`, onClick: () => openTemplate(ctx, t.name) }),
    may
      ? button("", {
          small: true,
          variant: "ghost-danger",
          iconName: "trash",
          ariaLabel: `Delete ${t.name}`,
          title: `Delete ${t.name}`,
          onClick: () => confirmDelete(t, resourceVersion, ctx),
        })
      : null,
  );
}

function templateRow(t, row) {
  return [
    h("a", { href: `#/templates/${encodeURIComponent(t.name)}`, class: "mono strong-link", text: t.name }),
    typeBadges(t.policy_types),
    h("span", { class: "desc", title: t.description, text: firstLine(t.description) || "No description" }),
    row.showUses ? usedByCell(t.used_by) : null,
    rowActions(t, row),
  ].filter((cell) => cell !== null);
}

function catalogCard(data, q, may, ctx) {
  // Who may not list every namespace's policies cannot see where templates are used.
  const showUses = data.templates.some((t) => t.used_by !== null);
  const rows = data.templates
    .slice()
    .sort((a, b) => a.name.localeCompare(b.name))
    .filter((t) => !q || t.name.includes(q) || t.description.toLowerCase().includes(q));
  const row = { may, showUses, resourceVersion: data.resource_version, ctx };
  return card({
    title: "Templates",
    subtitle: `${plural(data.templates.length, "template")} in the catalog (ConfigMap netfence-templates). Developers attach them to their controllers.`,
    body: table({
      label: "Templates",
      columns: [{ title: "Name", className: "col-min" }, { title: "Opens", className: "col-min" }, { title: "Description", className: "col-desc" }, showUses ? { title: "Used by", className: "col-uses" } : null, { title: "", className: "col-actions" }].filter(Boolean),
      empty: emptyState({
        iconName: "template",
        title: q ? "No template matches" : "No templates yet",
        text: q ? "Try another word." : "Templates describe traffic to open, such as DNS egress or HTTP ingress.",
      }),
      rows: rows.map((t) => templateRow(t, row)),
    }),
  });
}

export function templatesView(_params, ctx) {
  const root = h("div", { class: "page" });
  const search = h("input", { type: "search", class: "input input-search", placeholder: "Filter templates", "aria-label": "Filter templates" });
  const region = h("div", { class: "stack" });
  const actions = h("div", { class: "page-actions-slot" });
  let data = null;

  const draw = () => {
    const may = data.permissions.edit_templates;
    replace(actions, newTemplateButton(may, ctx));
    replace(
      region,
      may ? null : banner("info", `${NO_EDIT} You can read every template and attach them to your controllers.`, { title: "Read-only" }),
      data.invalid.length ? invalidCard(data.invalid, may, ctx) : null,
      catalogCard(data, search.value.trim().toLowerCase(), may, ctx),
    );
  };
  search.addEventListener("input", () => data && draw());

  root.append(
    pageHeader({
      title: "Manage Policies",
      subtitle: "Policy templates: reusable pieces of NetworkPolicy that developers attach to their controllers. A policy is a snapshot: editing a template never changes existing policies.",
      actions: [actions],
    }),
    h("div", { class: "toolbar" }, h("label", { class: "search" }, icon("search"), search)),
    region,
  );

  return {
    nav: "templates",
    title: "Manage Policies",
    crumbs: [{ label: "Manage Policies" }],
    load: () => api.templates(),
    render(d) {
      data = d;
      draw();
      return root;
    },
  };
}

// Also used by the editor, whose "Delete template" passes a ctx of its own.
export function confirmDelete(template, resourceVersion, ctx) {
  const uses = template.used_by;
  modal({
    title: `Delete template ${template.name}?`,
    body: h(
      "div",
      { class: "stack" },
      h("p", null, "Policies already made from it stay as they are", uses && uses.length ? ` (${plural(uses.length, "policy", "policies")})` : "", ". Controllers that still carry its label get no new policy; netfence reports that as an event."),
      uses && uses.length ? h("ul", { class: "plain-list" }, uses.map((u) => h("li", null, h("span", { class: "mono", text: `${u.namespace}/${u.policy}` }), u.controller ? h("span", { class: "muted", text: ` · ${u.controller}` }) : null))) : null,
    ),
    confirmLabel: `Delete ${template.name}`,
    confirmVariant: "danger",
    onConfirm: async () => {
      try {
        const result = await api.deleteTemplate(template.name, resourceVersion);
        toast(result.message, { title: "Template deleted" });
        ctx.kick();
      } catch (error) {
        if (error.status === 409) {
          ctx.kick();
          throw new Error("The templates changed since this page loaded, so nothing was deleted. The list is up to date now: check it and try again.");
        }
        throw error;
      }
    },
  });
}
