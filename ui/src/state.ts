// App-wide state: the API client, the signed-in user, the router and the
// flash message. Small stores with subscribe, read through hooks.
import { useEffect, useState } from 'preact/hooks';
import { Client, localTokenStore, type LoginData, type Profile, type PublicSettings } from './api';
import { onLangChange, lang, type MsgKey } from './i18n';

export class Store<T> {
  private v: T;
  private ls = new Set<(v: T) => void>();
  constructor(v: T) {
    this.v = v;
  }
  get() {
    return this.v;
  }
  set(v: T) {
    this.v = v;
    this.ls.forEach((f) => f(v));
  }
  subscribe(f: (v: T) => void) {
    this.ls.add(f);
    return () => void this.ls.delete(f);
  }
}

export function useStore<T>(s: Store<T>): T {
  const [v, setV] = useState(s.get());
  useEffect(() => {
    setV(s.get());
    return s.subscribe(setV);
  }, [s]);
  return v;
}

export function useLang() {
  const [l, setL] = useState(lang());
  useEffect(() => {
    const off = onLangChange(() => setL(lang()));
    return () => void off();
  }, []);
  return l;
}

function storage(): Storage | undefined {
  try {
    return localStorage;
  } catch {
    return undefined;
  }
}

export interface Flash {
  kind: 'info' | 'error';
  key?: MsgKey;
  text?: string;
}
export const flash = new Store<Flash | null>(null);

/** pageTitle is what the current page calls itself in the browser tab
 * (a video's title, say); empty means the route's own name. */
export const pageTitle = new Store<string>('');

/** usePageTitle names the browser tab after this page while it is shown. */
export function usePageTitle(title: string) {
  useEffect(() => {
    pageTitle.set(title);
    return () => pageTitle.set('');
  }, [title]);
}

/** documentTitle is the tab's text: "page · site", or the site alone. */
export function documentTitle(page: string, site: string): string {
  return page && page !== site ? `${page} · ${site}` : site;
}

export const tokens = localTokenStore(storage());
export const session = new Store<Profile | null>(null);
export const publicSettings = new Store<PublicSettings>({ site_name: 'Mika', register_mode: 'open' });

export const api = new Client({
  tokens,
  onUnauthorized: () => {
    session.set(null);
    flash.set({ kind: 'error', key: 'session.expired' });
    const here = location.pathname + location.search;
    if (!here.startsWith('/login')) navigate('/login?next=' + encodeURIComponent(here));
  },
});

/** signIn stores a login answer and loads the full profile. */
export async function signIn(d: LoginData) {
  tokens.set(d.token);
  session.set({ ...d.user, email: '', vip_level: 0, vip_expire: '', points: 0, created_at: '' });
  try {
    session.set(await api.get<Profile>('/user/profile'));
  } catch {
    /* the brief user is enough to go on */
  }
}

export function signOut() {
  tokens.set(null);
  session.set(null);
  navigate('/');
}

// ---- router (history API; the server answers index.html for app paths) ----

export const route = new Store<string>(typeof location !== 'undefined' ? location.pathname + location.search : '/');

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  if (to === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  route.set(to);
  if (!opts.replace) window.scrollTo(0, 0);
}

const serverOwned = /^\/(api|videos|covers|avatars|healthz|metrics)(\/|$)/;

export function installRouter() {
  window.addEventListener('popstate', () => route.set(location.pathname + location.search));
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element).closest?.('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || serverOwned.test(url.pathname)) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
}

/** matchRoute matches "/watch/:id" against a path, giving the params. */
export function matchRoute(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('?')[0].split('/').filter(Boolean);
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) out[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return out;
}

export function useQuery(): URLSearchParams {
  const r = useStore(route);
  return new URLSearchParams(r.split('?')[1] ?? '');
}

/** setQuery replaces the URL's query (keeping history short while typing). */
export function setQuery(params: Record<string, string | number | undefined | null>, opts: { replace?: boolean } = {}) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === 0) q.delete(k);
    else q.set(k, String(v));
  }
  const s = q.toString();
  navigate(location.pathname + (s ? '?' + s : ''), { replace: opts.replace ?? true });
}

/** usePoll calls f now and then every ms while active. */
export function usePoll(f: () => void | Promise<void>, ms: number, active: boolean, deps: unknown[] = []) {
  useEffect(() => {
    if (!active) return;
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        await f();
      } finally {
        if (!stop) timer = setTimeout(tick, ms);
      }
    };
    timer = setTimeout(tick, ms);
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [active, ms, ...deps]);
}
