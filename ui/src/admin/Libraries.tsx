// Library folders: add a NAS folder, scan now, progress, delete.
import { useEffect, useState } from 'preact/hooks';
import { flattenCategories } from '../api';
import { t } from '../i18n';
import { api, usePoll } from '../state';
import { CategorySelect, ConfirmButton, ErrorBox, Field, fieldError, Loading, ProgressBar, useCategories } from '../components/ui';

/** Library is read loosely: the list answer names may grow. */
export interface Library {
  id: number;
  path: string;
  category_id: number;
  category?: { id: number; name: string } | null;
  scan_interval_minutes: number;
  scanning?: boolean;
  scan_scanned?: number;
  scan_total?: number;
  scan_progress?: number | { scanned: number; total: number; percent: number } | null;
  last_scan_at?: string;
  last_error?: string;
  watching?: boolean;
  video_count?: number;
  missing_count?: number;
}

export function scanPercent(l: Library): number | null {
  const p = l.scan_progress;
  if (typeof p === 'number') return p;
  if (p && typeof p === 'object') {
    if (typeof p.percent === 'number' && p.total) return p.percent;
    if (p.total) return Math.round((p.scanned * 100) / p.total);
  }
  if (l.scan_total) return Math.round(((l.scan_scanned ?? 0) * 100) / l.scan_total);
  return null;
}

/** scanCounts gives "scanned/total" while a scan runs. */
export function scanCounts(l: Library): string {
  const p = l.scan_progress;
  if (p && typeof p === 'object') return `${p.scanned}/${p.total || '?'}`;
  return `${l.scan_scanned ?? 0}/${l.scan_total ?? '?'}`;
}

export function Libraries() {
  const cats = useCategories();
  const [list, setList] = useState<Library[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [actionErr, setActionErr] = useState<unknown>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const load = () =>
    api.get<Library[] | { list: Library[] }>('/admin/libraries').then((d) => (setList(Array.isArray(d) ? d : d?.list ?? []), setErr(null)), setErr);
  useEffect(() => {
    load();
  }, []);
  usePoll(load, 2000, !!list?.some((l) => l.scanning));
  const act = async (f: () => Promise<unknown>) => {
    setActionErr(null);
    try {
      await f();
      await load();
    } catch (e) {
      setActionErr(e);
    }
  };
  const catName = (l: Library) => {
    if (l.category?.name) return l.category.name;
    if (!l.category_id) return t('category.none');
    return flattenCategories(cats).find(({ cat }) => cat.id === l.category_id)?.cat.name ?? '#' + l.category_id;
  };
  return (
    <div class="libraries">
      <p class="muted">{t('libraries.intro')}</p>
      <LibraryForm cats={cats} onDone={load} />
      <ErrorBox error={err || actionErr} />
      {!list && !err && <Loading />}
      {list && list.length === 0 && <p class="empty">{t('libraries.none')}</p>}
      <ul class="rows">
        {list?.map((l) => {
          const pct = scanPercent(l);
          return (
            <li key={l.id} class="card library-row">
              {editing === l.id ? (
                <LibraryForm
                  cats={cats}
                  lib={l}
                  onDone={() => {
                    setEditing(null);
                    load();
                  }}
                />
              ) : (
                <>
                  <div class="info">
                    <code class="path">{l.path}</code>
                    <div class="muted">
                      {catName(l)} · {t('libraries.videos', { n: l.video_count ?? 0 })}
                      {l.missing_count ? ` · ${t('libraries.missing', { n: l.missing_count })}` : ''} ·{' '}
                      {l.scan_interval_minutes ? t('libraries.every', { n: l.scan_interval_minutes }) : t('libraries.manual')}
                      {l.watching !== undefined && ` · ${l.watching ? t('libraries.watching') : t('libraries.notWatching')}`}
                    </div>
                    <div class="muted">
                      {t('libraries.lastScan')}: {l.last_scan_at || t('settings.never')}
                    </div>
                    {l.scanning && <ProgressBar value={pct ?? 0} label={pct === null ? t('libraries.scanning') : `${t('libraries.scanning')} ${scanCounts(l)}`} />}
                    {l.last_error && <div class="field-error">{l.last_error}</div>}
                  </div>
                  <div class="actions">
                    <button disabled={l.scanning} onClick={() => act(() => api.post(`/admin/libraries/${l.id}/scan`))}>
                      {t('libraries.scanNow')}
                    </button>
                    <button onClick={() => setEditing(l.id)}>{t('common.edit')}</button>
                    <ConfirmButton label={t('common.delete')} confirm={t('libraries.confirmDelete')} onConfirm={() => act(() => api.del('/admin/libraries/' + l.id))} />
                  </div>
                </>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function LibraryForm({ cats, lib, onDone }: { cats: ReturnType<typeof useCategories>; lib?: Library; onDone: () => void }) {
  const [f, setF] = useState({ path: lib?.path ?? '', category_id: lib?.category_id ?? 0, scan_interval_minutes: String(lib?.scan_interval_minutes ?? 720) });
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    setBusy(true);
    try {
      const body = { path: f.path.trim(), category_id: f.category_id, scan_interval_minutes: Number(f.scan_interval_minutes) || 0 };
      if (lib) await api.put('/admin/libraries/' + lib.id, body);
      else await api.post('/admin/libraries', body);
      if (!lib) setF({ path: '', category_id: 0, scan_interval_minutes: '720' });
      onDone();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class={lib ? 'library-form' : 'card library-form'} onSubmit={save}>
      {!lib && <h2>{t('libraries.add')}</h2>}
      <ErrorBox error={err} inline={['path', 'category_id', 'scan_interval_minutes']} />
      <div class="form-grid">
        <Field label={t('libraries.path')} error={fieldError(err, 'path')} wide>
          <input name="path" value={f.path} placeholder="/srv/media/movies" onInput={(e) => setF({ ...f, path: e.currentTarget.value })} required />
        </Field>
        <Field label={t('video.category')} error={fieldError(err, 'category_id')}>
          <CategorySelect cats={cats} value={f.category_id} onChange={(c) => setF({ ...f, category_id: c })} />
        </Field>
        <Field label={t('libraries.interval')} hint={t('libraries.intervalHint')} error={fieldError(err, 'scan_interval_minutes')}>
          <input type="number" min="0" value={f.scan_interval_minutes} onInput={(e) => setF({ ...f, scan_interval_minutes: e.currentTarget.value })} />
        </Field>
      </div>
      <div class="actions">
        <button class="primary" type="submit" disabled={busy}>
          {lib ? t('common.save') : t('libraries.addButton')}
        </button>
        {lib && (
          <button type="button" onClick={onDone}>
            {t('common.cancel')}
          </button>
        )}
      </div>
    </form>
  );
}
