// Settings: every key of PUT /api/admin/settings, errors next to fields;
// hwaccel offers only what the server detected.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { t, type MsgKey } from '../i18n';
import { api, publicSettings } from '../state';
import { CopyButton, ErrorBox, Field, fieldError, Loading } from '../components/ui';

interface Settings {
  site_name: string;
  site_url: string;
  register_mode: string;
  auto_publish: boolean;
  transcode_concurrency: number;
  ladder: number[];
  hls_segment_seconds: number;
  video_preset: string;
  hwaccel: string;
  max_upload_bytes: number;
  rate_limit_rps: number;
  rate_limit_burst: number;
  webhook_url: string;
  webhook_secret?: string;
  hwaccel_available?: string[];
  webhook_last_delivery?: { at: string; event: string; task_id: number; attempts: number; status: number; error: string } | null;
}

const presets = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'];
const editable = [
  'site_name',
  'site_url',
  'register_mode',
  'auto_publish',
  'transcode_concurrency',
  'ladder',
  'hls_segment_seconds',
  'video_preset',
  'hwaccel',
  'max_upload_bytes',
  'rate_limit_rps',
  'rate_limit_burst',
  'webhook_url',
] as const;
type Key = (typeof editable)[number];

/** Form values are strings while typing; toPayload turns them back. */
type Form = Record<Key, string | boolean>;

export function toForm(s: Settings): Form {
  return {
    site_name: s.site_name ?? '',
    site_url: s.site_url ?? '',
    register_mode: s.register_mode ?? 'open',
    auto_publish: !!s.auto_publish,
    transcode_concurrency: String(s.transcode_concurrency ?? 1),
    ladder: (s.ladder ?? []).join(', '),
    hls_segment_seconds: String(s.hls_segment_seconds ?? 6),
    video_preset: s.video_preset ?? 'veryfast',
    hwaccel: s.hwaccel ?? 'none',
    max_upload_bytes: String(Math.round((s.max_upload_bytes ?? 0) / (1024 * 1024))),
    rate_limit_rps: String(s.rate_limit_rps ?? 20),
    rate_limit_burst: String(s.rate_limit_burst ?? 40),
    webhook_url: s.webhook_url ?? '',
  };
}

/** toPayload answers the changed keys with their API types, or the local
 * errors of values that are not even numbers. */
export function toPayload(f: Form, orig: Form): { body: Record<string, unknown>; errors: Record<string, string> } {
  const body: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const int = (k: Key) => {
    const v = String(f[k]).trim();
    if (!/^-?\d+$/.test(v)) errors[k] = t('settings.notNumber');
    return Number(v);
  };
  for (const k of editable) {
    if (f[k] === orig[k]) continue;
    switch (k) {
      case 'auto_publish':
        body[k] = !!f[k];
        break;
      case 'transcode_concurrency':
      case 'hls_segment_seconds':
      case 'rate_limit_rps':
      case 'rate_limit_burst':
        body[k] = int(k);
        break;
      case 'max_upload_bytes':
        body[k] = int(k) * 1024 * 1024;
        break;
      case 'ladder': {
        const parts = String(f[k])
          .split(/[,，\s]+/)
          .filter(Boolean)
          .map((x) => x.replace(/p$/i, ''));
        if (parts.some((p) => !/^\d+$/.test(p))) errors[k] = t('settings.ladderFormat');
        body[k] = parts.map(Number);
        break;
      }
      default:
        body[k] = String(f[k]).trim();
    }
  }
  return { body, errors };
}

