// The netfence console: session, layout, hash routing and live refresh of the current view.

import { api, setCluster, setCsrf, streamUrl, whenSignedOut } from "./api.js";
import { clusters, clusterHash, enter, inCluster, known, landing, loadClusters, renderCluster, splitHash, unknownClusterView, watchLinks } from "./clusters.js";
import { h, icon, replace, clear } from "./dom.js";
import { banner, button, loading, toast, emptyState } from "./ui.js";
import { namespacesView } from "./view-namespaces.js";
import { namespaceView } from "./view-namespace.js";
import { controllerView } from "./view-controller.js";
import { connectivityView } from "./view-connectivity.js";
import { templatesView } from "./view-templates.js";
import { templateEditorView } from "./view-template-editor.js";
import { signInView } from "./view-signin.js";
import { forgetRecent, setRecentOwner } from "./parts.js";
import { startLive, isLive } from "./live.js";

const POLL_MS = 1500; // the current view is reloaded this often while the tab is visible
const FAST_POLL_MS = 400; // ... and this often for a few seconds after an action
const FAST_WINDOW_MS = 6000;
// With the live stream up, changes arrive as they happen; a slow reload still covers an
// event the stream could not carry (a view of something it does not watch).
const LIVE_POLL_MS = 60000;

const state = {
  session: null,
  generation: 0,
  fastUntil: 0,
  timer: null,
  refreshNow: null,
};

