// Translations: 简体中文 by default, English as a switch. The first visit
// follows the browser's language; a choice made in the menu is kept.
import { en } from './locales/en';
import { zhCN } from './locales/zh-CN';

export type Lang = 'zh-CN' | 'en';
export type Messages = Record<keyof typeof en, string>;

export const dictionaries: Record<Lang, Messages> = { 'zh-CN': zhCN, en };
const storageKey = 'mika.lang';

/** detectLang picks the language: a stored choice, else the browser's
 * first language (Chinese for any zh-*, English for any other), else Chinese. */
export function detectLang(stored: string | null, browser: readonly string[] | undefined): Lang {
  if (stored === 'zh-CN' || stored === 'en') return stored;
  const first = browser?.find((l) => !!l);
  if (!first) return 'zh-CN';
  return first.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

function safeStorage(): Storage | undefined {
  try {
    return globalThis.localStorage;
  } catch {
    return undefined;
  }
}

let current: Lang = detectLang(
  safeStorage()?.getItem(storageKey) ?? null,
  typeof navigator !== 'undefined' ? navigator.languages ?? [navigator.language] : undefined,
);
const listeners = new Set<() => void>();

export function lang(): Lang {
  return current;
}

export function setLang(l: Lang) {
  current = l;
  safeStorage()?.setItem(storageKey, l);
  if (typeof document !== 'undefined') document.documentElement.lang = l;
  listeners.forEach((f) => f());
}

export function onLangChange(f: () => void) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** format fills {name} placeholders, and {name|one|other} with the word
 * for that number ("1 view", "2 views"). */
export function format(s: string, vars?: Record<string, string | number>): string {
  if (!vars) return s;
  return s
    .replace(/\{(\w+)\|([^|}]*)\|([^}]*)\}/g, (m, k, one, other) => (k in vars ? (Number(vars[k]) === 1 ? one : other) : m))
    .replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

export type MsgKey = keyof typeof en;

export function t(key: MsgKey, vars?: Record<string, string | number>, l: Lang = current): string {
  const s = dictionaries[l][key] ?? en[key] ?? key;
  return format(s, vars);
}
