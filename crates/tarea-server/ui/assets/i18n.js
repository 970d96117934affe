// Every word the dashboard shows, in English and Spanish, and the formatting of dates, sizes and
// numbers. The language comes from the person's choice (localStorage), else the browser's
// languages: any `es*` gives Spanish. Dates use the browser's own locale when it speaks the same
// language (es-AR writes 28/11/2026, es-ES 28 nov 2026), and always its time zone.

const en = {
  "app.name": "tarea",
  "app.skip": "Skip to content",
  "nav.jobs": "Jobs",
  "nav.queues": "Queues",
  "nav.menu": "Menu",
  "nav.main": "Main",
  "role.admin": "admin",
  "role.readonly": "read-only",
  "role.tenant": "Tenant",
  "lang.label": "Language",
  "signout": "Sign out",
  "signin.title": "Sign in to tarea",
  "signin.lead": "Paste an API key to see and manage your jobs.",
  "signin.key": "API key",
  "signin.submit": "Sign in",
  "signin.busy": "Signing in…",
  "signin.where": "Where do keys come from?",
  "signin.help1": "On first start, tarea serve prints an admin key once. Make more on the server with:",
  "signin.help2": "Add --read-only for a key that can look but not change anything (a status screen, support, an audit).",
  "signin.safe": "The key is exchanged for a session cookie and is not kept in the browser. Sessions last 12 hours.",
  "signin.expired": "Your session has ended. Sign in again.",
  "signin.signedout": "You have signed out.",
  "signin.empty": "Paste a key first.",
  "state.scheduled": "scheduled",
  "state.queued": "queued",
  "state.running": "running",
  "state.succeeded": "succeeded",
  "state.failed": "failed",
  "state.dead": "dead",
  "state.cancelled": "cancelled",
  "statehelp.scheduled": "Waits for its start time",
  "statehelp.queued": "Waits for a worker",
  "statehelp.running": "A worker is running it",
  "statehelp.succeeded": "Finished well",
  "statehelp.failed": "Failed; it will be tried again after a pause",
  "statehelp.dead": "Failed for good: no attempts left, or the error was final",
  "statehelp.cancelled": "Cancelled; it will not run",
  "jobs.title": "Jobs",
  "jobs.filters": "Filters",
  "jobs.state": "State",
  "jobs.queue": "Queue",
  "jobs.kind": "Kind",
  "jobs.tag": "Tag",
  "jobs.batch": "Batch",
  "jobs.tenant": "Tenant",
  "jobs.any": "Any",
  "jobs.anyState": "Any state",
  "jobs.anyQueue": "Any queue",
  "jobs.kindPh": "e.g. pdf.render",
  "jobs.tagPh": "e.g. protocolo-1234",
  "jobs.apply": "Apply",
  "jobs.clear": "Clear filters",
  "jobs.next": "Next page",
  "jobs.first": "First page",
  "jobs.id": "ID",
  "jobs.progress": "Progress",
  "jobs.attempts": "Attempts",
  "jobs.created": "Created",
  "jobs.finished": "Finished",
  "jobs.empty": "No jobs yet.",
  "jobs.emptyHelp": "Jobs appear here as soon as your app enqueues them with POST /v1/jobs.",
  "jobs.emptyFiltered": "No jobs match these filters.",
  "jobs.emptyFilteredHelp": "Try another state or queue, or clear the filters.",
  "jobs.count": "{n} shown",
  "jobs.live": "Updates every few seconds",
  "job.title": "Job",
  "job.back": "Jobs",
  "job.copy": "Copy ID",
  "job.copied": "Copied",
  "job.retry": "Retry",
  "job.cancel": "Cancel job",
  "job.progress": "Progress",
  "job.noProgress": "No progress reported yet.",
  "job.step": "Step",
  "job.details": "Details",
  "job.queue": "Queue",
  "job.priority": "Priority",
  "job.attempts": "Attempts",
  "job.attemptsValue": "{a} of {m}",
  "job.attemptsLeft": "{n} left",
  "job.tags": "Tags",
  "job.noTags": "No tags",
  "job.tenant": "Tenant",
  "job.batch": "Batch",
  "job.parent": "Made by",
  "job.next": "Then",
  "job.idempotency": "Idempotency key",
  "job.cacheKey": "Cache key",
  "job.timeout": "Time limit",
  "job.times": "Timeline",
  "job.created": "Created",
  "job.runAt": "Due",
  "job.started": "Started",
  "job.finished": "Finished",
  "job.lease": "Lease ends",
  "job.error": "Error",
  "job.errorCode": "Code",
  "job.errorDetails": "Details",
  "job.result": "Result",
  "job.payload": "Payload",
  "job.artifacts": "Files",
  "job.noArtifacts": "This job has made no files.",
  "job.notFound": "There is no job with this ID in this tenant.",
  "job.live": "Live",
  "job.reconnecting": "Reconnecting…",
  "job.final": "Final state",
  "job.retryTitle": "Retry this job?",
  "job.retryBody": "It goes back to the queue “{queue}” now, with a fresh budget of {max} attempts. Its error and result are cleared.",
  "job.cancelTitle": "Cancel this job?",
  "job.cancelBody": "It will not run again. If a worker is running it, the worker is told to stop.",
  "job.retried": "The job is queued again.",
  "job.cancelled": "The job was cancelled.",
  "art.file": "File",
  "art.size": "Size",
  "art.type": "Type",
  "art.downloads": "Downloads",
  "art.expires": "Expires",
  "art.download": "Download",
  "art.never": "Never",
  "queues.title": "Queues",
  "queues.name": "Queue",
  "queues.status": "Status",
  "queues.paused": "paused",
  "queues.active": "active",
  "queues.concurrency": "Concurrency",
  "queues.unlimited": "No limit",
  "queues.pause": "Pause",
  "queues.resume": "Resume",
  "queues.empty": "No queues yet.",
  "queues.emptyHelp": "A queue appears when a job names it (jobs without one go to “default”).",
  "queues.pauseTitle": "Pause the queue “{name}”?",
  "queues.pauseBody": "Workers stop taking its jobs. New jobs are still accepted, and jobs already running go on.",
  "queues.resumeTitle": "Resume the queue “{name}”?",
  "queues.resumeBody": "Workers start taking its jobs again right away.",
  "queues.paused.toast": "The queue “{name}” is paused.",
  "queues.resumed.toast": "The queue “{name}” is running again.",
  "queues.showJobs": "Show {state} jobs of {name}",
  "modal.back": "Go back",
  "modal.close": "Close",
  "readonly.tip": "This key can only read",
  "readonly.note": "This key can only read: it can look at jobs and queues, but not retry, cancel or pause. Sign in with another key to act.",
  "err.network": "tarea did not answer. Check that the server is running; the page will try again.",
  "err.generic": "Something went wrong ({status}).",
  "err.title": "Could not load this page",
  "err.retry": "Try again",
  "notfound.title": "Page not found",
  "notfound.body": "There is nothing at this address.",
  "loading": "Loading…",
  "none": "—",
};

