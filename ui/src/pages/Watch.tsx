// The player page: hls.js with a quality menu; Safari's native HLS only
// where hls.js cannot run (Chromium also claims native HLS these days).
import type HlsType from 'hls.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type VideoDetail } from '../api';
import { t } from '../i18n';
import { bytes, count, duration } from '../format';
import { api, session, usePageTitle, usePoll, useStore } from '../state';
import { CopyButton, ErrorBox, Loading, ProgressBar, taskStatusText, videoStatusText } from '../components/ui';

export function Watch({ params }: { params: Record<string, string> }) {
  const id = Number(params.id);
  const user = useStore(session);
  const [v, setV] = useState<VideoDetail | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const load = () =>
    api.get<VideoDetail>('/videos/' + id).then(
      (d) => {
        setV(d);
        setErr(null);
      },
      (e) => setErr(e),
    );
  useEffect(() => {
    setV(null);
    load();
  }, [id]);
  // While it is still transcoding, look again: until it can play, and while it
  // plays early (the server offers the first segments before the end) until the
  // status and progress below the player are final.
  const transcoding = !!v && (v.transcode_status === 'pending' || v.transcode_status === 'processing');
  usePoll(load, 3000, !!v && (transcoding || (!v.play_url && v.transcode_status !== 'failed' && v.transcode_status !== 'canceled')), [id]);
  usePageTitle(v?.title ?? '');
  // The player keeps the first address it was given: a fresh answer to the poll
  // must not restart what is playing.
  const src = useRef({ id: 0, url: '' });
  if (v?.play_url && src.current.id !== id) src.current = { id, url: v.play_url };
  const progress = v?.transcode_progress ?? v?.progress;

  if (err && !v) {
    const gone = err instanceof ApiError && err.code === 404;
    return (
      <div class="empty watch-missing">
        {gone ? <p>{t('watch.notFound')}</p> : <ErrorBox error={err} />}
        <p>
          <a href="/">{t('watch.backToLibrary')}</a>
          {gone && !user && (
            <>
              {' · '}
              <a href={'/login?next=' + encodeURIComponent('/watch/' + id)}>{t('watch.signInToSee')}</a>
            </>
          )}
        </p>
      </div>
    );
  }
  if (!v) return <Loading />;
  const mine = user && (user.id === v.user_id || user.role === 'admin');
  const stopped = v.transcode_status === 'failed' || v.transcode_status === 'canceled';
  return (
    <article class="watch">
      {v.play_url && src.current.id === id ? (
        <Player src={src.current.url} poster={v.cover} id={id} />
      ) : (
        <div class="player-wait">
          <p>{v.transcode_status === 'failed' ? t('watch.failed') : v.transcode_status === 'canceled' ? t('watch.canceled') : t('watch.transcoding')}</p>
          {!stopped && typeof progress === 'number' && <ProgressBar value={progress} />}
          <small class="muted">{taskStatusText(v.transcode_status)}</small>
          {v.transcode_error && <small class="transcode-error">{v.transcode_error}</small>}
          {stopped && user?.role === 'admin' && <a href={'/admin/tasks?status=' + v.transcode_status}>{t('watch.toTasks')}</a>}
        </div>
      )}
      {v.play_url && transcoding && (
        <p class="transcode-note muted">{t('watch.playingEarly', { p: typeof progress === 'number' ? Math.round(progress) : 0 })}</p>
      )}
      <h1>{v.title}</h1>
      <p class="muted stats">
        {v.uploader?.nickname && (
          <span class="uploader">
            {v.uploader.avatar ? <img src={v.uploader.avatar} alt="" class="avatar" /> : null}
            {v.uploader.nickname}
            {' · '}
          </span>
        )}
        {t('video.views', { n: count(v.views) })} · {v.created_at}
        {v.category?.id ? (
          <>
            {' · '}
            <a href={'/?category=' + v.category.id}>{v.category.name}</a>
          </>
        ) : null}
        {v.resolution && <> · {v.resolution}</>}
        {v.duration > 0 && <> · {duration(v.duration)}</>}
        {v.file_size > 0 && <> · {bytes(v.file_size)}</>}
        {v.status !== 1 && <span class={'badge s' + v.status}>{videoStatusText(v.status)}</span>}
      </p>
      {v.tags && v.tags.length > 0 && (
        <ul class="tags">
          {v.tags.map((tag) => (
            <li key={tag}>
              <a href={'/?q=' + encodeURIComponent(tag)}>#{tag}</a>
            </li>
          ))}
        </ul>
      )}
      {v.description && <p class="description">{v.description}</p>}
      {mine && (
        <p>
          <a href={'/me/videos?edit=' + v.id}>{t('watch.edit')}</a>
        </p>
      )}
    </article>
  );
}

