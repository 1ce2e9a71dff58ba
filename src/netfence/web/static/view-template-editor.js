// Manage Policies: the editor of one template (or a new one), with live validation. The
// text area sits on a backdrop that repeats its lines, so that a line with a problem can be
// marked and annotated under the text; a gutter numbers the lines.
//
// One editor is an object `ed`: `ed.el` holds its elements (made once), `ed.st` what changes
// (the catalog it was opened on, the problems of the last check, whether it was saved...).

import { api } from "./api.js";
import { h, icon, replace, clear, plural, debounce } from "./dom.js";
import { badge, banner, button, card, emptyState, pageHeader, toast } from "./ui.js";
import { namespaceHref } from "./parts.js";
import { withLine } from "./template-lines.js";
import { NO_EDIT, confirmDelete, typeBadges } from "./view-templates.js";

const SNAPSHOT_NOTE = "Existing policies keep the version they were attached with. Saving changes only what new attachments get; policies made from an older version show “template changed” and can be updated one at a time.";

const STARTER = `description: |
  Ingress: TCP port 8080 from the pods labelled app=frontend in the same namespace.
ingress:
- from:
  - podSelector:
      matchLabels:
        app: frontend
  ports:
  - protocol: TCP
    port: 8080
`;

function editorElements() {
  const textarea = h("textarea", { id: "template-yaml", class: "editor-input", spellcheck: "false", wrap: "off", autocapitalize: "off", "aria-describedby": "validation" });
  const gutter = h("div", { class: "editor-gutter", "aria-hidden": "true" });
  const backdrop = h("div", { class: "editor-backdrop", "aria-hidden": "true" });
  return {
    root: h("div", { class: "page" }),
    nameInput: h("input", { id: "template-name", class: "input mono", type: "text", autocomplete: "off", spellcheck: "false", maxlength: "63", placeholder: "e.g. web-ingress", "aria-describedby": "name-help name-error" }),
    nameError: h("div", { class: "field-error", id: "name-error", role: "alert", hidden: true }),
    textarea,
    gutter,
    backdrop,
    editorBox: h("div", { class: "editor" }, gutter, h("div", { class: "editor-area" }, backdrop, textarea)),
    status: h("div", { class: "validation-status", id: "validation", role: "status", "aria-live": "polite" }),
    problems: h("div", { class: "problems" }),
    saveBar: h("div", { class: "save-bar" }),
    topSlot: h("div", { class: "stack" }),
    side: h("div", { class: "stack" }),
  };
}

function newEditor(existing, ctx) {
  const ed = {
    existing,
    ctx,
    el: editorElements(),
    st: {
      catalog: null, // the list response the editor was opened on
      resourceVersion: null,
      original: "",
      checking: false,
      errors: [],
      checkSeq: 0,
      conflict: false,
      saved: false,
    },
  };
  ed.validateSoon = debounce(() => validate(ed), 350);
  return ed;
}

function listen(ed) {
  const { textarea, nameInput } = ed.el;
  textarea.addEventListener("input", () => onEdit(ed));
  textarea.addEventListener("scroll", () => syncScroll(ed));
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Tab" && !event.shiftKey && !textarea.readOnly) {
      event.preventDefault();
      textarea.setRangeText("  ", textarea.selectionStart, textarea.selectionEnd, "end");
      onEdit(ed);
    }
  });
  nameInput.addEventListener("input", () => onEdit(ed));
}

// --- the text area, its gutter and backdrop ------------------------------------------------------

const lines = (ed) => ed.el.textarea.value.split("\n");

function syncScroll(ed) {
  const { textarea, gutter, backdrop } = ed.el;
  const y = textarea.scrollTop;
  const x = textarea.scrollLeft;
  if (gutter.firstChild) gutter.firstChild.style.transform = `translateY(${-y}px)`;
  if (backdrop.firstChild) backdrop.firstChild.style.transform = `translate(${-x}px, ${-y}px)`;
}

function errorsByLine(errors) {
  const byLine = new Map();
  for (const e of errors) {
    if (e.line === null || e.line === undefined) continue;
    if (!byLine.has(e.line)) byLine.set(e.line, []);
    byLine.get(e.line).push(e);
  }
  return byLine;
}

function gutterLine(i, errs) {
  return h("div", { class: ["gutter-line", errs && "has-error"], title: errs ? errs.map((e) => e.message).join("\n") : undefined, text: String(i + 1) });
}

function backdropLine(text, errs) {
  return h(
    "div",
    { class: ["bd-line", errs && "has-error"] },
    h("span", { class: "bd-ghost", text: text || " " }),
    errs ? h("span", { class: "lens", text: `  ← ${errs[0].message}${errs.length > 1 ? ` (+${errs.length - 1} more)` : ""}` }) : null,
  );
}

