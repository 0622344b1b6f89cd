// Profile: nickname, email, avatar, password and API keys.
import { useEffect, useState } from 'preact/hooks';
import type { APIKey, LoginData, Profile } from '../api';
import { ApiError } from '../api';
import { t } from '../i18n';
import { api, session, tokens, useStore } from '../state';
import { ConfirmButton, CopyButton, ErrorBox, Field, fieldError, Loading } from '../components/ui';

export function ProfilePage() {
  const user = useStore(session);
  if (!user) return <Loading />;
  return (
    <div class="profile">
      <h1>{t('profile.title')}</h1>
      <div class="two-col">
        <ProfileForm user={user} />
        <PasswordForm />
      </div>
      <APIKeys />
    </div>
  );
}

function ProfileForm({ user }: { user: Profile }) {
  const [f, setF] = useState({ nickname: user.nickname ?? '', email: user.email ?? '' });
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [avatarErr, setAvatarErr] = useState<unknown>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    setSaved(false);
    try {
      const body: Record<string, string> = {};
      if (f.nickname !== (user.nickname ?? '')) body.nickname = f.nickname;
      if (f.email !== (user.email ?? '')) body.email = f.email;
      const p = Object.keys(body).length ? await api.put<Profile | null>('/user/profile', body) : null;
      session.set(p && p.id ? p : { ...user, ...body });
      setSaved(true);
    } catch (e) {
      setErr(e);
    }
  };
  const upload = async (file: File | undefined) => {
    if (!file) return;
    setAvatarErr(null);
    if (file.size > 2 * 1024 * 1024) {
      setAvatarErr(new ApiError(413, t('profile.avatarTooBig')));
      return;
    }
    const form = new FormData();
    form.append('file', file);
    try {
      const { avatar } = await api.request<{ avatar: string }>('POST', '/user/avatar', form);
      session.set({ ...user, ...session.get(), avatar });
    } catch (e) {
      setAvatarErr(e);
    }
  };
  return (
    <form class="card" onSubmit={save}>
      <h2>{t('profile.basics')}</h2>
      <div class="avatar-row">
        {user.avatar ? <img class="avatar big" src={user.avatar} alt="" /> : <div class="avatar big placeholder">{(user.nickname || user.username).slice(0, 1)}</div>}
        <label class="button">
          {t('profile.changeAvatar')}
          <input type="file" accept="image/*" hidden onChange={(e) => upload(e.currentTarget.files?.[0])} />
        </label>
      </div>
      <ErrorBox error={avatarErr} />
      <p class="muted">
        {t('auth.username')}: <b>{user.username}</b> · {t('profile.role')}: {user.role === 'admin' ? t('role.admin') : t('role.user')}
        {user.vip_level > 0 && <> · VIP {user.vip_level} {user.vip_expire && `(${user.vip_expire})`}</>} · {t('profile.points')}: {user.points ?? 0}
      </p>
      <ErrorBox error={err} inline={['nickname', 'email']} />
      <Field label={t('profile.nickname')} error={fieldError(err, 'nickname')}>
        <input name="nickname" value={f.nickname} onInput={(e) => setF({ ...f, nickname: e.currentTarget.value })} />
      </Field>
      <Field label={t('auth.email')} error={fieldError(err, 'email')}>
        <input name="email" type="email" value={f.email} onInput={(e) => setF({ ...f, email: e.currentTarget.value })} />
      </Field>
      <div class="actions">
        <button class="primary" type="submit">
          {t('common.save')}
        </button>
        {saved && <span class="ok">{t('common.saved')}</span>}
      </div>
    </form>
  );
}

