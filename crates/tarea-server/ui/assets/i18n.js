// Every word the dashboard shows, in English and Spanish, and the formatting of dates, sizes and
// numbers. The language comes from the person's choice (localStorage), else the browser's
// languages: any `es*` gives Spanish. Dates use the browser's own locale when it speaks the same
// language (es-AR writes 28/11/2026, es-ES 28 nov 2026), and always its time zone.

import en from "./i18n/en.js";
import es from "./i18n/es.js";

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

/**
 * The text of `key` for `n` things: `key.one`, `key.other` (or another of Intl.PluralRules'
 * categories when the language has it), with `{n}` the number written for the locale.
 */
export function tn(key, n, vars) {
  const dict = DICTS[lang];
  const form = `${key}.${new Intl.PluralRules(lang).select(n)}`;
  return t(form in dict ? form : `${key}.other`, { ...vars, n: formatNumber(n) });
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

/** How long something has been up, in its two largest units: "3 h 12 min", "2 days 4 h", "40 s". */
export function formatUptime(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const parts = s >= 86400 ? [[Math.floor(s / 86400), "day"], [Math.floor((s % 86400) / 3600), "hour"]]
    : s >= 3600 ? [[Math.floor(s / 3600), "hour"], [Math.floor((s % 3600) / 60), "minute"]]
      : s >= 60 ? [[Math.floor(s / 60), "minute"]] : [[s, "second"]];
  return parts.filter(([n], i) => n || i === 0)
    .map(([n, unit]) => new Intl.NumberFormat(locale(), { style: "unit", unit, unitDisplay: "short" }).format(n))
    .join(" ");
}