interface Level {
  index: number;
  width: number;
  height: number;
  bitrate: number;
}

/** rungName names a quality the way the server names its rungs: by the
 * picture's short side, so a 360x640 phone video is "360p", not "640p". */
export function rungName(width: number, height: number, bitrate: number): string {
  const short = width && height ? Math.min(width, height) : height || width;
  return short ? short + 'p' : Math.round(bitrate / 1000) + ' kbps';
}

export type PlayerAction = 'toggle' | 'mute' | 'fullscreen' | { seek: number } | { volume: number };

/** playerKey maps a key pressed on the watch page to what the player does,
 * as on YouTube, PeerTube and Jellyfin; null leaves the key to the page.
 * Keys typed into a field, or with Ctrl, Alt or Cmd held, are never taken. */
export function playerKey(e: { key: string; ctrlKey?: boolean; altKey?: boolean; metaKey?: boolean }, target: string): PlayerAction | null {
  if (e.ctrlKey || e.altKey || e.metaKey) return null;
  if (/^(input|textarea|select)$/.test(target)) return null;
  // Space and Enter belong to a focused button or link.
  if ((target === 'button' || target === 'a') && (e.key === ' ' || e.key === 'Enter')) return null;
  switch (e.key) {
    case ' ':
    case 'k':
    case 'K':
      return 'toggle';
    case 'm':
    case 'M':
      return 'mute';
    case 'f':
    case 'F':
      return 'fullscreen';
    case 'ArrowLeft':
      return { seek: -5 };
    case 'ArrowRight':
      return { seek: 5 };
    case 'j':
    case 'J':
      return { seek: -10 };
    case 'l':
    case 'L':
      return { seek: 10 };
    case 'ArrowUp':
    case 'ArrowDown':
      // Elsewhere on the page these keys scroll it.
      return target === 'video' ? { volume: e.key === 'ArrowUp' ? 0.1 : -0.1 } : null;
  }
  return null;
}

/** resumeAt is where a video starts again, from the position kept when it
 * was last watched here: nowhere (0) for the first seconds or the last 5 %,
 * as Jellyfin does. */
export function resumeAt(saved: number, duration: number): number {
  if (!Number.isFinite(saved) || saved < 3) return 0;
  if (Number.isFinite(duration) && duration > 0 && saved >= duration * 0.95) return 0;
  return saved;
}

function positions(): Storage | undefined {
  try {
    return localStorage;
  } catch {
    return undefined;
  }
}

/** hlsConfig: startPosition 0 because a video playing early (still transcoding)
 * is an EVENT playlist, which hls.js would otherwise join near its end like live
 * TV: opened at 25 % of a 2-minute film it started at 12 s instead of 0. */
export const hlsConfig = { capLevelToPlayerSize: false, startPosition: 0 } as const;

