// One controller: its templates (attach, remove) and every policy that selects its pods.

import { api } from "./api.js";
import { h, replace, plural } from "./dom.js";
import { banner, card, chip, pageHeader } from "./ui.js";
import { eventsList, namespaceHref, policiesTable, rememberNamespace, templateChips, NO_ATTACH } from "./parts.js";

function attachedCard(ns, detail, canAttach, ctx) {
  const ref = `${detail.kind}/${detail.name}`;
  const attachedPolicies = detail.policies.filter((p) => p.controller === ref).length;
  return card({
    title: "Attached templates",
    subtitle: "Each template becomes one NetworkPolicy for these pods. Pods are not restarted.",
    body: h(
      "div",
      { class: "stack" },
      templateChips(ns, detail, { canAttach, ctx, namespaceManaged: detail.namespace_managed }),
      h("p", { class: "muted small", text: `${plural(attachedPolicies, "policy", "policies")} made for this controller so far.` }),
    ),
  });
}

function podsCard(detail) {
  const labels = Object.entries(detail.pod_labels || {});
  return card({
    title: "Pods",
    subtitle: "Policies select the pods through the controller's own selector.",
    body: h("div", { class: "chips" }, labels.length ? labels.map(([k, v]) => chip(`${k}=${v}`, { tone: "label" })) : h("span", { class: "muted", text: "No pod labels" })),
  });
}

function draw(v) {
  const { ns, ctx } = v;
  const { detail, events } = v.data;
  const canAttach = Boolean(detail.permissions.attach);
  const ref = `${detail.kind}/${detail.name}`;
  replace(
    v.root,
    pageHeader({
      title: h("span", null, h("span", { class: "kind kind-lg", text: detail.kind }), detail.name),
      subtitle: `In namespace ${detail.namespace} · ${plural(detail.templates.length, "template")} attached · ${plural(detail.policies.length, "policy", "policies")} select its pods`,
    }),
    detail.namespace_managed ? null : banner("info", `netfence does not manage ${detail.namespace}. Templates attached here take effect once an admin enables the namespace.`),
    canAttach ? null : banner("info", NO_ATTACH, { title: "Read-only" }),
    h("div", { class: "grid-2 grid-2-wide" }, attachedCard(ns, detail, canAttach, ctx), podsCard(detail)),
    card({
      title: "Policies that select its pods",
      subtitle: "Made by netfence or elsewhere; together they decide what may reach these pods and where they may connect.",
      body: policiesTable(ns, detail.policies, { openSet: v.open, redraw: () => draw(v), canUpdate: canAttach, ctx, emptyText: "No NetworkPolicy selects these pods: all traffic to and from them is allowed." }),
    }),
    card({ title: "Recent events", subtitle: `What netfence did for ${ref}.`, body: eventsList(events.filter((e) => e.object === ref)) }),
  );
}

export function controllerView([ns, kind, name], ctx) {
  const v = { ns, ctx, root: h("div", { class: "page" }), open: new Set(), data: null };
  const crumbsFor = (k, n) => [{ label: "Network Policies", href: "#/namespaces" }, { label: ns, href: namespaceHref(ns) }, { label: `${k} ${n}` }];
  return {
    nav: "namespaces",
    title: `${name} · ${ns}`,
    crumbs: crumbsFor(kind, name),
    async load() {
      const [detail, events] = await Promise.all([api.controller(ns, kind, name), api.events(ns).catch(() => [])]);
      rememberNamespace(ns);
      return { detail, events };
    },
    render(d) {
      v.data = d;
      ctx.setCrumbs(crumbsFor(d.detail.kind, d.detail.name));
      draw(v);
      return v.root;
    },
  };
}
