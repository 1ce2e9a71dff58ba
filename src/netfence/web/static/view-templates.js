// Manage Policies: the template catalog, and an editor with live validation.

import { api } from "./api.js";
import { h, icon, replace, clear, plural, firstLine, debounce } from "./dom.js";
import { badge, banner, button, card, emptyState, modal, pageHeader, table, toast } from "./ui.js";
import { namespaceHref } from "./parts.js";

const NO_EDIT = "You may not edit templates; an admin can.";
const SNAPSHOT_NOTE = "Existing policies keep the version they were attached with. Saving changes only what new attachments get; policies made from an older version show “template changed” and can be updated one at a time.";

function typeBadges(types) {
  return h(
    "span",
    { class: "badges" },
    (types || []).map((t) => badge(t, t === "Ingress" ? "accent" : "info", t === "Ingress" ? "Opens traffic to the selected pods" : "Opens traffic from the selected pods")),
  );
}

function usedByCell(usedBy) {
  if (usedBy === null) return h("span", { class: "muted", title: "You may not list the policies of every namespace.", text: "not visible to you" });
  if (!usedBy.length) return h("span", { class: "muted", text: "not used" });
  const namespaces = [...new Set(usedBy.map((u) => u.namespace))];
  return h(
    "span",
    { title: usedBy.map((u) => `${u.namespace}/${u.policy}${u.controller ? ` (${u.controller})` : ""}`).join("\n") },
    `${plural(usedBy.length, "policy", "policies")} in `,
    namespaces.length === 1 ? h("a", { href: namespaceHref(namespaces[0]), text: namespaces[0] }) : plural(namespaces.length, "namespace"),
  );
}

// --- the list -----------------------------------------------------------------------------------

export function templatesView(_params, ctx) {
  const root = h("div", { class: "page" });
  const search = h("input", { type: "search", class: "input input-search", placeholder: "Filter templates", "aria-label": "Filter templates" });
  const region = h("div", { class: "stack" });
  const actions = h("div", { class: "page-actions-slot" });
  let data = null;

  const draw = () => {
    const may = data.permissions.edit_templates;
    replace(
      actions,
      button("New template", {
        variant: "primary",
        iconName: "plus",
        disabled: !may,
        title: may ? "Write a new template" : NO_EDIT,
        onClick: () => ctx.navigate("#/templates/_new"),
      }),
    );
    const q = search.value.trim().toLowerCase();
    // Who may not list every namespace's policies cannot see where templates are used.
    const showUses = data.templates.some((t) => t.used_by !== null);
    const rows = data.templates
      .slice()
      .sort((a, b) => a.name.localeCompare(b.name))
      .filter((t) => !q || t.name.includes(q) || t.description.toLowerCase().includes(q));
    replace(
      region,
      may ? null : banner("info", `${NO_EDIT} You can read every template and attach them to your controllers.`, { title: "Read-only" }),
      data.invalid.length
        ? card({
            title: "Invalid templates",
            subtitle: "Someone edited these into the ConfigMap by hand. Controllers that ask for them get no policy until they are fixed.",
            className: "card-danger",
            body: table({
              label: "Invalid templates",
              columns: [{ title: "Name" }, { title: "Problems" }, { title: "", className: "col-actions" }],
              rows: data.invalid.map((t) => [
                h("span", { class: "mono strong", text: t.name }),
                h("ul", { class: "plain-list" }, t.errors.map((e) => h("li", null, e.field ? h("code", { class: "field-path", text: e.field }) : null, " ", e.message))),
                button(may ? "Fix" : "View", { small: true, iconName: may ? "edit" : undefined, onClick: () => ctx.navigate(`#/templates/${encodeURIComponent(t.name)}`) }),
              ]),
            }),
          })
        : null,
      card({
        title: "Templates",
        subtitle: `${plural(data.templates.length, "template")} in the catalog (ConfigMap netfence-templates). Developers attach them to their controllers.`,
        body: table({
          label: "Templates",
          columns: [{ title: "Name", className: "col-min" }, { title: "Opens", className: "col-min" }, { title: "Description", className: "col-desc" }, showUses ? { title: "Used by", className: "col-uses" } : null, { title: "", className: "col-actions" }].filter(Boolean),
          empty: emptyState({
            iconName: "template",
            title: q ? "No template matches" : "No templates yet",
            text: q ? "Try another word." : "Templates describe traffic to open, such as DNS egress or HTTP ingress.",
          }),
          rows: rows.map((t) => [
            h("a", { href: `#/templates/${encodeURIComponent(t.name)}`, class: "mono strong-link", text: t.name }),
            typeBadges(t.policy_types),
            h("span", { class: "desc", title: t.description, text: firstLine(t.description) || "No description" }),
            showUses ? usedByCell(t.used_by) : null,
            h(
              "div",
              { class: "row-actions" },
              button(may ? "Edit" : "View", { small: true, iconName: may ? "edit" : undefined, ariaLabel: `${may ? "Edit" : "View"} ${t.name}`, onClick: () => ctx.navigate(`#/templates/${encodeURIComponent(t.name)}`) }),
              may
                ? button("", {
                    small: true,
                    variant: "ghost-danger",
                    iconName: "trash",
                    ariaLabel: `Delete ${t.name}`,
                    title: `Delete ${t.name}`,
                    onClick: () => confirmDelete(t, data.resource_version, ctx),
                  })
                : null,
            ),
          ].filter((cell) => cell !== null)),
        }),
      }),
    );
  };
  search.addEventListener("input", () => data && draw());

  root.append(
    pageHeader({
      title: "Manage Policies",
      subtitle: "Policy templates: reusable pieces of NetworkPolicy that developers attach to their controllers. A policy is a snapshot: editing a template never changes existing policies.",
      actions: [actions],
    }),
    h("div", { class: "toolbar" }, h("label", { class: "search" }, icon("search"), search)),
    region,
  );

  return {
    nav: "templates",
    title: "Manage Policies",
    crumbs: [{ label: "Manage Policies" }],
    load: () => api.templates(),
    render(d) {
      data = d;
      draw();
      return root;
    },
  };
}

