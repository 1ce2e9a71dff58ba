// Sign-in (token mode): the user pastes a Kubernetes bearer token; the server keeps it.

import { api } from "./api.js";
import { h, icon } from "./dom.js";
import { banner } from "./ui.js";

function tokenField() {
  return h("input", {
    id: "token",
    name: "token",
    type: "password",
    class: "input",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "eyJhbGciOi…",
    "aria-describedby": "token-help",
  });
}

function showError({ error }, text) {
  error.textContent = text;
  error.hidden = false;
}

// `f`: the form's { field, error, submit }.
async function signIn(f, onSignedIn) {
  const { field, error, submit } = f;
  const token = field.value.trim();
  error.hidden = true;
  if (!token) {
    showError(f, "Paste your token first.");
    field.focus();
    return;
  }
  submit.disabled = true;
  submit.classList.add("is-busy");
  try {
    const session = await api.signIn(token);
    field.value = "";
    onSignedIn(session);
  } catch (e) {
    showError(f, e.status === 401 ? "The cluster did not accept this token. Check that it is complete and has not expired." : e.message);
    field.select();
  } finally {
    submit.disabled = false;
    submit.classList.remove("is-busy");
  }
}

function signInForm(f, onSignedIn) {
  const onsubmit = (event) => {
    event.preventDefault();
    signIn(f, onSignedIn);
  };
  return h(
    "form",
    { class: "signin-form", onsubmit },
    h("label", { class: "label", for: "token", text: "Kubernetes token" }),
    f.field,
    h(
      "p",
      { class: "help", id: "token-help" },
      "Get one with ",
      h("code", { text: "kubectl create token <service-account>" }),
      " or from your identity provider. netfence keeps it on its server for this session only and acts with exactly its rights.",
    ),
    f.error,
    f.submit,
  );
}

export function signInView({ notice, onSignedIn }) {
  const f = {
    field: tokenField(),
    error: h("div", { class: "form-error", role: "alert", hidden: true }),
    submit: h("button", { type: "submit", class: "btn btn-primary btn-block" }, h("span", { text: "Sign in" })),
  };
  const page = h(
    "div",
    { class: "signin" },
    h(
      "div",
      { class: "signin-card" },
      h("div", { class: "signin-logo" }, h("img", { src: "/static/favicon.svg", alt: "", width: "40", height: "40" })),
      h("h1", { class: "signin-title", text: "Sign in to netfence" }),
      h("p", { class: "signin-sub", text: "What you see and may change is decided by the cluster's RBAC for your token." }),
      notice ? banner("warn", notice) : null,
      signInForm(f, onSignedIn),
      h("p", { class: "signin-foot" }, icon("lock"), h("span", { text: "The token never appears in the page address, the browser's storage or the server's logs." })),
    ),
  );
  setTimeout(() => f.field.focus(), 0);
  return page;
}
