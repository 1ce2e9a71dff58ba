// The live stream: one EventSource per tab on /api/v1/stream (server-sent events). The
// server pushes which kinds changed in which namespaces, filtered by the caller's own
// permissions; the shown view reloads when a change concerns it. While the stream is down
// the console falls back to polling, and reconnects with exponential backoff and jitter.

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;

const live = {
  url: null, // the stream of the cluster shown: another cluster, another stream
  source: null,
  connected: false,
  failures: 0,
  timer: null,
  unsupported: false, // the server has no stream (it reads the cluster live): poll only
  onChange: () => {},
  onStatus: () => {},
  onSignedOut: () => {},
};

function status(text) {
  live.onStatus(live.connected, text);
}

function scheduleReconnect() {
  clearTimeout(live.timer);
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** live.failures);
  const delay = ceiling / 2 + Math.random() * (ceiling / 2);
  live.failures += 1;
  status(`Reconnecting in ${Math.round(delay / 1000)} s`);
  live.timer = setTimeout(open, delay);
}

function close() {
  if (live.source) {
    live.source.close();
    live.source = null;
  }
  live.connected = false;
}

async function open() {
  close();
  const source = new EventSource(live.url, { withCredentials: true });
  live.source = source;
  source.addEventListener("ready", () => {
    live.connected = true;
    live.failures = 0;
    status("Live");
    // Whatever changed while the stream was down is caught up by one reload.
    live.onChange({ kinds: ["resync"], namespaces: [], resync: true });
  });
  source.addEventListener("change", (event) => {
    let change;
    try {
      change = JSON.parse(event.data);
    } catch {
      return;
    }
    live.onChange(change);
  });
  source.addEventListener("signed-out", () => {
    close();
    live.onSignedOut();
  });
  source.onerror = async () => {
    if (source !== live.source) return;
    close();
    // EventSource hides the status: ask once whether the server has a stream at all.
    if (live.failures === 0) {
      try {
        const abort = new AbortController();
        const probe = await fetch(live.url, { credentials: "same-origin", cache: "no-store", signal: abort.signal });
        abort.abort();
        if (probe.status === 404) {
          live.unsupported = true;
          status("Polling");
          return;
        }
        if (probe.status === 401) {
          live.onSignedOut();
          return;
        }
      } catch {
        // unreachable: back off like any other failure
      }
    }
    scheduleReconnect();
  };
}

export function startLive({ url, onChange, onStatus, onSignedOut }) {
  if (url !== live.url) {
    // Another cluster: its own stream, from a fresh start.
    clearTimeout(live.timer);
    close();
    live.url = url;
    live.failures = 0;
    live.unsupported = false;
  }
  live.onChange = onChange;
  live.onStatus = onStatus;
  live.onSignedOut = onSignedOut;
  if (typeof EventSource === "undefined") {
    live.unsupported = true;
    status("Polling");
    return;
  }
  if (!live.source && !live.unsupported) open();
}

export function stopLive() {
  clearTimeout(live.timer);
  close();
  status("Offline");
}

export const isLive = () => live.connected;