const ROUTES = [
  [/^#\/namespaces\/?$/, () => namespacesView],
  [/^#\/namespaces\/([^/]+)\/?$/, () => namespaceView],
  [/^#\/namespaces\/([^/]+)\/connectivity\/?$/, () => connectivityView],
  [/^#\/namespaces\/([^/]+)\/connectivity\/(graph)\/?$/, () => connectivityView],
  [/^#\/namespaces\/([^/]+)\/controllers\/([^/]+)\/([^/]+)\/?$/, () => controllerView],
  [/^#\/templates\/?$/, () => templatesView],
  // "_new" cannot be a template name (names are DNS labels), so a template called "new" works.
  [/^#\/templates\/_new\/?$/, () => templateEditorView],
  [/^#\/templates\/([^/]+)\/?$/, () => templateEditorView],
];

function match(hash) {
  for (const [pattern, view] of ROUTES) {
    const found = pattern.exec(hash);
    if (found) return { view: view(), params: found.slice(1).map(decodeURIComponent) };
  }
  return null;
}

// --- the frame: header, navigation, breadcrumbs ------------------------------------------------

async function signOut() {
  forgetRecent();
  try {
    await api.signOut();
  } catch {
    // Signing out of a session the server already forgot is still signing out.
  }
  await loadSession();
  toast("You are signed out.", { tone: "info" });
  route();
}

// Switching cluster keeps the page where its object exists there (clusters.landing).
async function pickCluster(name) {
  const { rest } = splitHash(window.location.hash || "");
  const target = await landing(name, rest || "#/namespaces");
  window.location.hash = clusterHash(name, target);
}

function clusterHost() {
  let host = document.getElementById("topbar-cluster");
  if (!host) {
    host = h("div", { class: "topbar-cluster", id: "topbar-cluster" });
    document.getElementById("topbar-user").before(host);
  }
  return host;
}

function renderUser() {
  renderCluster(clusterHost(), pickCluster);
  const host = document.getElementById("topbar-user");
  clear(host);
  const session = state.session;
  if (!session || !session.signed_in) return;
  const groups = (session.groups || []).filter((g) => g !== "system:authenticated");
  host.append(
    h(
      "span",
      { class: "user", title: groups.length ? `Groups: ${groups.join(", ")}` : undefined },
      icon("user"),
      h("span", { class: "user-name", text: session.user || "unknown user" }),
      session.mode === "local" ? h("span", { class: "user-mode", text: "kubeconfig", title: "Every call uses your kubeconfig's credentials." }) : null,
    ),
  );
  if (session.mode === "token") host.append(button("Sign out", { variant: "ghost-light", small: true, iconName: "logout", onClick: signOut }));
}

function renderNav(active) {
  for (const item of document.querySelectorAll(".nav-item")) {
    const on = item.dataset.nav === active;
    item.classList.toggle("is-active", on);
    if (on) item.setAttribute("aria-current", "page");
    else item.removeAttribute("aria-current");
  }
  const foot = document.getElementById("nav-foot");
  clear(foot);
  const session = state.session;
  if (session && session.signed_in) {
    const p = session.permissions || {};
    const role = p.enable_namespaces && p.edit_templates ? "Admin: enables namespaces, edits templates" : p.edit_templates ? "Edits templates" : p.enable_namespaces ? "Enables namespaces" : "Developer: attaches templates where allowed";
    foot.append(h("div", { class: "nav-role", text: role }));
  }
}

function crumbs(list) {
  if (!list || list.length < 2) return null;
  const nav = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" });
  const ol = h("ol");
  list.forEach((c, i) => {
    const last = i === list.length - 1;
    ol.append(h("li", null, last || !c.href ? h("span", { "aria-current": last ? "page" : undefined, text: c.label }) : h("a", { href: c.href, text: c.label })));
  });
  nav.append(ol);
  return nav;
}

// --- views and live refresh --------------------------------------------------------------------

function stop() {
  state.generation += 1;
  clearTimeout(state.timer);
  state.timer = null;
  state.refreshNow = null;
}

function kick() {
  state.fastUntil = Date.now() + FAST_WINDOW_MS;
  if (state.refreshNow) state.refreshNow();
}

// One shown view and its refresh loop: `run` is { generation, view, crumbSlot, staleSlot,
// body, lastKey, shown, busy, loaded }. A run whose generation is past does nothing more.
const current = (run) => run.generation === state.generation;

function frame() {
  const main = document.getElementById("main");
  const staleSlot = h("div", { class: "stale-slot" });
  const body = h("div", { class: "view" }, loading());
  const crumbSlot = h("div", { class: "crumb-slot" });
  replace(main, crumbSlot, staleSlot, body);
  return { crumbSlot, staleSlot, body };
}

function loadFailed(run, error) {
  if (error.status === 401) return; // the sign-in page takes over
  if (!run.loaded) {
    run.lastKey = null;
    replace(
      run.body,
      emptyState({
        iconName: error.status === 403 ? "lock" : "warning",
        title: error.status === 403 ? "Not allowed" : error.status === 404 ? "Not found" : "Could not load this page",
        text: error.message,
        action: button("Try again", { variant: "secondary", iconName: "refresh", onClick: () => refresh(run) }),
      }),
    );
  } else {
    replace(run.staleSlot, banner("warn", `Could not refresh this page: ${error.message} What you see may be out of date.`));
  }
}

// Loads the view's data and renders it, unless it is the same as last time.
async function refresh(run) {
  if (!current(run)) return;
  if (run.busy) {
    // Asked again while loading (a new filter, a pushed change): load once more after.
    run.again = true;
    return;
  }
  run.busy = true;
  run.again = false;
  try {
    const data = await run.view.load();
    if (!current(run)) return;
    clear(run.staleSlot);
    run.loaded = true;
    const key = JSON.stringify(data);
    if (key === run.lastKey) return;
    run.lastKey = key;
    const node = run.view.render(data);
    if (node && node !== run.shown) {
      replace(run.body, node);
      run.shown = node;
    }
  } catch (error) {
    if (current(run)) loadFailed(run, error);
  } finally {
    run.busy = false;
  }
  if (run.again && current(run)) await refresh(run);
}

// A view whose data is costly to compute (the connectivity matrix reads the whole
// cluster) sets its own, slower pace: `pollMs`.
const pollDelay = (run) => {
  if (isLive()) return LIVE_POLL_MS;
  return run.view.pollMs || (Date.now() < state.fastUntil ? FAST_POLL_MS : POLL_MS);
};

// Does a pushed change concern the shown view? Views may say (`concerns`); by default a
// change of the view's namespace, or of anything for cluster-wide views.
function concerns(view, params, change) {
  if (change.resync) return true;
  if (view && typeof view.concerns === "function") return view.concerns(change);
  const namespace = params && params.length ? params[0] : null;
  if (!namespace || (state.hash || "").startsWith("#/templates")) return true;
  return change.namespaces.includes(namespace) || change.kinds.includes("catalog");
}

function onLiveChange(change) {
  if (document.visibilityState !== "visible" || !state.refreshNow) return;
  if (concerns(state.view, state.params, change)) state.refreshNow();
}

function renderLive(connected, text) {
  const host = document.getElementById("topbar-live");
  if (!host) return;
  host.className = `live-status ${connected ? "is-live" : "is-down"}`;
  host.textContent = text;
  host.title = connected ? "Changes in the cluster show here as they happen." : "Not receiving changes as they happen; the page reloads itself every few seconds.";
}

async function tick(run) {
  if (!current(run)) return;
  if (run.view.poll !== false && document.visibilityState === "visible") await refresh(run);
  if (!current(run)) return;
  state.timer = setTimeout(() => tick(run), pollDelay(run));
}

function show(viewFactory, params) {
  stop();
  const run = { generation: state.generation, view: null, ...frame(), lastKey: null, shown: null, busy: false, loaded: false };
  const ctx = {
    session: state.session,
    kick,
    refresh: () => refresh(run),
    navigate: (hash) => {
      window.location.hash = inCluster(hash);
    },
    setCrumbs: (list) => replace(run.crumbSlot, crumbs(list)),
  };
  const view = viewFactory(params, ctx);
  run.view = view;
  state.view = view;
  state.params = params;
  renderNav(view.nav);
  ctx.setCrumbs(view.crumbs);
  document.title = view.title ? `${view.title} · netfence` : "netfence";
  state.refreshNow = () => {
    clearTimeout(state.timer);
    tick(run);
  };
  refresh(run).then(() => {
    if (current(run)) state.timer = setTimeout(() => tick(run), pollDelay(run));
  });
}

// Who the caller is, and may do, on the cluster shown: each cluster answers for itself.
async function loadSession() {
  state.session = await api.session();
  setCsrf(state.session.csrf_token);
  setRecentOwner(`${state.session.user}@${clusters.current || ""}`);
  renderUser();
  return state.session;
}

async function enterCluster(name) {
  setCluster(name);
  enter(name);
  await loadSession();
}

// Leaving a view with unsaved work (the template editor) asks first.
function onHashChange() {
  if (state.restoring) {
    state.restoring = false;
    return;
  }
  const warning = state.view && state.view.unsavedWork ? state.view.unsavedWork() : null;
  if (warning && !window.confirm(warning)) {
    state.restoring = true;
    window.location.hash = state.hash;
    renderUser(); // the picker shows the cluster still shown
    return;
  }
  route();
}

function onSignedIn(fresh) {
  state.signInNotice = null;
  state.session = fresh;
  setCsrf(fresh.csrf_token);
  setRecentOwner(`${fresh.user}@${clusters.current || ""}`);
  renderUser();
  toast(`Signed in as ${fresh.user}.`, { tone: "ok" });
  route();
}

function showSignIn() {
  stop();
  state.view = null;
  renderNav(null);
  document.body.classList.add("signed-out");
  replace(document.getElementById("main"), signInView({ notice: state.signInNotice, onSignedIn }));
}

async function route() {
  state.hash = window.location.hash;
  const { cluster, rest } = splitHash(window.location.hash || "");
  if (cluster === null) {
    // A URL of before there were clusters (or a bare link): the cluster shown, else the default.
    window.location.replace(clusterHash(clusters.current || clusters.default, rest || "#/namespaces"));
    return;
  }
  if (!known(cluster)) {
    stop();
    state.view = null;
    renderNav(null);
    document.title = "No such cluster · netfence";
    replace(document.getElementById("main"), unknownClusterView(cluster));
    return;
  }
  if (cluster !== clusters.current) {
    const turn = (state.turn = (state.turn || 0) + 1);
    stop();
    try {
      await enterCluster(cluster);
    } catch (error) {
      replace(document.getElementById("main"), emptyState({ iconName: "warning", title: `Cluster ${cluster} is not reachable`, text: error.message }));
      return;
    }
    if (turn !== state.turn) return; // another switch came meanwhile
  }
  const hash = rest;
  const session = state.session;
  if (!session) return;
  if (!session.signed_in) {
    showSignIn();
    return;
  }
  document.body.classList.remove("signed-out");
  const found = match(hash);
  if (!found) {
    window.location.replace(clusterHash(cluster, "#/namespaces"));
    return;
  }
  show(found.view, found.params);
  document.getElementById("main").focus({ preventScroll: true });
  startLive({
    url: streamUrl(),
    onChange: onLiveChange,
    onStatus: renderLive,
    onSignedOut: async () => {
      await loadSession();
      route();
    },
  });
}

async function boot() {
  whenSignedOut(async () => {
    if (state.session && state.session.mode === "token" && state.session.signed_in) {
      state.signInNotice = "Your session has ended; sign in again to continue.";
      await loadSession();
      route();
    }
  });
  try {
    await loadClusters();
    const named = splitHash(window.location.hash || "").cluster;
    await enterCluster(named !== null && known(named) ? named : clusters.default);
  } catch (error) {
    replace(document.getElementById("main"), emptyState({ iconName: "warning", title: "netfence is not reachable", text: error.message }));
    return;
  }
  watchLinks();
  window.addEventListener("hashchange", onHashChange);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.refreshNow) state.refreshNow();
  });
  route();
}

boot();
