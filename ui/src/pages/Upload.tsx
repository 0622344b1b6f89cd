// The upload page: drop several files, give each a title, category and
// tags, and watch them go up in chunks. Uploads keep running while the
// person browses elsewhere in the app, and an unfinished one resumes when
// the same file is chosen again after a reload.
import { useEffect, useReducer, useRef, useState } from 'preact/hooks';
import { t } from '../i18n';
import { bytes, duration, splitTags } from '../format';
import { api, publicSettings, useStore } from '../state';
import { CategorySelect, errorText, ProgressBar, useCategories } from '../components/ui';
import { ApiError, type Category } from '../api';
import { fileKey, localResumeStore, UploadQueue, type UploadItem } from '../upload/queue';
import { httpTransport } from '../upload/transport';

const resumeStore = localResumeStore(typeof localStorage !== 'undefined' ? localStorage : undefined);
let queue: UploadQueue | null = null;
export function uploadQueue(): UploadQueue {
  if (!queue) {
    const q = (queue = new UploadQueue({ transport: httpTransport(api), store: resumeStore }));
    // Uploads go on while the person uses the rest of the app, but not past
    // closing or reloading the tab: ask first, as PeerTube and YouTube do.
    // (What was sent is kept; choosing the file again resumes it.)
    window.addEventListener('beforeunload', (e) => {
      if (!q.items.some(moving)) return;
      e.preventDefault();
      e.returnValue = '';
    });
  }
  return queue;
}

const moving = (i: UploadItem) => i.state === 'checking' || i.state === 'uploading' || i.state === 'completing';

/** useActiveUploads counts the uploads under way, for the header: they go on
 * while the person is on another page of the app. */
export function useActiveUploads(): number {
  const [n, setN] = useState(0);
  useEffect(() => {
    const q = uploadQueue();
    const count = () => setN(q.items.filter(moving).length);
    count();
    return q.subscribe(count);
  }, []);
  return n;
}

