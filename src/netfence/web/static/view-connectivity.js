// Connectivity of one namespace, in two tabs: a matrix of its controllers (who may open a
// connection to whom, on the ports each declares, and what other namespaces may reach),
// and a graph of them and their peers in other namespaces; for a clicked cell, edge or
// node, why: the policies, rules and peers that decided it. Drawing is done by
// connectivity-matrix.js, connectivity-graph.js and the panels (connectivity-why.js,
// connectivity-graph-panel.js); this view keeps the tab (in the URL), the filters, what
// was clicked and the explanations asked so far.

import { api } from "./api.js";
import { h, icon, replace, plural } from "./dom.js";
import { banner, button, card, chip, emptyState, loading, pageHeader } from "./ui.js";
import { findingsList } from "./impact.js";
import { namespaceHref, rememberNamespace } from "./parts.js";
import { OTHERS, legend, matrixContent } from "./connectivity-matrix.js";
import { noSelectionCard, whyCard } from "./connectivity-why.js";
import { MOST_NODES, drawGraph, edgeId, edgeWords, graphLegend, loadGraphLibrary } from "./connectivity-graph.js";
import { graphEdgeCard, graphNodeCard, graphNoSelectionCard } from "./connectivity-graph-panel.js";

const POLL_MS = 10000; // the matrix reads the whole cluster: refreshed every 10 s
const FILTER_FROM = 12; // a filter box from this many controllers on

export function connectivityHref(ns, tab = "matrix") {
  return `${namespaceHref(ns)}/connectivity${tab === "graph" ? "/graph" : ""}`;
}

function newState(ns, tab) {
  return {
    ns,
    tab, // "matrix" or "graph", as the URL says
    graphFilter: { namespaces: [ns], port: "", denied: false },
    graphCanvas: h("div", { class: "graph-canvas", role: "img", "aria-label": "Connectivity graph" }),
    graphMessage: h("div"),
    graphStatus: h("p", { class: "muted small graph-status", "aria-live": "polite" }),
    graphDrawn: null, // { cy, laidOut, select, fit, destroy } while a graph is drawn
    graphKey: null, // the graph drawn, as JSON: the same data is not laid out again
    graphListOpen: false, // the graph as a list, opened (kept across redraws)
    graphSelected: null, // { kind: "node" | "edge", id, from? (the node it was chosen from) }
    loads: 0,
    root: h("div", { class: "page" }),
    filter: h("input", { type: "search", class: "input input-search", placeholder: "Filter controllers", "aria-label": "Filter controllers" }),
    matrixSlot: h("div"),
    panel: h("div", { class: "conn-panel" }),
    data: null,
    selected: null, // { source: id | OTHERS, destination: id, example?: id }
    explained: new Map(), // "source|destination|port|protocol" -> explanation or {error}
    probing: null, // { available, reason } once asked
    probe: null, // the last probe: { run, byCell, byPort }, kept until the next one
    probeBusy: false,
    probeError: null,
  };
}

// --- probing -------------------------------------------------------------------------------

function indexProbe(run) {
  const byCell = new Map();
  const byPort = new Map();
  for (const r of run.results) {
    const source = r.sourceUnit || r.source;
    const destination = r.destinationUnit || r.destination;
    const cell = `${source}|${destination}`;
    if (!byCell.has(cell)) byCell.set(cell, []);
    byCell.get(cell).push(r);
    byPort.set(`${cell}|${r.port}|${r.protocol}`, r);
  }
  return { run, byCell, byPort };
}

function runProbe(s) {
  s.probeBusy = true;
  s.probeError = null;
  draw(s);
  api
    .probe(s.ns)
    .then((run) => {
      s.probe = indexProbe(run);
    })
    .catch((error) => {
      s.probeError = error.message;
    })
    .finally(() => {
      s.probeBusy = false;
      if (s.data) draw(s);
    });
}

function probeBanner(s) {
  if (s.probeError) return banner("danger", s.probeError, { title: "The probe failed" });
  if (!s.probe) return null;
  const { run } = s.probe;
  const at = new Date(run.probedAt).toLocaleTimeString();
  const sum = run.summary;
  const text = `Probed at ${at}: ${sum.probed} connections in ${run.seconds.toFixed(1)}s, ${sum.agree} as predicted, ${sum.disagree} not (${sum.connected} connected, ${sum.refused} refused, ${sum.dropped} dropped). Cells marked ● agree, ! disagree: click one to compare.`;
  const skipped = run.notProbed.length ? ` Not probed: ${run.notProbed.map((n) => `${n.endpoint} (${n.reason})`).join(", ")}.` : "";
  return banner(sum.disagree ? "warn" : "ok", text + skipped, { title: sum.disagree ? "The wire disagrees" : "The wire agrees" });
}

