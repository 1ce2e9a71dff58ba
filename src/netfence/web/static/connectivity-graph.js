// The connectivity graph: workloads as nodes inside their namespace, allowed connections
// as edges labelled with their ports, denied ones (on demand) dashed, isolated workloads
// bordered. Drawn by Cytoscape.js and laid out by its fcose extension (compound nodes),
// both served from /static/vendor/ (scripts/vendor-js copies them from npm). Pure drawing:
// the view keeps the filters and the selection and passes what a click should do.

import { h } from "./dom.js";

const VENDOR = "/static/vendor";
// In this order: fcose registers itself on the global cytoscape, and needs cose-base,
// which needs layout-base.
const SCRIPTS = ["cytoscape.min.js", "layout-base.js", "cose-base.js", "cytoscape-fcose.js"];
export const MOST_NODES = 600; // past this the page asks for a filter instead of drawing

// Cytoscape adds a <style> element for one rule (its container is position: relative),
// which the Content-Security-Policy refuses; it skips that when an element of this id
// exists, and app.css holds the rule.
const CYTOSCAPE_STYLESHEET_ID = "__________cytoscape_stylesheet";

let library = null;

function loadScript(name) {
  return new Promise((resolve, reject) => {
    const script = h("script", { src: `${VENDOR}/${name}` });
    script.addEventListener("load", () => resolve());
    script.addEventListener("error", () => reject(new Error(`${VENDOR}/${name} did not load`)));
    document.head.append(script);
  });
}

// Cytoscape with fcose, loaded once; the promise fails with a message a person can act on.
export function loadGraphLibrary() {
  if (!library) {
    library = (async () => {
      for (const name of SCRIPTS) await loadScript(name);
      const cy = window.cytoscape;
      if (typeof cy !== "function") throw new Error("cytoscape.min.js loaded but defined no cytoscape");
      if (window.cytoscapeFcose) cy.use(window.cytoscapeFcose);
      if (!document.getElementById(CYTOSCAPE_STYLESHEET_ID)) document.head.append(h("meta", { id: CYTOSCAPE_STYLESHEET_ID, name: "cytoscape-stylesheet" }));
      return cy;
    })().catch((error) => {
      library = null; // a later page may try again (the server may have been fixed)
      throw new Error(`The graph library is missing from this installation: ${error.message}. Run scripts/vendor-js (make does it) and reinstall netfence, or use the Matrix tab.`);
    });
  }
  return library;
}

// --- words ---------------------------------------------------------------------------------

const shortPort = (p) => (p.protocol === "TCP" ? String(p.port) : `${p.port}/${p.protocol}`);
export const portList = (ports) => ports.map((p) => `${p.port}/${p.protocol}`).join(", ");

export function isGroup(id) {
  return id === "*" || id.endsWith("/*");
}

// "every workload of shop" / "every workload" / "Deployment api" (with its namespace when
// it is not the page's).
export function sourceWords(id, graph, here) {
  if (id === "*") return "every workload";
  if (id.endsWith("/*")) return `every workload of ${id.slice(0, -2)}`;
  return nodeWords(id, here);
}

function nodeWords(id, here) {
  const parts = id.split("/");
  const [namespace, kind, name] = parts.length === 3 ? parts : [parts[0], "Pod", parts[1]];
  return `${namespace !== here ? `${namespace}/` : ""}${kind} ${name}`;
}

// An exception of a group: "those of shop" or "Deployment db".
const exceptionWords = (id, here) => (id.endsWith("/*") ? `those of ${id.slice(0, -2)}` : nodeWords(id, here));

// The edge's source in words, with its exceptions: "every workload but those of shop".
export function edgeSourceWords(edge, graph, here) {
  const words = sourceWords(edge.source, graph, here);
  return edge.excepted.length ? `${words} but ${edge.excepted.map((x) => exceptionWords(x, here)).join(", ")}` : words;
}

export function edgeWords(edge, graph, here) {
  return `${edgeSourceWords(edge, graph, here)} → ${nodeWords(edge.destination, here)}: ${edge.allowed ? "allowed" : "denied"} on ${portList(edge.ports)}`;
}