function drawDecorations(ed) {
  const { gutter, backdrop, editorBox } = ed.el;
  const all = lines(ed);
  const byLine = errorsByLine(ed.st.errors);
  const gutterInner = h("div", { class: "gutter-inner" });
  const backInner = h("div", { class: "backdrop-inner" });
  all.forEach((text, i) => {
    gutterInner.append(gutterLine(i, byLine.get(i)));
    backInner.append(backdropLine(text, byLine.get(i)));
  });
  replace(gutter, gutterInner);
  replace(backdrop, backInner);
  // As tall as the text (within limits), so the problems below stay in sight.
  const rows = Math.min(Math.max(all.length + 2, 12), 30);
  editorBox.style.height = `${rows * 20 + 22}px`;
  syncScroll(ed);
}

function jumpTo(ed, line) {
  if (line === null || line === undefined) return;
  const { textarea } = ed.el;
  const all = lines(ed);
  let start = 0;
  for (let i = 0; i < line; i += 1) start += all[i].length + 1;
  textarea.focus();
  textarea.setSelectionRange(start, start + all[line].length);
  const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
  textarea.scrollTop = Math.max(0, line * lineHeight - textarea.clientHeight / 3);
  syncScroll(ed);
}

// --- the check's verdict: status line, name errors, list of problems, save bar -------------------

function drawStatusLine({ el, st }) {
  const { status, textarea } = el;
  if (st.checking) status.append(h("span", { class: "spinner spinner-sm", "aria-hidden": "true" }), h("span", { text: "Checking…" }));
  else if (!textarea.value.trim()) status.append(icon("info"), h("span", { text: "Write the template as YAML: a description, and ingress and/or egress rules." }));
  else if (st.errors.length) status.append(icon("warning"), h("span", { text: `${plural(st.errors.length, "problem")} to fix before saving` }));
  else status.append(icon("check"), h("span", { text: "Valid template" }));
  status.className = ["validation-status", st.checking ? "is-checking" : st.errors.length ? "is-invalid" : textarea.value.trim() ? "is-valid" : ""].join(" ");
}

function drawNameErrors({ el, st }) {
  const { nameError, nameInput } = el;
  nameError.hidden = true;
  const nameErrs = st.errors.filter((e) => e.field === "name");
  nameInput.classList.toggle("is-invalid", nameErrs.length > 0);
  if (nameErrs.length) {
    replace(nameError, nameErrs.map((e) => h("div", null, e.message, e.fix ? h("span", { class: "fix", text: ` ${e.fix}` }) : null)));
    nameError.hidden = false;
  }
}

function problemItem(ed, e) {
  const hasLine = e.line !== null && e.line !== undefined;
  return h(
    "li",
    { class: "problem" },
    h(
      "button",
      { type: "button", class: "problem-jump", title: hasLine ? "Go to this line" : undefined, onclick: () => jumpTo(ed, e.line) },
      hasLine ? h("span", { class: "problem-line", text: `Line ${e.line + 1}` }) : null,
      e.field ? h("code", { class: "field-path", text: e.field }) : null,
    ),
    h("span", { class: "problem-msg", text: e.message }),
    e.fix ? h("span", { class: "problem-fix", text: `Fix: ${e.fix}` }) : null,
  );
}

function problemList(ed) {
  const shown = ed.st.errors.filter((e) => e.field !== "name");
  if (!shown.length) return null;
  return h("ul", { class: "problem-list", "aria-label": "Problems" }, shown.map((e) => problemItem(ed, e)));
}

// After a conflict only the banner above speaks; the rest stays as it was.
function drawStatus(ed) {
  clear(ed.el.status);
  if (ed.st.conflict) return;
  drawStatusLine(ed);
  drawNameErrors(ed);
  replace(ed.el.problems, problemList(ed));
  drawSaveBar(ed);
}

function redraw(ed) {
  drawDecorations(ed);
  drawStatus(ed);
}

function dirty(ed) {
  return !ed.existing || ed.el.textarea.value !== ed.st.original;
}

// Whether leaving now would lose something the person typed.
function unsaved({ existing, el, st }) {
  if (st.saved || !st.catalog || !st.catalog.permissions.edit_templates) return false;
  return existing ? el.textarea.value !== st.original : el.textarea.value !== STARTER || el.nameInput.value.trim() !== "";
}

function saveButton(ed) {
  const { existing, el, st } = ed;
  const blocked = st.checking || st.errors.length > 0 || !el.textarea.value.trim() || (!existing && !el.nameInput.value.trim()) || st.conflict;
  const why = st.checking ? "Waiting for the check to finish" : st.errors.length ? "Fix the problems first" : !dirty(ed) ? "Nothing changed yet" : undefined;
  return button(existing ? "Save changes" : "Create template", {
    variant: "primary",
    disabled: blocked || !dirty(ed),
    title: blocked || !dirty(ed) ? why : undefined,
    onClick: () => save(ed),
  });
}

