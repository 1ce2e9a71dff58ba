// Connectivity of one namespace: a matrix of its controllers (who may open a connection
// to whom, on the ports each declares), what other namespaces may reach, and, for a
// clicked cell, why: the policies, rules and peers that decided it.

import { api } from "./api.js";
import { h, icon, replace, plural } from "./dom.js";
import { badge, banner, button, card, emptyState, loading, pageHeader } from "./ui.js";
import { endpointLabel, endpointWords, findingsList, parseEndpoint } from "./impact.js";
import { namespaceHref, rememberNamespace } from "./parts.js";

const POLL_MS = 10000; // the matrix reads the whole cluster: refreshed every 10 s
const SHOWN = 60; // rows and columns shown at most; the filter finds the others
const FILTER_FROM = 12; // a filter box from this many controllers on
const OTHERS = "others";

const VERDICTS = {
  allowed: { mark: "✓", words: "allowed", legend: "Allowed on every declared port" },
  denied: { mark: "✗", words: "denied", legend: "Denied on every declared port" },
  partial: { mark: "◐", words: "allowed on some ports", legend: "Allowed on some ports only" },
  "no-ports": { mark: "–", words: "no declared port", legend: "Declares no port: click to ask about one" },
};

export function connectivityHref(ns) {
  return `${namespaceHref(ns)}/connectivity`;
}

function portText(p) {
  return `${p.port}/${p.protocol}${p.name ? ` (${p.name})` : ""}`;
}

