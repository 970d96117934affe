// tarea.js — follow a tarea job from the browser, without the API key.
//
// The app's server asks tarea for a browser link (POST /v1/jobs/{id}/link, or
// client.browser_link(job_id) in Python) and hands it to the page. This module follows the
// job through the link: live with Server-Sent Events, falling back to polling when the
// stream cannot be opened or breaks (a proxy that buffers, an old browser). No dependencies.
//
//   import { watchJob, showProgressModal } from "/static/tarea.js";
//   watchJob(link, { onProgress: (job) => …, onDone: (job) => …, onError: (job) => … });
//   showProgressModal(link, { title: "Generando el presupuesto" });   // the drop-in modal

const FINISHED = new Set(["succeeded", "dead", "cancelled"]);

function eventsUrlOf(link) {
  const u = new URL(link, window.location.href);
  u.pathname = u.pathname.replace(/\/?$/, "/events");
  return u.toString();
}

function absolute(link, path) {
  return new URL(path, new URL(link, window.location.href)).toString();
}

/**
 * Follows a job until it ends.
 * @param {string|{url: string, events_url?: string}} link - the browser link from tarea.
 * @param {object} handlers - onProgress(job) on every change before the end, onDone(job)
 *   when it succeeded, onError(job | Error) when it died, was cancelled or cannot be followed.
 * @param {object} options - pollMs (default 1000), sse (default true: try EventSource first).
 * @returns {{stop: () => void}} stop following (nothing more is called).
 */
export function watchJob(link, { onProgress = () => {}, onDone = () => {}, onError = () => {} } = {}, { pollMs = 1000, sse = true } = {}) {
  const url = typeof link === "string" ? link : link.url;
  const eventsUrl = (typeof link === "object" && link.events_url) || eventsUrlOf(url);
  let stopped = false;
  let source = null;
  let timer = null;
  let failures = 0;

  const finish = (job) => {
    stop();
    if (job.state === "succeeded") onDone(job);
    else onError(job);
  };
  const seen = (job) => {
    if (stopped) return;
    if (FINISHED.has(job.state)) finish(job);
    else onProgress(job);
  };
  const poll = async () => {
    if (stopped) return;
    try {
      const res = await fetch(url, { cache: "no-store" });
      const body = await res.json();
      if (!res.ok) {
        stop();
        onError(new Error((body.error && body.error.message) || `HTTP ${res.status}`));
        return;
      }
      failures = 0;
      seen(body);
    } catch (e) {
      // The server restarting or the network dropping for a moment: keep trying, slower.
      if (++failures > 30) {
        stop();
        onError(e);
        return;
      }
    }
    if (!stopped) timer = setTimeout(poll, pollMs * Math.min(1 + failures, 5));
  };
  const fallBack = () => {
    if (source) source.close();
    source = null;
    if (!stopped && timer === null) poll();
  };
  function stop() {
    stopped = true;
    if (source) source.close();
    if (timer !== null) clearTimeout(timer);
  }

  if (sse && typeof EventSource !== "undefined") {
    source = new EventSource(eventsUrl);
    const onEvent = (e) => {
      try {
        seen(JSON.parse(e.data));
      } catch (_) {
        fallBack();
      }
    };
    source.addEventListener("state", onEvent);
    source.addEventListener("progress", onEvent);
    // The stream closes after the last state; an error before that means it cannot be used.
    source.onerror = () => {
      if (!stopped) fallBack();
    };
  } else {
    poll();
  }
  return { stop };
}

const STYLE = `
.tarea-modal{position:fixed;inset:0;background:rgba(20,24,31,.45);display:flex;align-items:center;justify-content:center;z-index:9999;font:15px/1.4 system-ui,sans-serif}
.tarea-modal__box{background:#fff;border-radius:10px;padding:24px 28px;min-width:320px;max-width:480px;box-shadow:0 10px 40px rgba(0,0,0,.25)}
.tarea-modal__title{margin:0 0 14px;font-size:17px;font-weight:600}
.tarea-modal__bar{height:8px;background:#e7eaf0;border-radius:4px;overflow:hidden}
.tarea-modal__fill{height:100%;width:0;background:#2f6fdf;transition:width .3s}
.tarea-modal__step{margin-top:10px;color:#4b5563;min-height:1.4em}
.tarea-modal__files{margin:12px 0 0;padding:0;list-style:none}
.tarea-modal__files a{color:#2f6fdf}
.tarea-modal__error{color:#b42318;margin-top:10px}
.tarea-modal__close{margin-top:16px;padding:6px 14px;border:1px solid #cfd4dc;background:#fff;border-radius:6px;cursor:pointer}`;

