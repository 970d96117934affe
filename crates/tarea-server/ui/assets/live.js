// Keeping a page up to date. `poll` reads again every few seconds; `createLive` follows the
// tenant's job changes through ONE EventSource on /v1/events for the whole page, and reads
// again only when the server says something changed (at most once a second, gathered).
//
// The decision a reader would question: the stream carries what changed, not the data, so a
// page always reads what it shows through the same API call as its first load; a missed or
// garbled message costs at most one stale second, never a wrong page. While the stream is down
// the page falls back to polling, and a slow safety poll runs even while it is up.
import { api } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

/** Hidden this long, a page lets its stream go (browsers allow 6 connections per server). */
const HIDDEN_CLOSE_MS = 30000;
const RETRY_MAX_MS = 30000;

const visible = () => document.visibilityState === "visible";

/** Runs `fn` every `ms` while the tab is visible (not while hidden), never twice at once. */
export function poll(fn, ms) {
  let timer = null, running = false, stopped = false;
  const tick = async () => {
    clearTimeout(timer);
    timer = null;
    if (stopped) return;
    if (visible() && !running) {
      running = true;
      try { await fn(); } catch (e) { console.error(e); } finally { running = false; }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  const onVisible = () => {
    if (visible() && !running && !stopped) tick();
  };
  document.addEventListener("visibilitychange", onVisible);
  timer = setTimeout(tick, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}

/**
 * `fn` run soon after a kick: kicks within `debounceMs` run it once, a kick while it runs runs
 * it once more after, and a kick while the tab is hidden waits until it is shown again.
 */
function runner(fn, debounceMs) {
  let timer = null, running = false, again = false, dirty = false, stopped = false;
  const go = async () => {
    clearTimeout(timer);
    timer = null;
    if (stopped) return;
    if (!visible()) { dirty = true; return; }
    if (running) { again = true; return; }
    running = true;
    dirty = false;
    try { await fn(); } catch (e) { console.error(e); } finally { running = false; }
    if (again && !stopped) { again = false; kick(); }
  };
  const kick = () => { if (!timer && !stopped) timer = setTimeout(go, debounceMs); };
  const onVisible = () => { if (visible() && dirty) kick(); };
  document.addEventListener("visibilitychange", onVisible);
  return {
    kick, now: go,
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}

/**
 * The page's live stream. `subscribe(fn, opts)` runs `fn({reason})` after each `jobs`
 * message and each `lagged` one (gathered: several close together run it once), on
 * (re)connecting, every `fallbackMs` while the stream is down, and every
 * `safetyMs` anyway. `opts.filter(changes)` may skip a message that cannot concern the page.
 * `setScope({tenant, allTenants})` follows another tenant; `hint()` is a "Live" label that
 * says how the page is kept up to date.
 */
export function createLive() {
  let scope = {};
  let url = null;
  let es = null;
  let status = "connecting"; // "live" | "down" | "connecting"
  let retryTimer = null, hideTimer = null, retryDelay = 1000, stopped = false;
  const subs = new Set();
  const hints = new Set();

  const setStatus = (next) => {
    status = next;
    for (const el of hints) paintHint(el, status);
    for (const sub of subs) sub.status(status);
  };
  const notify = (reason, changes) => {
    for (const sub of subs) sub.notify(reason, changes);
  };
  const close = () => {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (es) es.close();
    es = null;
  };
  const open = () => {
    close();
    if (stopped || !subs.size) return;
    url = api.liveUrl(scope);
    const source = new EventSource(url);
    es = source;
    source.addEventListener("open", () => {
      retryDelay = 1000;
      setStatus("live");
      // What changed while connecting (or while the stream was down) was not told: read again.
      notify("open", null);
    });
    source.addEventListener("jobs", (e) => {
      let changes = null;
      try { changes = JSON.parse(e.data); } catch { /* read everything */ }
      notify("jobs", changes);
    });
    source.addEventListener("lagged", () => notify("lagged", null));
    source.addEventListener("error", () => {
      if (es !== source) return;
      setStatus("down");
      // CONNECTING: the browser tries again by itself. CLOSED: an HTTP error (a server without
      // the stream, a session that ended): try again later, polling meanwhile.
      if (source.readyState === EventSource.CLOSED) {
        close();
        retryTimer = setTimeout(open, retryDelay);
        retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
      }
    });
  };
  const onVisibility = () => {
    clearTimeout(hideTimer);
    if (!visible()) {
      hideTimer = setTimeout(() => { close(); setStatus("connecting"); }, HIDDEN_CLOSE_MS);
    } else if (!es && !retryTimer && subs.size) {
      open();
    }
  };
  document.addEventListener("visibilitychange", onVisibility);

  return {
    subscribe(fn, { fallbackMs = 4000, safetyMs = 30000, debounceMs = 100, filter } = {}) {
      let reason = "poll";
      const run = runner(() => fn({ reason }), debounceMs);
      let stopFallback = null;
      const sub = {
        notify(why, changes) {
          if (filter && changes && why === "jobs" && !filter(changes)) return;
          reason = why;
          run.kick();
        },
        status(s) {
          if (s === "live") {
            if (stopFallback) stopFallback();
            stopFallback = null;
          } else if (!stopFallback) {
            stopFallback = poll(() => { reason = "poll"; return run.now(); }, fallbackMs);
          }
        },
      };
      const stopSafety = poll(() => { reason = "poll"; return run.now(); }, safetyMs);
      subs.add(sub);
      sub.status(status);
      if (!es && !retryTimer) open();
      return () => {
        subs.delete(sub);
        run.stop();
        stopSafety();
        if (stopFallback) stopFallback();
        if (!subs.size) close();
      };
    },
    setScope(next) {
      scope = { ...next };
      if (subs.size && api.liveUrl(scope) !== url) {
        setStatus("connecting");
        open();
      }
    },
    hint() {
      const el = h("span", { class: "live-hint", dataset: { testid: "live-hint" }, "aria-live": "polite" });
      hints.add(el);
      paintHint(el, status);
      return el;
    },
    isLive: () => status === "live",
    stop() {
      stopped = true;
      close();
      clearTimeout(hideTimer);
      document.removeEventListener("visibilitychange", onVisibility);
      hints.clear();
    },
  };
}

/** "Live" while the stream is up (a grey dot while it connects), else what the page does instead. */
function paintHint(el, status) {
  const down = status === "down";
  el.dataset.live = status;
  el.title = t(down ? "live.pollHelp" : "live.onHelp");
  el.replaceChildren(h("span", { class: "live-dot", "aria-hidden": "true" }), t(down ? "jobs.live" : "live.on"));
}