function probeAction(s) {
  if (!s.probing || !s.probing.available) return null;
  return button(s.probeBusy ? "Probing…" : s.probe ? "Probe again" : "Probe", { iconName: "search", disabled: s.probeBusy, title: "Open real connections between one pod of each controller, beside the prediction", onClick: () => runProbe(s) });
}

// --- what a click does ---------------------------------------------------------------------

function select(s, source, destination) {
  s.selected = { source, destination };
  drawMatrix(s);
  drawPanel(s);
  s.panel.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function closeWhy(s) {
  s.selected = null;
  drawMatrix(s);
  drawPanel(s);
}

function chooseExample(s, id) {
  s.selected = { ...s.selected, example: id };
  drawPanel(s);
}

// The explanation of one connection on one port: asked once, drawn when it comes.
function ask(s, source, destination, port, protocol) {
  const key = `${source}|${destination}|${port}|${protocol}`;
  if (!s.explained.has(key)) {
    const cache = s.explained;
    cache.set(key, null);
    api
      .explain(source, destination, port, protocol)
      .then((x) => cache.set(key, x))
      .catch((error) => cache.set(key, { error: error.message }))
      .finally(() => {
        if (cache === s.explained) drawPanel(s);
      });
  }
  return s.explained.get(key);
}

// --- drawing -------------------------------------------------------------------------------

function drawMatrix(s) {
  replace(s.matrixSlot, matrixContent({ matrix: s.data.matrix, ns: s.ns, selected: s.selected, filterText: s.filter.value, probe: s.probe, onSelect: (source, destination) => select(s, source, destination) }));
}

// The selected cell's endpoints, or null when one of them is gone from the matrix.
function selectedPair(matrix, selected) {
  const byId = new Map(matrix.endpoints.map((e, i) => [e.id, { e, i }]));
  const fromOthers = selected.source === OTHERS;
  const dest = byId.get(selected.destination);
  const src = fromOthers ? null : byId.get(selected.source);
  if (!dest || (!fromOthers && !src)) return null;
  return { selected, src, dest, others: matrix.others, fromOthers };
}

function drawPanel(s) {
  if (!s.data) return;
  if (s.tab === "graph") {
    drawGraphPanel(s);
    return;
  }
  if (!s.data.matrix) {
    replace(s.panel);
    return;
  }
  if (!s.selected) {
    replace(s.panel, noSelectionCard());
    return;
  }
  const pair = selectedPair(s.data.matrix, s.selected);
  if (!pair) {
    s.selected = null;
    drawPanel(s);
    return;
  }
  const handlers = {
    ns: s.ns,
    ask: (source, destination, port, protocol) => ask(s, source, destination, port, protocol),
    onExample: (id) => chooseExample(s, id),
    onClose: () => closeWhy(s),
    probed: (source, destination, port, protocol) => (s.probe ? s.probe.byPort.get(`${source}|${destination}|${port}|${protocol}`) || null : null),
  };
  replace(s.panel, whyCard(pair, handlers));
}

function matrixCard(s) {
  const { matrix } = s.data;
  const counts = matrix.counts;
  return card({
    title: "Matrix",
    subtitle: `${plural(matrix.endpoints.length, "controller")} · ${counts.allowed} allowed, ${counts.denied} denied${counts.partial ? `, ${counts.partial} on some ports` : ""}. Rows connect to columns.`,
    body: h("div", { class: "stack" }, matrix.endpoints.length >= FILTER_FROM ? h("label", { class: "search" }, icon("search"), s.filter) : null, legend(), s.matrixSlot),
    className: "matrix-card",
  });
}

// --- the graph tab -------------------------------------------------------------------------

function graphEdge(graph, sel) {
  return graph.edges.find((e) => edgeId(e) === sel.id) || null;
}

function selectGraph(s, selection) {
  s.graphSelected = selection;
  if (s.graphDrawn) s.graphDrawn.select(selection);
  drawPanel(s);
}

function drawGraphPanel(s) {
  const graph = s.data.graph;
  if (!graph) {
    replace(s.panel);
    return;
  }
  const sel = s.graphSelected;
  const handlers = {
    ns: s.ns,
    ask: (source, destination, port, protocol) => ask(s, source, destination, port, protocol),
    onClose: () => selectGraph(s, null),
    onSelect: (selection) => selectGraph(s, selection),
    onAddNamespace: (name) => setGraphFilter(s, { namespaces: [...s.graphFilter.namespaces, name] }),
  };
  if (sel && sel.kind === "edge") {
    const edge = graphEdge(graph, sel);
    if (edge) {
      replace(s.panel, graphEdgeCard(edge, graph, handlers, sel.from || null));
      return;
    }
  } else if (sel && sel.kind === "node" && (graph.nodes.some((n) => n.id === sel.id) || graph.groups.some((g) => g.id === sel.id))) {
    replace(s.panel, graphNodeCard(sel.id, graph, handlers));
    return;
  }
  s.graphSelected = null;
  replace(s.panel, graphNoSelectionCard());
}

function setGraphFilter(s, change) {
  s.graphFilter = { ...s.graphFilter, ...change };
  s.graphSelected = null;
  reload(s);
}

function namespaceFilter(s, graph) {
  const chosen = s.graphFilter.namespaces;
  const addable = graph.known_namespaces.filter((n) => !chosen.includes(n));
  const add = h(
    "select",
    { class: "input input-select", "aria-label": "Add a namespace", onchange: (event) => event.target.value && setGraphFilter(s, { namespaces: [...s.graphFilter.namespaces, event.target.value] }) },
    h("option", { value: "", text: "Add a namespace…" }),
    addable.map((n) => h("option", { value: n, text: n })),
  );
  const chips = chosen.length
    ? chosen.map((n) => chip(n, { removeLabel: `Stop showing namespace ${n}`, onRemove: chosen.length > 1 ? () => setGraphFilter(s, { namespaces: chosen.filter((m) => m !== n) }) : null }))
    : [chip("All namespaces", { removeLabel: "Show only this namespace", onRemove: () => setGraphFilter(s, { namespaces: [s.ns] }) })];
  return h(
    "div",
    { class: "graph-filter", role: "group", "aria-label": "Namespaces shown" },
    h("span", { class: "graph-filter-label", text: "Namespaces" }),
    h("span", { class: "chips" }, chips),
    chosen.length ? add : null,
    chosen.length ? button("All", { small: true, variant: "ghost", title: "Every namespace you may read", onClick: () => setGraphFilter(s, { namespaces: [] }) }) : null,
  );
}

function portFilter(s, graph) {
  const wanted = s.graphFilter.port;
  const choices = graph.ports.map((p) => `${p.port}/${p.protocol}`);
  if (wanted && !choices.includes(wanted)) choices.unshift(wanted);
  return h(
    "label",
    { class: "graph-filter" },
    h("span", { class: "graph-filter-label", text: "Port" }),
    h(
      "select",
      { class: "input input-select", "aria-label": "Port", onchange: (event) => setGraphFilter(s, { port: event.target.value }) },
      h("option", { value: "", text: "All ports", selected: !wanted }),
      choices.map((p) => h("option", { value: p, text: p, selected: p === wanted })),
    ),
  );
}

function deniedToggle(s) {
  return h(
    "label",
    { class: "graph-filter graph-toggle" },
    h("input", { type: "checkbox", checked: s.graphFilter.denied, onchange: (event) => setGraphFilter(s, { denied: event.target.checked }) }),
    h("span", { text: "Show denied connections" }),
  );
}

function graphWords(graph) {
  const shown = graph.nodes.filter((n) => n.shown).length;
  const denied = graph.edges.filter((e) => !e.allowed).length;
  const namespaces = graph.namespaces.length === 1 ? `namespace ${graph.namespaces[0]}` : plural(graph.namespaces.length, "namespace");
  const neighbours = graph.nodes.length - shown;
  return `${plural(shown, "workload")} in ${namespaces}${neighbours ? ` and ${neighbours} of other namespaces` : ""} · ${plural(graph.edges.length - denied, "allowed connection")}${denied ? `, ${denied} denied` : ""}${graph.hidden ? ` · ${plural(graph.hidden, "workload")} without that port not drawn` : ""}`;
}

// The graph as a list: the canvas is a picture, this is what a screen reader reads (and
// a quicker way to find one edge among many).
function graphList(s, graph) {
  if (!graph.edges.length) return null;
  return h(
    "details",
    { class: "graph-as-list", open: s.graphListOpen, ontoggle: (event) => (s.graphListOpen = event.target.open) },
    h("summary", { text: `The graph as a list (${plural(graph.edges.length, "connection")})` }),
    h(
      "ul",
      { class: "graph-edge-list", "aria-label": "Connections drawn" },
      graph.edges.map((e) => h("li", null, h("button", { type: "button", class: ["btn", "btn-sm", "btn-ghost", "graph-edge-button", e.allowed ? "is-allowed" : "is-denied"], onclick: () => selectGraph(s, { kind: "edge", id: edgeId(e) }) }, h("span", { "aria-hidden": "true", text: e.allowed ? "✓ " : "✗ " }), h("span", { text: edgeWords(e, graph, s.ns) })))),
    ),
  );
}

function graphCard(s) {
  const graph = s.data.graph;
  const toolbar = graph ? h("div", { class: "graph-toolbar" }, namespaceFilter(s, graph), portFilter(s, graph), deniedToggle(s), button("Fit", { small: true, iconName: "grid", title: "Show the whole graph", onClick: () => s.graphDrawn && s.graphDrawn.fit() })) : null;
  return card({
    title: "Graph",
    subtitle: "Workloads inside their namespace; an edge is a connection its source may open, labelled with the destination's ports. Click an edge or a workload to see why.",
    body: h("div", { class: "stack" }, toolbar, graphLegend(), s.graphMessage, s.graphStatus, s.graphCanvas, graph ? graphList(s, graph) : null),
    className: "graph-card",
  });
}

// Lays the graph out once it is on the page (Cytoscape measures its container), unless
// the very same graph is drawn already.
function drawGraphWhenShown(s) {
  const graph = s.data.graph;
  const key = JSON.stringify(graph);
  if (key === s.graphKey && s.graphDrawn) {
    s.graphDrawn.cy.resize();
    s.graphDrawn.select(s.graphSelected);
    return;
  }
  if (s.graphDrawn) s.graphDrawn.destroy();
  s.graphDrawn = null;
  delete s.graphCanvas.dataset.layoutMs; // set again once this graph is laid out
  s.graphKey = key;
  replace(s.graphMessage);
  const count = graph.nodes.length + graph.groups.length;
  s.graphCanvas.hidden = false;
  // A large graph gets a taller canvas, so its labels stay legible once fitted.
  s.graphCanvas.classList.toggle("graph-canvas-large", count > 80);
  if (!graph.nodes.length) {
    s.graphCanvas.hidden = true;
    replace(s.graphMessage, emptyState({ iconName: "box", title: "Nothing to draw", text: s.graphFilter.port ? "No workload of these namespaces declares or uses that port." : "These namespaces have no controllers and no pods outside a controller." }));
    return;
  }
  if (count > MOST_NODES) {
    s.graphCanvas.hidden = true;
    replace(s.graphMessage, banner("info", `${count} workloads and groups are too many to draw readably; choose fewer namespaces or one port.`, { title: "Too large to draw" }));
    return;
  }
  replace(s.graphStatus, `${graphWords(graph)} · laying out…`);
  setTimeout(() => {
    if (s.graphKey !== key || !s.graphCanvas.isConnected) return;
    loadGraphLibrary()
      .then((cytoscape) => {
        if (s.graphKey !== key) return;
        const drawn = drawGraph(cytoscape, s.graphCanvas, graph, { onSelect: (selection) => selectGraph(s, selection) });
        s.graphDrawn = drawn;
        drawn.select(s.graphSelected);
        drawn.laidOut.then((ms) => {
          if (s.graphDrawn !== drawn) return;
          s.graphCanvas.dataset.layoutMs = String(ms);
          replace(s.graphStatus, `${graphWords(graph)} · laid out in ${ms} ms`);
        });
      })
      .catch((error) => {
        s.graphCanvas.hidden = true;
        s.graphKey = null;
        replace(s.graphStatus);
        replace(s.graphMessage, banner("danger", error.message, { title: "The graph cannot be drawn" }));
      });
  }, 0);
}

// --- the page ------------------------------------------------------------------------------

function setTab(s, tab) {
  if (s.tab === tab) return;
  s.tab = tab;
  // The URL names the tab (a reload or a shared link opens it); replaced, not pushed, so
  // Back leaves the page rather than flipping tabs.
  history.replaceState(null, "", connectivityHref(s.ns, tab));
  draw(s);
  reload(s);
}

function tabs(s) {
  const tab = (name, label, iconName) =>
    h(
      "a",
      {
        class: ["tab", s.tab === name && "is-active"],
        role: "tab",
        href: connectivityHref(s.ns, name),
        "aria-selected": s.tab === name ? "true" : "false",
        onclick: (event) => {
          event.preventDefault();
          setTab(s, name);
        },
      },
      icon(iconName),
      h("span", { text: label }),
    );
  return h("div", { class: "tabs", role: "tablist", "aria-label": "Connectivity views" }, tab("matrix", "Matrix", "grid"), tab("graph", "Graph", "network"));
}

function tabBody(s) {
  const d = s.data;
  if (s.tab === "graph") {
    if (!d.graph) return loading("Working out the graph…");
    return h("div", { class: "conn-layout graph-layout" }, graphCard(s), s.panel);
  }
  if (!d.matrix) return loading("Working out the matrix…");
  // A wide matrix takes the whole width, with the explanation under it.
  return h("div", { class: ["conn-layout", d.matrix.endpoints.length > 5 && "conn-stacked"] }, matrixCard(s), s.panel);
}

function draw(s) {
  if (!s.data) return; // the first load is still under way: it draws
  const { findings } = s.data;
  const shown = s.tab === "graph" ? s.data.graph : s.data.matrix;
  const notes = shown ? shown.notes : [];
  replace(
    s.root,
    pageHeader({
      title: "Connectivity",
      subtitle: `Who may open a connection to whom in ${s.ns}, on the ports each controller declares, as its NetworkPolicies decide. Click a ${s.tab === "graph" ? "connection or a workload" : "cell"} to see why.`,
      actions: [s.tab === "matrix" ? probeAction(s) : null, h("a", { class: "btn btn-secondary", href: namespaceHref(s.ns) }, icon("shield"), h("span", { text: "Namespace view" }))].filter(Boolean),
    }),
    notes.map((n) => banner("info", n, { title: "Partial view" })),
    s.tab === "matrix" ? probeBanner(s) : null,
    findings && findings.findings ? findingsList(findings.findings) : null,
    tabs(s),
    tabBody(s),
  );
  if (s.tab === "graph" && s.data.graph) drawGraphWhenShown(s);
  if (s.tab === "matrix" && s.data.matrix) drawMatrix(s);
  drawPanel(s);
}

// --- the view ------------------------------------------------------------------------------

// Only what the shown tab needs is asked for: the matrix and the graph each evaluate the
// cluster.
async function load(ns, s) {
  const asked = s.probing ? Promise.resolve(s.probing) : api.probing().catch(() => ({ available: false }));
  // What this load asks for, as it was when asked: tab and filters may change meanwhile.
  const { tab, graphFilter: filter } = s;
  const shown = tab === "graph" ? api.graph(filter.namespaces, filter.port, filter.denied) : api.connectivity(ns);
  const [data, findings, probing] = await Promise.all([shown, api.findings(ns).catch(() => null), asked]);
  s.probing = probing;
  rememberNamespace(ns);
  return tab === "graph" ? { tab, graph: data, findings, filter } : { tab, matrix: data, findings };
}

// A tab or filter changed: load now rather than at the next poll; a load overtaken by a
// later one is dropped.
function reload(s) {
  const mine = ++s.loads;
  load(s.ns, s)
    .then((d) => {
      if (mine !== s.loads) return;
      s.data = d;
      draw(s);
    })
    .catch((error) => {
      if (mine !== s.loads) return;
      if (s.tab === "graph" && error.field === "namespace" && s.graphFilter.namespaces.length !== 1) {
        s.graphFilter = { ...s.graphFilter, namespaces: [s.ns] };
      }
      replace(s.graphMessage, banner("danger", error.message, { title: "Could not load the graph" }));
    });
}

export function connectivityView([ns, tab]) {
  const s = newState(ns, tab === "graph" ? "graph" : "matrix");
  s.filter.addEventListener("input", () => s.data && s.data.matrix && drawMatrix(s));
  return {
    nav: "namespaces",
    title: `Connectivity · ${ns}`,
    crumbs: [{ label: "Network Policies", href: "#/namespaces" }, { label: ns, href: namespaceHref(ns) }, { label: "Connectivity" }],
    pollMs: POLL_MS,
    load: () => load(ns, s),
    render(d) {
      // A poll answered for the other tab or for other filters (changed meanwhile) is
      // not shown: the reload they started draws the right one.
      if (d.tab !== s.tab || (d.tab === "graph" && d.filter !== s.graphFilter)) return s.root;
      s.data = d;
      s.explained = new Map(); // policies may have changed: explanations are asked again
      draw(s);
      return s.root;
    },
  };
}
