// Beside the graph: what a clicked edge or node means, and why. An edge is explained per
// port by the same API and the same drawing as a matrix cell (connectivity-why.js); an
// edge from a group of sources by one of its members. Pure rendering: the view keeps the
// selection and the cache of explanations.

import { h, plural } from "./dom.js";
import { badge, button, card, emptyState } from "./ui.js";
import { endpointLabel } from "./impact.js";
import { portSection } from "./connectivity-why.js";
import { edgeId, edgeSourceWords, edgeWords, edgeWordsFrom, fromNode, isGroup, isolation, portList, sourceWords } from "./connectivity-graph.js";

export function graphNoSelectionCard() {
  return card({ title: "Why?", body: emptyState({ iconName: "info", title: "Click an edge or a workload", text: "An edge says who may open a connection to whom, on which ports. Click one to see which policies, rules and peers decide it; click a workload for what isolates it and what it connects to." }) });
}

const groupOf = (graph, id) => graph.groups.find((g) => g.id === id) || null;
const nodeOf = (graph, id) => graph.nodes.find((n) => n.id === id) || null;

function sourceLabel(id, graph, ns) {
  if (isGroup(id)) return h("span", { class: "ep ep-group", text: sourceWords(id, graph, ns) });
  return endpointLabel(id, ns);
}

// The destination's own port entry (with its name), for the section title.
function declaredPort(destination, p) {
  const found = destination && destination.ports.find((q) => q.port === p.port && q.protocol === p.protocol);
  return found || { port: p.port, protocol: p.protocol, name: null };
}

function closeButton(onClose) {
  return button("", { small: true, variant: "ghost", iconName: "x", ariaLabel: "Close the explanation", onClick: onClose });
}

function edgeBody(edge, graph, handlers, from) {
  const destination = nodeOf(graph, edge.destination);
  const group = groupOf(graph, edge.source);
  const parts = [];
  // Asked from a node's card: explained for that node, one of the sources.
  const source = from || edge.example;
  if (group) {
    const who = sentence(edgeSourceWords(edge, graph, handlers.ns));
    const ports = portList(edge.ports);
    const size = edge.excepted.length ? "" : ` (${plural(group.size, "workload")})`;
    parts.push(h("p", { class: "graph-group-line", text: edge.allowed ? `${who}${size} may connect on ${ports}.` : `${who}${size}: none may connect on ${ports}.` }));
    parts.push(h("h3", { class: "port-title", text: from ? `Why, for ${from}` : `Why, for example for ${source}` }));
  }
  for (const p of edge.ports) parts.push(portSection(source, edge.destination, declaredPort(destination, p), handlers));
  return h("div", { class: "stack" }, parts);
}

const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1);

// `from`: the node whose card the edge was chosen in (one of its sources), or null.
export function graphEdgeCard(edge, graph, handlers, from = null) {
  const { ns } = handlers;
  const title = h("span", { class: "panel-title" }, isGroup(edge.source) ? h("span", { class: "ep ep-group", text: edgeSourceWords(edge, graph, ns) }) : sourceLabel(edge.source, graph, ns), h("span", { class: "arrow", "aria-hidden": "true", text: " → " }), endpointLabel(edge.destination, ns));
  return card({
    title,
    subtitle: `${edge.allowed ? "Allowed" : "Denied"} on ${portList(edge.ports)}. Egress from the source and ingress to the destination must both allow a connection.`,
    actions: [closeButton(handlers.onClose)],
    body: edgeBody(edge, graph, handlers, from),
    className: "why-card graph-why",
  });
}

function edgeList(title, edges, graph, handlers, from = null) {
  if (!edges.length) return null;
  return h(
    "section",
    { class: "graph-edges", "aria-label": title },
    h("h4", { class: "side-title", text: `${title} (${edges.length})` }),
    h(
      "ul",
      { class: "graph-edge-list" },
      edges.map((e) => h("li", null, h("button", { type: "button", class: ["btn", "btn-sm", "btn-ghost", "graph-edge-button", e.allowed ? "is-allowed" : "is-denied"], onclick: () => handlers.onSelect({ kind: "edge", id: edgeId(e), from }) }, h("span", { "aria-hidden": "true", text: e.allowed ? "✓ " : "✗ " }), h("span", { text: from ? edgeWordsFrom(e, from, graph, handlers.ns) : edgeWords(e, graph, handlers.ns) })))),
    ),
  );
}

function isolationLine(direction, policies, ns) {
  const local = (key) => (key.startsWith(`${ns}/`) ? key.slice(ns.length + 1) : key);
  if (!policies.length) {
    const what = direction === "Ingress" ? "every source may connect to its declared ports" : "it may connect to every destination";
    return h("p", null, h("strong", { text: `${direction}: ` }), badge("not isolated", "muted"), h("span", { text: ` No policy of this direction selects it: ${what}.` }));
  }
  return h("p", null, h("strong", { text: `${direction}: ` }), badge("isolated", "info"), h("span", { text: ` by ${policies.map(local).join(", ")}: only what their rules allow.` }));
}

export function graphNodeCard(id, graph, handlers) {
  const { ns } = handlers;
  const into = graph.edges.filter((e) => e.destination === id);
  const group = groupOf(graph, id);
  const node = nodeOf(graph, id);
  // A node's own edges and those of the groups it belongs to (but is not excepted from).
  const from = graph.edges.filter((e) => (group ? e.source === id : node && fromNode(e, id, node.namespace)));
  if (group) {
    return card({
      title: h("span", { class: "panel-title" }, h("span", { class: "ep ep-group", text: sourceWords(id, graph, ns) })),
      subtitle: `${plural(group.size, "workload")} as one source: an edge from it holds for each of them.`,
      actions: [closeButton(handlers.onClose)],
      body: h("div", { class: "stack" }, edgeList("Connections from them", from, graph, handlers)),
      className: "why-card graph-why",
    });
  }
  if (!node) return graphNoSelectionCard();
  const iso = isolation(node);
  return card({
    title: h("span", { class: "panel-title" }, endpointLabel(id, ns)),
    subtitle: `${node.kind} in ${node.namespace} · ${node.ports.length ? `declares ${portList(node.ports)}` : "declares no port"} · ${iso.words}.`,
    actions: [closeButton(handlers.onClose)],
    body: h(
      "div",
      { class: "stack" },
      !node.shown ? h("div", { class: "inline-row" }, h("span", { class: "muted", text: `Namespace ${node.namespace} is not shown: only its edges to and from the shown namespaces are drawn.` }), button(`Show ${node.namespace}`, { small: true, onClick: () => handlers.onAddNamespace(node.namespace) })) : null,
      h("section", { class: "side graph-isolation", "aria-label": "Isolation" }, isolationLine("Ingress", node.ingress_policies, ns), isolationLine("Egress", node.egress_policies, ns)),
      edgeList("Connections into it", into, graph, handlers),
      edgeList("Connections from it", from, graph, handlers, id),
      !into.length && !from.length ? h("p", { class: "muted", text: "No connection is drawn to or from it with these filters." }) : null,
    ),
    className: "why-card graph-why",
  });
}
