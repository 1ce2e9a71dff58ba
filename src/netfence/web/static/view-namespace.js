// One namespace: its controllers with their templates, all of its policies, backup, events.

import { api } from "./api.js";
import { h, icon, replace, plural } from "./dom.js";
import { badge, banner, card, pageHeader, table, emptyState } from "./ui.js";
import {
  controllerHref,
  enableDisableButton,
  eventsList,
  policiesTable,
  rememberNamespace,
  stateBadge,
  templateChips,
  NO_ATTACH,
} from "./parts.js";
import { findingsList } from "./impact.js";
import { connectivityHref } from "./view-connectivity.js";

// Findings read the whole cluster; the view asks again when the namespace changes, or
// after this long.
const FINDINGS_MS = 30000;

// A developer may not read backups, and the API then reports a managed namespace as still
// "enabling" (the backup's phase is what says "done"). The label is what they can know.
export function visibleState(detail, session) {
  const readsBackups = session && session.permissions && session.permissions.read_backups;
  if (detail.state === "enabling" && readsBackups === false) return "managed";
  return detail.state;
}

function namespaceHeader(v, stateWord) {
  const { ns, ctx } = v;
  const { detail } = v.data;
  const row = { name: detail.name, state: stateWord, backup: detail.backup || [], managed_policies: detail.policies.filter((p) => p.managed).length };
  const ownPolicies = detail.policies.filter((p) => p.managed).length;
  return pageHeader({
    title: detail.name,
    badges: [stateBadge(stateWord)],
    subtitle: `${plural(detail.controllers.length, "controller")} · ${plural(ownPolicies, "policy", "policies")} by netfence · ${plural(detail.unmanaged_policies, "policy", "policies")} made elsewhere`,
    actions: [
      h("a", { class: "btn btn-secondary", href: connectivityHref(ns), title: `Who may connect to whom in ${ns}, and why` }, icon("grid"), h("span", { text: "Connectivity" })),
      enableDisableButton(row, detail.permissions, ctx, { small: false }),
    ],
  });
}

function notices(data, { stateWord, managed, canAttach }) {
  const { detail } = data;
  return [
    detail.warnings.map((w) => banner("warn", w)),
    findingsList(data.findings),
    !managed && detail.unmanaged_policies
      ? banner("warn", `${plural(detail.unmanaged_policies, "NetworkPolicy was", "NetworkPolicies were")} made outside netfence. Enabling netfence backs them up and replaces them with its defaults.`, { title: "Unmanaged policies" })
      : null,
    !managed && stateWord !== "system" && stateWord !== "refused"
      ? banner("info", "netfence does not manage this namespace. Templates attached here take effect once an admin enables it.")
      : null,
    canAttach ? null : banner("info", NO_ATTACH, { title: "Read-only" }),
  ];
}

function controllersCard(ns, detail, { canAttach, managed, ctx }) {
  return card({
    title: "Controllers",
    subtitle: "Attach templates to open exactly the traffic each workload needs.",
    body: table({
      label: "Controllers",
      columns: [{ title: "Controller" }, { title: "Templates" }, { title: "Selected by" }],
      empty: emptyState({ iconName: "box", title: "No controllers", text: "Deployments, StatefulSets, DaemonSets and CronJobs of this namespace appear here." }),
      rows: detail.controllers.map((c) => [
        h("a", { href: controllerHref(ns, c.kind, c.name), class: "ctl-link", "aria-label": `${c.kind} ${c.name}` }, h("span", { class: "kind", text: c.kind }), h("span", { class: "strong-link", text: c.name })),
        templateChips(ns, c, { canAttach, ctx, namespaceManaged: managed }),
        h("span", { title: c.policies.join(", ") || "No policy selects these pods", class: c.policies.length ? "" : "muted", text: plural(c.policies.length, "policy", "policies") }),
      ]),
    }),
  });
}

function policiesCard(v, { canAttach, managed }) {
  return card({
    title: "Network policies",
    subtitle: "Every NetworkPolicy in the namespace, made by netfence or not. Click a name for its YAML.",
    body: policiesTable(v.ns, v.data.detail.policies, { openSet: v.open, redraw: () => draw(v), canUpdate: canAttach, ctx: v.ctx, emptyText: managed ? "netfence is creating its defaults." : "Nothing restricts traffic here: every pod accepts traffic from anywhere." }),
  });
}

function draw(v) {
  const { detail, events, eventsError } = v.data;
  const stateWord = visibleState(detail, v.ctx.session);
  const managed = stateWord === "managed" || stateWord === "enabling";
  const canAttach = Boolean(detail.permissions.attach);
  const shown = { stateWord, managed, canAttach, ctx: v.ctx };
  replace(
    v.root,
    namespaceHeader(v, stateWord),
    notices(v.data, shown),
    controllersCard(v.ns, detail, shown),
    policiesCard(v, shown),
    h(
      "div",
      { class: "grid-2" },
      card({
        title: "Backup",
        subtitle: "Policies that existed before netfence took over.",
        body: backupBlock(detail, v.ctx.session),
      }),
      card({ title: "Recent events", subtitle: "What netfence did and refused here, newest first.", body: eventsList(events, { error: eventsError }) }),
    ),
  );
}

// The pitfalls that concern this namespace, asked again when its controllers or policies
// change (an attached template may cut DNS) and otherwise every FINDINGS_MS.
async function findingsFor(v, detail) {
  const { findings } = v;
  const shape = JSON.stringify([detail.controllers, detail.policies.map((p) => p.yaml)]);
  if (shape === findings.shape && Date.now() - findings.at < FINDINGS_MS) return findings.list;
  try {
    const answer = await api.findings(v.ns);
    v.findings = { at: Date.now(), shape, list: answer.findings };
  } catch {
    v.findings = { at: Date.now(), shape, list: findings.list }; // a warning is not worth an error
  }
  return v.findings.list;
}

async function load(v) {
  const { ns } = v;
  const [detail, events] = await Promise.all([api.namespace(ns), api.events(ns).catch((error) => ({ error: error.message }))]);
  rememberNamespace(ns);
  const findings = await findingsFor(v, detail);
  return Array.isArray(events) ? { detail, events, findings } : { detail, events: [], eventsError: `Events are not available: ${events.error}`, findings };
}

export function namespaceView([ns], ctx) {
  const v = { ns, ctx, root: h("div", { class: "page" }), open: new Set(), data: null, findings: { at: 0, shape: null, list: null } };
  return {
    nav: "namespaces",
    title: ns,
    crumbs: [{ label: "Network Policies", href: "#/namespaces" }, { label: ns }],
    load: () => load(v),
    render(d) {
      v.data = d;
      draw(v);
      return v.root;
    },
  };
}

function backupBlock(detail, session) {
  const readsBackups = !session || !session.permissions || session.permissions.read_backups !== false;
  if (!readsBackups) {
    return h("p", { class: "muted" }, icon("lock", "inline-icon"), "You may not read backups: they hold the policies of every team. An admin can restore them.");
  }
  if (detail.backup === null) {
    return h("p", { class: "muted", text: "There is no backup: netfence has not taken over this namespace yet." });
  }
  if (!detail.backup.length) return h("p", { class: "muted", text: "The backup is empty: there were no policies here when netfence took over." });
  return h(
    "div",
    { class: "stack" },
    h("ul", { class: "plain-list" }, detail.backup.map((name) => h("li", null, icon("archive", "inline-icon"), h("span", { class: "mono", text: name })))),
    h("p", { class: "muted small", text: "Disable netfence here and choose “Restore the backup” to put them back." }),
  );
}

export { badge };
