// Users: search, role, VIP level and expiry, points, disable.
import { useEffect, useState } from 'preact/hooks';
import type { Page } from '../api';
import { t } from '../i18n';
import { api, session, setQuery, useQuery, useStore } from '../state';
import { ErrorBox, fieldError, Loading, Pager } from '../components/ui';
import { SearchBox } from '../pages/Library';

interface AdminUser {
  id: number;
  username: string;
  nickname: string;
  email: string;
  role: string;
  vip_level: number;
  vip_expire: string;
  points: number;
  disabled: boolean;
  created_at: string;
  last_active_at?: string;
}
const size = 20;

export function Users() {
  const q = useQuery();
  const keyword = q.get('q') ?? '';
  const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
  const [data, setData] = useState<Page<AdminUser> | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () => api.get<Page<AdminUser>>('/admin/users', { page, size, keyword }).then((d) => (setData(d), setErr(null)), setErr);
  useEffect(() => {
    load();
  }, [keyword, page]);
  return (
    <div class="users">
      <div class="toolbar">
        <SearchBox value={keyword} placeholder={t('users.search')} onSearch={(v) => setQuery({ q: v, page: undefined })} />
      </div>
      <ErrorBox error={err} />
      {!data && !err && <Loading />}
      {data && (
        <div class="table-wrap">
          <table class="user-table stack">
            <thead>
              <tr>
                <th>{t('auth.username')}</th>
                <th>{t('profile.role')}</th>
                <th>VIP</th>
                <th>{t('users.vipExpire')}</th>
                <th>{t('profile.points')}</th>
                <th>{t('users.disabled')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.list.map((u) => (
                <UserRow key={u.id} u={u} onSaved={load} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && <Pager page={page} size={size} total={data.total} onPage={(p) => setQuery({ page: p > 1 ? p : undefined })} />}
    </div>
  );
}

function UserRow({ u, onSaved }: { u: AdminUser; onSaved: () => void }) {
  const me = useStore(session);
  const [f, setF] = useState({ role: u.role, vip_level: u.vip_level ?? 0, vip_expire: u.vip_expire ?? '', points: u.points ?? 0, disabled: !!u.disabled });
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => setF({ role: u.role, vip_level: u.vip_level ?? 0, vip_expire: u.vip_expire ?? '', points: u.points ?? 0, disabled: !!u.disabled }), [u]);
  const dirty = f.role !== u.role || f.vip_level !== u.vip_level || f.vip_expire !== (u.vip_expire ?? '') || f.points !== u.points || f.disabled !== !!u.disabled;
  const save = async () => {
    setErr(null);
    setSaved(false);
    try {
      await api.put('/admin/users/' + u.id, f);
      setSaved(true);
      onSaved();
    } catch (e) {
      setErr(e);
    }
  };
  const fe = (k: string) => fieldError(err, k) && <small class="field-error">{fieldError(err, k)}</small>;
  return (
    <>
      <tr data-user={u.username}>
        <td>
          <b>{u.username}</b>
          {u.id === me?.id && <small class="muted"> ({t('users.you')})</small>}
          <div class="muted small-text">
            {u.nickname} {u.email}
          </div>
        </td>
        <td data-label={t('profile.role')}>
          <select aria-label={t('profile.role')} value={f.role} onChange={(e) => setF({ ...f, role: (e.target as HTMLSelectElement).value })}>
            <option value="user">{t('role.user')}</option>
            <option value="admin">{t('role.admin')}</option>
          </select>
          {fe('role')}
        </td>
        <td data-label="VIP">
          <input class="num" type="number" min="0" aria-label="VIP" value={String(f.vip_level)} onInput={(e) => setF({ ...f, vip_level: Number(e.currentTarget.value) || 0 })} />
          {fe('vip_level')}
        </td>
        <td data-label={t('users.vipExpire')}>
          <input type="date" aria-label={t('users.vipExpire')} value={f.vip_expire} onInput={(e) => setF({ ...f, vip_expire: e.currentTarget.value })} />
          {fe('vip_expire')}
        </td>
        <td data-label={t('profile.points')}>
          <input class="num" type="number" aria-label={t('profile.points')} value={String(f.points)} onInput={(e) => setF({ ...f, points: Number(e.currentTarget.value) || 0 })} />
          {fe('points')}
        </td>
        <td data-label={t('users.disabled')}>
          <input type="checkbox" aria-label={t('users.disabled')} checked={f.disabled} onChange={(e) => setF({ ...f, disabled: e.currentTarget.checked })} />
          {fe('disabled')}
        </td>
        <td>
          <button class="small primary" disabled={!dirty} onClick={save}>
            {t('common.save')}
          </button>
          {saved && !dirty && <span class="ok"> ✓</span>}
        </td>
      </tr>
      {err ? (
        <tr>
          <td colSpan={7}>
            <ErrorBox error={err} />
          </td>
        </tr>
      ) : null}
    </>
  );
}
