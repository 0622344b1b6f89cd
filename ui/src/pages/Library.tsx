// The library: a grid of covers with search as you type, a category tree
// filter, order and paging, all kept in the URL.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Category, Page, Video } from '../api';
import { t } from '../i18n';
import { duration, count } from '../format';
import { api, publicSettings, session, setQuery, useQuery, useStore } from '../state';
import { Cover, ErrorBox, Loading, Pager, useCategories, videoStatusText } from '../components/ui';

const pageSize = 24;

export function Library() {
  const q = useQuery();
  const keyword = q.get('q') ?? '';
  const category = Number(q.get('category') ?? 0) || 0;
  const order = q.get('order') === 'views' ? 'views' : 'created_at';
  const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
  const cats = useCategories();
  const [data, setData] = useState<Page<Video> | null>(null);
  const [err, setErr] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    setErr(null);
    api
      .get<Page<Video>>('/videos', { page, size: pageSize, keyword, category_id: category || undefined, order })
      .then((d) => live && setData(d), (e) => live && setErr(e));
    return () => {
      live = false;
    };
  }, [keyword, category, order, page]);

  return (
    <div class="library">
      <div class="toolbar">
        <SearchBox value={keyword} onSearch={(v) => setQuery({ q: v, page: undefined })} />
        <select
          aria-label={t('library.order')}
          value={order}
          onChange={(e) => setQuery({ order: (e.target as HTMLSelectElement).value === 'views' ? 'views' : undefined, page: undefined })}
        >
          <option value="created_at">{t('library.newest')}</option>
          <option value="views">{t('library.mostViewed')}</option>
        </select>
      </div>
      {/* No categories yet: no sidebar with nothing but "all". */}
      <div class={'library-body' + (cats.length || category ? '' : ' no-cats')}>
        {(cats.length > 0 || category > 0) && (
          <aside class="cat-tree" aria-label={t('library.categories')}>
            <CategoryTree cats={cats} current={category} />
          </aside>
        )}
        <section>
          <ErrorBox error={err} />
          {!data && !err && <Loading />}
          {data && data.list.length === 0 && <EmptyLibrary keyword={keyword} category={category} />}
          {data && data.list.length > 0 && (
            <ul class="grid">
              {data.list.map((v) => (
                <li key={v.id}>
                  <VideoCard v={v} />
                </li>
              ))}
            </ul>
          )}
          {data && <Pager page={page} size={pageSize} total={data.total} onPage={(p) => setQuery({ page: p > 1 ? p : undefined }, { replace: false })} />}
        </section>
      </div>
    </div>
  );
}

function EmptyLibrary({ keyword, category }: { keyword: string; category: number }) {
  const user = useStore(session);
  const settings = useStore(publicSettings);
  if (keyword) return <p class="empty">{t('library.noMatch', { q: keyword })}</p>;
  // An empty category is not an empty library.
  if (category)
    return (
      <div class="empty empty-category">
        <p>{t('library.emptyCategory')}</p>
        <a href="/">{t('library.allCategories')}</a>
      </div>
    );
  return (
    <div class="empty">
      <p>{t('library.empty')}</p>
      {user ? (
        <a class="button primary" href="/upload">
          {t('nav.upload')}
        </a>
      ) : (
        <p>
          <a href="/login">{t('nav.login')}</a>
          {settings.needs_setup !== false && (
            <>
              {' · '}
              <a href="/setup">{t('auth.firstRun')}</a>
            </>
          )}
        </p>
      )}
    </div>
  );
}

export function VideoCard({ v }: { v: Video }) {
  return (
    <a class="video-card" href={`/watch/${v.id}`}>
      <div class="thumb">
        <Cover src={v.cover} alt={v.title} />
        <span class="duration">{duration(v.duration)}</span>
        {v.status !== undefined && v.status !== 1 && <span class={'badge corner s' + v.status}>{videoStatusText(v.status)}</span>}
      </div>
      <div class="meta">
        <h3 title={v.title}>{v.title}</h3>
        <small class="muted">
          {t('video.views', { n: count(v.views) })} · {v.created_at?.slice(0, 10)}
        </small>
      </div>
    </a>
  );
}

/** SearchBox searches as the person types, waiting for the IME to finish a
 * Chinese word before it sends anything. */
export function SearchBox({ value, onSearch, delay = 300, placeholder }: { value: string; onSearch: (v: string) => void; delay?: number; placeholder?: string }) {
  const [text, setText] = useState(value);
  const input = useRef<HTMLInputElement>(null);
  const composing = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout>>();
  const latest = useRef({ value, onSearch });
  latest.current = { value, onSearch };
  useEffect(() => setText(value), [value]);
  const schedule = (v: string) => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      if (v.trim() !== latest.current.value) latest.current.onSearch(v.trim());
    }, delay);
  };
  useEffect(() => {
    // Composition events have no on* property, so Preact cannot bind them
    // by name: listen directly.
    const el = input.current!;
    const start = () => {
      composing.current = true;
      clearTimeout(timer.current);
    };
    const end = () => {
      composing.current = false;
      setText(el.value);
      schedule(el.value);
    };
    el.addEventListener('compositionstart', start);
    el.addEventListener('compositionend', end);
    return () => {
      el.removeEventListener('compositionstart', start);
      el.removeEventListener('compositionend', end);
      clearTimeout(timer.current);
    };
  }, []);
  return (
    <input
      ref={input}
      type="search"
      class="search"
      placeholder={placeholder ?? t('library.search')}
      aria-label={placeholder ?? t('library.search')}
      value={text}
      onInput={(e) => {
        const v = e.currentTarget.value;
        setText(v);
        if (!composing.current && !(e as InputEvent).isComposing) schedule(v);
      }}
      onKeyDown={(e) => {
        if (e.key === 'Enter' && !composing.current && !e.isComposing) {
          clearTimeout(timer.current);
          onSearch(text.trim());
        }
      }}
    />
  );
}

function CategoryTree({ cats, current }: { cats: Category[]; current: number }) {
  const item = (c: Category) => (
    <li key={c.id}>
      <a
        href={'?category=' + c.id}
        class={c.id === current ? 'active' : ''}
        onClick={(e) => {
          e.preventDefault();
          setQuery({ category: c.id === current ? undefined : c.id, page: undefined }, { replace: false });
        }}
      >
        {c.name}
      </a>
      {c.children?.length ? <ul>{c.children.map(item)}</ul> : null}
    </li>
  );
  return (
    <ul class="tree">
      <li>
        <a
          href="/"
          class={current === 0 ? 'active' : ''}
          onClick={(e) => {
            e.preventDefault();
            setQuery({ category: undefined, page: undefined }, { replace: false });
          }}
        >
          {t('library.allCategories')}
        </a>
      </li>
      {cats.map(item)}
    </ul>
  );
}
