// The admin console: one tab per section.
import { useEffect, useRef } from 'preact/hooks';
import { t, type MsgKey } from '../i18n';
import { usePageTitle } from '../state';
import { Dashboard } from './Dashboard';
import { Tasks } from './Tasks';
import { Categories } from './Categories';
import { Users } from './Users';
import { Invites } from './Invites';
import { SettingsPage } from './Settings';
import { Libraries } from './Libraries';

const sections: [string, MsgKey, () => preact.JSX.Element][] = [
  ['', 'admin.dashboard', Dashboard],
  ['tasks', 'admin.tasks', Tasks],
  ['libraries', 'admin.libraries', Libraries],
  ['categories', 'admin.categories', Categories],
  ['users', 'admin.users', Users],
  ['invites', 'admin.invites', Invites],
  ['settings', 'admin.settings', SettingsPage],
];

export function AdminShell({ params }: { params: Record<string, string> }) {
  const cur = params.section ?? '';
  const found = sections.find(([s]) => s === cur);
  const Comp = found?.[2];
  usePageTitle(found ? t(found[1]) + ' · ' + t('nav.admin') : '');
  // On a phone the tabs scroll sideways: keep the current one in sight.
  const tabs = useRef<HTMLElement>(null);
  useEffect(() => {
    const a = tabs.current?.querySelector<HTMLElement>('a.active');
    const nav = tabs.current;
    if (a && nav) nav.scrollLeft = Math.max(0, a.offsetLeft - nav.offsetLeft - (nav.clientWidth - a.offsetWidth) / 2);
  }, [cur]);
  return (
    <div class="admin">
      <nav class="tabs" ref={tabs} aria-label={t('nav.admin')}>
        {sections.map(([s, key]) => (
          <a key={s} href={'/admin' + (s ? '/' + s : '')} class={s === cur ? 'active' : ''} aria-current={s === cur ? 'page' : undefined}>
            {t(key)}
          </a>
        ))}
      </nav>
      {Comp ? <Comp /> : <div class="alert error">{t('error.pageNotFound')}</div>}
    </div>
  );
}
