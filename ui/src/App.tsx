// The shell: header, navigation, flash messages and the route table.
import { useEffect, useState } from 'preact/hooks';
import type { Profile, PublicSettings } from './api';
import { setLang, t, type Lang, type MsgKey } from './i18n';
import {
  api,
  documentTitle,
  flash,
  matchRoute,
  navigate,
  pageTitle,
  publicSettings,
  route,
  session,
  signOut,
  tokens,
  useLang,
  useStore,
} from './state';
import { Library } from './pages/Library';
import { Watch } from './pages/Watch';
import { Upload, useActiveUploads } from './pages/Upload';
import { MyVideos } from './pages/MyVideos';
import { ProfilePage } from './pages/Profile';
import { Login, Register, Setup } from './pages/Auth';
import { AdminShell } from './admin/AdminShell';

type Page = (p: { params: Record<string, string> }) => preact.JSX.Element;
// Each route names the browser tab; a page may name it better (a video's title).
const routes: [string, Page, 'any' | 'user' | 'admin', MsgKey][] = [
  ['/', Library, 'any', 'nav.library'],
  ['/watch/:id', Watch, 'any', 'nav.library'],
  ['/login', Login, 'any', 'nav.login'],
  ['/register', Register, 'any', 'nav.register'],
  ['/setup', Setup, 'any', 'setup.title'],
  ['/upload', Upload, 'user', 'upload.title'],
  ['/me/videos', MyVideos, 'user', 'nav.myVideos'],
  ['/me/profile', ProfilePage, 'user', 'profile.title'],
  ['/admin', AdminShell, 'admin', 'nav.admin'],
  ['/admin/:section', AdminShell, 'admin', 'nav.admin'],
];

export function App() {
  const l = useLang();
  const path = useStore(route);
  const user = useStore(session);
  const settings = useStore(publicSettings);
  const named = useStore(pageTitle);
  const [ready, setReady] = useState(!tokens.get());
  const [ffmpegMissing, setFfmpegMissing] = useState(false);

  useEffect(() => {
    api.get<PublicSettings>('/settings/public').then(
      (s) => {
        publicSettings.set({ ...publicSettings.get(), ...s });
        if (s.needs_setup && !location.pathname.startsWith('/setup')) navigate('/setup', { replace: true });
      },
      () => {},
    );
    if (tokens.get()) {
      api
        .get<Profile>('/user/profile')
        .then((p) => session.set(p), () => {})
        .finally(() => setReady(true));
    }
  }, []);


  useEffect(() => {
    if (user?.role !== 'admin') return setFfmpegMissing(false);
    fetch('/healthz')
      .then((r) => r.json())
      .then((h) => setFfmpegMissing(h?.ffmpeg === 'missing'), () => {});
  }, [user?.role]);

  const pathname = path.split('?')[0];
  let page: preact.JSX.Element | null = null;
  let titleKey: MsgKey | null = null;
  for (const [pattern, Comp, need, key] of routes) {
    const params = matchRoute(pattern, pathname);
    if (!params) continue;
    titleKey = key;
    if (need !== 'any' && ready && !user) {
      page = <Redirect to={'/login?next=' + encodeURIComponent(path)} />;
    } else if (need !== 'any' && !ready) {
      page = <p class="muted">{t('common.loading')}</p>;
    } else if (need === 'admin' && user?.role !== 'admin') {
      page = <div class="alert error">{t('error.forbidden')}</div>;
    } else {
      page = <Comp params={params} />;
    }
    break;
  }
  if (!page) page = <NotFound />;
  const tabTitle = documentTitle(named || (titleKey ? t(titleKey) : '404'), settings.site_name || 'Mika');
  useEffect(() => {
    document.title = tabTitle;
  }, [tabTitle]);

  return (
    <div class="app" key={l}>
      <Header user={user} siteName={settings.site_name || 'Mika'} path={pathname} />
      {ffmpegMissing && <div class="banner warn">{t('health.ffmpegMissing')}</div>}
      <FlashBar />
      <main>{page}</main>
    </div>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function NotFound() {
  return (
    <div class="empty">
      <h1>404</h1>
      <p>{t('error.pageNotFound')}</p>
      <a href="/">{t('nav.library')}</a>
    </div>
  );
}

function FlashBar() {
  const f = useStore(flash);
  const p = useStore(route);
  const [shownAt, setShownAt] = useState(p);
  useEffect(() => setShownAt(route.get()), [f]);
  // A message stays for the page it was shown on and the next one.
  useEffect(() => {
    if (f && p.split('?')[0] !== shownAt.split('?')[0] && !p.startsWith('/login')) flash.set(null);
  }, [p]);
  if (!f) return null;
  return (
    <div class={'banner ' + (f.kind === 'error' ? 'error' : 'info')} role="status">
      <span>{f.key ? t(f.key) : f.text}</span>
      <button class="icon" aria-label={t('common.close')} onClick={() => flash.set(null)}>
        ×
      </button>
    </div>
  );
}

function Header({ user, siteName, path }: { user: Profile | null; siteName: string; path: string }) {
  const [open, setOpen] = useState(false);
  const uploads = useActiveUploads();
  useEffect(() => setOpen(false), [path]);
  const link = (href: string, key: Parameters<typeof t>[0], extra?: preact.ComponentChildren) => (
    <a href={href} class={path === href || (href !== '/' && path.startsWith(href)) ? 'active' : ''}>
      {t(key)}
      {extra}
    </a>
  );
  return (
    <header class="top">
      <a href="/" class="brand">
        <span class="logo">▶</span> {siteName}
      </a>
      <button class="icon menu-toggle" aria-label={t('nav.menu')} aria-expanded={open} onClick={() => setOpen(!open)}>
        ☰
      </button>
      <nav class={open ? 'open' : ''}>
        {link('/', 'nav.library')}
        {user && link('/upload', 'nav.upload', uploads > 0 && <span class="count" title={t('nav.uploading', { n: uploads })}>{uploads}</span>)}
        {user && link('/me/videos', 'nav.myVideos')}
        {user?.role === 'admin' && link('/admin', 'nav.admin')}
        <span class="spacer" />
        <LangSwitch />
        {user ? (
          <>
            <a href="/me/profile" class="user">
              {user.avatar ? <img src={user.avatar} alt="" class="avatar" /> : null}
              {user.nickname || user.username}
            </a>
            <button class="link" onClick={signOut}>
              {t('nav.logout')}
            </button>
          </>
        ) : (
          <>
            {/* Before the administrator exists, registering would make a plain user
                and close setup for good: offer setup only. */}
            {publicSettings.get().needs_setup ? (
              link('/setup', 'nav.setup')
            ) : (
              <>
                {link('/login', 'nav.login')}
                {publicSettings.get().register_mode !== 'closed' && link('/register', 'nav.register')}
              </>
            )}
          </>
        )}
      </nav>
    </header>
  );
}

function LangSwitch() {
  const l = useLang();
  return (
    <select class="lang" aria-label="Language / 语言" value={l} onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)}>
      <option value="zh-CN">简体中文</option>
      <option value="en">English</option>
    </select>
  );
}
