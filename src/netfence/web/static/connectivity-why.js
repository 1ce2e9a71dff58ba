// Why a connection of the matrix is allowed or denied: per port, the egress side of the
// source and the ingress side of the destination, with the policies, rules and peers that
// decided each. Pure rendering: the view keeps the cache of explanations and the selection.

import { api } from "./api.js";
import { h, icon, replace, plural } from "./dom.js";
import { badge, banner, button, card, emptyState, loading } from "./ui.js";
import { endpointLabel, endpointWords, parseEndpoint } from "./impact.js";
import { portText } from "./connectivity-matrix.js";

function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

const policyName = (key, ns) => (key.startsWith(`${ns}/`) ? key.slice(ns.length + 1) : key);

// --- one side (egress of the source, ingress of the destination) ---------------------------------

function sideStatus(side) {
  if (!side.isolated) return badge("not restricted", "muted", "No policy of this direction selects it: everything is allowed.");
  return side.allowed ? badge("allowed", "ok") : badge("denied", "danger");
}

function ruleLine(key, matched, desc) {
  return h("div", { class: "rule-line" }, h("span", { class: "rule-key", text: key }), h("span", { class: matched ? "hit" : "miss", text: matched ? "matches" : "does not match" }), h("span", { class: "rule-desc", text: desc }));
}

function ruleItem(r, direction, ns) {
  return h(
    "li",
    { class: ["rule", r.allows ? "rule-allows" : "rule-misses"] },
    h("span", { class: ["verdict-mark", r.allows ? "is-allowed" : "is-denied"], "aria-hidden": "true", text: r.allows ? "✓" : "✗" }),
    h(
      "div",
      { class: "rule-main" },
      h("div", null, h("span", { class: "mono strong", text: policyName(r.policy, ns) }), " ", h("span", { class: "mono muted", text: r.rule }), h("span", { class: "sr-only", text: r.allows ? " allows it" : " does not allow it" })),
      ruleLine(direction === "egress" ? "to" : "from", r.peer_matched, r.peer),
      ruleLine("port", r.port_matched, r.port),
    ),
  );
}

// A policy of this direction that selects the pods but has no rule of it.
function isolatingItem(policy, direction, ns) {
  return h(
    "li",
    { class: ["rule", "rule-misses"] },
    h("span", { class: ["verdict-mark", "is-denied"], "aria-hidden": "true", text: "✗" }),
    h("div", { class: "rule-main" }, h("span", { class: "mono strong", text: policyName(policy, ns) }), h("span", { class: "muted", text: ` has no ${direction} rules: it only isolates.` })),
  );
}

function sideBlock(title, side, direction, ns) {
  const ruled = new Set(side.rules.map((r) => r.policy));
  const rules = side.rules
    .slice()
    .sort((a, b) => Number(b.allows) - Number(a.allows))
    .map((r) => ruleItem(r, direction, ns));
  for (const p of side.policies) if (!ruled.has(p)) rules.push(isolatingItem(p, direction, ns));
  return h(
    "section",
    { class: "side", "aria-label": title },
    h("div", { class: "side-head" }, h("h4", { class: "side-title", text: title }), sideStatus(side)),
    h("p", { class: "side-why", text: sentence(side.reasons[0] || "") }),
    rules.length ? h("ul", { class: "rules" }, rules) : null,
  );
}

// --- one explanation: a port, both sides ---------------------------------------------------------

function verdictReason(x) {
  if (x.allowed) return "egress from the source and ingress to the destination both allow it.";
  if (!x.egress.allowed && !x.ingress.allowed) return "neither egress from the source nor ingress to the destination allows it.";
  return !x.egress.allowed ? "egress from the source does not allow it." : "ingress to the destination does not allow it.";
}

function explanationView(x, ns) {
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
      h("span", { class: "muted", text: verdictReason(x) }),
    ),
    sideBlock(`Egress from ${source.kind} ${source.name}`, x.egress, "egress", ns),
    sideBlock(`Ingress to ${destination.kind} ${destination.name}`, x.ingress, "ingress", ns),
    x.notes.map((n) => h("p", { class: "muted small" }, icon("info", "inline-icon"), sentence(n))),
  );
}

const cannotExplain = (message) => banner("warn", message, { title: "Could not explain this connection" });

// What the last probe met on this port, beside the prediction.
function observedLine(r) {
  const through = r.observed === "connected" || r.observed === "refused";
  const said = r.answer ? ` (${r.answer} answered)` : r.observed === "refused" ? " (allowed, nothing listening)" : "";
  const tries = r.attempts > 1 ? `, ${r.attempts} tries` : "";
  return h(
    "p",
    { class: ["probe-line", r.agrees ? "probe-agrees" : "probe-disagrees"] },
    h("span", { class: ["verdict-pill", through ? "is-allowed" : "is-denied"] }, h("span", { "aria-hidden": "true", text: r.agrees ? "●" : "!" }), `Observed ${r.observed}`),
    h("span", { text: ` from ${r.source} to ${r.destination} (${r.address})${said}${tries}: ` }),
    h("strong", { text: r.agrees ? "as predicted." : `the prediction was ${r.predicted}.` }),
  );
}

