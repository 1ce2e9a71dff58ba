// Network Policies: every namespace, whether netfence manages it, and what is in it.

import { api } from "./api.js";
import { h, icon, replace, plural, debounce } from "./dom.js";
import { badge, banner, button, card, emptyState, pageHeader, statTile, table } from "./ui.js";
import { enableDisableButton, namespaceHref, recentNamespaces, stateBadge, NO_ENABLE } from "./parts.js";

const SYSTEM = new Set(["system", "refused"]);
// Rows asked for at a time: the server filters and pages, so a cluster of thousands of
// namespaces costs what is shown. "Show more" asks for the next ones.
const PAGE = 200;

// Totals are the server's, over every namespace the caller may read (system ones left out).
function stats(totals) {
  const { managed, namespaces, unmanaged_policies: unmanagedPolicies } = totals;
  return h(
    "div",
    { class: "stats" },
    statTile("Managed namespaces", `${managed} of ${namespaces}`, { tone: managed ? "ok" : undefined }),
    statTile("Unmanaged policies", unmanagedPolicies, { tone: unmanagedPolicies ? "warn" : undefined, hint: unmanagedPolicies ? "made outside netfence" : "none outside netfence" }),
    statTile("Controllers", totals.controllers),
    statTile("Templates attached", totals.attached_templates),
  );
}

function namespaceRow(r, permissions, ctx) {
  return {
    className: SYSTEM.has(r.state) ? "is-dim" : undefined,
    cells: [
      h("a", { href: namespaceHref(r.name), class: "strong-link", text: r.name }),
      stateBadge(r.state),
      policyCell(r),
      h("span", { text: String(r.controllers) }),
      h("span", { text: String(r.attached_templates) }),
      r.backed_up ? h("span", { class: "nowrap", title: "Policies netfence replaced and can restore" }, icon("archive", "inline-icon"), plural(r.backed_up, "policy", "policies")) : h("span", { class: "muted", text: "—" }),
      enableDisableButton(r, permissions, ctx),
    ],
  };
}

const COLUMNS = [
  { title: "Namespace" },
  { title: "Status" },
  { title: "Policies" },
  { title: "Controllers", className: "num" },
  { title: "Templates attached", className: "num" },
  { title: "Backup" },
  { title: "", className: "col-actions" },
];

function namespacesCard(v, searchText) {
  const { data, ctx } = v;
  const more = data.continue
    ? h(
        "div",
        { class: "table-more" },
        button(`Show ${Math.min(PAGE, data.total - data.namespaces.length)} more`, {
          variant: "secondary",
          onClick: () => {
            v.limit += PAGE;
            ctx.refresh();
          },
        }),
      )
    : null;
  return card({
    title: "Namespaces",
    subtitle: `${plural(data.namespaces.length, "namespace")} shown of ${data.total}`,
    body: h(
      "div",
      null,
      table({
        label: "Namespaces",
        columns: COLUMNS,
        empty: emptyState({ iconName: "search", title: "No namespace matches", text: searchText ? `Nothing is called like “${searchText}”.` : "Turn on “Show system namespaces” to see them." }),
        rows: data.namespaces.map((r) => namespaceRow(r, data.permissions, ctx)),
      }),
      more,
    ),
  });
}

function draw(v) {
  const { data, ctx } = v;
  if (data.forbidden) {
    replace(v.region, openByName(data.forbidden, ctx));
    return;
  }
  replace(
    v.region,
    stats(data.totals),
    data.refused.map((name) => banner("danger", `${name} is a system namespace labelled managed; netfence refuses to manage it. Remove the label netfence.io/managed.`)),
    data.permissions.enable_namespaces ? null : banner("info", NO_ENABLE, { title: "Read-only for namespaces" }),
    namespacesCard(v, v.search.value.trim()),
  );
}

async function load(v) {
  try {
    return await api.namespaces({ q: v.search.value.trim(), system: v.showSystem.checked, limit: v.limit });
  } catch (error) {
    if (error.status === 403) return { forbidden: error.message };
    throw error;
  }
}

export function namespacesView(_params, ctx) {
  const v = {
    ctx,
    root: h("div", { class: "page" }),
    search: h("input", { type: "search", class: "input input-search", placeholder: "Filter namespaces", "aria-label": "Filter namespaces" }),
    showSystem: h("input", { type: "checkbox", id: "show-system" }),
    region: h("div", { class: "stack" }),
    data: null,
    limit: PAGE,
  };
  // The server filters: a new filter starts again from the first page.
  const refilter = () => {
    v.limit = PAGE;
    ctx.refresh();
  };
  v.search.addEventListener("input", debounce(refilter, 200));
  v.showSystem.addEventListener("change", refilter);
  v.root.append(
    pageHeader({
      title: "Network Policies",
      subtitle: "Enable netfence per namespace: it backs up the existing policies, then keeps a safe baseline (deny all ingress, allow traffic inside the namespace).",
    }),
    h("div", { class: "toolbar" }, h("label", { class: "search" }, icon("search"), v.search), h("label", { class: "check check-inline", for: "show-system" }, v.showSystem, h("span", { text: "Show system namespaces" }))),
    v.region,
  );
  return {
    nav: "namespaces",
    title: "Network Policies",
    crumbs: [{ label: "Network Policies" }],
    load: () => load(v),
    render(d) {
      v.data = d;
      v.root.querySelector(".toolbar").hidden = Boolean(d.forbidden);
      draw(v);
      return v.root;
    },
  };
}

function policyCell(r) {
  const parts = [];
  if (r.managed_policies) parts.push(h("span", { class: "pol-count", title: "Made by netfence", text: `${r.managed_policies} by netfence` }));
  if (r.unmanaged_policies) {
    parts.push(
      badge(
        `⚠ ${plural(r.unmanaged_policies, "unmanaged policy", "unmanaged policies")}`,
        "warn",
        r.state === "managed" ? "Made outside netfence; they apply alongside netfence's." : "Made outside netfence; enabling backs them up and replaces them.",
      ),
    );
  }
  if (!parts.length) return h("span", { class: "muted", text: "none" });
  return h("div", { class: "cell-stack" }, parts);
}

function openByName(message, ctx) {
  const input = h("input", { type: "text", class: "input", id: "open-ns", placeholder: "e.g. team-a", autocomplete: "off", spellcheck: "false" });
  const form = h(
    "form",
    {
      class: "inline-form",
      onsubmit: (event) => {
        event.preventDefault();
        const name = input.value.trim();
        if (name) ctx.navigate(namespaceHref(name));
      },
    },
    h("label", { class: "label", for: "open-ns", text: "Namespace name" }),
    h("div", { class: "inline-row" }, input, h("button", { type: "submit", class: "btn btn-primary" }, h("span", { text: "Open namespace" }))),
  );
  const recent = recentNamespaces();
  setTimeout(() => input.focus(), 0);
  return h(
    "div",
    { class: "stack" },
    banner("info", message, { title: "You cannot list every namespace" }),
    card({
      title: "Open a namespace by name",
      subtitle: "Your access is limited to some namespaces. Open one you work in to see its controllers and policies and attach templates.",
      body: h(
        "div",
        { class: "stack" },
        form,
        recent.length
          ? h("div", null, h("p", { class: "label", text: "Recently opened" }), h("div", { class: "chips" }, recent.map((n) => h("a", { class: "chip chip-link", href: namespaceHref(n), text: n }))))
          : null,
      ),
    }),
  );
}

export { button };