function deleteButton({ existing, ctx, st }) {
  if (!existing || !st.catalog.templates.some((t) => t.name === existing)) return null;
  const afterDelete = {
    kick: () => {
      st.saved = true;
      ctx.navigate("#/templates");
    },
  };
  const onClick = () => confirmDelete(st.catalog.templates.find((t) => t.name === existing), st.resourceVersion, afterDelete);
  return h("span", { class: "save-bar-right" }, button("Delete template", { variant: "ghost-danger", iconName: "trash", onClick }));
}

function drawSaveBar(ed) {
  const { catalog } = ed.st;
  const toList = () => ed.ctx.navigate("#/templates");
  if (!(catalog && catalog.permissions.edit_templates)) {
    replace(ed.el.saveBar, button("Back to templates", { onClick: toList }));
    return;
  }
  replace(ed.el.saveBar, saveButton(ed), button("Cancel", { onClick: toList }), deleteButton(ed));
}

// --- checking and saving ---------------------------------------------------------------------------

function nameClash({ existing, st }, name) {
  const { catalog } = st;
  if (existing || !catalog || !name) return [];
  if (!catalog.templates.some((t) => t.name === name) && !catalog.invalid.some((t) => t.name === name)) return [];
  return [{ field: "name", message: `A template named ${name} already exists.`, fix: "Choose another name, or open it from the list to edit it." }];
}

async function serverErrors(name, text) {
  try {
    const result = await api.validate(name || "untitled", text);
    return result.errors.filter((e) => !(e.field === "name" && !name)).map((e) => withLine(e, text));
  } catch (error) {
    if (error.errors && error.errors.length) return error.errors.map((e) => withLine(e, text));
    return [{ field: null, message: error.message, fix: null, line: null }];
  }
}

function checked(ed, errors) {
  ed.st.checking = false;
  ed.st.errors = errors;
  redraw(ed);
}

// The newest check wins: an older answer that comes late is dropped.
async function validate(ed) {
  const seq = ++ed.st.checkSeq;
  const name = ed.existing || ed.el.nameInput.value.trim();
  const text = ed.el.textarea.value;
  const local = nameClash(ed, name);
  if (!text.trim()) {
    checked(ed, local);
    return;
  }
  const found = await serverErrors(name, text);
  if (seq !== ed.st.checkSeq) return;
  checked(ed, [...local, ...found]);
}

function onEdit(ed) {
  ed.st.checking = true;
  ed.st.conflict = false;
  redraw(ed);
  ed.validateSoon();
}

function conflictBanner(ed) {
  return banner("danger", "Someone else changed the templates after you opened this editor, so nothing was saved. Your text is still here: copy what you need, then load the latest version and apply your change again.", {
    title: "Not saved: the templates changed meanwhile",
    actions: [
      button("Load the latest version", {
        variant: "secondary",
        onClick: async () => {
          await reload(ed);
          toast("Loaded the latest version; your unsaved text was replaced.", { tone: "info" });
        },
      }),
    ],
  });
}

function notSaved(ed, error) {
  if (error.status === 409) {
    ed.st.conflict = true;
    replace(ed.el.topSlot, conflictBanner(ed));
    drawStatus(ed);
  } else if (error.status === 422 && error.errors.length) {
    ed.st.errors = error.errors.map((e) => withLine(e, ed.el.textarea.value));
    redraw(ed);
  } else {
    replace(ed.el.topSlot, banner("danger", error.message, { title: "Not saved" }));
  }
}

async function save(ed) {
  const { existing } = ed;
  const name = existing || ed.el.nameInput.value.trim();
  try {
    await api.saveTemplate(name, ed.el.textarea.value, ed.st.resourceVersion);
    ed.st.saved = true;
    toast(existing ? `Template ${name} saved. Existing policies keep the version they were attached with.` : `Template ${name} created. Developers can attach it now.`, { title: existing ? "Saved" : "Created" });
    ed.ctx.navigate("#/templates");
  } catch (error) {
    notSaved(ed, error);
  }
}

async function reload(ed) {
  const fresh = await api.templates();
  setup(ed, fresh);
}

// --- the page --------------------------------------------------------------------------------------

function formatCard() {
  return card({
    title: "Format",
    body: h(
      "div",
      { class: "stack small" },
      h("p", null, h("code", { text: "description" }), " says in words what the template opens: developers read it before attaching."),
      h("p", null, h("code", { text: "ingress" }), " and ", h("code", { text: "egress" }), " are NetworkPolicy rules written as in the Kubernetes API: ", h("code", { text: "from" }), "/", h("code", { text: "to" }), " peers (podSelector, namespaceSelector, ipBlock) and ", h("code", { text: "ports" }), "."),
      h("p", null, "netfence adds the pod selector of each controller the template is attached to."),
      h("p", { class: "muted", text: "Egress templates block all other egress of the pods, DNS included: attach dns alongside." }),
    ),
  });
}

