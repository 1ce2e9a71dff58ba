// Connectivity of one namespace: a matrix of its controllers (who may open a connection
// to whom, on the ports each declares), what other namespaces may reach, and, for a
// clicked cell, why: the policies, rules and peers that decided it. The matrix and the
// explanation are drawn by connectivity-matrix.js and connectivity-why.js; this view keeps
// what was clicked and the explanations asked so far.

import { api } from "./api.js";
import { h, icon, replace, plural } from "./dom.js";
import { banner, button, card, pageHeader } from "./ui.js";
import { findingsList } from "./impact.js";
import { namespaceHref, rememberNamespace } from "./parts.js";
import { OTHERS, legend, matrixContent } from "./connectivity-matrix.js";
import { noSelectionCard, whyCard } from "./connectivity-why.js";

const POLL_MS = 10000; // the matrix reads the whole cluster: refreshed every 10 s
const FILTER_FROM = 12; // a filter box from this many controllers on

export function connectivityHref(ns) {
  return `${namespaceHref(ns)}/connectivity`;
}

function newState(ns) {
  return {
    ns,
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

function draw(s) {
  const { matrix, findings } = s.data;
  replace(
    s.root,
    pageHeader({
      title: "Connectivity",
      subtitle: `Who may open a connection to whom in ${s.ns}, on the ports each controller declares, as its NetworkPolicies decide. Click a cell to see why.`,
      actions: [probeAction(s), h("a", { class: "btn btn-secondary", href: namespaceHref(s.ns) }, icon("shield"), h("span", { text: "Namespace view" }))].filter(Boolean),
    }),
    matrix.notes.map((n) => banner("info", n, { title: "Partial view" })),
    probeBanner(s),
    findings && findings.findings ? findingsList(findings.findings) : null,
    // A wide matrix takes the whole width, with the explanation under it.
    h("div", { class: ["conn-layout", matrix.endpoints.length > 5 && "conn-stacked"] }, matrixCard(s), s.panel),
  );
  drawMatrix(s);
  drawPanel(s);
}

// --- the view ------------------------------------------------------------------------------

async function load(ns, s) {
  const asked = s.probing ? Promise.resolve(s.probing) : api.probing().catch(() => ({ available: false }));
  const [matrix, findings, probing] = await Promise.all([api.connectivity(ns), api.findings(ns).catch(() => null), asked]);
  s.probing = probing;
  rememberNamespace(ns);
  return { matrix, findings };
}

export function connectivityView([ns]) {
  const s = newState(ns);
  s.filter.addEventListener("input", () => s.data && drawMatrix(s));
  return {
    nav: "namespaces",
    title: `Connectivity · ${ns}`,
    crumbs: [{ label: "Network Policies", href: "#/namespaces" }, { label: ns, href: namespaceHref(ns) }, { label: "Connectivity" }],
    pollMs: POLL_MS,
    load: () => load(ns, s),
    render(d) {
      s.data = d;
      s.explained = new Map(); // policies may have changed: explanations are asked again
      draw(s);
      return s.root;
    },
  };
}
