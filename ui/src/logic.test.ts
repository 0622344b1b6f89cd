import { describe, expect, it } from 'vitest';
import { documentTitle, matchRoute } from './state';
import { toForm, toPayload } from './admin/Settings';
import { hlsConfig, playerKey, resumeAt, rungName } from './pages/Watch';

describe('matchRoute', () => {
  it.each([
    ['/watch/:id', '/watch/12', { id: '12' }],
    ['/watch/:id', '/watch/12?t=3', { id: '12' }],
    ['/admin/:section', '/admin/tasks', { section: 'tasks' }],
    ['/', '/', {}],
    ['/', '/?q=x', {}],
    ['/watch/:id', '/watch', null],
    ['/admin', '/admin/tasks', null],
    ['/me/videos', '/me/profile', null],
  ])('%s against %s', (pattern, path, want) => {
    expect(matchRoute(pattern, path)).toEqual(want);
  });
});

describe('documentTitle', () => {
  it.each([
    ['E2E 测试视频', 'Mika', 'E2E 测试视频 · Mika'],
    ['', '米卡', '米卡'],
    ['Mika', 'Mika', 'Mika'],
  ])('%s on %s', (page, site, want) => {
    expect(documentTitle(page, site)).toBe(want);
  });
});

describe('rungName', () => {
  it.each([
    [1280, 720, 2800000, '720p'],
    [360, 640, 1800000, '360p'], // portrait: the short side, as the server names it
    [1080, 1920, 5000000, '1080p'],
    [0, 0, 950000, '950 kbps'],
    [0, 480, 0, '480p'],
  ])('%i x %i', (w, h, b, want) => {
    expect(rungName(w, h, b)).toBe(want);
  });
});

describe('playerKey', () => {
  it.each([
    [{ key: ' ' }, 'input', null], // typing in the search box
    [{ key: 'k' }, 'textarea', null],
    [{ key: 'ArrowLeft' }, 'select', null], // the quality menu keeps its arrows
    [{ key: ' ' }, 'button', null], // a focused button is pressed, not the video
    [{ key: 'f', ctrlKey: true }, 'body', null],
    [{ key: 'l', metaKey: true }, 'body', null],
    [{ key: 'x' }, 'body', null],
    [{ key: ' ' }, 'body', 'toggle'],
    [{ key: ' ' }, 'video', 'toggle'],
    [{ key: 'K' }, 'button', 'toggle'],
    [{ key: 'm' }, 'body', 'mute'],
    [{ key: 'f' }, 'video', 'fullscreen'],
    [{ key: 'ArrowRight' }, 'body', { seek: 5 }],
    [{ key: 'j' }, 'body', { seek: -10 }],
    [{ key: 'ArrowDown' }, 'body', null], // scrolls the page
    [{ key: 'ArrowDown' }, 'video', { volume: -0.1 }],
  ])('%o on %s', (e, target, want) => {
    expect(playerKey(e, target)).toEqual(want);
  });
});

describe('hlsConfig', () => {
  it('starts a still-growing (EVENT) playlist at its start, not near its end', () => {
    expect(hlsConfig.startPosition).toBe(0);
  });
});

describe('resumeAt', () => {
  it.each([
    [NaN, 600, 0],
    [0, 600, 0],
    [2, 600, 0], // the first seconds: start from the beginning
    [590, 600, 0], // the last 5 %: it was watched to the end
    [3, 600, 3],
    [125, 600, 125],
    [40, Infinity, 40], // a playlist still growing
    [40, NaN, 40],
  ])('%d of %d', (saved, dur, want) => {
    expect(resumeAt(saved, dur)).toBe(want);
  });
});

const base = {
  site_name: 'Mika',
  site_url: '',
  register_mode: 'open',
  auto_publish: true,
  transcode_concurrency: 1,
  ladder: [1080, 720, 480, 360],
  hls_segment_seconds: 6,
  video_preset: 'veryfast',
  hwaccel: 'none',
  max_upload_bytes: 0,
  rate_limit_rps: 20,
  rate_limit_burst: 40,
  webhook_url: '',
};

describe('settings form', () => {
  it('sends only what changed, with the API types', () => {
    const orig = toForm(base);
    const f = { ...orig, ladder: '720p, 480 ,360', transcode_concurrency: '2', max_upload_bytes: '100', auto_publish: false };
    const { body, errors } = toPayload(f, orig);
    expect(errors).toEqual({});
    expect(body).toEqual({ ladder: [720, 480, 360], transcode_concurrency: 2, max_upload_bytes: 100 * 1024 * 1024, auto_publish: false });
  });
  it('nothing changed sends nothing', () => {
    const orig = toForm(base);
    expect(toPayload({ ...orig }, orig).body).toEqual({});
  });
  it('catches what is not a number before asking the server', () => {
    const orig = toForm(base);
    const { errors } = toPayload({ ...orig, rate_limit_rps: '2x', ladder: '720, abc' }, orig);
    expect(Object.keys(errors).sort()).toEqual(['ladder', 'rate_limit_rps']);
  });
});

import { ApiError } from './api';
import { errorText } from './components/ui';
import { setLang } from './i18n';

describe('errorText', () => {
  it.each([
    ['zh-CN', new ApiError(400, 'invalid parameters'), '请求参数错误：invalid parameters'],
    ['en', new ApiError(409, 'category has 2 videos'), 'Conflict: category has 2 videos'],
    ['en', new ApiError(0, 'network'), 'Cannot reach the server. Check the connection and try again.'],
    ['zh-CN', new ApiError(429, 'too many requests'), '请求过于频繁，请稍后再试。'],
    ['en', new ApiError(418, 'teapot'), 'teapot'],
    ['en', new ApiError(502, ''), 'Request failed (code 502).'],
  ] as const)('%s: %o', (l, e, want) => {
    setLang(l);
    expect(errorText(e)).toBe(want);
  });
});