export function portSection(source, destination, port, { ns, ask, probed }) {
  const x = ask(source, destination, String(port.port), port.protocol);
  let content;
  if (x === null || x === undefined) content = loading("Working out why…");
  else if (x.error) content = cannotExplain(x.error);
  else content = explanationView(x, ns);
  const seen = probed ? probed(source, destination, port.port, port.protocol) : null;
  return h("section", { class: "port-section", "aria-label": `Port ${portText(port)}` }, h("h3", { class: "port-title", text: `Port ${portText(port)}` }), seen ? observedLine(seen) : null, content);
}

// The destination declares no port: a small form asks about any.
function askAnyPort(source, destination, ns) {
  const portInput = h("input", { type: "text", class: "input input-port", placeholder: "e.g. 8080", "aria-label": "Port", autocomplete: "off" });
  const protocol = h("select", { class: "input input-protocol", "aria-label": "Protocol" }, ["TCP", "UDP", "SCTP"].map((p) => h("option", { value: p, text: p })));
  const out = h("div");
  const onsubmit = (event) => {
    event.preventDefault();
    const port = portInput.value.trim();
    if (!port) return;
    replace(out, loading("Working out why…"));
    api
      .explain(source, destination, port, protocol.value)
      .then((x) => replace(out, explanationView(x, ns)))
      .catch((error) => replace(out, cannotExplain(error.message)));
  };
  const form = h("form", { class: "inline-row ask-port", onsubmit }, portInput, protocol, h("button", { type: "submit", class: "btn btn-secondary" }, h("span", { text: "Explain" })));
  return h("div", { class: "stack small" }, h("p", { class: "muted", text: "The destination declares no container port, so the matrix has no verdict for it. Ask about any port:" }), form, out);
}

// --- traffic from every other namespace ----------------------------------------------------------

function exampleButtons(ids, allowed, { example, ns, onExample }) {
  if (!ids.length) return null;
  return h(
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
          onclick: () => onExample(id),
        },
        h("span", { text: endpointWords(id, ns) }),
      ),
    ),
  );
}

function othersSection(others, destination, j, example, handlers) {
  const { ns } = handlers;
  const counts = others.ports[j];
  const shown = { example, ns, onExample: handlers.onExample };
  const parts = [
    h("p", null, counts.length ? `Of ${plural(others.sources, "controller or pod", "controllers and pods")} in other namespaces, ${destination.ports.map((p, k) => `${counts[k]} may connect on ${p.port}/${p.protocol}`).join(", ")}.` : "It declares no container port."),
    exampleButtons(others.allowed_examples[j], true, shown),
    exampleButtons(others.denied_examples[j], false, shown),
  ];
  if (example) {
    parts.push(h("h3", { class: "port-title", text: `Why, for ${endpointWords(example, ns)}` }));
    for (const port of destination.ports) parts.push(portSection(example, destination.id, port, handlers));
  }
  return h("div", { class: "stack small" }, parts);
}

// --- the card ------------------------------------------------------------------------------------

export function noSelectionCard() {
  return card({ title: "Why?", body: emptyState({ iconName: "info", title: "Click a cell", text: "Each cell says whether the row may open a connection to the column. Click one to see which policies, rules and peers decide it." }) });
}

function whyBody(pair, handlers) {
  const { selected, src, dest, others, fromOthers } = pair;
  const destination = dest.e;
  if (fromOthers) return othersSection(others, destination, dest.i, selected.example, handlers);
  if (!destination.ports.length) return askAnyPort(src.e.id, destination.id, handlers.ns);
  return h("div", { class: "stack" }, destination.ports.map((p) => portSection(src.e.id, destination.id, p, handlers)));
}

// `pair`: the selected cell's { selected, src, dest, others, fromOthers }, src and dest as
// { e: endpoint, i: index }. `handlers`: { ns, ask(source, destination, port, protocol),
// onExample(id), onClose() }.
export function whyCard(pair, handlers) {
  const { selected, src, dest, fromOthers } = pair;
  const { ns } = handlers;
  const title = h("span", { class: "panel-title" }, fromOthers ? h("span", { class: "ep", text: "Other namespaces" }) : endpointLabel(src.e.id, ns), h("span", { class: "arrow", "aria-hidden": "true", text: " → " }), endpointLabel(dest.e.id, ns));
  return card({
    title,
    subtitle: fromOthers ? "Traffic from every other namespace." : `${selected.source === selected.destination ? "A controller's pods reaching each other. " : ""}Egress from the source and ingress to the destination must both allow a connection.`,
    actions: [button("", { small: true, variant: "ghost", iconName: "x", ariaLabel: "Close the explanation", onClick: handlers.onClose })],
    body: whyBody(pair, handlers),
    className: "why-card",
  });
}