export function Upload() {
  const q = uploadQueue();
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const cats = useCategories();
  const [drag, setDrag] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    let pending = false;
    // Progress events come fast; draw at most once a frame.
    const off = q.subscribe(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        redraw(0);
      });
    });
    return () => void off();
  }, []);

  // A file over the server's cap is refused when chosen, not after it was
  // sent; also when the cap becomes known (or changes) after the choice.
  const max = useStore(publicSettings).max_upload_bytes ?? 0;
  const refuseOversize = () => {
    if (max <= 0) return;
    for (const it of q.items) {
      if (it.state === 'ready' && it.file.size > max) q.refuse(it.id, 413, t('upload.tooLarge', { max: bytes(max) }));
    }
  };
  useEffect(refuseOversize, [max]);
  const addFiles = (files: FileList | null) => {
    if (!files) return;
    for (const f of Array.from(files)) {
      // The same file twice would race for one upload: keep the first.
      if (q.items.some((i) => i.key === fileKey(f) && i.state !== 'done')) continue;
      q.add(f);
    }
    refuseOversize();
  };
  // Unfinished uploads from an earlier visit whose file is not chosen yet.
  const waiting = resumeStore.list().filter((r) => !q.items.some((i) => i.key === fileKey(r)));
  const ready = q.items.filter((i) => i.state === 'ready').length;

  return (
    <div class="upload">
      <h1>{t('upload.title')}</h1>
      <div
        class={'dropzone' + (drag ? ' over' : '')}
        onDragOver={(e) => {
          e.preventDefault();
          setDrag(true);
        }}
        onDragLeave={() => setDrag(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDrag(false);
          addFiles(e.dataTransfer?.files ?? null);
        }}
        onClick={() => input.current?.click()}
      >
        <p>{t('upload.drop')}</p>
        <button type="button" class="primary">
          {t('upload.choose')}
        </button>
        <input
          ref={input}
          type="file"
          accept="video/*,.mkv,.ts,.m2ts,.flv,.wmv,.rmvb"
          multiple
          hidden
          onChange={(e) => {
            addFiles(e.currentTarget.files);
            e.currentTarget.value = '';
          }}
        />
      </div>
      {waiting.length > 0 && (
        <div class="alert info resume-list">
          <p>{t('upload.unfinished')}</p>
          <ul>
            {waiting.map((r) => (
              <li key={r.upload_id}>
                <b>{r.name}</b> ({bytes(r.size)}) – {r.meta.title}{' '}
                <button class="small link" onClick={() => (resumeStore.delete(fileKey(r)), redraw(0))}>
                  {t('upload.forget')}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      {ready > 1 && (
        <p>
          <button class="primary" onClick={() => q.startAll()}>
            {t('upload.startAll', { n: ready })}
          </button>
        </p>
      )}
      <ul class="upload-items">
        {q.items.map((it) => (
          <li key={it.id}>
            <UploadCard q={q} it={it} cats={cats} />
          </li>
        ))}
      </ul>
    </div>
  );
}

function UploadCard({ q, it, cats }: { q: UploadQueue; it: UploadItem; cats: Category[] }) {
  const editable = it.state === 'ready' || (it.state === 'error' && !it.uploadId);
  const [tags, setTags] = useState(it.meta.tags.join(', '));
  const pct = q.progress(it) * 100;
  const sent = q.bytesSent(it);
  return (
    <div class={'card upload-card state-' + it.state} data-file={it.file.name}>
      <header>
        <b class="filename">{it.file.name}</b>
        <span class="muted">{bytes(it.file.size)}</span>
        <span class={'badge state ' + it.state}>{t(('upload.state.' + it.state) as 'upload.state.ready')}</span>
      </header>
      {editable ? (
        <div class="form-grid">
          <label class="field">
            <span class="label">{t('video.title')}</span>
            <input name="title" value={it.meta.title} maxLength={200} onInput={(e) => q.update(it.id, { title: e.currentTarget.value })} required />
          </label>
          <label class="field">
            <span class="label">{t('video.category')}</span>
            <CategorySelect cats={cats} value={it.meta.category_id} onChange={(id) => q.update(it.id, { category_id: id })} />
          </label>
          <label class="field wide">
            <span class="label">{t('video.description')}</span>
            <textarea name="description" rows={2} value={it.meta.description} onInput={(e) => q.update(it.id, { description: e.currentTarget.value })} />
          </label>
          <label class="field wide">
            <span class="label">{t('video.tags')}</span>
            <input
              name="tags"
              value={tags}
              placeholder={t('video.tagsHint')}
              onInput={(e) => {
                setTags(e.currentTarget.value);
                q.update(it.id, { tags: splitTags(e.currentTarget.value) });
              }}
            />
          </label>
        </div>
      ) : (
        <p class="upload-title">{it.meta.title}</p>
      )}
      {it.resumable && it.state === 'ready' && <p class="muted">{t('upload.willResume')}</p>}
      {it.resumedChunks > 0 && <p class="muted resumed">{t('upload.resumed', { n: it.resumedChunks, total: it.totalChunks })}</p>}
      {it.state !== 'ready' && (
        <>
          <ProgressBar value={pct} label={`${pct.toFixed(pct < 10 ? 1 : 0)}%`} />
          <p class="muted upload-stats">
            {bytes(sent)} / {bytes(it.file.size)}
            {it.state === 'uploading' && it.speed > 0 && (
              <>
                {' · '}
                {bytes(it.speed)}/s · {t('upload.eta', { t: it.eta === null ? '…' : duration(it.eta) })}
              </>
            )}
            {(it.waiting.size > 0 || it.backingOff) && <> · {t('upload.retrying')}</>}
          </p>
        </>
      )}
      {it.state === 'error' && (
        <div class="alert error" role="alert">
          {errorText(new ApiError(it.errorCode, it.error))}
          {Object.entries(it.errors).map(([k, v]) => (
            <div key={k}>
              <b>{k}</b>: {v}
            </div>
          ))}
        </div>
      )}
      <div class="actions">
        {it.state === 'ready' && (
          <button class="primary" onClick={() => q.start(it.id)}>
            {t('upload.start')}
          </button>
        )}
        {it.state === 'uploading' && <button onClick={() => q.pause(it.id)}>{t('upload.pause')}</button>}
        {it.state === 'paused' && (
          <button class="primary" onClick={() => q.resume(it.id)}>
            {t('upload.resume')}
          </button>
        )}
        {it.state === 'error' && (
          <button class="primary" onClick={() => q.retry(it.id)}>
            {t('upload.retry')}
          </button>
        )}
        {it.state === 'done' && (
          <>
            <span class="ok">{t('upload.done')}</span>
            <a href={'/watch/' + it.videoId}>{t('upload.view')}</a>
            <a href="/me/videos">{t('nav.myVideos')}</a>
          </>
        )}
        {it.state !== 'completing' && it.state !== 'checking' && (
          <button class="link" onClick={() => q.remove(it.id)}>
            {it.state === 'done' ? t('upload.dismiss') : t('upload.cancel')}
          </button>
        )}
      </div>
    </div>
  );
}