function PasswordForm() {
  const [f, setF] = useState({ old_password: '', new_password: '', confirm: '' });
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    setSaved(false);
    if (f.new_password !== f.confirm) {
      setErr(new ApiError(400, t('auth.passwordsDiffer'), { confirm: t('auth.passwordsDiffer') }));
      return;
    }
    try {
      const ans = await api.put<LoginData | null>('/user/password', { old_password: f.old_password, new_password: f.new_password });
      // The server revokes older tokens and answers a fresh one.
      if (ans && ans.token) tokens.set(ans.token);
      setF({ old_password: '', new_password: '', confirm: '' });
      setSaved(true);
    } catch (e) {
      setErr(e);
    }
  };
  return (
    <form class="card" onSubmit={save}>
      <h2>{t('profile.password')}</h2>
      <ErrorBox error={err} inline={['old_password', 'new_password', 'confirm']} />
      <Field label={t('profile.oldPassword')} error={fieldError(err, 'old_password')}>
        <input type="password" autocomplete="current-password" value={f.old_password} onInput={(e) => setF({ ...f, old_password: e.currentTarget.value })} required />
      </Field>
      <Field label={t('profile.newPassword')} hint={t('auth.passwordHint')} error={fieldError(err, 'new_password')}>
        <input type="password" autocomplete="new-password" value={f.new_password} onInput={(e) => setF({ ...f, new_password: e.currentTarget.value })} required />
      </Field>
      <Field label={t('auth.confirmPassword')} error={fieldError(err, 'confirm')}>
        <input type="password" autocomplete="new-password" value={f.confirm} onInput={(e) => setF({ ...f, confirm: e.currentTarget.value })} required />
      </Field>
      <div class="actions">
        <button class="primary" type="submit">
          {t('profile.changePassword')}
        </button>
        {saved && <span class="ok">{t('profile.passwordChanged')}</span>}
      </div>
    </form>
  );
}

function APIKeys() {
  const [keys, setKeys] = useState<APIKey[] | null>(null);
  const [name, setName] = useState('');
  const [fresh, setFresh] = useState<APIKey | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () =>
    api.get<APIKey[] | { list: APIKey[] }>('/user/api-keys').then(
      (d) => setKeys(Array.isArray(d) ? d : d?.list ?? []),
      setErr,
    );
  useEffect(() => {
    load();
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    try {
      setFresh(await api.post<APIKey>('/user/api-keys', { name }));
      setName('');
      load();
    } catch (e) {
      setErr(e);
    }
  };
  const revoke = async (k: APIKey) => {
    setErr(null);
    try {
      await api.del('/user/api-keys/' + k.id);
      if (fresh?.id === k.id) setFresh(null);
      load();
    } catch (e) {
      setErr(e);
    }
  };
  return (
    <section class="card">
      <h2>{t('keys.title')}</h2>
      <p class="muted">{t('keys.intro')}</p>
      <ErrorBox error={err} />
      {fresh && fresh.secret_key && (
        <div class="alert info secret">
          <p>
            <b>{t('keys.once')}</b>
          </p>
          <div class="kv">
            <span>API Key</span>
            <code>{fresh.api_key}</code>
            <CopyButton text={fresh.api_key} />
          </div>
          <div class="kv">
            <span>Secret Key</span>
            <code class="secret-key">{fresh.secret_key}</code>
            <CopyButton text={fresh.secret_key} />
          </div>
          <button class="small" onClick={() => setFresh(null)}>
            {t('keys.saved')}
          </button>
        </div>
      )}
      <form class="inline" onSubmit={create}>
        <input name="key-name" placeholder={t('keys.name')} value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={100} />
        <button class="primary" type="submit">
          {t('keys.create')}
        </button>
      </form>
      {!keys ? (
        !err && <Loading />
      ) : keys.length === 0 ? (
        <p class="muted">{t('keys.none')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>{t('keys.name')}</th>
                <th>API Key</th>
                <th>{t('common.created')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.api_key}</code>
                  </td>
                  <td>{k.created_at}</td>
                  <td>
                    <ConfirmButton label={t('keys.revoke')} confirm={t('keys.confirmRevoke')} onConfirm={() => revoke(k)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
