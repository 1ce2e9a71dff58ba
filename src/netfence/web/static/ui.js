// Shared pieces of the console: buttons, badges, cards, tables, dialogs, toasts, YAML.

import { h, icon, append, clear } from "./dom.js";

// --- buttons and badges ----------------------------------------------------------------------

export function button(label, { variant = "secondary", onClick, disabled = false, title, iconName, small = false, ariaLabel, type = "button" } = {}) {
  const btn = h(
    "button",
    {
      type,
      class: ["btn", `btn-${variant}`, small && "btn-sm"],
      disabled,
      "aria-label": ariaLabel,
      onclick: onClick,
    },
    iconName ? icon(iconName) : null,
    label ? h("span", { text: label }) : null,
  );
  if (title) {
    // A disabled button gets no pointer events in some browsers: the tooltip sits on a wrapper.
    btn.title = title;
    if (disabled) return h("span", { class: "btn-wrap", title }, btn);
  }
  return btn;
}

const TONES = new Set(["ok", "warn", "danger", "info", "muted", "accent"]);

export function badge(text, tone = "muted", title) {
  return h("span", { class: ["badge", `badge-${TONES.has(tone) ? tone : "muted"}`], title }, text);
}

export function chip(text, { onRemove, removeLabel, title, tone } = {}) {
  return h(
    "span",
    { class: ["chip", tone && `chip-${tone}`], title },
    h("span", { class: "chip-text", text }),
    onRemove
      ? h("button", { type: "button", class: "chip-x", "aria-label": removeLabel || `Remove ${text}`, title: removeLabel || `Remove ${text}`, onclick: onRemove }, icon("x"))
      : null,
  );
}

// --- layout blocks -----------------------------------------------------------------------------

export function pageHeader({ title, subtitle, badges = [], actions = [] }) {
  return h(
    "div",
    { class: "page-header" },
    h("div", { class: "page-heading" }, h("h1", { class: "page-title" }, title, badges.length ? h("span", { class: "title-badges" }, badges) : null), subtitle ? h("p", { class: "page-subtitle" }, subtitle) : null),
    actions.length ? h("div", { class: "page-actions" }, actions) : null,
  );
}

export function card({ title, subtitle, actions = [], body, className, id }) {
  return h(
    "section",
    { class: ["card", className], id, "aria-label": typeof title === "string" ? title : undefined },
    title || actions.length
      ? h(
          "header",
          { class: "card-header" },
          h("div", null, title ? h("h2", { class: "card-title" }, title) : null, subtitle ? h("p", { class: "card-subtitle" }, subtitle) : null),
          actions.length ? h("div", { class: "card-actions" }, actions) : null,
        )
      : null,
    h("div", { class: "card-body" }, body),
  );
}

export function banner(tone, text, { title, actions = [] } = {}) {
  const iconName = tone === "danger" || tone === "warn" ? "warning" : tone === "ok" ? "check" : "info";
  return h(
    "div",
    { class: ["banner", `banner-${tone}`], role: tone === "danger" ? "alert" : "note" },
    icon(iconName, "banner-icon"),
    h("div", { class: "banner-text" }, title ? h("strong", { class: "banner-title" }, title) : null, h("span", null, text)),
    actions.length ? h("div", { class: "banner-actions" }, actions) : null,
  );
}

export function emptyState({ iconName = "info", title, text, action }) {
  return h(
    "div",
    { class: "empty" },
    h("div", { class: "empty-icon" }, icon(iconName)),
    h("p", { class: "empty-title" }, title),
    text ? h("p", { class: "empty-text" }, text) : null,
    action || null,
  );
}

export function loading(text = "Loading…") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", { text }));
}

export function skeletonRows(count = 4) {
  const rows = [];
  for (let i = 0; i < count; i += 1) rows.push(h("div", { class: "skeleton-row" }));
  return h("div", { class: "skeleton", "aria-hidden": "true" }, rows);
}

export function statTile(label, value, { tone, hint } = {}) {
  return h("div", { class: ["stat", tone && `stat-${tone}`] }, h("div", { class: "stat-value", text: String(value) }), h("div", { class: "stat-label", text: label }), hint ? h("div", { class: "stat-hint", text: hint }) : null);
}

