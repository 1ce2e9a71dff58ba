// The connectivity matrix of one namespace: a row per controller (and one for every other
// namespace), a column per controller, and in each cell whether the row may connect.
// Pure rendering: the view keeps the selection and passes what a click should do.

import { h, plural } from "./dom.js";
import { emptyState } from "./ui.js";
import { endpointWords } from "./impact.js";

const SHOWN = 60; // rows and columns shown at most; the filter finds the others
export const OTHERS = "others";

const VERDICTS = {
  allowed: { mark: "✓", words: "allowed", legend: "Allowed on every declared port" },
  denied: { mark: "✗", words: "denied", legend: "Denied on every declared port" },
  partial: { mark: "◐", words: "allowed on some ports", legend: "Allowed on some ports only" },
  "no-ports": { mark: "–", words: "no declared port", legend: "Declares no port: click to ask about one" },
};

export function portText(p) {
  return `${p.port}/${p.protocol}${p.name ? ` (${p.name})` : ""}`;
}

const portWords = (ports) => ports.map((p) => `${p.port}/${p.protocol}`);

export function legend() {
  return h(
    "ul",
    { class: "legend", "aria-label": "Legend" },
    Object.entries(VERDICTS).map(([verdict, v]) => h("li", null, h("span", { class: ["cell", "cell-legend", `cell-${verdict}`], "aria-hidden": "true" }, h("span", { class: "cell-mark", text: v.mark })), h("span", { text: v.legend }))),
  );
}

function cellButton(verdict, label, { isSelected, onClick, extra, probed }) {
  const v = VERDICTS[verdict] || VERDICTS.denied;
  return h(
    "button",
    {
      type: "button",
      class: ["cell", `cell-${verdict}`, isSelected && "is-selected", probed && `cell-${probed}`],
      "aria-label": label,
      "aria-pressed": isSelected ? "true" : "false",
      title: label,
      onclick: onClick,
    },
    h("span", { class: "cell-mark", "aria-hidden": "true", text: v.mark }),
    extra ? h("span", { class: "cell-extra", "aria-hidden": "true", text: extra }) : null,
    probed ? h("span", { class: "cell-probe", "aria-hidden": "true", text: probed === "disagrees" ? "!" : "●" }) : null,
  );
}

// What a probe observed for one cell: "agrees", "disagrees" or null (not probed), and words.
export function probedCell(probe, source, destination) {
  const results = probe ? probe.byCell.get(`${source}|${destination}`) : null;
  if (!results || !results.length) return { probed: null, words: "" };
  const wrong = results.filter((r) => !r.agrees);
  const observed = results.map((r) => `${r.port}/${r.protocol} ${r.observed}`).join(", ");
  if (wrong.length) return { probed: "disagrees", words: ` · probe disagrees: observed ${observed}` };
  return { probed: "agrees", words: ` · probe agrees: observed ${observed}` };
}

const headLabel = (e) => h("span", { class: "head-label" }, h("span", { class: "ep-kind", text: e.kind }), h("span", { class: "head-name", text: e.name }));

// Many columns: names written upwards, without their kind (it is in the tooltip).
function columnHead(e, dense) {
  return h(
    "th",
    { class: "col-head", scope: "col", title: `${e.id}${e.ports.length ? `: ${e.ports.map(portText).join(", ")}` : ": declares no port"}` },
    dense ? h("span", { class: "head-label" }, h("span", { class: "head-name", text: e.name })) : headLabel(e),
    h("span", { class: "head-ports", text: e.ports.length ? portWords(e.ports).join(" ") : "no port" }),
  );
}

function headRow(endpoints, columns, dense) {
  return h(
    "tr",
    null,
    h("th", { class: "corner", scope: "col" }, h("span", { class: "corner-to", text: "to →" }), h("span", { class: "corner-from", text: "from ↓" })),
    columns.map((j) => columnHead(endpoints[j], dense)),
  );
}