/**
 * A progress modal, like the one apps write by hand: a title, a bar, the current step; then
 * the files to download, or the error. The same calls as the users' JobPoller modal.
 * @returns {{setProgress(p: number), setMessage(s: string), showResult(job), showError(job|Error), close(), element}}
 */
export function createProgressModal({ title = "Procesando…", link = null, labels = {} } = {}) {
  const text = { done: "Listo", failed: "No se pudo completar", close: "Cerrar", files: "Descargar", ...labels };
  if (!document.getElementById("tarea-modal-style")) {
    const style = document.createElement("style");
    style.id = "tarea-modal-style";
    style.textContent = STYLE;
    document.head.appendChild(style);
  }
  const root = document.createElement("div");
  root.className = "tarea-modal";
  root.setAttribute("role", "dialog");
  root.setAttribute("aria-modal", "true");
  const box = document.createElement("div");
  box.className = "tarea-modal__box";
  const h = document.createElement("p");
  h.className = "tarea-modal__title";
  h.textContent = title;
  const bar = document.createElement("div");
  bar.className = "tarea-modal__bar";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  const fill = document.createElement("div");
  fill.className = "tarea-modal__fill";
  bar.appendChild(fill);
  const step = document.createElement("div");
  step.className = "tarea-modal__step";
  box.append(h, bar, step);
  root.appendChild(box);
  document.body.appendChild(root);

  const closeButton = () => {
    const b = document.createElement("button");
    b.className = "tarea-modal__close";
    b.textContent = text.close;
    b.onclick = () => modal.close();
    box.appendChild(b);
  };
  const modal = {
    element: root,
    setProgress(p) {
      const v = Math.max(0, Math.min(100, Number(p) || 0));
      fill.style.width = `${v}%`;
      bar.setAttribute("aria-valuenow", String(Math.round(v)));
    },
    setMessage(s) {
      step.textContent = s || "";
    },
    showResult(job) {
      modal.setProgress(100);
      h.textContent = text.done;
      step.textContent = "";
      const list = document.createElement("ul");
      list.className = "tarea-modal__files";
      for (const a of job.artifacts || []) {
        const li = document.createElement("li");
        const anchor = document.createElement("a");
        anchor.href = link ? absolute(link, a.content_url) : a.content_url;
        anchor.textContent = `${text.files} ${a.filename}`;
        anchor.setAttribute("download", a.filename);
        li.appendChild(anchor);
        list.appendChild(li);
      }
      box.appendChild(list);
      closeButton();
    },
    showError(job) {
      h.textContent = text.failed;
      const err = document.createElement("div");
      err.className = "tarea-modal__error";
      err.textContent = job instanceof Error ? job.message : (job.error && job.error.message) || job.state;
      box.appendChild(err);
      closeButton();
    },
    close() {
      root.remove();
    },
  };
  return modal;
}

/** Shows a progress modal that follows the job of `link` to its end. */
export function showProgressModal(link, { title, labels, onDone = () => {}, onError = () => {} } = {}) {
  const url = typeof link === "string" ? link : link.url;
  const modal = createProgressModal({ title, labels, link: url });
  const watch = watchJob(link, {
    onProgress(job) {
      if (job.progress) {
        modal.setProgress(job.progress.percent);
        modal.setMessage(job.progress.step);
      } else {
        modal.setMessage(job.state === "queued" ? "En cola…" : "");
      }
    },
    onDone(job) {
      modal.showResult(job);
      onDone(job);
    },
    onError(job) {
      modal.showError(job);
      onError(job);
    },
  });
  return { modal, stop: watch.stop };
}