const es = {
  "app.name": "tarea",
  "app.skip": "Ir al contenido",
  "nav.jobs": "Trabajos",
  "nav.queues": "Colas",
  "nav.menu": "Menú",
  "nav.main": "Principal",
  "role.admin": "admin",
  "role.readonly": "solo lectura",
  "role.tenant": "Cuenta",
  "lang.label": "Idioma",
  "signout": "Cerrar sesión",
  "signin.title": "Iniciar sesión en tarea",
  "signin.lead": "Pegue una clave de API para ver y administrar sus trabajos.",
  "signin.key": "Clave de API",
  "signin.submit": "Iniciar sesión",
  "signin.busy": "Iniciando sesión…",
  "signin.where": "¿De dónde salen las claves?",
  "signin.help1": "Al arrancar por primera vez, tarea serve muestra una clave de administración una sola vez. Para crear más, en el servidor:",
  "signin.help2": "Con --read-only la clave puede mirar pero no cambiar nada (una pantalla de estado, soporte, una auditoría).",
  "signin.safe": "La clave se cambia por una cookie de sesión y no queda guardada en el navegador. La sesión dura 12 horas.",
  "signin.expired": "La sesión terminó. Vuelva a iniciarla con una clave.",
  "signin.signedout": "Se cerró la sesión.",
  "signin.empty": "Primero pegue una clave.",
  "state.scheduled": "programado",
  "state.queued": "en cola",
  "state.running": "en curso",
  "state.succeeded": "completado",
  "state.failed": "reintentará",
  "state.dead": "fallido",
  "state.cancelled": "cancelado",
  "statehelp.scheduled": "Espera su hora de inicio",
  "statehelp.queued": "Espera a un worker",
  "statehelp.running": "Un worker lo está ejecutando",
  "statehelp.succeeded": "Terminó bien",
  "statehelp.failed": "Falló; se volverá a intentar después de una pausa",
  "statehelp.dead": "Falló definitivamente: no le quedan intentos, o el error era final",
  "statehelp.cancelled": "Cancelado; no se ejecutará",
  "jobs.title": "Trabajos",
  "jobs.filters": "Filtros",
  "jobs.state": "Estado",
  "jobs.queue": "Cola",
  "jobs.kind": "Tipo",
  "jobs.tag": "Etiqueta",
  "jobs.batch": "Lote",
  "jobs.tenant": "Cuenta",
  "jobs.any": "Todos",
  "jobs.anyState": "Cualquier estado",
  "jobs.anyQueue": "Cualquier cola",
  "jobs.kindPh": "p. ej. pdf.render",
  "jobs.tagPh": "p. ej. protocolo-1234",
  "jobs.apply": "Aplicar",
  "jobs.clear": "Quitar filtros",
  "jobs.next": "Página siguiente",
  "jobs.first": "Primera página",
  "jobs.id": "ID",
  "jobs.progress": "Avance",
  "jobs.attempts": "Intentos",
  "jobs.created": "Creado",
  "jobs.finished": "Terminado",
  "jobs.empty": "Todavía no hay trabajos.",
  "jobs.emptyHelp": "Los trabajos aparecen aquí en cuanto su aplicación los encola con POST /v1/jobs.",
  "jobs.emptyFiltered": "Ningún trabajo coincide con estos filtros.",
  "jobs.emptyFilteredHelp": "Pruebe con otro estado o cola, o quite los filtros.",
  "jobs.count": "{n} en pantalla",
  "jobs.live": "Se actualiza cada pocos segundos",
  "job.title": "Trabajo",
  "job.back": "Trabajos",
  "job.copy": "Copiar ID",
  "job.copied": "Copiado",
  "job.retry": "Reintentar",
  "job.cancel": "Cancelar trabajo",
  "job.progress": "Avance",
  "job.noProgress": "Todavía no informó avance.",
  "job.step": "Paso",
  "job.details": "Detalles",
  "job.queue": "Cola",
  "job.priority": "Prioridad",
  "job.attempts": "Intentos",
  "job.attemptsValue": "{a} de {m}",
  "job.attemptsLeft": "quedan {n}",
  "job.tags": "Etiquetas",
  "job.noTags": "Sin etiquetas",
  "job.tenant": "Cuenta",
  "job.batch": "Lote",
  "job.parent": "Creado por",
  "job.next": "Después",
  "job.idempotency": "Clave de idempotencia",
  "job.cacheKey": "Clave de caché",
  "job.timeout": "Tiempo límite",
  "job.times": "Cronología",
  "job.created": "Creado",
  "job.runAt": "Previsto",
  "job.started": "Iniciado",
  "job.finished": "Terminado",
  "job.lease": "Fin de la reserva",
  "job.error": "Error",
  "job.errorCode": "Código",
  "job.errorDetails": "Detalles",
  "job.result": "Resultado",
  "job.payload": "Datos de entrada",
  "job.artifacts": "Archivos",
  "job.noArtifacts": "Este trabajo no generó archivos.",
  "job.notFound": "No hay ningún trabajo con este ID en esta cuenta.",
  "job.live": "En vivo",
  "job.reconnecting": "Reconectando…",
  "job.final": "Estado final",
  "job.retryTitle": "¿Reintentar este trabajo?",
  "job.retryBody": "Vuelve ahora a la cola “{queue}”, con {max} intentos nuevos. Se borran su error y su resultado.",
  "job.cancelTitle": "¿Cancelar este trabajo?",
  "job.cancelBody": "No se volverá a ejecutar. Si un worker lo está ejecutando, se le avisa que pare.",
  "job.retried": "El trabajo volvió a la cola.",
  "job.cancelled": "El trabajo fue cancelado.",
  "art.file": "Archivo",
  "art.size": "Tamaño",
  "art.type": "Tipo",
  "art.downloads": "Descargas",
  "art.expires": "Vence",
  "art.download": "Descargar",
  "art.never": "Nunca",
  "queues.title": "Colas",
  "queues.name": "Cola",
  "queues.status": "Estado",
  "queues.paused": "en pausa",
  "queues.active": "activa",
  "queues.concurrency": "Simultáneos",
  "queues.unlimited": "Sin límite",
  "queues.pause": "Pausar",
  "queues.resume": "Reanudar",
  "queues.empty": "Todavía no hay colas.",
  "queues.emptyHelp": "Una cola aparece cuando un trabajo la nombra (los que no nombran ninguna van a “default”).",
  "queues.pauseTitle": "¿Pausar la cola “{name}”?",
  "queues.pauseBody": "Los workers dejan de tomar sus trabajos. Se siguen aceptando trabajos nuevos, y los que están en curso siguen.",
  "queues.resumeTitle": "¿Reanudar la cola “{name}”?",
  "queues.resumeBody": "Los workers vuelven a tomar sus trabajos enseguida.",
  "queues.paused.toast": "La cola “{name}” está en pausa.",
  "queues.resumed.toast": "La cola “{name}” volvió a funcionar.",
  "queues.showJobs": "Ver los trabajos {state} de {name}",
  "modal.back": "Volver",
  "modal.close": "Cerrar",
  "readonly.tip": "Esta clave solo puede leer",
  "readonly.note": "Esta clave solo puede leer: puede ver trabajos y colas, pero no reintentar, cancelar ni pausar. Para actuar, inicie sesión con otra clave.",
  "err.network": "tarea no responde. Compruebe que el servidor esté funcionando; la página volverá a intentarlo.",
  "err.generic": "Algo salió mal ({status}).",
  "err.title": "No se pudo cargar esta página",
  "err.retry": "Reintentar",
  "notfound.title": "Página no encontrada",
  "notfound.body": "No hay nada en esta dirección.",
  "loading": "Cargando…",
  "none": "—",
};