export function connectivityView([ns], ctx) {
  const root = h("div", { class: "page" });
  const filter = h("input", { type: "search", class: "input input-search", placeholder: "Filter controllers", "aria-label": "Filter controllers" });
  const matrixSlot = h("div");
  const panel = h("div", { class: "conn-panel" });
  let data = null;
  let selected = null; // { source: id | OTHERS, destination: id, example?: id }
  let explained = new Map(); // "source|destination|port|protocol" -> explanation or {error}

  const endpointById = () => new Map(data.matrix.endpoints.map((e, i) => [e.id, { e, i }]));

  const select = (source, destination) => {
    selected = { source, destination };
    drawMatrix();
    drawPanel();
    panel.scrollIntoView({ block: "nearest", behavior: "smooth" });
  };

  // --- the matrix ---------------------------------------------------------------------------

  const cellButton = (verdict, label, { isSelected, onClick, extra }) => {
    const v = VERDICTS[verdict] || VERDICTS.denied;
    return h(
      "button",
      {
        type: "button",
        class: ["cell", `cell-${verdict}`, isSelected && "is-selected"],
        "aria-label": label,
        "aria-pressed": isSelected ? "true" : "false",
        title: label,
        onclick: onClick,
      },
      h("span", { class: "cell-mark", "aria-hidden": "true", text: v.mark }),
      extra ? h("span", { class: "cell-extra", "aria-hidden": "true", text: extra }) : null,
    );
  };

  const headLabel = (e) => h("span", { class: "head-label" }, h("span", { class: "ep-kind", text: e.kind }), h("span", { class: "head-name", text: e.name }));

  const drawMatrix = () => {
    const { matrix } = data;
    const endpoints = matrix.endpoints;
    if (!endpoints.length) {
      replace(matrixSlot, emptyState({ iconName: "box", title: "No controllers", text: "Deployments, StatefulSets, DaemonSets and CronJobs of this namespace, and pods no controller runs, appear here." }));
      return;
    }
    const q = filter.value.trim().toLowerCase();
    const matching = endpoints.map((e, i) => i).filter((i) => !q || endpoints[i].name.toLowerCase().includes(q) || endpoints[i].kind.toLowerCase().includes(q));
    const shown = matching.slice(0, SHOWN);
    const columns = shown;
    // Many columns: names written upwards, without their kind (it is in the tooltip).
    const dense = columns.length > 8;
    const head = h(
      "tr",
      null,
      h("th", { class: "corner", scope: "col" }, h("span", { class: "corner-to", text: "to →" }), h("span", { class: "corner-from", text: "from ↓" })),
      columns.map((j) =>
        h(
          "th",
          { class: "col-head", scope: "col", title: `${endpoints[j].id}${endpoints[j].ports.length ? `: ${endpoints[j].ports.map(portText).join(", ")}` : ": declares no port"}` },
          dense ? h("span", { class: "head-label" }, h("span", { class: "head-name", text: endpoints[j].name })) : headLabel(endpoints[j]),
          h("span", { class: "head-ports", text: endpoints[j].ports.length ? endpoints[j].ports.map((p) => `${p.port}/${p.protocol}`).join(" ") : "no port" }),
        ),
      ),
    );
    const rows = shown.map((i) => {
      const row = matrix.rows[i];
      return h(
        "tr",
        null,
        h("th", { class: "row-head", scope: "row", title: endpoints[i].id }, headLabel(endpoints[i])),
        columns.map((j) => {
          const verdict = row.verdicts[j];
          const ports = endpoints[j].ports;
          const detail = verdict === "partial" ? ` (${ports.map((p, k) => `${p.port}/${p.protocol} ${row.ports[j][k] ? "allowed" : "denied"}`).join(", ")})` : ports.length ? ` on ${ports.map((p) => `${p.port}/${p.protocol}`).join(", ")}` : "";
          const label = `${endpointWords(endpoints[i].id, ns)} → ${endpointWords(endpoints[j].id, ns)}: ${VERDICTS[verdict].words}${detail}`;
          const isSelected = selected && selected.source === endpoints[i].id && selected.destination === endpoints[j].id;
          return h("td", { class: "cell-td" }, cellButton(verdict, label, { isSelected, onClick: () => select(endpoints[i].id, endpoints[j].id) }));
        }),
      );
    });
    const others = matrix.others;
    if (others) {
      rows.push(
        h(
          "tr",
          { class: "others-row" },
          h("th", { class: "row-head", scope: "row", title: "Controllers and pods of every other namespace" }, h("span", { class: "head-label" }, h("span", { class: "ep-kind", text: "Others" }), h("span", { class: "head-name", text: "Other namespaces" })), h("span", { class: "head-ports", text: plural(others.sources, "controller or pod", "controllers and pods") })),
          columns.map((j) => {
            const verdict = others.verdicts[j];
            const counts = others.ports[j];
            const allowedMost = counts.length ? Math.max(...counts) : 0;
            const label = `Other namespaces → ${endpointWords(endpoints[j].id, ns)}: ${counts.length ? `${allowedMost} of ${others.sources} may connect` : "declares no port"}`;
            const isSelected = selected && selected.source === OTHERS && selected.destination === endpoints[j].id;
            return h("td", { class: "cell-td" }, cellButton(verdict, label, { isSelected, extra: verdict === "partial" ? `${allowedMost}/${others.sources}` : null, onClick: () => select(OTHERS, endpoints[j].id) }));
          }),
        ),
      );
    }
    const cut = matching.length - shown.length;
    replace(
      matrixSlot,
      h("div", { class: "matrix-wrap" }, h("table", { class: ["matrix", dense && "matrix-dense"], "aria-label": "Connectivity matrix" }, h("thead", null, head), h("tbody", null, rows))),
      !matching.length ? h("p", { class: "muted", text: `No controller matches “${filter.value.trim()}”.` }) : null,
      cut > 0 ? h("p", { class: "muted small", text: `Showing ${shown.length} of ${matching.length} controllers; type in the filter to find the others.` }) : null,
    );
  };

  // --- why: the explanation panel ---------------------------------------------------------------

  const ask = (source, destination, port, protocol) => {
    const key = `${source}|${destination}|${port}|${protocol}`;
    if (!explained.has(key)) {
      const cache = explained;
      cache.set(key, null);
      api
        .explain(source, destination, port, protocol)
        .then((x) => cache.set(key, x))
        .catch((error) => cache.set(key, { error: error.message }))
        .finally(() => {
          if (cache === explained) drawPanel();
        });
    }
    return explained.get(key);
  };

  const policyName = (key) => (key.startsWith(`${ns}/`) ? key.slice(ns.length + 1) : key);

  const sideBlock = (title, side, direction) => {
    const status = !side.isolated ? badge("not restricted", "muted", "No policy of this direction selects it: everything is allowed.") : side.allowed ? badge("allowed", "ok") : badge("denied", "danger");
    const ruled = new Set(side.rules.map((r) => r.policy));
    const rules = side.rules
      .slice()
      .sort((a, b) => Number(b.allows) - Number(a.allows))
      .map((r) =>
        h(
          "li",
          { class: ["rule", r.allows ? "rule-allows" : "rule-misses"] },
          h("span", { class: ["verdict-mark", r.allows ? "is-allowed" : "is-denied"], "aria-hidden": "true", text: r.allows ? "✓" : "✗" }),
          h(
            "div",
            { class: "rule-main" },
            h("div", null, h("span", { class: "mono strong", text: policyName(r.policy) }), " ", h("span", { class: "mono muted", text: r.rule }), h("span", { class: "sr-only", text: r.allows ? " allows it" : " does not allow it" })),
            h("div", { class: "rule-line" }, h("span", { class: "rule-key", text: direction === "egress" ? "to" : "from" }), h("span", { class: r.peer_matched ? "hit" : "miss", text: r.peer_matched ? "matches" : "does not match" }), h("span", { class: "rule-desc", text: r.peer })),
            h("div", { class: "rule-line" }, h("span", { class: "rule-key", text: "port" }), h("span", { class: r.port_matched ? "hit" : "miss", text: r.port_matched ? "matches" : "does not match" }), h("span", { class: "rule-desc", text: r.port })),
          ),
        ),
      );
    for (const p of side.policies) {
      if (!ruled.has(p)) {
        rules.push(
          h(
            "li",
            { class: ["rule", "rule-misses"] },
            h("span", { class: ["verdict-mark", "is-denied"], "aria-hidden": "true", text: "✗" }),
            h("div", { class: "rule-main" }, h("span", { class: "mono strong", text: policyName(p) }), h("span", { class: "muted", text: ` has no ${direction} rules: it only isolates.` })),
          ),
        );
      }
    }
    return h(
      "section",
      { class: "side", "aria-label": title },
      h("div", { class: "side-head" }, h("h4", { class: "side-title", text: title }), status),
      h("p", { class: "side-why", text: sentence(side.reasons[0] || "") }),
      rules.length ? h("ul", { class: "rules" }, rules) : null,
    );
  };

  const explanationView = (x) => {
    const source = parseEndpoint(x.source);
    const destination = parseEndpoint(x.destination);
    return h(
      "div",
      { class: ["explain", x.allowed ? "explain-allowed" : "explain-denied"] },
      h(
        "p",
        { class: "explain-head" },
        h("span", { class: ["verdict-pill", x.allowed ? "is-allowed" : "is-denied"] }, h("span", { "aria-hidden": "true", text: x.allowed ? "✓" : "✗" }), x.allowed ? "Allowed" : "Denied"),
        h("span", { text: ` on ${x.port}/${x.protocol}: ` }),
        h("span", { class: "muted", text: x.allowed ? "egress from the source and ingress to the destination both allow it." : !x.egress.allowed && !x.ingress.allowed ? "neither egress from the source nor ingress to the destination allows it." : !x.egress.allowed ? "egress from the source does not allow it." : "ingress to the destination does not allow it." }),
      ),
      sideBlock(`Egress from ${source.kind} ${source.name}`, x.egress, "egress"),
      sideBlock(`Ingress to ${destination.kind} ${destination.name}`, x.ingress, "ingress"),
      x.notes.map((n) => h("p", { class: "muted small" }, icon("info", "inline-icon"), sentence(n))),
    );
  };

  const portSection = (source, destination, port) => {
    const x = ask(source, destination, String(port.port), port.protocol);
    let content;
    if (x === null || x === undefined) content = loading("Working out why…");
    else if (x.error) content = banner("warn", x.error, { title: "Could not explain this connection" });
    else content = explanationView(x);
    return h("section", { class: "port-section", "aria-label": `Port ${portText(port)}` }, h("h3", { class: "port-title", text: `Port ${portText(port)}` }), content);
  };

  const askAnyPort = (source, destination) => {
    const portInput = h("input", { type: "text", class: "input input-port", placeholder: "e.g. 8080", "aria-label": "Port", autocomplete: "off" });
    const protocol = h("select", { class: "input input-protocol", "aria-label": "Protocol" }, ["TCP", "UDP", "SCTP"].map((p) => h("option", { value: p, text: p })));
    const out = h("div");
    const form = h(
      "form",
      {
        class: "inline-row ask-port",
        onsubmit: (event) => {
          event.preventDefault();
          const port = portInput.value.trim();
          if (!port) return;
          replace(out, loading("Working out why…"));
          api
            .explain(source, destination, port, protocol.value)
            .then((x) => replace(out, explanationView(x)))
            .catch((error) => replace(out, banner("warn", error.message, { title: "Could not explain this connection" })));
        },
      },
      portInput,
      protocol,
      h("button", { type: "submit", class: "btn btn-secondary" }, h("span", { text: "Explain" })),
    );
    return h("div", { class: "stack small" }, h("p", { class: "muted", text: "The destination declares no container port, so the matrix has no verdict for it. Ask about any port:" }), form, out);
  };

  const othersSection = (destination, j) => {
    const others = data.matrix.others;
    const counts = others.ports[j];
    const example = selected.example;
    const examples = (ids, allowed) =>
      ids.length
        ? h(
            "div",
            { class: "examples" },
            h("span", { class: "muted small", text: allowed ? "For example, allowed (on a port at least):" : "For example, denied (on every port):" }),
            ids.map((id) =>
              h(
                "button",
                {
                  type: "button",
                  class: ["btn", "btn-sm", id === example ? "btn-primary" : "btn-secondary"],
                  title: `Why may ${endpointWords(id, ns)} ${allowed ? "" : "not "}connect?`,
                  onclick: () => {
                    selected = { ...selected, example: id };
                    drawPanel();
                  },
                },
                h("span", { text: endpointWords(id, ns) }),
              ),
            ),
          )
        : null;
    const parts = [
      h("p", null, counts.length ? `Of ${plural(others.sources, "controller or pod", "controllers and pods")} in other namespaces, ${destination.ports.map((p, k) => `${counts[k]} may connect on ${p.port}/${p.protocol}`).join(", ")}.` : "It declares no container port."),
      examples(others.allowed_examples[j], true),
      examples(others.denied_examples[j], false),
    ];
    if (example) {
      parts.push(h("h3", { class: "port-title", text: `Why, for ${endpointWords(example, ns)}` }));
      for (const port of destination.ports) parts.push(portSection(example, destination.id, port));
    }
    return h("div", { class: "stack small" }, parts);
  };

  const drawPanel = () => {
    if (!data) return;
    if (!selected) {
      replace(panel, card({ title: "Why?", body: emptyState({ iconName: "info", title: "Click a cell", text: "Each cell says whether the row may open a connection to the column. Click one to see which policies, rules and peers decide it." }) }));
      return;
    }
    const byId = endpointById();
    const dest = byId.get(selected.destination);
    const src = selected.source === OTHERS ? null : byId.get(selected.source);
    if (!dest || (selected.source !== OTHERS && !src)) {
      selected = null;
      drawPanel();
      return;
    }
    const destination = dest.e;
    const title = h("span", { class: "panel-title" }, selected.source === OTHERS ? h("span", { class: "ep", text: "Other namespaces" }) : endpointLabel(src.e.id, ns), h("span", { class: "arrow", "aria-hidden": "true", text: " → " }), endpointLabel(destination.id, ns));
    let body;
    if (selected.source === OTHERS) body = othersSection(destination, dest.i);
    else if (!destination.ports.length) body = askAnyPort(src.e.id, destination.id);
    else body = h("div", { class: "stack" }, destination.ports.map((p) => portSection(src.e.id, destination.id, p)));
    replace(
      panel,
      card({
        title,
        subtitle: selected.source === OTHERS ? "Traffic from every other namespace." : `${selected.source === selected.destination ? "A controller's pods reaching each other. " : ""}Egress from the source and ingress to the destination must both allow a connection.`,
        actions: [button("", { small: true, variant: "ghost", iconName: "x", ariaLabel: "Close the explanation", onClick: () => { selected = null; drawMatrix(); drawPanel(); } })],
        body,
        className: "why-card",
      }),
    );
  };

  // --- the page -----------------------------------------------------------------------------

  const draw = () => {
    const { matrix, findings } = data;
    const counts = matrix.counts;
    const legend = h(
      "ul",
      { class: "legend", "aria-label": "Legend" },
      Object.entries(VERDICTS).map(([verdict, v]) => h("li", null, h("span", { class: ["cell", "cell-legend", `cell-${verdict}`], "aria-hidden": "true" }, h("span", { class: "cell-mark", text: v.mark })), h("span", { text: v.legend }))),
    );
    replace(
      root,
      pageHeader({
        title: "Connectivity",
        subtitle: `Who may open a connection to whom in ${ns}, on the ports each controller declares, as its NetworkPolicies decide. Click a cell to see why.`,
        actions: [h("a", { class: "btn btn-secondary", href: namespaceHref(ns) }, icon("shield"), h("span", { text: "Namespace view" }))],
      }),
      matrix.notes.map((n) => banner("info", n, { title: "Partial view" })),
      findings && findings.findings ? findingsList(findings.findings) : null,
      h(
        "div",
        // A wide matrix takes the whole width, with the explanation under it.
        { class: ["conn-layout", matrix.endpoints.length > 5 && "conn-stacked"] },
        card({
          title: "Matrix",
          subtitle: `${plural(matrix.endpoints.length, "controller")} · ${counts.allowed} allowed, ${counts.denied} denied${counts.partial ? `, ${counts.partial} on some ports` : ""}. Rows connect to columns.`,
          body: h("div", { class: "stack" }, matrix.endpoints.length >= FILTER_FROM ? h("label", { class: "search" }, icon("search"), filter) : null, legend, matrixSlot),
          className: "matrix-card",
        }),
        panel,
      ),
    );
    drawMatrix();
    drawPanel();
  };

  filter.addEventListener("input", () => data && drawMatrix());

  return {
    nav: "namespaces",
    title: `Connectivity · ${ns}`,
    crumbs: [{ label: "Network Policies", href: "#/namespaces" }, { label: ns, href: namespaceHref(ns) }, { label: "Connectivity" }],
    pollMs: POLL_MS,
    async load() {
      const [matrix, findings] = await Promise.all([api.connectivity(ns), api.findings(ns).catch(() => null)]);
      rememberNamespace(ns);
      return { matrix, findings };
    },
    render(d) {
      data = d;
      explained = new Map(); // policies may have changed: explanations are asked again
      draw();
      return root;
    },
  };
}

function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}