// The edge as one of its sources `id` sees it: "Deployment api → StatefulSet db: denied on
// 5432/TCP (as one of every workload but …)".
export function edgeWordsFrom(edge, id, graph, here) {
  const as = edge.source === id ? "" : ` (as one of ${edgeSourceWords(edge, graph, here)})`;
  return `${nodeWords(id, here)} → ${nodeWords(edge.destination, here)}: ${edge.allowed ? "allowed" : "denied"} on ${portList(edge.ports)}${as}`;
}

// Whether the node `id` (of namespace `ns`) is one of the sources an edge stands for.
export function fromNode(edge, id, ns) {
  if (edge.source === id) return true;
  if (edge.excepted.includes(id) || edge.excepted.includes(`${ns}/*`)) return false;
  return edge.source === "*" || edge.source === `${ns}/*`;
}

export function isolation(node) {
  const ingress = node.ingress_policies.length > 0;
  const egress = node.egress_policies.length > 0;
  return { ingress, egress, words: ingress && egress ? "isolated for ingress and egress" : ingress ? "isolated for ingress" : egress ? "isolated for egress" : "not isolated" };
}

// --- elements ------------------------------------------------------------------------------

const nsId = (ns) => `ns:${ns}`;
export const edgeId = (e) => `${e.allowed ? "allow" : "deny"}|${e.source}|${e.destination}${e.excepted.length ? `|but:${e.excepted.join(",")}` : ""}`;
// How an exception reads on an edge's label: the namespace, or the workload's name.
const shortException = (id) => (id.endsWith("/*") ? id.slice(0, -2) : id.split("/").pop());

export function elements(graph) {
  const shown = new Set(graph.namespaces);
  const namespaces = new Set([...graph.nodes.map((n) => n.namespace), ...graph.groups.filter((g) => g.namespace).map((g) => g.namespace)]);
  const out = [];
  for (const ns of [...namespaces].sort()) {
    out.push({ group: "nodes", data: { id: nsId(ns), label: ns }, classes: ["namespace", !shown.has(ns) && "neighbour"].filter(Boolean).join(" ") });
  }
  for (const n of graph.nodes) {
    const iso = isolation(n);
    const classes = ["workload", iso.ingress && "iso-in", iso.egress && "iso-out", !n.shown && "neighbour"].filter(Boolean);
    out.push({ group: "nodes", data: { id: n.id, parent: nsId(n.namespace), label: `${n.name}\n${n.kind}${n.ports.length ? ` · ${n.ports.map(shortPort).join(" ")}` : ""}` }, classes: classes.join(" ") });
  }
  for (const g of graph.groups) {
    const label = g.namespace ? `all of ${g.namespace} (${g.size})` : `every workload (${g.size})`;
    out.push({ group: "nodes", data: { id: g.id, parent: g.namespace ? nsId(g.namespace) : undefined, label }, classes: "group" });
  }
  for (const e of graph.edges) {
    const but = e.excepted.length ? ` · but ${e.excepted.length > 2 ? e.excepted.length : e.excepted.map(shortException).join(", ")}` : "";
    out.push({ group: "edges", data: { id: edgeId(e), source: e.source, target: e.destination, label: e.ports.map(shortPort).join(", ") + but }, classes: e.allowed ? "allowed" : "denied" });
  }
  return out;
}

