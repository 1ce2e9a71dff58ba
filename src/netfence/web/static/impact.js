// Connectivity pieces shared by the dialogs and the views: what a change does to traffic
// ("newly denied", "newly allowed"), pitfall warnings with their fix, endpoint names.

import { h, icon, plural } from "./dom.js";
import { banner } from "./ui.js";

// --- endpoints: NS/KIND/NAME (a controller) or NS/NAME (a pod) ---------------------------------

export function parseEndpoint(id) {
  const parts = id.split("/");
  if (parts.length === 3) return { namespace: parts[0], kind: parts[1], name: parts[2] };
  return { namespace: parts[0], kind: "Pod", name: parts.slice(1).join("/") };
}

// "Deployment api" inside the namespace being looked at, "monitoring · Deployment api" outside.
export function endpointLabel(id, here) {
  const e = parseEndpoint(id);
  return h(
    "span",
    { class: "ep", title: id },
    e.namespace !== here ? h("span", { class: "ep-ns", text: e.namespace }) : null,
    h("span", { class: "ep-kind", text: e.kind }),
    h("span", { class: "ep-name", text: e.name }),
  );
}

export function endpointWords(id, here) {
  const e = parseEndpoint(id);
  return `${e.namespace !== here ? `${e.namespace}/` : ""}${e.kind} ${e.name}`;
}

// --- impact of a change --------------------------------------------------------------------------

const GROUPS_SHOWN = 8;
const SOURCES_SHOWN = 6;

// Connections grouped around the side they share: by destination and port ("db on
// 5432/TCP, from api, web, ...") when fewer destinations change, else by source ("from
// report, to nightly on 80/TCP, web on 80/TCP, ..."), so one change reads as one line.
function grouped(connections) {
  const sources = new Set(connections.map((c) => c.source));
  const destinations = new Set(connections.map((c) => `${c.destination} ${c.port}/${c.protocol}`));
  const bySource = sources.size < destinations.size;
  const groups = new Map();
  for (const c of connections) {
    const port = `${c.port}/${c.protocol}`;
    const key = bySource ? c.source : `${c.destination} ${port}`;
    if (!groups.has(key)) groups.set(key, { bySource, anchor: bySource ? c.source : c.destination, port, members: [] });
    groups.get(key).members.push(bySource ? { id: c.destination, port } : { id: c.source });
  }
  return [...groups.values()];
}

function member(m, here) {
  if (!m.port) return endpointLabel(m.id, here);
  return h("span", { class: "ep-with-port" }, endpointLabel(m.id, here), h("span", { class: "impact-port", text: m.port }));
}

function connectionList(kind, connections, total, here) {
  const denied = kind === "denied";
  const groups = grouped(connections);
  const title = `${denied ? "Newly denied" : "Newly allowed"}: ${plural(total, "connection")}`;
  const items = groups.slice(0, GROUPS_SHOWN).map((g) => {
    const shown = g.members.slice(0, SOURCES_SHOWN);
    const more = g.members.length - shown.length;
    const head = g.bySource
      ? [h("span", { class: "muted small", text: "from" }), endpointLabel(g.anchor, here), h("span", { class: "muted small", text: `to ${plural(g.members.length, "destination")}` })]
      : [endpointLabel(g.anchor, here), h("span", { class: "impact-port", text: `on ${g.port}` }), h("span", { class: "muted small", text: `from ${plural(g.members.length, "source")}` })];
    return h(
      "li",
      { class: "impact-item" },
      h("div", { class: "impact-dest" }, h("span", { class: ["verdict-mark", denied ? "is-denied" : "is-allowed"], "aria-hidden": "true", text: denied ? "✗" : "✓" }), head),
      h(
        "div",
        { class: "impact-sources" },
        shown.map((m) => member(m, here)),
        more > 0 ? h("span", { class: "muted small", title: g.members.slice(SOURCES_SHOWN).map((m) => m.id).join("\n"), text: `and ${more} more` }) : null,
      ),
    );
  });
  const hidden = groups.length - GROUPS_SHOWN;
  const cut = total - connections.length;
  return h(
    "section",
    { class: ["impact-list", denied ? "impact-denied" : "impact-allowed"], "aria-label": denied ? "Newly denied" : "Newly allowed" },
    h("h4", { class: "impact-title" }, icon(denied ? "x" : "check"), h("span", { text: title })),
    h("ul", { class: "plain-list" }, items),
    hidden > 0 || cut > 0
      ? h("p", { class: "muted small", text: `${hidden > 0 ? `And ${plural(hidden, "more group")}. ` : ""}${cut > 0 ? `Only the first ${connections.length} connections are listed.` : ""}` })
      : null,
  );
}

