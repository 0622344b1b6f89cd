// Sign in, registration and first-run setup.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type LoginData } from '../api';
import { t } from '../i18n';
import { api, navigate, publicSettings, session, signIn, useQuery, useStore } from '../state';
import { ErrorBox, Field, fieldError } from '../components/ui';

function nextPath(q: URLSearchParams): string {
  const n = q.get('next') || '/';
  return n.startsWith('/') && !n.startsWith('//') ? n : '/';
}

/** useSignedInAway sends someone who is already signed in on to where the
 * sign-in or registration would have taken them. */
function useSignedInAway(q: URLSearchParams) {
  const user = useStore(session);
  const to = nextPath(q);
  useEffect(() => {
    if (user) navigate(to, { replace: true });
  }, [user, to]);
}

export function Login() {
  const q = useQuery();
  useSignedInAway(q);
  const settings = useStore(publicSettings);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      await signIn(await api.post<LoginData>('/auth/login', { username, password }));
      navigate(nextPath(q), { replace: true });
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card narrow" onSubmit={submit}>
      <h1>{t('auth.login')}</h1>
      <ErrorBox error={err} inline={['username', 'password']} />
      <Field label={t('auth.username')} error={fieldError(err, 'username')}>
        <input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
      </Field>
      <Field label={t('auth.password')} error={fieldError(err, 'password')}>
        <input
          name="password"
          type="password"
          autocomplete="current-password"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          required
        />
      </Field>
      <button class="primary" type="submit" disabled={busy}>
        {t('auth.login')}
      </button>
      <p class="muted">
        {settings.register_mode !== 'closed' && <a href="/register">{t('auth.noAccount')}</a>}
        {settings.needs_setup !== false && (
          <>
            {' · '}
            <a href="/setup">{t('auth.firstRun')}</a>
          </>
        )}
      </p>
    </form>
  );
}

export function Register() {
  const settings = useStore(publicSettings);
  const q = useQuery();
  useSignedInAway(q);
  const [f, setF] = useState({ username: '', password: '', email: '', invite_code: q.get('invite') ?? '' });
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // The first account must be the administrator, made on the setup page:
  // registered here it would be a plain user, and setup would be closed.
  if (settings.needs_setup)
    return (
      <div class="card narrow setup-first">
        <h1>{t('auth.register')}</h1>
        <p>{t('auth.setupFirst')}</p>
        <a class="button primary" href="/setup">
          {t('auth.firstRun')}
        </a>
      </div>
    );
  if (settings.register_mode === 'closed')
    return (
      <div class="card narrow">
        <h1>{t('auth.register')}</h1>
        <p>{t('auth.registerClosed')}</p>
        <a href="/login">{t('auth.login')}</a>
      </div>
    );
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      const body: Record<string, string> = { username: f.username, password: f.password, email: f.email };
      if (settings.register_mode === 'invite') body.invite_code = f.invite_code;
      await signIn(await api.post<LoginData>('/auth/register', body));
      navigate('/', { replace: true });
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card narrow" onSubmit={submit}>
      <h1>{t('auth.register')}</h1>
      <ErrorBox error={err} inline={['username', 'password', 'email', 'invite_code']} />
      <Field label={t('auth.username')} hint={t('auth.usernameHint')} error={fieldError(err, 'username')}>
        <input name="username" autocomplete="username" value={f.username} onInput={set('username')} required />
      </Field>
      <Field label={t('auth.email')} error={fieldError(err, 'email')}>
        <input name="email" type="email" autocomplete="email" value={f.email} onInput={set('email')} required />
      </Field>
      <Field label={t('auth.password')} hint={t('auth.passwordHint')} error={fieldError(err, 'password')}>
        <input name="password" type="password" autocomplete="new-password" value={f.password} onInput={set('password')} required />
      </Field>
      {settings.register_mode === 'invite' && (
        <Field label={t('auth.inviteCode')} error={fieldError(err, 'invite_code')}>
          <input name="invite_code" value={f.invite_code} onInput={set('invite_code')} required />
        </Field>
      )}
      <button class="primary" type="submit" disabled={busy}>
        {t('auth.register')}
      </button>
      <p class="muted">
        <a href="/login">{t('auth.haveAccount')}</a>
      </p>
    </form>
  );
}

export function Setup() {
  const settings = useStore(publicSettings);
  const user = useStore(session);
  const [f, setF] = useState({ username: 'admin', password: '', confirm: '' });
  const [err, setErr] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    if (f.password !== f.confirm) {
      setErr(new ApiError(400, t('auth.passwordsDiffer'), { confirm: t('auth.passwordsDiffer') }));
      return;
    }
    setBusy(true);
    try {
      await signIn(await api.post<LoginData>('/setup', { username: f.username, password: f.password }));
      publicSettings.set({ ...publicSettings.get(), needs_setup: false });
      navigate('/admin', { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.code === 403) setDone(true);
      else setErr(e);
    } finally {
      setBusy(false);
    }
  };
  // Once the administrator exists this page only says so (the server refuses
  // a second setup anyway).
  if (done || (settings.needs_setup === false && !busy))
    return (
      <div class="card narrow setup-done">
        <h1>{t('setup.title')}</h1>
        <p>{t('setup.done')}</p>
        {user ? (
          <a class="button primary" href="/">
            {t('nav.library')}
          </a>
        ) : (
          <a class="button primary" href="/login">
            {t('auth.login')}
          </a>
        )}
      </div>
    );
  return (
    <form class="card narrow" onSubmit={submit}>
      <h1>{t('setup.title')}</h1>
      <p class="muted">{t('setup.intro')}</p>
      <ErrorBox error={err} inline={['username', 'password', 'confirm']} />
      <Field label={t('auth.username')} hint={t('auth.usernameHint')} error={fieldError(err, 'username')}>
        <input name="username" autocomplete="username" value={f.username} onInput={set('username')} required />
      </Field>
      <Field label={t('auth.password')} hint={t('auth.passwordHint')} error={fieldError(err, 'password')}>
        <input name="password" type="password" autocomplete="new-password" value={f.password} onInput={set('password')} required />
      </Field>
      <Field label={t('auth.confirmPassword')} error={fieldError(err, 'confirm')}>
        <input name="confirm" type="password" autocomplete="new-password" value={f.confirm} onInput={set('confirm')} required />
      </Field>
      <button class="primary" type="submit" disabled={busy}>
        {t('setup.create')}
      </button>
    </form>
  );
}