// --- tables ------------------------------------------------------------------------------------

// columns: [{title, className}]; rows: arrays of cells, or {cells, className, after} where
// `after` is a full-width row shown under it (an expanded YAML, for instance).
export function table({ columns, rows, empty, className, label }) {
  if (!rows.length && empty) return empty;
  const head = h("thead", null, h("tr", null, columns.map((c) => h("th", { class: c.className, scope: "col" }, c.title))));
  const body = h("tbody");
  for (const row of rows) {
    const spec = Array.isArray(row) ? { cells: row } : row;
    body.append(h("tr", { class: spec.className }, spec.cells.map((cell, i) => h("td", { class: columns[i] && columns[i].className }, cell))));
    if (spec.after) body.append(h("tr", { class: "row-detail" }, h("td", { colspan: String(columns.length) }, spec.after)));
  }
  return h("div", { class: ["table-wrap", className] }, h("table", { class: "table", "aria-label": label }, head, body));
}

// --- YAML --------------------------------------------------------------------------------------

const KEY_LINE = /^(\s*(?:- )*)([A-Za-z0-9_.\/-]+|"[^"]*")(:)(\s.*)?$/;

export function yamlView(text, { maxHeight = true } = {}) {
  const pre = h("pre", { class: ["code", maxHeight && "code-scroll"] });
  const code = h("code");
  const lines = (text || "").replace(/\n$/, "").split("\n");
  lines.forEach((line, i) => {
    const match = KEY_LINE.exec(line);
    if (match) {
      code.append(match[1], h("span", { class: "y-key", text: match[2] }), match[3]);
      if (match[4]) code.append(valueSpan(match[4]));
    } else if (/^\s*#/.test(line)) {
      code.append(h("span", { class: "y-comment", text: line }));
    } else {
      const item = /^(\s*- )(.*)$/.exec(line);
      if (item) code.append(item[1], valueSpan(item[2]));
      else code.append(line);
    }
    if (i < lines.length - 1) code.append("\n");
  });
  pre.append(code);
  return pre;
}

function valueSpan(value) {
  const trimmed = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(trimmed) || /^(true|false|null)$/.test(trimmed)) return h("span", { class: "y-num", text: value });
  if (trimmed === "{}" || trimmed === "[]" || trimmed === "|" || trimmed === ">") return h("span", { class: "y-punct", text: value });
  return h("span", { class: "y-str", text: value });
}

// A line diff (longest common subsequence), for "current vs proposed" previews.
export function diffLines(before, after) {
  const a = (before || "").replace(/\n$/, "").split("\n");
  const b = (after || "").replace(/\n$/, "").split("\n");
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i -= 1) for (let j = m - 1; j >= 0; j -= 1) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push([" ", a[i]]);
      i += 1;
      j += 1;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push(["-", a[i]]);
      i += 1;
    } else {
      out.push(["+", b[j]]);
      j += 1;
    }
  }
  while (i < n) out.push(["-", a[i++]]);
  while (j < m) out.push(["+", b[j++]]);
  return out;
}

export function diffView(before, after) {
  const pre = h("pre", { class: "code code-scroll diff", "aria-label": "Changes" });
  for (const [mark, line] of diffLines(before, after)) {
    const cls = mark === "+" ? "d-add" : mark === "-" ? "d-del" : "d-same";
    pre.append(h("span", { class: ["d-line", cls] }, h("span", { class: "d-mark", text: mark, "aria-hidden": "true" }), line || " "));
  }
  return pre;
}

// --- toasts --------------------------------------------------------------------------------------