export function SettingsPage() {
  const [s, setS] = useState<Settings | null>(null);
  const [orig, setOrig] = useState<Form | null>(null);
  const [f, setF] = useState<Form | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const apply = (d: Settings) => {
    setS(d);
    const fm = toForm(d);
    setOrig(fm);
    setF(fm);
  };
  useEffect(() => {
    api.get<Settings>('/admin/settings').then(apply, setErr);
  }, []);
  if (!f || !orig || !s) return err ? <ErrorBox error={err} /> : <Loading />;

  const save = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    setSaved(false);
    const { body, errors } = toPayload(f, orig);
    if (Object.keys(errors).length) {
      setErr(new ApiError(400, t('settings.fixErrors'), errors));
      return;
    }
    if (!Object.keys(body).length) {
      setSaved(true);
      return;
    }
    setBusy(true);
    try {
      const d = await api.put<Settings>('/admin/settings', body);
      apply(d);
      publicSettings.set({
        ...publicSettings.get(),
        site_name: d.site_name,
        register_mode: d.register_mode as 'open',
        max_upload_bytes: d.max_upload_bytes,
      });
      setSaved(true);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const text = (k: Key, type = 'text', extra: Record<string, string | number> = {}) => (
    <input name={k} type={type} value={String(f[k])} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} {...extra} />
  );
  const fld = (k: Key, children: preact.ComponentChildren, hintKey?: MsgKey) => (
    <Field label={t(('settings.' + k) as MsgKey)} error={fieldError(err, k)} hint={hintKey ? t(hintKey) : undefined}>
      {children}
    </Field>
  );
  const hw = Array.from(new Set(['none', ...(s.hwaccel_available ?? []), String(f.hwaccel)]));
  const last = s.webhook_last_delivery;
  return (
    <form class="settings" onSubmit={save} noValidate>
      <ErrorBox error={err} inline={[...editable]} />
      <fieldset class="card">
        <legend>{t('settings.site')}</legend>
        {fld('site_name', text('site_name'))}
        {fld('site_url', text('site_url', 'url', { placeholder: 'https://example.com' }))}
        {fld(
          'register_mode',
          <select name="register_mode" value={String(f.register_mode)} onChange={(e) => setF({ ...f, register_mode: (e.target as HTMLSelectElement).value })}>
            {['open', 'invite', 'closed'].map((m) => (
              <option key={m} value={m}>
                {t(('settings.register.' + m) as MsgKey)}
              </option>
            ))}
          </select>,
        )}
        <label class="field check">
          <input type="checkbox" name="auto_publish" checked={!!f.auto_publish} onChange={(e) => setF({ ...f, auto_publish: e.currentTarget.checked })} />
          <span>{t('settings.auto_publish')}</span>
          {fieldError(err, 'auto_publish') && <small class="field-error">{fieldError(err, 'auto_publish')}</small>}
        </label>
      </fieldset>
      <fieldset class="card">
        <legend>{t('settings.transcoding')}</legend>
        {fld('transcode_concurrency', text('transcode_concurrency', 'number', { min: 1, max: 16 }), 'settings.concurrencyHint')}
        {fld('ladder', text('ladder', 'text', { placeholder: '1080, 720, 480, 360' }), 'settings.ladderHint')}
        {fld('hls_segment_seconds', text('hls_segment_seconds', 'number', { min: 2, max: 10 }), 'settings.segmentHint')}
        {fld(
          'video_preset',
          <select name="video_preset" value={String(f.video_preset)} onChange={(e) => setF({ ...f, video_preset: (e.target as HTMLSelectElement).value })}>
            {Array.from(new Set([...presets, String(f.video_preset)])).map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>,
        )}
        {fld(
          'hwaccel',
          <select name="hwaccel" value={String(f.hwaccel)} onChange={(e) => setF({ ...f, hwaccel: (e.target as HTMLSelectElement).value })}>
            {hw.map((h) => (
              <option key={h} value={h}>
                {h === 'none' ? t('settings.hwaccelNone') : h}
              </option>
            ))}
          </select>,
          hw.length <= 1 ? 'settings.hwaccelNoneFound' : undefined,
        )}
      </fieldset>
      <fieldset class="card">
        <legend>{t('settings.limits')}</legend>
        {fld('max_upload_bytes', text('max_upload_bytes', 'number', { min: 0 }), 'settings.maxUploadHint')}
        {fld('rate_limit_rps', text('rate_limit_rps', 'number', { min: 1 }))}
        {fld('rate_limit_burst', text('rate_limit_burst', 'number', { min: 1 }))}
      </fieldset>
      <fieldset class="card">
        <legend>Webhook</legend>
        {fld('webhook_url', text('webhook_url', 'url', { placeholder: 'https://…' }), 'settings.webhookHint')}
        {s.webhook_secret && (
          <div class="field">
            <span class="label">{t('settings.webhook_secret')}</span>
            <span class="kv">
              <code>{s.webhook_secret}</code> <CopyButton text={s.webhook_secret} />
            </span>
          </div>
        )}
        <p class="muted">
          {t('settings.lastDelivery')}:{' '}
          {last
            ? `${last.at} · ${last.event} · task #${last.task_id} · HTTP ${last.status || '–'} · ${t('settings.attempts', { n: last.attempts })}${last.error ? ' · ' + last.error : ' · OK'}`
            : t('settings.never')}
        </p>
      </fieldset>
      <div class="actions sticky">
        <button class="primary" type="submit" disabled={busy}>
          {t('common.save')}
        </button>
        <button type="button" onClick={() => (setF(orig), setErr(null))}>
          {t('settings.reset')}
        </button>
        {saved && <span class="ok">{t('common.saved')}</span>}
      </div>
    </form>
  );
}