function cellLabel(m, i, j) {
  const { matrix, ns } = m;
  const row = matrix.rows[i];
  const verdict = row.verdicts[j];
  const ports = matrix.endpoints[j].ports;
  const detail = verdict === "partial" ? ` (${ports.map((p, k) => `${p.port}/${p.protocol} ${row.ports[j][k] ? "allowed" : "denied"}`).join(", ")})` : ports.length ? ` on ${portWords(ports).join(", ")}` : "";
  return `${endpointWords(matrix.endpoints[i].id, ns)} → ${endpointWords(matrix.endpoints[j].id, ns)}: ${VERDICTS[verdict].words}${detail}`;
}

function endpointRow(m, i, columns) {
  const { matrix, selected, onSelect, probe } = m;
  const endpoints = matrix.endpoints;
  return h(
    "tr",
    null,
    h("th", { class: "row-head", scope: "row", title: endpoints[i].id }, headLabel(endpoints[i])),
    columns.map((j) => {
      const isSelected = selected && selected.source === endpoints[i].id && selected.destination === endpoints[j].id;
      const { probed, words } = probedCell(probe, endpoints[i].id, endpoints[j].id);
      return h("td", { class: "cell-td" }, cellButton(matrix.rows[i].verdicts[j], cellLabel(m, i, j) + words, { isSelected, probed, onClick: () => onSelect(endpoints[i].id, endpoints[j].id) }));
    }),
  );
}

function othersCell(m, j) {
  const { matrix, ns, selected, onSelect } = m;
  const others = matrix.others;
  const destination = matrix.endpoints[j].id;
  const verdict = others.verdicts[j];
  const counts = others.ports[j];
  const allowedMost = counts.length ? Math.max(...counts) : 0;
  const label = `Other namespaces → ${endpointWords(destination, ns)}: ${counts.length ? `${allowedMost} of ${others.sources} may connect` : "declares no port"}`;
  const isSelected = selected && selected.source === OTHERS && selected.destination === destination;
  return h("td", { class: "cell-td" }, cellButton(verdict, label, { isSelected, extra: verdict === "partial" ? `${allowedMost}/${others.sources}` : null, onClick: () => onSelect(OTHERS, destination) }));
}

function othersRow(m, columns) {
  const sources = m.matrix.others.sources;
  return h(
    "tr",
    { class: "others-row" },
    h("th", { class: "row-head", scope: "row", title: "Controllers and pods of every other namespace" }, h("span", { class: "head-label" }, h("span", { class: "ep-kind", text: "Others" }), h("span", { class: "head-name", text: "Other namespaces" })), h("span", { class: "head-ports", text: plural(sources, "controller or pod", "controllers and pods") })),
    columns.map((j) => othersCell(m, j)),
  );
}

function matchingEndpoints(endpoints, q) {
  return endpoints.map((e, i) => i).filter((i) => !q || endpoints[i].name.toLowerCase().includes(q) || endpoints[i].kind.toLowerCase().includes(q));
}

// What the matrix card shows under its legend. `m`: { matrix, ns, selected, filterText,
// onSelect(source, destination), probe (the last probe's results, or null) }.
export function matrixContent(m) {
  const { matrix, filterText } = m;
  const endpoints = matrix.endpoints;
  if (!endpoints.length) {
    return [emptyState({ iconName: "box", title: "No controllers", text: "Deployments, StatefulSets, DaemonSets and CronJobs of this namespace, and pods no controller runs, appear here." })];
  }
  const matching = matchingEndpoints(endpoints, filterText.trim().toLowerCase());
  const shown = matching.slice(0, SHOWN);
  const dense = shown.length > 8;
  const rows = shown.map((i) => endpointRow(m, i, shown));
  if (matrix.others) rows.push(othersRow(m, shown));
  const cut = matching.length - shown.length;
  return [
    h("div", { class: "matrix-wrap" }, h("table", { class: ["matrix", dense && "matrix-dense"], "aria-label": "Connectivity matrix" }, h("thead", null, headRow(endpoints, shown, dense)), h("tbody", null, rows))),
    !matching.length ? h("p", { class: "muted", text: `No controller matches “${filterText.trim()}”.` }) : null,
    cut > 0 ? h("p", { class: "muted small", text: `Showing ${shown.length} of ${matching.length} controllers; type in the filter to find the others.` }) : null,
  ];
}