export const DICTS = { en, es };
const STORE_KEY = "tarea.lang";

function detect() {
  try {
    const saved = localStorage.getItem(STORE_KEY);
    if (saved && DICTS[saved]) return saved;
  } catch { /* storage may be off */ }
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  return langs.some((l) => /^es\b/i.test(l)) ? "es" : "en";
}

let lang = detect();

export function currentLang() {
  return lang;
}

/** Chooses a language and remembers it in this browser. */
export function setLang(next) {
  if (!DICTS[next]) return;
  lang = next;
  try { localStorage.setItem(STORE_KEY, next); } catch { /* storage may be off */ }
  document.documentElement.lang = next;
}

/** The text of `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  const text = DICTS[lang][key] ?? DICTS.en[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** The locale for numbers and dates: the browser's own when it speaks the UI's language. */
export function locale() {
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return langs.find((l) => l && l.toLowerCase().startsWith(lang)) || lang;
}

export function formatDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "medium" }).format(d);
}

const STEPS = [
  ["year", 365 * 24 * 3600], ["month", 30 * 24 * 3600], ["week", 7 * 24 * 3600],
  ["day", 24 * 3600], ["hour", 3600], ["minute", 60], ["second", 1],
];

/** "hace 3 min" / "3 min. ago" / "in 2 days", relative to now. */
export function formatRelative(iso, now = Date.now()) {
  const d = new Date(iso).getTime();
  if (Number.isNaN(d)) return String(iso);
  const s = Math.round((d - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto", style: "short" });
  if (Math.abs(s) < 45) return rtf.format(0, "second");
  for (const [unit, secs] of STEPS) {
    if (Math.abs(s) >= secs) return rtf.format(Math.round(s / secs), unit);
  }
  return rtf.format(s, "second");
}

export function formatNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

export function formatBytes(n) {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"];
  let v = n, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return new Intl.NumberFormat(locale(), {
    style: "unit", unit: units[i], unitDisplay: "short", maximumFractionDigits: i === 0 ? 0 : 1,
  }).format(v);
}

export function formatDuration(ms) {
  const s = ms / 1000;
  const [unit, v] = s >= 3600 ? ["hour", s / 3600] : s >= 60 ? ["minute", s / 60] : ["second", s];
  return new Intl.NumberFormat(locale(), { style: "unit", unit, unitDisplay: "long", maximumFractionDigits: 1 }).format(v);
}