// Colours follow app.css: allowed green, denied red and dashed, the selection blue.
const STYLE = [
  { selector: "node", style: { "font-family": "system-ui, sans-serif", "font-size": 11, color: "#0f172a", "min-zoomed-font-size": 7 } },
  {
    selector: "node.workload",
    style: { shape: "round-rectangle", width: 86, height: 34, "background-color": "#ffffff", "border-width": 1, "border-color": "#94a3b8", label: "data(label)", "text-wrap": "wrap", "text-max-width": 84, "text-valign": "center", "text-halign": "center" },
  },
  // Isolated for ingress: a thick dark border; for egress: a double one; both: thick double.
  { selector: "node.workload.iso-in", style: { "border-width": 3, "border-color": "#1e3a8a", "background-color": "#eff6ff" } },
  { selector: "node.workload.iso-out", style: { "border-width": 4, "border-style": "double", "border-color": "#7c2d12" } },
  { selector: "node.workload.iso-in.iso-out", style: { "border-width": 5, "border-style": "double", "border-color": "#1e3a8a" } },
  { selector: "node.workload.neighbour", style: { "border-style": "dashed", color: "#475569", "background-color": "#f8fafc" } },
  { selector: "node.group", style: { shape: "round-rectangle", width: 96, height: 22, "background-color": "#ede9fe", "border-width": 1, "border-color": "#7c3aed", label: "data(label)", "font-size": 9.5, "font-weight": 600, color: "#5b21b6", "text-valign": "center", "text-halign": "center" } },
  {
    selector: "node.namespace",
    style: { shape: "round-rectangle", "background-color": "#f1f5f9", "background-opacity": 0.7, "border-width": 1, "border-color": "#cbd5e1", label: "data(label)", "text-valign": "top", "text-halign": "center", "font-size": 24, "font-weight": 700, color: "#334155", padding: 12, "text-margin-y": -2 },
  },
  { selector: "node.namespace.neighbour", style: { "border-style": "dashed", "background-opacity": 0.35 } },
  {
    selector: "edge",
    style: { width: 1.4, "curve-style": "bezier", "target-arrow-shape": "triangle", "arrow-scale": 0.8, label: "data(label)", "font-size": 8.5, "min-zoomed-font-size": 8, "text-rotation": "autorotate", "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 1, color: "#334155" },
  },
  { selector: "edge.allowed", style: { "line-color": "#16a34a", "target-arrow-color": "#16a34a" } },
  { selector: "edge.denied", style: { "line-color": "#dc2626", "target-arrow-color": "#dc2626", "line-style": "dashed", "target-arrow-shape": "tee", color: "#991b1b" } },
  { selector: "node:selected, node.is-selected", style: { "border-color": "#2563eb", "border-width": 4, "overlay-opacity": 0 } },
  { selector: "edge:selected, edge.is-selected", style: { width: 4, "line-color": "#2563eb", "target-arrow-color": "#2563eb", "z-index": 10, color: "#1d4ed8", "font-weight": 700 } },
  { selector: ".is-faded", style: { opacity: 0.25 } },
];

// Tried on 200 workloads in 10 namespaces (headless Cytoscape, counting namespace boxes
// that overlap): a stronger repulsion and pull towards the namespace's centre keep the
// boxes apart; "proof" quality took minutes there for no visible gain.
function layoutOptions() {
  return {
    name: "fcose",
    quality: "default",
    randomize: true,
    animate: false,
    fit: true,
    padding: 16,
    nodeDimensionsIncludeLabels: true,
    packComponents: true,
    tile: true, // workloads without edges are tiled inside their namespace, not scattered
    nodeRepulsion: 12000,
    idealEdgeLength: 90,
    edgeElasticity: 0.45,
    nestingFactor: 0.3,
    numIter: 2500,
    gravity: 0.3,
    gravityCompound: 2,
    gravityRangeCompound: 1,
  };
}

// Draws `graph` into `container` (attached to the page, with a size) and returns
// { cy, laidOut (a promise of the layout's milliseconds), select(selection), fit(), destroy() }. `onSelect({ kind: "node" | "edge", id })`
// or onSelect(null) for a tap on the background.
export function drawGraph(cytoscape, container, graph, { onSelect }) {
  const cy = cytoscape({ container, elements: elements(graph), style: STYLE, wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 3, boxSelectionEnabled: false, autoungrabify: false });
  const layout = cy.layout(layoutOptions());
  const started = performance.now();
  const laidOut = new Promise((resolve) =>
    layout.one("layoutstop", () => {
      const ms = Math.round(performance.now() - started);
      cy.resize();
      cy.fit(undefined, 16);
      resolve(ms);
    }),
  );
  layout.run();
  cy.nodes(".namespace").unselectify();
  // Cytoscape remembers where its container is on the page and learns of window scrolls
  // and resizes only; a banner or a line of text appearing above it moves it without
  // either, and a click would then land beside its target. The pointer entering the
  // graph, before any click, makes it measure again.
  const remeasure = () => cy.resize();
  container.addEventListener("pointerenter", remeasure);
  cy.on("tap", "node.workload, node.group", (event) => onSelect({ kind: "node", id: event.target.id() }));
  cy.on("tap", "edge", (event) => {
    const e = event.target;
    onSelect({ kind: "edge", id: e.id() });
  });
  cy.on("tap", (event) => {
    if (event.target === cy) onSelect(null);
  });
  // Tests (and the curious) find where a node or an edge is drawn, to click it like a person.
  container.netfenceGraph = {
    // A point where a click lands on the element itself (not on a neighbour drawn over
    // it), in page coordinates; null when it is not drawn or nowhere clickable.
    at(id) {
      const found = cy.getElementById(id);
      if (!found.nonempty()) return null;
      const lerp = (a, b, t) => ({ x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t });
      let candidates = [found.renderedPosition()];
      if (found.isEdge()) {
        const [from, mid, to] = [found.renderedSourceEndpoint(), found.renderedMidpoint(), found.renderedTargetEndpoint()];
        candidates = [mid, lerp(from, mid, 0.5), lerp(mid, to, 0.5), lerp(from, mid, 0.75), lerp(mid, to, 0.25), lerp(from, mid, 0.3), lerp(mid, to, 0.7)];
      }
      const pan = cy.pan();
      const zoom = cy.zoom();
      const box = container.getBoundingClientRect();
      for (const p of candidates) {
        const hit = cy.renderer().findNearestElement((p.x - pan.x) / zoom, (p.y - pan.y) / zoom, true, false);
        if (hit && hit.id() === id) return { x: box.left + p.x, y: box.top + p.y };
      }
      return null;
    },
    // The edges drawn into a node: [{ id, allowed }].
    edgesInto(id) {
      return cy.edges().filter((e) => e.data("target") === id).map((e) => ({ id: e.id(), allowed: e.hasClass("allowed") }));
    },
    // A style property as Cytoscape paints it ("double", "3px", ...), or null.
    style(id, property) {
      const found = cy.getElementById(id);
      return found.nonempty() ? found.style(property) : null;
    },
    // What is drawn: nodes (workloads and groups), edges, and workloads drawn outside the
    // box of their namespace (a layout that broke its compounds).
    counts() {
      const workloads = cy.nodes(".workload");
      const outside = workloads.filter((n) => {
        const box = n.parent().boundingBox();
        const p = n.position();
        return p.x < box.x1 || p.x > box.x2 || p.y < box.y1 || p.y > box.y2;
      });
      return { nodes: cy.nodes(".workload, .group").length, edges: cy.edges().length, workloads: workloads.length, shown: workloads.filter((n) => !n.hasClass("neighbour")).length, outside: outside.length };
    },
  };
  return {
    cy,
    laidOut,
    select(selection) {
      cy.elements().removeClass("is-selected is-faded");
      if (!selection) return;
      const el = cy.getElementById(selection.id);
      if (!el.nonempty()) return;
      el.addClass("is-selected");
      // The rest fades, but what touches the selection stays readable.
      const near = el.isEdge() ? el.union(el.connectedNodes()) : el.union(el.connectedEdges()).union(el.connectedEdges().connectedNodes());
      cy.elements(".workload, .group, edge").difference(near).addClass("is-faded");
    },
    fit() {
      cy.fit(undefined, 16);
    },
    destroy() {
      container.removeEventListener("pointerenter", remeasure);
      cy.destroy();
    },
  };
}

// --- the legend ----------------------------------------------------------------------------

export function graphLegend() {
  const item = (swatch, text) => h("li", null, h("span", { class: ["graph-swatch", swatch], "aria-hidden": "true" }), h("span", { text }));
  return h(
    "ul",
    { class: "legend graph-legend", "aria-label": "Graph legend" },
    item("gs-allowed", "Allowed, with its ports"),
    item("gs-denied", "Denied (a declared port)"),
    item("gs-open", "Not isolated: every source may connect"),
    item("gs-iso-in", "Isolated for ingress"),
    item("gs-iso-out", "Isolated for egress"),
    item("gs-group", "Every workload of a namespace, as one source"),
    item("gs-neighbour", "In a namespace not shown"),
  );
}