export function toast(message, { tone = "ok", title, timeout } = {}) {
  const host = document.getElementById("toasts");
  const close = () => {
    node.classList.add("toast-leaving");
    setTimeout(() => node.remove(), 180);
  };
  const node = h(
    "div",
    { class: ["toast", `toast-${tone}`], role: tone === "danger" ? "alert" : "status" },
    icon(tone === "danger" || tone === "warn" ? "warning" : tone === "ok" ? "check" : "info", "toast-icon"),
    h("div", { class: "toast-text" }, title ? h("strong", { text: title }) : null, h("span", { text: message })),
    h("button", { type: "button", class: "toast-x", "aria-label": "Dismiss", onclick: close }, icon("x")),
  );
  host.append(node);
  setTimeout(close, timeout || (tone === "danger" ? 12000 : 6000));
  return node;
}

// --- dialogs -------------------------------------------------------------------------------------

function showErrorIn(errorBox, message) {
  clear(errorBox);
  append(errorBox, [icon("warning"), h("span", { text: message })]);
  errorBox.hidden = false;
}

// While onConfirm runs the button is busy; what it throws is shown in errorBox.
function onConfirmClick(realConfirm, { onConfirm, errorBox, close }) {
  realConfirm.addEventListener("click", async () => {
    realConfirm.disabled = true;
    realConfirm.classList.add("is-busy");
    errorBox.hidden = true;
    try {
      const keepOpen = await onConfirm();
      if (keepOpen !== true) close();
    } catch (error) {
      showErrorIn(errorBox, error.message || String(error));
      realConfirm.disabled = false;
    } finally {
      realConfirm.classList.remove("is-busy");
    }
  });
}

// A modal dialog. `onConfirm` may be async; while it runs the buttons are busy, and an
// error it throws is shown inside the dialog in words (the dialog stays open).
export function modal({ title, subtitle, body, confirmLabel = "Confirm", confirmVariant = "primary", onConfirm, cancelLabel = "Cancel", wide = false, confirmDisabled = false }) {
  const errorBox = h("div", { class: "dialog-error", hidden: true, role: "alert" });
  const confirmBtn = onConfirm ? button(confirmLabel, { variant: confirmVariant, disabled: confirmDisabled }) : null;
  const cancelBtn = button(onConfirm ? cancelLabel : "Close", { variant: "secondary" });
  const dialog = h(
    "dialog",
    { class: ["dialog", wide && "dialog-wide"], "aria-label": typeof title === "string" ? title : undefined },
    h(
      "header",
      { class: "dialog-header" },
      h("div", null, h("h2", { class: "dialog-title" }, title), subtitle ? h("p", { class: "dialog-subtitle" }, subtitle) : null),
      h("button", { type: "button", class: "dialog-x", "aria-label": "Close dialog", onclick: () => close() }, icon("x")),
    ),
    h("div", { class: "dialog-body" }, body),
    h("footer", { class: "dialog-footer" }, errorBox, h("div", { class: "dialog-buttons" }, cancelBtn, confirmBtn)),
  );
  const close = () => {
    if (dialog.open) dialog.close();
    dialog.remove();
  };
  cancelBtn.addEventListener("click", close);
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close();
  });
  // A disabled button with a title comes wrapped (see button()).
  const realConfirm = confirmBtn && (confirmBtn.tagName === "BUTTON" ? confirmBtn : confirmBtn.querySelector("button"));
  if (realConfirm) onConfirmClick(realConfirm, { onConfirm, errorBox, close });
  document.body.append(dialog);
  dialog.showModal();
  return {
    dialog,
    close,
    setConfirmEnabled(enabled) {
      if (realConfirm) realConfirm.disabled = !enabled;
    },
    setConfirmLabel(label) {
      if (realConfirm) realConfirm.querySelector("span").textContent = label;
    },
    showError: (message) => showErrorIn(errorBox, message),
  };
}

// A collapsible row: a button that shows or hides a detail block, remembering its state in
// `openSet` under `key` so that a refresh of the page keeps it open.
export function disclosure(label, key, openSet, onToggle) {
  const open = openSet.has(key);
  return h(
    "button",
    {
      type: "button",
      class: ["disclosure", open && "is-open"],
      "aria-expanded": open ? "true" : "false",
      onclick: () => {
        if (openSet.has(key)) openSet.delete(key);
        else openSet.add(key);
        onToggle();
      },
    },
    icon(open ? "chevronDown" : "chevronRight"),
    h("span", { text: label }),
  );
}