function confirmDelete(template, resourceVersion, ctx) {
  const uses = template.used_by;
  modal({
    title: `Delete template ${template.name}?`,
    body: h(
      "div",
      { class: "stack" },
      h("p", null, "Policies already made from it stay as they are", uses && uses.length ? ` (${plural(uses.length, "policy", "policies")})` : "", ". Controllers that still carry its label get no new policy; netfence reports that as an event."),
      uses && uses.length ? h("ul", { class: "plain-list" }, uses.map((u) => h("li", null, h("span", { class: "mono", text: `${u.namespace}/${u.policy}` }), u.controller ? h("span", { class: "muted", text: ` · ${u.controller}` }) : null))) : null,
    ),
    confirmLabel: `Delete ${template.name}`,
    confirmVariant: "danger",
    onConfirm: async () => {
      try {
        const result = await api.deleteTemplate(template.name, resourceVersion);
        toast(result.message, { title: "Template deleted" });
        ctx.kick();
      } catch (error) {
        if (error.status === 409) {
          ctx.kick();
          throw new Error("The templates changed since this page loaded, so nothing was deleted. The list is up to date now: check it and try again.");
        }
        throw error;
      }
    },
  });
}

// --- the editor ---------------------------------------------------------------------------------

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

export function templateEditorView(params, ctx) {
  const existing = params.length ? params[0] : null;
  const root = h("div", { class: "page" });
  let catalog = null; // the list response the editor was opened on
  let resourceVersion = null;
  let original = "";
  let checking = false;
  let errors = [];
  let checkSeq = 0;
  let conflict = false;
  let saved = false;

  const nameInput = h("input", { id: "template-name", class: "input mono", type: "text", autocomplete: "off", spellcheck: "false", maxlength: "63", placeholder: "e.g. web-ingress", "aria-describedby": "name-help name-error" });
  const nameError = h("div", { class: "field-error", id: "name-error", role: "alert", hidden: true });
  const textarea = h("textarea", { id: "template-yaml", class: "editor-input", spellcheck: "false", wrap: "off", autocapitalize: "off", "aria-describedby": "validation" });
  const gutter = h("div", { class: "editor-gutter", "aria-hidden": "true" });
  const backdrop = h("div", { class: "editor-backdrop", "aria-hidden": "true" });
  const editorBox = h("div", { class: "editor" }, gutter, h("div", { class: "editor-area" }, backdrop, textarea));
  const status = h("div", { class: "validation-status", id: "validation", role: "status", "aria-live": "polite" });
  const problems = h("div", { class: "problems" });
  const saveBar = h("div", { class: "save-bar" });
  const topSlot = h("div", { class: "stack" });
  const side = h("div", { class: "stack" });

  const lines = () => textarea.value.split("\n");

  function syncScroll() {
    const y = textarea.scrollTop;
    const x = textarea.scrollLeft;
    if (gutter.firstChild) gutter.firstChild.style.transform = `translateY(${-y}px)`;
    if (backdrop.firstChild) backdrop.firstChild.style.transform = `translate(${-x}px, ${-y}px)`;
  }

  function drawEditorDecorations() {
    const all = lines();
    const byLine = new Map();
    for (const e of errors) {
      if (e.line === null || e.line === undefined) continue;
      if (!byLine.has(e.line)) byLine.set(e.line, []);
      byLine.get(e.line).push(e);
    }
    const gutterInner = h("div", { class: "gutter-inner" });
    const backInner = h("div", { class: "backdrop-inner" });
    all.forEach((text, i) => {
      const errs = byLine.get(i);
      gutterInner.append(h("div", { class: ["gutter-line", errs && "has-error"], title: errs ? errs.map((e) => e.message).join("\n") : undefined, text: String(i + 1) }));
      backInner.append(
        h(
          "div",
          { class: ["bd-line", errs && "has-error"] },
          h("span", { class: "bd-ghost", text: text || " " }),
          errs ? h("span", { class: "lens", text: `  ← ${errs[0].message}${errs.length > 1 ? ` (+${errs.length - 1} more)` : ""}` }) : null,
        ),
      );
    });
    replace(gutter, gutterInner);
    replace(backdrop, backInner);
    // As tall as the text (within limits), so the problems below stay in sight.
    const rows = Math.min(Math.max(all.length + 2, 12), 30);
    editorBox.style.height = `${rows * 20 + 22}px`;
    syncScroll();
  }

  function drawStatus() {
    clear(status);
    const mine = errors.filter((e) => e.field !== "name");
    if (conflict) return;
    if (checking) status.append(h("span", { class: "spinner spinner-sm", "aria-hidden": "true" }), h("span", { text: "Checking…" }));
    else if (!textarea.value.trim()) status.append(icon("info"), h("span", { text: "Write the template as YAML: a description, and ingress and/or egress rules." }));
    else if (mine.length || errors.length) status.append(icon("warning"), h("span", { text: `${plural(errors.length, "problem")} to fix before saving` }));
    else status.append(icon("check"), h("span", { text: "Valid template" }));
    status.className = ["validation-status", checking ? "is-checking" : errors.length ? "is-invalid" : textarea.value.trim() ? "is-valid" : ""].join(" ");

    nameError.hidden = true;
    const nameErrs = errors.filter((e) => e.field === "name");
    nameInput.classList.toggle("is-invalid", nameErrs.length > 0);
    if (nameErrs.length) {
      replace(nameError, nameErrs.map((e) => h("div", null, e.message, e.fix ? h("span", { class: "fix", text: ` ${e.fix}` }) : null)));
      nameError.hidden = false;
    }
    const shown = errors.filter((e) => e.field !== "name");
    replace(
      problems,
      shown.length
        ? h(
            "ul",
            { class: "problem-list", "aria-label": "Problems" },
            shown.map((e) =>
              h(
                "li",
                { class: "problem" },
                h(
                  "button",
                  { type: "button", class: "problem-jump", title: e.line !== null && e.line !== undefined ? "Go to this line" : undefined, onclick: () => jumpTo(e.line) },
                  e.line !== null && e.line !== undefined ? h("span", { class: "problem-line", text: `Line ${e.line + 1}` }) : null,
                  e.field ? h("code", { class: "field-path", text: e.field }) : null,
                ),
                h("span", { class: "problem-msg", text: e.message }),
                e.fix ? h("span", { class: "problem-fix", text: `Fix: ${e.fix}` }) : null,
              ),
            ),
          )
        : null,
    );
    drawSaveBar();
  }

  function jumpTo(line) {
    if (line === null || line === undefined) return;
    const all = lines();
    let start = 0;
    for (let i = 0; i < line; i += 1) start += all[i].length + 1;
    textarea.focus();
    textarea.setSelectionRange(start, start + all[line].length);
    const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    textarea.scrollTop = Math.max(0, line * lineHeight - textarea.clientHeight / 3);
    syncScroll();
  }

  function dirty() {
    return !existing || textarea.value !== original;
  }

  // Whether leaving now would lose something the person typed.
  function unsaved() {
    if (saved || !catalog || !catalog.permissions.edit_templates) return false;
    return existing ? textarea.value !== original : textarea.value !== STARTER || nameInput.value.trim() !== "";
  }

  function drawSaveBar() {
    const may = catalog && catalog.permissions.edit_templates;
    if (!may) {
      replace(saveBar, button("Back to templates", { onClick: () => ctx.navigate("#/templates") }));
      return;
    }
    const blocked = checking || errors.length > 0 || !textarea.value.trim() || (!existing && !nameInput.value.trim()) || conflict;
    const why = checking ? "Waiting for the check to finish" : errors.length ? "Fix the problems first" : !dirty() ? "Nothing changed yet" : undefined;
    const saveButton = button(existing ? "Save changes" : "Create template", {
      variant: "primary",
      disabled: blocked || !dirty(),
      title: blocked || !dirty() ? why : undefined,
      onClick: () => save(),
    });
    replace(
      saveBar,
      saveButton,
      button("Cancel", { onClick: () => ctx.navigate("#/templates") }),
      existing && catalog.templates.some((t) => t.name === existing)
        ? h("span", { class: "save-bar-right" }, button("Delete template", { variant: "ghost-danger", iconName: "trash", onClick: () => confirmDelete(catalog.templates.find((t) => t.name === existing), resourceVersion, {
                  kick: () => {
                    saved = true;
                    ctx.navigate("#/templates");
                  },
                }) }))
        : null,
    );
  }

  const validateSoon = debounce(async () => {
    const seq = ++checkSeq;
    const name = existing || nameInput.value.trim();
    const text = textarea.value;
    const local = [];
    if (!existing && catalog && name && (catalog.templates.some((t) => t.name === name) || catalog.invalid.some((t) => t.name === name))) {
      local.push({ field: "name", message: `A template named ${name} already exists.`, fix: "Choose another name, or open it from the list to edit it." });
    }
    if (!text.trim()) {
      checking = false;
      errors = local;
      drawEditorDecorations();
      drawStatus();
      return;
    }
    try {
      const result = await api.validate(name || "untitled", text);
      if (seq !== checkSeq) return;
      errors = [...local, ...result.errors.filter((e) => !(e.field === "name" && !name)).map((e) => withLine(e, text))];
    } catch (error) {
      if (seq !== checkSeq) return;
      errors = [...local, ...(error.errors && error.errors.length ? error.errors.map((e) => withLine(e, text)) : [{ field: null, message: error.message, fix: null, line: null }])];
    }
    checking = false;
    drawEditorDecorations();
    drawStatus();
  }, 350);

  function onEdit() {
    checking = true;
    conflict = false;
    drawEditorDecorations();
    drawStatus();
    validateSoon();
  }

  textarea.addEventListener("input", onEdit);
  textarea.addEventListener("scroll", syncScroll);
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Tab" && !event.shiftKey && !textarea.readOnly) {
      event.preventDefault();
      textarea.setRangeText("  ", textarea.selectionStart, textarea.selectionEnd, "end");
      onEdit();
    }
  });
  nameInput.addEventListener("input", onEdit);

  async function save() {
    const name = existing || nameInput.value.trim();
    try {
      await api.saveTemplate(name, textarea.value, resourceVersion);
      saved = true;
      toast(existing ? `Template ${name} saved. Existing policies keep the version they were attached with.` : `Template ${name} created. Developers can attach it now.`, { title: existing ? "Saved" : "Created" });
      ctx.navigate("#/templates");
    } catch (error) {
      if (error.status === 409) {
        conflict = true;
        replace(
          topSlot,
          banner("danger", "Someone else changed the templates after you opened this editor, so nothing was saved. Your text is still here: copy what you need, then load the latest version and apply your change again.", {
            title: "Not saved: the templates changed meanwhile",
            actions: [
              button("Load the latest version", {
                variant: "secondary",
                onClick: async () => {
                  await reload();
                  toast("Loaded the latest version; your unsaved text was replaced.", { tone: "info" });
                },
              }),
            ],
          }),
        );
        drawStatus();
      } else if (error.status === 422 && error.errors.length) {
        errors = error.errors.map((e) => withLine(e, textarea.value));
        drawEditorDecorations();
        drawStatus();
      } else {
        replace(topSlot, banner("danger", error.message, { title: "Not saved" }));
      }
    }
  }

  async function reload() {
    const fresh = await api.templates();
    setup(fresh);
  }

  function setup(d) {
    catalog = d;
    resourceVersion = d.resource_version;
    conflict = false;
    clear(topSlot);
    const may = d.permissions.edit_templates;
    const found = existing ? d.templates.find((t) => t.name === existing) : null;
    const broken = existing ? d.invalid.find((t) => t.name === existing) : null;
    if (existing && !found && !broken) {
      replace(root, emptyState({ iconName: "template", title: `There is no template ${existing}`, text: "It may have been deleted.", action: button("Back to templates", { onClick: () => ctx.navigate("#/templates") }) }));
      return;
    }
    original = found ? found.yaml : broken ? broken.yaml : "";
    textarea.value = existing ? original : STARTER;
    textarea.readOnly = !may;
    editorBox.classList.toggle("is-readonly", !may);
    nameInput.value = existing || "";
    nameInput.readOnly = Boolean(existing) || !may;
    errors = [];
    checking = false;

    const usedBy = found ? found.used_by : null;
    replace(
      side,
      card({
        title: "Format",
        body: h(
          "div",
          { class: "stack small" },
          h("p", null, h("code", { text: "description" }), " says in words what the template opens: developers read it before attaching."),
          h("p", null, h("code", { text: "ingress" }), " and ", h("code", { text: "egress" }), " are NetworkPolicy rules written as in the Kubernetes API: ", h("code", { text: "from" }), "/", h("code", { text: "to" }), " peers (podSelector, namespaceSelector, ipBlock) and ", h("code", { text: "ports" }), "."),
          h("p", null, "netfence adds the pod selector of each controller the template is attached to."),
          h("p", { class: "muted", text: "Egress templates block all other egress of the pods, DNS included: attach dns alongside." }),
        ),
      }),
      existing
        ? card({
            title: "Where it is used",
            body:
              usedBy === null
                ? h("p", { class: "muted", text: "You may not list the policies of every namespace." })
                : usedBy.length
                  ? h("ul", { class: "plain-list" }, usedBy.map((u) => h("li", null, h("a", { href: namespaceHref(u.namespace), class: "mono", text: `${u.namespace}/${u.policy}` }), u.controller ? h("span", { class: "muted small", text: ` ${u.controller}` }) : null)))
                  : h("p", { class: "muted", text: "No policy is made from it yet." }),
          })
        : null,
    );

    replace(
      root,
      pageHeader({
        title: existing ? (may ? `Edit template ${existing}` : `Template ${existing}`) : "New template",
        badges: found ? [typeBadges(found.policy_types)] : broken ? [badge("invalid", "danger")] : [],
        subtitle: existing ? "Stored in the ConfigMap netfence-templates under this name." : "The name becomes part of the label developers put on their controllers.",
      }),
      may ? null : banner("info", NO_EDIT, { title: "Read-only" }),
      existing && may ? banner("info", SNAPSHOT_NOTE, { title: "Existing policies stay as they are" }) : null,
      topSlot,
      h(
        "div",
        { class: "editor-layout" },
        h(
          "div",
          { class: "stack" },
          card({
            body: h(
              "div",
              { class: "stack" },
              h(
                "div",
                { class: "field" },
                h("label", { class: "label", for: "template-name", text: "Name" }),
                nameInput,
                existing ? null : h("p", { class: "help", id: "name-help" }, "Lowercase letters, digits and '-', at most 63 characters. Developers attach it with the label ", h("code", { text: "templates.netfence.io/<name>=true" }), "."),
                nameError,
              ),
              h(
                "div",
                { class: "field" },
                h("div", { class: "label-row" }, h("label", { class: "label", for: "template-yaml", text: "Template (YAML)" }), status),
                editorBox,
                problems,
              ),
              saveBar,
            ),
          }),
        ),
        side,
      ),
    );
    drawEditorDecorations();
    if (broken) {
      errors = broken.errors.map((e) => withLine(e, original));
      drawEditorDecorations();
    }
    drawStatus();
    if (!existing && may) {
      onEdit();
      setTimeout(() => nameInput.focus(), 0);
    }
  }

  return {
    nav: "templates",
    title: existing ? `Template ${existing}` : "New template",
    crumbs: [{ label: "Manage Policies", href: "#/templates" }, { label: existing ? existing : "New template" }],
    poll: false,
    unsavedWork: () => (unsaved() ? "Leave the editor? Your changes to this template are not saved." : null),
    load: () => api.templates(),
    render(d) {
      if (!catalog) setup(d);
      return root;
    },
  };
}

