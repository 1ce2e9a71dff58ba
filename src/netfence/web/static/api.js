// The REST API under /api/v1 (see /api/openapi.json). Every change carries the session's
// CSRF token; errors become ApiError with the server's message, which reads as a sentence.
// Each call goes to the cluster the page shows (/api/v1/clusters/NAME/...), see setCluster.

let csrfToken = "";
let cluster = null; // null: the server's default cluster (/api/v1/...)
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && body.message) || describeStatus(status);
    super(message);
    this.status = status;
    this.field = (body && body.field) || null;
    this.errors = (body && Array.isArray(body.errors) && body.errors) || [];
  }
}

function describeStatus(status) {
  if (status === 0) return "The netfence server cannot be reached; is it still running?";
  if (status === 401) return "Your session has ended; sign in again.";
  if (status === 403) return "You are not allowed to do this.";
  if (status === 404) return "This no longer exists.";
  if (status >= 500) return `The server failed (HTTP ${status}); see its log for details.`;
  return `The request failed (HTTP ${status}).`;
}

export function setCsrf(token) {
  csrfToken = token || "";
}

// The cluster every later call is for (a kubeconfig context's name), as the URL names it.
export function setCluster(name) {
  cluster = name || null;
}

const clusterPath = (name) => (name ? `/clusters/${encodeURIComponent(name)}` : "");

// The live stream of the cluster the page shows (see live.js).
export const streamUrl = () => `/api/v1${clusterPath(cluster)}/stream`;

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

async function request(method, path, body, target = clusterPath(cluster)) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api/v1${target}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, null);
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && !path.startsWith("/session")) onSignedOut(error);
    throw error;
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  clusters: () => request("GET", "/clusters", undefined, ""),
  // A look at another cluster than the current one (does this page exist there?).
  existsIn: async (name, path) => {
    try {
      await request("GET", path, undefined, clusterPath(name));
      return true;
    } catch {
      return false;
    }
  },

  session: () => request("GET", "/session"),
  signIn: (token) => request("POST", "/session", { token }),
  signOut: () => request("DELETE", "/session"),

  // A page of the cluster view: { q, system, limit } (see GET /api/v1/namespaces).
  namespaces: (params = {}) => {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
    const text = query.toString();
    return request("GET", text ? `/namespaces?${text}` : "/namespaces");
  },
  namespace: (ns) => request("GET", `/namespaces/${enc(ns)}`),
  events: (ns) => request("GET", `/namespaces/${enc(ns)}/events`),
  enablePreview: (ns) => request("GET", `/namespaces/${enc(ns)}/enable-preview`),
  enable: (ns) => request("POST", `/namespaces/${enc(ns)}/enable`),
  disablePreview: (ns, restore) => request("GET", `/namespaces/${enc(ns)}/disable-preview?restore=${restore ? "true" : "false"}`),
  disable: (ns, restore) => request("POST", `/namespaces/${enc(ns)}/disable`, { restore }),

  controller: (ns, kind, name) =>
    request("GET", `/namespaces/${enc(ns)}/controllers/${enc(kind)}/${enc(name)}`),
  attach: (ns, kind, name, template) =>
    request("POST", `/namespaces/${enc(ns)}/controllers/${enc(kind)}/${enc(name)}/templates`, { template }),
  detach: (ns, kind, name, template) =>
    request("DELETE", `/namespaces/${enc(ns)}/controllers/${enc(kind)}/${enc(name)}/templates/${enc(template)}`),

  attachmentPreview: (ns, kind, name, template, action) =>
    request("GET", `/namespaces/${enc(ns)}/controllers/${enc(kind)}/${enc(name)}/templates/${enc(template)}/preview?action=${enc(action)}`),

  connectivity: (ns) => request("GET", `/namespaces/${enc(ns)}/connectivity`),
  findings: (ns) => request("GET", `/namespaces/${enc(ns)}/findings`),
  probing: () => request("GET", "/probing"),
  probe: (ns) => request("POST", `/namespaces/${enc(ns)}/probe`),
  graph: (namespaces, port, denied) =>
    request("GET", `/connectivity/graph?${[...namespaces.map((n) => `namespace=${enc(n)}`), port ? `port=${enc(port)}` : "", denied ? "denied=true" : ""].filter(Boolean).join("&")}`),
  explain: (source, destination, port, protocol = "TCP") =>
    request("GET", `/connectivity/explain?source=${enc(source)}&destination=${enc(destination)}&port=${enc(port)}&protocol=${enc(protocol)}`),

  updatePreview: (ns, policy) => request("GET", `/namespaces/${enc(ns)}/policies/${enc(policy)}/update-preview`),
  update: (ns, policy) => request("POST", `/namespaces/${enc(ns)}/policies/${enc(policy)}/update`),

  templates: () => request("GET", "/templates"),
  template: (name) => request("GET", `/templates/${enc(name)}`),
  validate: (name, yaml) => request("POST", "/templates/validate", { name, yaml }),
  saveTemplate: (name, yaml, resourceVersion) =>
    request("PUT", `/templates/${enc(name)}`, { yaml, resource_version: resourceVersion }),
  deleteTemplate: (name, resourceVersion) =>
    request("DELETE", `/templates/${enc(name)}${resourceVersion ? `?resource_version=${enc(resourceVersion)}` : ""}`),
};
