// From a field path of a validation error ("ingress[0].from[0].podSelecter") to the line of
// the template's YAML text it points at, so the editor can mark that line.

export function withLine(error, text) {
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

// "a.b[0][1]" -> [{key: "a"}, {key: "b"}, {index: 0}, {index: 1}], or null if it is no path.
function pathTokens(path) {
  const tokens = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]*)((\[\d+\])*)$/.exec(part);
    if (!m) return null;
    if (m[1]) tokens.push({ key: m[1] });
    for (const idx of m[2].match(/\d+/g) || []) tokens.push({ index: parseInt(idx, 10) });
  }
  return tokens;
}

// The steps below narrow `at` ({start, end, parentCol}: the lines of the current value and
// the column its parent sits at) to the value of one key or item, and return the line where
// that key or item starts, or -1 if it is not there.

function stepKey(info, at, key) {
  let childCol = Infinity;
  for (let i = at.start; i < at.end; i += 1) if (info[i] && info[i].key !== null && info[i].keyCol > at.parentCol) childCol = Math.min(childCol, info[i].keyCol);
  let hit = -1;
  for (let i = at.start; i < at.end; i += 1) {
    if (info[i] && info[i].key === key && info[i].keyCol === childCol) {
      hit = i;
      break;
    }
  }
  if (hit < 0) return -1;
  let stop = hit + 1;
  while (stop < at.end && !(info[stop] && ((info[stop].markers.length === 0 && info[stop].keyCol <= childCol) || (info[stop].markers.length && info[stop].first < childCol)))) stop += 1;
  at.start = hit + 1;
  at.end = stop;
  // A key whose value is a sequence may put its "- " items at its own column.
  at.parentCol = childCol - 1;
  return hit;
}

// The line of the index-th "- " item right under the parent, and the column of its marker.
function nthItem(info, at, index) {
  let seen = -1;
  let markerCol = null;
  for (let i = at.start; i < at.end; i += 1) {
    const row = info[i];
    if (!row || !row.markers.length) continue;
    const col = row.markers[0];
    if (col <= at.parentCol) continue;
    if (markerCol === null) markerCol = col;
    if (col !== markerCol) continue;
    seen += 1;
    if (seen === index) return { hit: i, markerCol };
  }
  return { hit: -1, markerCol };
}

function stepIndex(info, at, index) {
  const { hit, markerCol } = nthItem(info, at, index);
  if (hit < 0) return -1;
  let stop = hit + 1;
  while (stop < at.end && !(info[stop] && info[stop].first <= markerCol)) stop += 1;
  at.start = hit;
  at.end = stop;
  at.parentCol = markerCol;
  // The item's own line holds its first key, after the marker.
  info[hit] = { ...info[hit], markers: info[hit].markers.slice(1), first: info[hit].keyCol };
  return hit;
}

export function lineOfPath(text, path) {
  const tokens = pathTokens(path);
  if (!tokens) return null;
  const info = scan(text);
  const at = { start: 0, end: info.length, parentCol: -1 };
  let found = null;
  for (const token of tokens) {
    const hit = token.key !== undefined ? stepKey(info, at, token.key) : stepIndex(info, at, token.index);
    if (hit < 0) return found;
    found = hit;
  }
  return found;
}