function usedByList(usedBy) {
  if (usedBy === null) return h("p", { class: "muted", text: "You may not list the policies of every namespace." });
  if (!usedBy.length) return h("p", { class: "muted", text: "No policy is made from it yet." });
  return h("ul", { class: "plain-list" }, usedBy.map((u) => h("li", null, h("a", { href: namespaceHref(u.namespace), class: "mono", text: `${u.namespace}/${u.policy}` }), u.controller ? h("span", { class: "muted small", text: ` ${u.controller}` }) : null)));
}

function nameField({ existing, el }) {
  return h(
    "div",
    { class: "field" },
    h("label", { class: "label", for: "template-name", text: "Name" }),
    el.nameInput,
    existing ? null : h("p", { class: "help", id: "name-help" }, "Lowercase letters, digits and '-', at most 63 characters. Developers attach it with the label ", h("code", { text: "templates.netfence.io/<name>=true" }), "."),
    el.nameError,
  );
}

function yamlField({ el }) {
  return h("div", { class: "field" }, h("div", { class: "label-row" }, h("label", { class: "label", for: "template-yaml", text: "Template (YAML)" }), el.status), el.editorBox, el.problems);
}

function editorPage(ed, { found, broken, may }) {
  const { existing, el } = ed;
  return [
    pageHeader({
      title: existing ? (may ? `Edit template ${existing}` : `Template ${existing}`) : "New template",
      badges: found ? [typeBadges(found.policy_types)] : broken ? [badge("invalid", "danger")] : [],
      subtitle: existing ? "Stored in the ConfigMap netfence-templates under this name." : "The name becomes part of the label developers put on their controllers.",
    }),
    may ? null : banner("info", NO_EDIT, { title: "Read-only" }),
    existing && may ? banner("info", SNAPSHOT_NOTE, { title: "Existing policies stay as they are" }) : null,
    el.topSlot,
    h("div", { class: "editor-layout" }, h("div", { class: "stack" }, card({ body: h("div", { class: "stack" }, nameField(ed), yamlField(ed), el.saveBar) })), el.side),
  ];
}

function fillInputs({ existing, el, st }, { found, broken, may }) {
  st.original = found ? found.yaml : broken ? broken.yaml : "";
  el.textarea.value = existing ? st.original : STARTER;
  el.textarea.readOnly = !may;
  el.editorBox.classList.toggle("is-readonly", !may);
  el.nameInput.value = existing || "";
  el.nameInput.readOnly = Boolean(existing) || !may;
  st.errors = [];
  st.checking = false;
}

// The editor, filled from a catalog response: at opening, and on "Load the latest version".
function setup(ed, d) {
  const { existing, el, st } = ed;
  st.catalog = d;
  st.resourceVersion = d.resource_version;
  st.conflict = false;
  clear(el.topSlot);
  const may = d.permissions.edit_templates;
  const found = existing ? d.templates.find((t) => t.name === existing) : null;
  const broken = existing ? d.invalid.find((t) => t.name === existing) : null;
  if (existing && !found && !broken) {
    replace(el.root, emptyState({ iconName: "template", title: `There is no template ${existing}`, text: "It may have been deleted.", action: button("Back to templates", { onClick: () => ed.ctx.navigate("#/templates") }) }));
    return;
  }
  const shown = { found, broken, may };
  fillInputs(ed, shown);
  replace(el.side, formatCard(), existing ? card({ title: "Where it is used", body: usedByList(found ? found.used_by : null) }) : null);
  replace(el.root, editorPage(ed, shown));
  drawDecorations(ed);
  if (broken) {
    st.errors = broken.errors.map((e) => withLine(e, st.original));
    drawDecorations(ed);
  }
  drawStatus(ed);
  if (!existing && may) {
    onEdit(ed);
    setTimeout(() => el.nameInput.focus(), 0);
  }
}

export function templateEditorView(params, ctx) {
  const ed = newEditor(params.length ? params[0] : null, ctx);
  listen(ed);
  const { existing } = ed;
  return {
    nav: "templates",
    title: existing ? `Template ${existing}` : "New template",
    crumbs: [{ label: "Manage Policies", href: "#/templates" }, { label: existing ? existing : "New template" }],
    poll: false,
    unsavedWork: () => (unsaved(ed) ? "Leave the editor? Your changes to this template are not saved." : null),
    load: () => api.templates(),
    render(d) {
      if (!ed.st.catalog) setup(ed, d);
      return ed.el.root;
    },
  };
}