export function Player({ src, poster, id }: { src: string; poster?: string; id?: number }) {
  const ref = useRef<HTMLVideoElement>(null);
  const hlsRef = useRef<HlsType | null>(null);
  const [levels, setLevels] = useState<Level[]>([]);
  const [chosen, setChosen] = useState(-1);
  const [playing, setPlaying] = useState(-1);
  const [err, setErr] = useState('');
  const [engine, setEngine] = useState('');
  const [resumed, setResumed] = useState(0);

  // Where this browser stopped watching, kept per video, to start there again.
  useEffect(() => {
    const video = ref.current;
    if (!video || !id) return;
    const key = 'mika.pos.' + id;
    let restored = false;
    let last = 0;
    const onMeta = () => {
      if (restored) return;
      restored = true;
      const at = resumeAt(Number(positions()?.getItem(key) ?? 0), video.duration);
      if (at > 0) {
        video.currentTime = at;
        setResumed(at);
      }
    };
    const onTime = () => {
      if (!restored || Date.now() - last < 2000) return;
      last = Date.now();
      const at = resumeAt(video.currentTime, video.duration);
      if (at > 0) positions()?.setItem(key, String(Math.floor(at)));
      else if (video.currentTime < 3) positions()?.removeItem(key);
    };
    const onEnded = () => positions()?.removeItem(key);
    video.addEventListener('loadedmetadata', onMeta);
    video.addEventListener('timeupdate', onTime);
    video.addEventListener('ended', onEnded);
    return () => {
      video.removeEventListener('loadedmetadata', onMeta);
      video.removeEventListener('timeupdate', onTime);
      video.removeEventListener('ended', onEnded);
    };
  }, [id, src]);

  useEffect(() => {
    const video = ref.current!;
    const url = new URL(src, location.origin).toString();
    let cleanup: (() => void) | undefined;
    let gone = false;
    setErr('');
    // hls.js is most of the app's weight: load it only on this page.
    import('hls.js').then(({ default: Hls }) => {
      if (gone) return;
      cleanup = attach(Hls, video, url);
    });
    return () => {
      gone = true;
      cleanup?.();
    };
  }, [src]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const video = ref.current;
      const el = e.target as HTMLElement | null;
      if (!video || e.defaultPrevented || el?.isContentEditable) return;
      const a = playerKey(e, el?.tagName?.toLowerCase() ?? '');
      if (!a) return;
      e.preventDefault();
      e.stopPropagation();
      if (a === 'toggle') {
        if (video.paused) video.play().catch(() => {});
        else video.pause();
      } else if (a === 'mute') video.muted = !video.muted;
      else if (a === 'fullscreen') {
        if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
        else video.requestFullscreen?.().catch(() => {});
      } else if ('seek' in a) {
        const end = Number.isFinite(video.duration) ? video.duration : Infinity;
        video.currentTime = Math.max(0, Math.min(end, video.currentTime + a.seek));
      } else {
        video.volume = Math.max(0, Math.min(1, Math.round((video.volume + a.volume) * 10) / 10));
        if (a.volume > 0) video.muted = false;
      }
    };
    // Capture: ahead of the video's own controls, which otherwise act on a
    // focused video's Space too (two toggles: nothing happens).
    document.addEventListener('keydown', onKey, true);
    return () => document.removeEventListener('keydown', onKey, true);
  }, []);

  const attach = (Hls: typeof HlsType, video: HTMLVideoElement, url: string): (() => void) | undefined => {
    if (Hls.isSupported()) {
      const hls = new Hls(hlsConfig);
      hlsRef.current = hls;
      setEngine('hls.js');
      hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
        setLevels(
          data.levels
            .map((l, index) => ({ index, width: l.width, height: l.height, bitrate: l.bitrate }))
            .sort((a, b) => b.height * b.width - a.height * a.width || b.bitrate - a.bitrate),
        );
      });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => setPlaying(data.level));
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
          setErr(t('watch.networkError'));
          hls.startLoad();
        } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else setErr(t('watch.playError'));
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      return () => {
        hls.destroy();
        hlsRef.current = null;
      };
    }
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      setEngine('native');
      video.src = url;
      return () => {
        video.removeAttribute('src');
        video.load();
      };
    }
    setErr(t('watch.unsupported'));
    return undefined;
  };

  const choose = (idx: number) => {
    setChosen(idx);
    if (hlsRef.current) hlsRef.current.currentLevel = idx;
  };
  const name = (l: Level) => rungName(l.width, l.height, l.bitrate);
  const playingLevel = levels.find((l) => l.index === playing);

  return (
    <div class="player">
      <video ref={ref} controls playsInline poster={poster || undefined} data-engine={engine} data-playing={playingLevel ? rungName(playingLevel.width, playingLevel.height, 0).replace('p', '') : undefined} />
      <div class="player-bar">
        <small class="muted keys-hint">{t('watch.keys')}</small>
        {resumed > 0 && (
          <span class="resumed">
            {t('watch.resumed', { at: duration(resumed) })}{' '}
            <button
              type="button"
              class="link"
              onClick={() => {
                const v = ref.current;
                if (v) v.currentTime = 0;
                setResumed(0);
              }}
            >
              {t('watch.startOver')}
            </button>
          </span>
        )}
        {levels.length > 0 && (
          <label class="quality">
            {t('watch.quality')}{' '}
            <select value={String(chosen)} onChange={(e) => choose(Number((e.target as HTMLSelectElement).value))}>
              <option value="-1">
                {t('watch.auto')}
                {chosen === -1 && playingLevel ? ` (${name(playingLevel)})` : ''}
              </option>
              {levels.map((l) => (
                <option key={l.index} value={String(l.index)}>
                  {name(l)}
                </option>
              ))}
            </select>
          </label>
        )}
        <CopyButton text={new URL(src, location.origin).href} label={t('watch.copyStream')} title={t('watch.copyStreamHint')} />
        {err && <span class="field-error">{err}</span>}
      </div>
    </div>
  );
}