// --- from a field path to a line of the YAML text -------------------------------------------------

function withLine(error, text) {
  let line = null;
  if (error.field && error.field !== "name") line = lineOfPath(text, error.field);
  if (line === null) {
    const m = /line (\d+)/.exec(error.message || "");
    if (m) line = Math.max(0, parseInt(m[1], 10) - 1);
  }
  return { ...error, line };
}

// Each line as YAML structure: the column of each "- " item marker and of its key.
function scan(text) {
  return text.split("\n").map((raw) => {
    if (!raw.trim() || /^\s*#/.test(raw)) return null;
    const markers = [];
    let col = raw.length - raw.trimStart().length;
    let rest = raw.slice(col);
    while (rest.startsWith("- ") || rest === "-") {
      markers.push(col);
      const after = rest.slice(1);
      const pad = after.length - after.trimStart().length;
      col += 1 + pad;
      rest = after.trimStart();
    }
    const key = /^("[^"]*"|'[^']*'|[^\s:#][^:#]*?)\s*:(\s|$)/.exec(rest);
    return { markers, key: key ? key[1].replace(/^["']|["']$/g, "") : null, keyCol: col, first: markers.length ? markers[0] : col };
  });
}

export function lineOfPath(text, path) {
  const tokens = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]*)((\[\d+\])*)$/.exec(part);
    if (!m) return null;
    if (m[1]) tokens.push({ key: m[1] });
    for (const idx of m[2].match(/\d+/g) || []) tokens.push({ index: parseInt(idx, 10) });
  }
  const info = scan(text);
  let start = 0;
  let end = info.length;
  let parentCol = -1;
  let found = null;
  for (const token of tokens) {
    if (token.key !== undefined) {
      let childCol = Infinity;
      for (let i = start; i < end; i += 1) if (info[i] && info[i].key !== null && info[i].keyCol > parentCol) childCol = Math.min(childCol, info[i].keyCol);
      let hit = -1;
      for (let i = start; i < end; i += 1) {
        if (info[i] && info[i].key === token.key && info[i].keyCol === childCol) {
          hit = i;
          break;
        }
      }
      if (hit < 0) return found;
      found = hit;
      let stop = hit + 1;
      while (stop < end && !(info[stop] && ((info[stop].markers.length === 0 && info[stop].keyCol <= childCol) || (info[stop].markers.length && info[stop].first < childCol)))) stop += 1;
      start = hit + 1;
      end = stop;
      parentCol = childCol;
      // A key whose value is a sequence may put its "- " items at its own column.
      parentCol = childCol - 1;
    } else {
      let seen = -1;
      let markerCol = null;
      let hit = -1;
      for (let i = start; i < end; i += 1) {
        const row = info[i];
        if (!row || !row.markers.length) continue;
        const col = row.markers[0];
        if (col <= parentCol) continue;
        if (markerCol === null) markerCol = col;
        if (col !== markerCol) continue;
        seen += 1;
        if (seen === token.index) {
          hit = i;
          break;
        }
      }
      if (hit < 0) return found;
      found = hit;
      let stop = hit + 1;
      while (stop < end && !(info[stop] && info[stop].first <= markerCol)) stop += 1;
      start = hit;
      end = stop;
      parentCol = markerCol;
      // The item's own line holds its first key, after the marker.
      info[hit] = { ...info[hit], markers: info[hit].markers.slice(1), first: info[hit].keyCol };
    }
  }
  return found;
}