// The effect of a change on traffic, or why it could not be worked out.
export function impactView(impact, { here, note } = {}) {
  if (!impact) {
    return h("p", { class: "muted small" }, icon("info", "inline-icon"), note || "The effect on connectivity is not known.");
  }
  const parts = [];
  for (const text of impact.notes || []) parts.push(banner("info", text));
  if (!impact.newly_denied_total && !impact.newly_allowed_total) {
    parts.push(h("p", { class: "impact-none" }, icon("check", "inline-icon"), "No connection between controllers changes on their declared ports."));
  }
  if (impact.newly_denied_total) parts.push(connectionList("denied", impact.newly_denied, impact.newly_denied_total, here));
  if (impact.newly_allowed_total) parts.push(connectionList("allowed", impact.newly_allowed, impact.newly_allowed_total, here));
  if (impact.not_covered && impact.not_covered.length) {
    const names = impact.not_covered.slice(0, 5).map((id) => endpointWords(id, here));
    const more = impact.not_covered.length > 5 ? ` and ${impact.not_covered.length - 5} more` : "";
    const one = impact.not_covered.length === 1;
    parts.push(h("p", { class: "muted small", text: `Not covered: ${names.join(", ")}${more} ${one ? "declares" : "declare"} no container port, so connections to ${one ? "it" : "them"} are not listed.` }));
  }
  return h("div", { class: "impact" }, parts);
}

// A titled block for dialogs: "Effect on connectivity" with the lists, or a loading line.
export function impactBlock(content) {
  return h(
    "section",
    { class: "impact-block", "aria-label": "Effect on connectivity" },
    h("h3", { class: "step-title", text: "Effect on connectivity" }),
    h("p", { class: "step-text", text: "Connections between controllers (and pods no controller runs), on the ports they declare." }),
    content,
  );
}

// --- pitfalls --------------------------------------------------------------------------------

const FINDING_TITLES = {
  "egress-without-dns": "Egress without DNS",
  "namespace-selector-matches-nothing": "A namespace selector matches nothing",
  "pod-selector-matches-nothing": "A pod selector matches nothing",
  "policy-selects-no-pods": "A policy selects no pods",
  "peers-ored-where-and-was-likely-meant": "Peers are ORed where AND was likely meant",
  "no-networkpolicy-enforcing-plugin": "No network plugin enforces NetworkPolicy",
};

function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

export function findingBanner(finding) {
  return h(
    "div",
    { class: ["banner", "banner-warn", "finding"], role: "note", dataset: { kind: finding.kind } },
    icon("warning", "banner-icon"),
    h(
      "div",
      { class: "banner-text" },
      h("strong", { class: "banner-title", text: FINDING_TITLES[finding.kind] || finding.kind }),
      h("span", { text: `${sentence(finding.message)}.` }),
      h("span", { class: "finding-fix" }, h("strong", { text: "Fix: " }), sentence(finding.fix)),
    ),
  );
}

export function findingsList(findings) {
  if (!findings || !findings.length) return null;
  return h("div", { class: "findings", role: "region", "aria-label": "Warnings" }, findings.map(findingBanner));
}
