// My videos: every status, live transcoding state, edit, hide or publish,
// and delete after a confirmation.
import { useEffect, useState } from 'preact/hooks';
import type { Category, Page, Video, VideoDetail } from '../api';
import { t } from '../i18n';
import { duration, splitTags } from '../format';
import { api, setQuery, usePoll, useQuery } from '../state';
import {
  CategorySelect,
  ConfirmButton,
  Cover,
  ErrorBox,
  Field,
  fieldError,
  Loading,
  Modal,
  Pager,
  ProgressBar,
  taskStatusText,
  useCategories,
  videoStatusText,
} from '../components/ui';

const size = 20;

export function MyVideos() {
  const q = useQuery();
  const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
  const editId = Number(q.get('edit') ?? 0);
  const cats = useCategories();
  const [data, setData] = useState<Page<Video> | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [actionErr, setActionErr] = useState<unknown>(null);
  const load = () => api.get<Page<Video>>('/videos', { mine: 1, page, size }).then((d) => (setData(d), setErr(null)), setErr);
  useEffect(() => {
    load();
  }, [page]);
  const busy = !!data?.list.some((v) => v.status === 0 && v.transcode_status !== 'failed' && v.transcode_status !== 'canceled');
  usePoll(load, 2000, busy, [page]);

  const setStatus = async (v: Video, status: number) => {
    setActionErr(null);
    try {
      await api.put('/videos/' + v.id, { status });
      await load();
    } catch (e) {
      setActionErr(e);
    }
  };
  const remove = async (v: Video) => {
    setActionErr(null);
    try {
      await api.del('/videos/' + v.id);
      await load();
    } catch (e) {
      setActionErr(e);
    }
  };

  return (
    <div class="my-videos">
      <div class="toolbar">
        <h1>{t('nav.myVideos')}</h1>
        <a class="button primary" href="/upload">
          {t('nav.upload')}
        </a>
      </div>
      <ErrorBox error={err || actionErr} />
      {!data && !err && <Loading />}
      {data && data.list.length === 0 && (
        <p class="empty">
          {t('my.empty')} <a href="/upload">{t('nav.upload')}</a>
        </p>
      )}
      <ul class="rows">
        {data?.list.map((v) => (
          <li key={v.id} class="video-row" data-id={v.id}>
            <a href={'/watch/' + v.id} class="thumb">
              <Cover src={v.cover} alt={v.title} />
              {v.duration > 0 && <span class="duration">{duration(v.duration)}</span>}
            </a>
            <div class="info">
              <a href={'/watch/' + v.id}>
                <b>{v.title}</b>
              </a>
              <div class="muted">
                <span class={'badge s' + v.status}>{videoStatusText(v.status)}</span>{' '}
                {v.missing && <span class="badge s2">{t('video.missing')}</span>} {t('my.transcode')}: {taskStatusText(v.transcode_status)}
                {v.category?.id ? <> · {v.category.name}</> : null} · {t('video.views', { n: v.views })} · {v.created_at}
              </div>
              {/* A bar only while it moves: a canceled or failed transcode stays at 0 %. */}
              {(v.transcode_status === 'pending' || v.transcode_status === 'processing') && typeof (v.transcode_progress ?? v.progress) === 'number' && (
                <ProgressBar value={(v.transcode_progress ?? v.progress)!} />
              )}
            </div>
            <div class="actions">
              <button onClick={() => setQuery({ edit: v.id })}>{t('common.edit')}</button>
              {v.status === 1 && <button onClick={() => setStatus(v, 3)}>{t('my.hide')}</button>}
              {v.status === 3 && <button onClick={() => setStatus(v, 1)}>{t('my.publish')}</button>}
              <ConfirmButton label={t('common.delete')} confirm={t('my.confirmDelete', { title: v.title })} onConfirm={() => remove(v)} />
            </div>
          </li>
        ))}
      </ul>
      {data && <Pager page={page} size={size} total={data.total} onPage={(p) => setQuery({ page: p > 1 ? p : undefined }, { replace: false })} />}
      {editId > 0 && <EditVideo id={editId} cats={cats} onClose={() => setQuery({ edit: undefined })} onSaved={load} />}
    </div>
  );
}

function EditVideo({ id, cats, onClose, onSaved }: { id: number; cats: Category[]; onClose: () => void; onSaved: () => void }) {
  const [f, setF] = useState<{ title: string; description: string; category_id: number; tags: string } | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api.get<VideoDetail>('/videos/' + id).then(
      (v) => setF({ title: v.title, description: v.description ?? '', category_id: v.category?.id ?? 0, tags: (v.tags ?? []).join(', ') }),
      setErr,
    );
  }, [id]);
  const save = async (e: Event) => {
    e.preventDefault();
    if (!f) return;
    setBusy(true);
    setErr(null);
    try {
      await api.put('/videos/' + id, { title: f.title, description: f.description, category_id: f.category_id, tags: splitTags(f.tags) });
      onSaved();
      onClose();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={t('my.editTitle')} onClose={onClose}>
      <ErrorBox error={err} inline={f ? ['title', 'description', 'category_id', 'tags'] : []} />
      {!f ? (
        !err && <Loading />
      ) : (
        <form onSubmit={save}>
          <Field label={t('video.title')} error={fieldError(err, 'title')}>
            <input name="title" value={f.title} maxLength={200} onInput={(e) => setF({ ...f, title: e.currentTarget.value })} required />
          </Field>
          <Field label={t('video.description')} error={fieldError(err, 'description')}>
            <textarea rows={3} value={f.description} onInput={(e) => setF({ ...f, description: e.currentTarget.value })} />
          </Field>
          <Field label={t('video.category')} error={fieldError(err, 'category_id')}>
            <CategorySelect cats={cats} value={f.category_id} onChange={(c) => setF({ ...f, category_id: c })} />
          </Field>
          <Field label={t('video.tags')} hint={t('video.tagsHint')} error={fieldError(err, 'tags')}>
            <input value={f.tags} onInput={(e) => setF({ ...f, tags: e.currentTarget.value })} />
          </Field>
          <div class="actions">
            <button class="primary" type="submit" disabled={busy}>
              {t('common.save')}
            </button>
            <button type="button" onClick={onClose}>
              {t('common.cancel')}
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
