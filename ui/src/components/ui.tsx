// Small shared pieces: form fields with their error, error boxes, pager,
// modal, category select, progress bar, copy button.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, flattenCategories, type Category } from '../api';
import { lang, t, type MsgKey } from '../i18n';
import { api } from '../state';

/** errorText turns any failure into words for a person. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 0) return t('error.network');
    if (e.code === 429) return t('error.rate');
    // The server speaks English; lead with the document's words for the code.
    const key = ('error.code.' + e.code) as MsgKey;
    const head = t(key) === key ? '' : t(key);
    if (!e.message) return head || t('error.generic', { code: e.code });
    return head ? head + (lang() === 'zh-CN' ? '：' : ': ') + e.message : e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** ErrorBox says what went wrong; field errors that the form shows next to
 * their fields (named in `inline`) are not repeated here. */
export function ErrorBox({ error, inline = [] }: { error: unknown; inline?: string[] }) {
  if (!error) return null;
  const fields = error instanceof ApiError ? Object.entries(error.errors).filter(([k]) => !inline.includes(k)) : [];
  return (
    <div class="alert error" role="alert">
      <span>{errorText(error)}</span>
      {fields.length > 0 && (
        <ul>
          {fields.map(([k, v]) => (
            <li key={k}>
              <b>{k}</b>: {v}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function fieldError(e: unknown, name: string): string {
  return e instanceof ApiError ? e.errors[name] ?? '' : '';
}

export function Field(props: { label: string; error?: string; hint?: string; children: ComponentChildren; wide?: boolean }) {
  return (
    <label class={'field' + (props.error ? ' has-error' : '') + (props.wide ? ' wide' : '')}>
      <span class="label">{props.label}</span>
      {props.children}
      {props.hint && !props.error && <small class="hint">{props.hint}</small>}
      {props.error && <small class="field-error">{props.error}</small>}
    </label>
  );
}

export function Pager({ page, size, total, onPage }: { page: number; size: number; total: number; onPage: (p: number) => void }) {
  const pages = Math.max(1, Math.ceil(total / size));
  if (pages <= 1) return null;
  const nums: number[] = [];
  for (let p = Math.max(1, page - 2); p <= Math.min(pages, page + 2); p++) nums.push(p);
  return (
    <nav class="pager" aria-label="pages">
      <button disabled={page <= 1} onClick={() => onPage(page - 1)}>
        ‹ {t('pager.prev')}
      </button>
      {nums.map((p) => (
        <button key={p} class={p === page ? 'current' : ''} aria-current={p === page ? 'page' : undefined} onClick={() => onPage(p)}>
          {p}
        </button>
      ))}
      <button disabled={page >= pages} onClick={() => onPage(page + 1)}>
        {t('pager.next')} ›
      </button>
      <span class="muted">{t('pager.total', { total })}</span>
    </nav>
  );
}

export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  useEffect(() => {
    const k = (e: KeyboardEvent) => e.key === 'Escape' && props.onClose();
    document.addEventListener('keydown', k);
    return () => document.removeEventListener('keydown', k);
  }, [props.onClose]);
  return (
    <div class="modal-back" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class={'modal' + (props.wide ? ' wide' : '')} role="dialog" aria-modal="true" aria-label={props.title}>
        <header>
          <h2>{props.title}</h2>
          <button class="icon" aria-label={t('common.close')} onClick={props.onClose}>
            ×
          </button>
        </header>
        {props.children}
      </div>
    </div>
  );
}

/** ConfirmButton asks "are you sure?" inline before acting. */
export function ConfirmButton(props: {
  label: string;
  confirm: string;
  onConfirm: () => void | Promise<void>;
  class?: string;
  disabled?: boolean;
  /** The answers' words, where "yes"/"cancel" would be ambiguous. */
  yes?: string;
  no?: string;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button class={props.class ?? 'danger'} disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  return (
    <span class="confirm">
      <span>{props.confirm}</span>
      <button
        class="danger"
        onClick={async () => {
          setAsking(false);
          await props.onConfirm();
        }}
      >
        {props.yes ?? t('common.yes')}
      </button>
      <button onClick={() => setAsking(false)}>{props.no ?? t('common.no')}</button>
    </span>
  );
}

let categoriesCache: Promise<Category[]> | null = null;
export function loadCategories(fresh = false): Promise<Category[]> {
  if (fresh || !categoriesCache) {
    categoriesCache = api.get<Category[]>('/categories').then((c) => c ?? []);
    categoriesCache.catch(() => (categoriesCache = null));
  }
  return categoriesCache;
}

export function useCategories(): Category[] {
  const [cats, setCats] = useState<Category[]>([]);
  useEffect(() => {
    loadCategories().then(setCats, () => setCats([]));
  }, []);
  return cats;
}

export function CategorySelect(props: {
  value: number;
  onChange: (id: number) => void;
  cats: Category[];
  none?: string;
  id?: string;
  exclude?: number;
}) {
  return (
    <select id={props.id} value={String(props.value || 0)} onChange={(e) => props.onChange(Number((e.target as HTMLSelectElement).value))}>
      <option value="0">{props.none ?? t('category.none')}</option>
      {flattenCategories(props.cats)
        .filter(({ cat }) => cat.id !== props.exclude)
        .map(({ cat, depth }) => (
          <option key={cat.id} value={String(cat.id)}>
            {'\u00a0\u00a0'.repeat(depth) + (depth ? '└ ' : '') + cat.name}
          </option>
        ))}
    </select>
  );
}

export function ProgressBar({ value, label }: { value: number; label?: string }) {
  const pct = Math.max(0, Math.min(100, value));
  return (
    <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)} aria-label={label}>
      <div class="bar" style={{ width: pct + '%' }} />
      <span>{label ?? Math.round(pct) + '%'}</span>
    </div>
  );
}

export function CopyButton({ text, label, title }: { text: string; label?: string; title?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="small"
      data-copy={text}
      title={title}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          // Clipboard API needs a secure context; fall back to a hidden textarea.
          const ta = document.createElement('textarea');
          ta.value = text;
          document.body.appendChild(ta);
          ta.select();
          document.execCommand('copy');
          ta.remove();
        }
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? t('common.copied') : label ?? t('common.copy')}
    </button>
  );
}

export function Loading() {
  return <p class="muted loading">{t('common.loading')}</p>;
}

export function videoStatusText(status: number): string {
  switch (status) {
    case 0:
      return t('video.status.processing');
    case 1:
      return t('video.status.published');
    case 2:
      return t('video.status.failed');
    case 3:
      return t('video.status.hidden');
    default:
      return String(status);
  }
}

export function taskStatusText(s: string): string {
  const k = ('task.status.' + s) as 'task.status.pending';
  const v = t(k);
  return v === k ? s : v;
}

export function Cover({ src, alt }: { src: string; alt: string }) {
  const [bad, setBad] = useState(!src);
  useEffect(() => setBad(!src), [src]);
  return bad ? <div class="cover placeholder" aria-label={alt}>▶</div> : <img class="cover" src={src} alt={alt} loading="lazy" onError={() => setBad(true)} />;
}
