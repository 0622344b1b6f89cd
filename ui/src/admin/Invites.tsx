// Invites: single-use codes for registration in invite mode.
import { useEffect, useState } from 'preact/hooks';
import type { Page } from '../api';
import { t } from '../i18n';
import { api, publicSettings, setQuery, useQuery, useStore } from '../state';
import { CopyButton, ErrorBox, Loading, Pager } from '../components/ui';

interface Invite {
  id: number;
  code: string;
  created_by_username?: string;
  used_by?: number;
  used_by_username?: string;
  used_at?: string;
  created_at: string;
}
const size = 20;

export function Invites() {
  const q = useQuery();
  const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
  const settings = useStore(publicSettings);
  const [data, setData] = useState<Page<Invite> | null>(null);
  const [fresh, setFresh] = useState<Invite | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () => api.get<Page<Invite>>('/admin/invites', { page, size }).then((d) => (setData(d), setErr(null)), setErr);
  useEffect(() => {
    load();
  }, [page]);
  const create = async () => {
    setErr(null);
    try {
      setFresh(await api.post<Invite>('/admin/invites'));
      load();
    } catch (e) {
      setErr(e);
    }
  };
  const link = (code: string) => `${location.origin}/register?invite=${encodeURIComponent(code)}`;
  return (
    <div class="invites">
      <div class="toolbar">
        <button class="primary" onClick={create}>
          {t('invites.create')}
        </button>
        <span class="muted">
          {t('invites.mode', { mode: t(('settings.register.' + settings.register_mode) as 'settings.register.open') })}
          {/* A code is asked for only in invite mode: say where that is set. */}
          {settings.register_mode !== 'invite' && (
            <>
              {' · '}
              <a href="/admin/settings">{t('invites.notAsked')}</a>
            </>
          )}
        </span>
      </div>
      <ErrorBox error={err} />
      {fresh && (
        <div class="alert info">
          <p>
            {t('invites.fresh')} <code class="invite-code">{fresh.code}</code> <CopyButton text={fresh.code} />
          </p>
          <p class="small-text">
            {link(fresh.code)} <CopyButton text={link(fresh.code)} />
          </p>
        </div>
      )}
      {!data && !err && <Loading />}
      {data && data.list.length === 0 && <p class="empty">{t('invites.none')}</p>}
      {data && data.list.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t('invites.code')}</th>
                <th>{t('common.created')}</th>
                <th>{t('invites.usedBy')}</th>
              </tr>
            </thead>
            <tbody>
              {data.list.map((i) => (
                <tr key={i.id}>
                  <td>
                    <code>{i.code}</code> {!i.used_by && <CopyButton text={i.code} />}
                  </td>
                  <td>
                    {i.created_at} {i.created_by_username && <small class="muted">({i.created_by_username})</small>}
                  </td>
                  <td>{i.used_by ? `${i.used_by_username || '#' + i.used_by} · ${i.used_at ?? ''}` : <span class="muted">{t('invites.unused')}</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && <Pager page={page} size={size} total={data.total} onPage={(p) => setQuery({ page: p > 1 ? p : undefined })} />}
    </div>
  );
}
