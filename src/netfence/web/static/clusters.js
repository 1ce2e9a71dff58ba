// Several clusters in one console. The URL names the cluster (#/clusters/NAME/...; a URL
// without one is the default cluster's), every in-app link gets the current cluster's
// prefix as it is added to the page (so views keep writing "#/namespaces/..."), and the
// header shows the cluster (a picker when there are several) beside the user.

import { api } from "./api.js";
import { h, icon, clear } from "./dom.js";

const PREFIX = /^#\/clusters\/([^/]*)(\/.*)?$/;

export const clusters = { list: [], default: null, current: null };

export async function loadClusters() {
  const found = await api.clusters();
  clusters.list = found.items || [];
  clusters.default = found.default;
}

export const known = (name) => clusters.list.some((c) => c.name === name);

function decoded(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// "#/clusters/prod/namespaces/shop" -> { cluster: "prod", rest: "#/namespaces/shop" };
// a hash that names no cluster -> { cluster: null, rest: the hash }.
export function splitHash(hash) {
  const found = PREFIX.exec(hash);
  if (!found) return { cluster: null, rest: hash };
  const rest = found[2] && found[2] !== "/" ? found[2] : "/namespaces";
  return { cluster: decoded(found[1]), rest: `#${rest}` };
}

export const clusterHash = (name, rest) => `#/clusters/${encodeURIComponent(name)}${(rest || "#/namespaces").slice(1)}`;

// An in-app link in the current cluster; links that name a cluster stay as they are.
export function inCluster(href) {
  if (!clusters.current || !href || !href.startsWith("#/") || href.startsWith("#/clusters/")) return href;
  return clusterHash(clusters.current, href);
}

function rewrite(root) {
  const anchors = root.matches && root.matches('a[href^="#/"]') ? [root] : [];
  anchors.push(...(root.querySelectorAll ? root.querySelectorAll('a[href^="#/"]') : []));
  for (const a of anchors) {
    const href = a.getAttribute("href");
    const fixed = inCluster(href);
    if (fixed !== href) a.setAttribute("href", fixed);
  }
}

// The frame's own links (brand, navigation) follow the cluster shown.
function rewriteFrame() {
  for (const a of document.querySelectorAll(".brand, .nav-item")) {
    if (!a.dataset.path) a.dataset.path = a.getAttribute("href");
    a.setAttribute("href", inCluster(a.dataset.path));
  }
}

export function watchLinks() {
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "attributes") rewrite(record.target);
      else for (const node of record.addedNodes) if (node.nodeType === 1) rewrite(node);
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["href"] });
}

export function enter(name) {
  clusters.current = name;
  rewriteFrame();
}

// Where the page shown now lands in cluster `name`: the same page if its object exists
// there, else the nearest list (a namespace's page, the namespaces, the templates).
export async function landing(name, rest) {
  const enc = encodeURIComponent;
  const ns = /^#\/namespaces\/([^/]+)(\/.*)?$/.exec(rest);
  if (ns) {
    if (!(await api.existsIn(name, `/namespaces/${ns[1]}`))) return "#/namespaces";
    const controller = /^\/controllers\/([^/]+)\/([^/]+)\/?$/.exec(ns[2] || "");
    if (controller && !(await api.existsIn(name, `/namespaces/${ns[1]}/controllers/${controller[1]}/${controller[2]}`))) {
      return `#/namespaces/${ns[1]}`;
    }
    return rest;
  }
  const template = /^#\/templates\/([^/]+)\/?$/.exec(rest);
  if (template && template[1] !== "_new" && !(await api.existsIn(name, `/templates/${enc(decoded(template[1]))}`))) return "#/templates";
  return rest;
}

function describe(c) {
  const parts = [`Cluster ${c.name}`, c.server && `API server ${c.server}`, c.user && `kubeconfig user ${c.user}`];
  return parts.filter(Boolean).join(" · ");
}

// The cluster part of the header: a picker when there are several, else the name.
export function renderCluster(host, onPick) {
  clear(host);
  const shown = clusters.list.find((c) => c.name === clusters.current);
  if (!shown) return;
  if (clusters.list.length < 2) {
    host.append(h("span", { class: "cluster", title: describe(shown) }, icon("network"), h("span", { class: "cluster-label", text: "Cluster" }), h("span", { class: "cluster-name", text: shown.name })));
    return;
  }
  const select = h(
    "select",
    { class: "cluster-picker", id: "cluster-picker", "aria-label": "Cluster", title: describe(shown), onChange: (event) => onPick(event.target.value) },
    clusters.list.map((c) => h("option", { value: c.name, selected: c.name === clusters.current, text: c.default ? `${c.name} (default)` : c.name })),
  );
  host.append(h("label", { class: "cluster", for: "cluster-picker" }, icon("network"), h("span", { class: "cluster-label", text: "Cluster" })), select);
}

// The page for a URL naming a cluster this console does not serve.
export function unknownClusterView(name) {
  return h(
    "div",
    { class: "view" },
    h("h1", { text: `There is no cluster ${name} here` }),
    h("p", { text: "This console serves these clusters (the contexts of its kubeconfig):" }),
    h("ul", null, clusters.list.map((c) => h("li", null, h("a", { href: clusterHash(c.name, "#/namespaces"), text: c.name }), c.server ? ` (${c.server})` : ""))),
  );
}
