// End-to-end tests: the real binary (MIKA_BIN) on 127.0.0.1 with a fresh
// data folder, driven through Debian's Chromium with playwright-core.
// Builds nothing. Prints "N passed, N failed" and exits non-zero on failure;
// each failure leaves a screenshot in ui/test-results/.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = resolve(here, '..', 'test-results');
const bin = process.env.MIKA_BIN;
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;
const shotsDir = process.env.E2E_SHOTS; // also keep screenshots of passing pages here

if (!bin || !existsSync(bin)) {
  console.error('MIKA_BIN must name the built mika binary (make test-e2e sets it).');
  process.exit(2);
}
if (!existsSync(chromiumPath)) {
  console.error(`Chromium not found at ${chromiumPath}: install it with "apt-get install -y chromium".`);
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), 'mika-e2e-'));
mkdirSync(resultsDir, { recursive: true });
// Screenshots of an earlier run's failures would mislead: start clean.
for (const f of readdirSync(resultsDir)) if (f.endsWith('.png')) rmSync(join(resultsDir, f));

// A server listens on port 0 and says which port it got: a port picked
// beforehand could be taken by another process before the server binds it.
const listening = /msg="mika listening" addr=127\.0\.0\.1:(\d+)/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, f, timeoutMs, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// ---- fixtures ----
const clip = join(tmp, 'e2e-clip.mp4');
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=25:duration=6',
  '-f', 'lavfi', '-i', 'sine=frequency=440:duration=6', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
  '-c:a', 'aac', '-shortest', '-y', clip]);
// Resuming needs no transcoding: 12 MiB of noise is three chunks.
const big = join(tmp, 'e2e-big.mp4');
writeFileSync(big, randomBytes(12 * 1024 * 1024));

// ---- server ----
// The first start takes a free port; a restart takes the same one again (the
// browser's origin, and with it its storage, must stay).
let port = 0;
let origin = '';
const dataDir = join(tmp, 'data');
let serverLog = '';
let server;
let serverExited = true;

async function startServer() {
  const from = serverLog.length;
  server = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  serverExited = false;
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  server.on('exit', () => (serverExited = true));
  const me = server;
  const exited = () => {
    if (me.exitCode !== null) throw new Error('server exited:\n' + serverLog.slice(-2000));
  };
  if (!port) {
    port = Number(await waitFor('the server to listen', async () => {
      exited();
      return serverLog.slice(from).match(listening)?.[1];
    }, 60000, 50));
    origin = `http://127.0.0.1:${port}`;
  }
  await waitFor('the server on ' + origin, async () => {
    exited();
    const r = await fetch(origin + '/healthz');
    return r.ok;
  }, 60000, 200);
}

async function stopServer() {
  if (serverExited) return;
  const me = server;
  const gone = new Promise((r) => me.once('exit', r));
  me.kill('SIGTERM');
  await Promise.race([gone, sleep(12000)]);
}

function cleanup() {
  if (!serverExited) server.kill('SIGTERM');
}
process.on('exit', cleanup);

await startServer();

// ---- browser ----
const profile = join(tmp, 'chromium-profile');
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--disable-quic', '--autoplay-policy=no-user-gesture-required'],
  locale: 'zh-CN',
  viewport: { width: 1280, height: 860 },
});
// Auto-waits return as soon as what they wait for is there; the bound is for
// a loaded machine.
context.setDefaultTimeout(30000);
const page = context.pages()[0] ?? (await context.newPage());
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));

const admin = { username: 'admin', password: 'e2e-password-1' };
const state = { videoId: 0, token: '' };

async function shot(name) {
  if (!shotsDir) return;
  mkdirSync(shotsDir, { recursive: true });
  await page.screenshot({ path: join(shotsDir, name + '.png'), fullPage: true });
}

async function apiAsAdmin(method, path, body) {
  const token = await page.evaluate(() => localStorage.getItem('mika.token'));
  const r = await fetch(origin + '/api' + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return r.json();
}

const tests = [];
const test = (name, f) => tests.push({ name, f });

test('first run shows setup and creates the admin', async () => {
  // A fresh install's empty library leads to the setup page.
  // (With needs_setup in the public settings the app goes there by itself.)
  await page.goto(origin + '/');
  await page.waitForSelector('.empty a[href="/setup"], form input[name=confirm]');
  if (!new URL(page.url()).pathname.startsWith('/setup')) await page.click('.empty a[href="/setup"]');
  await page.waitForURL('**/setup');
  // Before the admin exists, registering would make a plain user and close setup:
  // the header offers no registration, and the page sends the person to setup.
  assert(!(await page.$('header.top a[href="/register"]')), 'the header offers registration before setup');
  await page.evaluate(() => {
    history.pushState(null, '', '/register');
    dispatchEvent(new PopStateEvent('popstate'));
  });
  await page.click('.setup-first a[href="/setup"]');
  await page.waitForURL('**/setup');
  await page.fill('input[name=username]', admin.username);
  await page.fill('input[name=password]', admin.password);
  await page.fill('input[name=confirm]', admin.password);
  await shot('setup');
  await page.click('button[type=submit]');
  await page.waitForURL('**/admin');
  await page.waitForSelector('header.top a.user');
  await shot('admin-dashboard-fresh');
  // Hashed assets are cached for a year, the app's page is not, and app paths fall back to it.
  const html = await (await fetch(origin + '/watch/123')).text();
  assert(html.includes('<div id="app">'), '/watch/123 is not the app');
  const asset = html.match(/\/assets\/[^"]+\.js/)[0];
  const cached = await fetch(origin + asset);
  assert(/max-age=31536000/.test(cached.headers.get('cache-control') ?? ''), 'asset cache: ' + cached.headers.get('cache-control'));
  assert(!/max-age=31536000/.test((await fetch(origin + '/')).headers.get('cache-control') ?? ''), 'index.html is cached for long');
  // A second setup is refused in words.
  const again = await fetch(origin + '/api/setup', { method: 'POST', body: JSON.stringify({ username: 'other', password: 'other-password' }) });
  assert(again.status === 403, 'a second setup answered ' + again.status);
  // Give the browser room: these tests poll and upload from one IP.
  await apiAsAdmin('PUT', '/admin/settings', { rate_limit_rps: 200, rate_limit_burst: 400 });
});

test('sign out, wrong password in words, sign in', async () => {
  await page.click('header.top button.link');
  await page.goto(origin + '/login');
  await page.fill('input[name=username]', admin.username);
  await page.fill('input[name=password]', 'not-the-password');
  await page.click('button[type=submit]');
  const msg = await page.textContent('.alert.error');
  await shot('login-error');
  assert(msg && msg.trim().length > 0, 'no error shown for a wrong password');
  await page.fill('input[name=password]', admin.password);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top a.user');
  assert((await page.textContent('header.top')).includes('管理后台'), 'the Chinese admin link is missing (zh-CN is the default)');
  // Signed in, the sign-in page goes on to where it would have led, and setup says it is done.
  await page.goto(origin + '/login?next=%2Fme%2Fvideos');
  await page.waitForURL('**/me/videos');
  await page.goto(origin + '/setup');
  await page.waitForSelector('.setup-done a[href="/"]');
});

test('an expired session sends the person to sign in with a message', async () => {
  await page.evaluate(() => localStorage.setItem('mika.token', 'not-a-valid-token'));
  await page.goto(origin + '/me/profile');
  await page.waitForURL('**/login**');
  const banner = await page.textContent('.banner.error');
  assert(banner && banner.includes('登录已过期'), 'no session-expired message: ' + banner);
  await page.fill('input[name=username]', admin.username);
  await page.fill('input[name=password]', admin.password);
  await page.click('button[type=submit]');
  await page.waitForURL('**/me/profile');
});

test('dropping several files makes one card each; one over the server\'s cap is refused before sending', async () => {
  // The server's cap, as /api/settings/public answers it, between the two files' sizes.
  await page.route('**/api/settings/public', async (route) => {
    const r = await route.fetch();
    const body = await r.json();
    body.data.max_upload_bytes = 1500;
    await route.fulfill({ response: r, json: body });
  });
  const settings = page.waitForResponse('**/api/settings/public');
  await page.goto(origin + '/upload');
  await settings;
  const dt = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File([new Uint8Array(1000)], 'a.mp4', { type: 'video/mp4' }));
    d.items.add(new File([new Uint8Array(2000)], '第二个.mkv', { type: 'video/x-matroska' }));
    return d;
  });
  await page.dispatchEvent('.dropzone', 'drop', { dataTransfer: dt });
  await page.waitForSelector('.upload-card[data-file="第二个.mkv"]');
  assert((await page.$$('.upload-card')).length === 2, 'want two cards');
  assert((await page.inputValue('.upload-card[data-file="第二个.mkv"] input[name=title]')) === '第二个', 'title not taken from the file name');
  assert(await page.$('.upload-card.state-ready[data-file="a.mp4"]'), 'the file under the cap is not ready');
  const refused = await page.textContent('.upload-card.state-error[data-file="第二个.mkv"] [role=alert]');
  assert(refused && refused.includes('1.5'), 'the file over the cap is not refused with the cap: ' + refused);
  await page.unroute('**/api/settings/public');
  for (const b of await page.$$('.upload-card button.link')) await b.click();
  await page.waitForFunction(() => !document.querySelector('.upload-card'));
});

test('upload a clip through the page with a moving progress bar', async () => {
  await page.goto(origin + '/upload');
  await page.setInputFiles('.dropzone input[type=file]', clip);
  await page.fill('.upload-card input[name=title]', 'E2E 测试视频');
  await page.fill('.upload-card input[name=tags]', '测试, e2e');
  await shot('upload-ready');
  // Record every value the progress bar shows.
  await page.evaluate(() => {
    window.__progress = [];
    new MutationObserver(() => {
      const bar = document.querySelector('.upload-card [role=progressbar]');
      if (bar) window.__progress.push(Number(bar.getAttribute('aria-valuenow')));
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  await page.click('.upload-card button.primary');
  await page.waitForSelector('.upload-card.state-done', { timeout: 60000 });
  const seen = await page.evaluate(() => window.__progress);
  assert(seen.length > 0 && seen[seen.length - 1] === 100, 'progress never reached 100: ' + JSON.stringify(seen));
  const href = await page.getAttribute('.upload-card.state-done a[href^="/watch/"]', 'href');
  state.videoId = Number(href.split('/').pop());
  assert(state.videoId > 0, 'no video id after upload');
  await shot('upload-done');
});

test('my videos shows the transcode finish (≤ 90 s)', async () => {
  assert(state.videoId, 'needs the uploaded video');
  await page.goto(origin + '/me/videos');
  await page.waitForSelector(`.video-row[data-id="${state.videoId}"]`);
  await page.waitForSelector(`.video-row[data-id="${state.videoId}"] .badge.s1`, { timeout: 180000 });
  await shot('my-videos');
});

test('the player plays with hls.js and offers qualities', async () => {
  assert(state.videoId, 'needs the uploaded video');
  // The first answer says what the server says while a video plays early (playable,
  // still transcoding): the page says so, then looks again and sees it finished.
  await page.route(`**/api/videos/${state.videoId}`, async (route) => {
    const r = await route.fetch();
    const body = await r.json();
    Object.assign(body.data, { status: 0, transcode_status: 'processing', transcode_progress: 40 });
    await route.fulfill({ response: r, json: body });
  }, { times: 1 });
  await page.goto(origin + '/watch/' + state.videoId);
  await page.waitForSelector('video[data-engine="hls.js"]');
  assert((await page.textContent('.watch .transcode-note')).includes('40%'), 'no note that it is still transcoding');
  const uploader = await page.textContent('.watch .stats .uploader');
  assert(uploader && uploader.includes(admin.username), 'the uploader is not named: ' + uploader);
  // The page looks again every 3 s.
  await page.waitForSelector('.watch .transcode-note', { state: 'detached', timeout: 30000 });
  assert(!(await page.$('.watch .stats .badge')), 'the processing badge stayed after the transcode finished');
  await page.waitForSelector('.quality select');
  const options = await page.$$eval('.quality select option', (o) => o.map((x) => x.textContent));
  // A 480-line source gets the 480 and 360 rungs of the default ladder.
  assert(options.length === 3 && options.some((o) => o.includes('360p')), 'quality menu has ' + JSON.stringify(options));
  // Looping, the 6 s clip is still playing when the rung is chosen below,
  // however slowly the steps in between run.
  await page.evaluate(() => {
    const v = document.querySelector('video');
    v.muted = true;
    v.loop = true;
    return v.play();
  });
  await waitFor('currentTime to pass 1 s', () => page.evaluate(() => document.querySelector('video').currentTime > 1), 30000, 250);
  // The keyboard works as on other video sites: K pauses, → seeks 5 s, Space on
  // the focused video toggles once (not once by us and once by its own controls).
  await page.click('.watch h1');
  await page.keyboard.press('k');
  assert(await page.evaluate(() => document.querySelector('video').paused), 'K did not pause');
  const at = await page.evaluate(() => document.querySelector('video').currentTime);
  await page.keyboard.press('ArrowRight');
  const moved = await page.evaluate(() => document.querySelector('video').currentTime);
  assert(moved >= at + 4 || moved >= 5, `→ went from ${at} to ${moved}`);
  await page.evaluate(() => document.querySelector('video').currentTime = 0.5);
  await page.focus('video');
  await page.keyboard.press(' ');
  await waitFor('Space to play again', () => page.evaluate(() => !document.querySelector('video').paused), 15000, 100);
  // Choosing a rung plays that rung.
  const low = await page.$$eval('.quality select option', (o) => o.find((x) => x.textContent.includes('360p')).value);
  await page.selectOption('.quality select', low);
  await page.waitForSelector('video[data-playing="360"]', { timeout: 30000 });
  const title = await page.textContent('.watch h1');
  assert(title.includes('E2E 测试视频'), 'title shown: ' + title);
  // The browser tab is named after the video, not only the site.
  await waitFor('the video title in the tab', async () => (await page.title()).startsWith('E2E 测试视频 · '), 15000, 100)
    .catch(async () => { throw new Error('tab title: ' + (await page.title())); });
  // Uploaded without a category: the API says {"id": 0, "name": ""} and the
  // page names no category.
  const catLinks = await page.$$('.watch .stats a[href^="/?category="]');
  assert(catLinks.length === 0, 'an uncategorised video shows a category link');
  await shot('watch');
  // The stream address to copy for VLC plays with no header at all.
  const stream = await page.getAttribute('.player-bar button[data-copy]', 'data-copy');
  assert(stream.startsWith(`${origin}/videos/${state.videoId}/index.m3u8?`), 'stream URL to copy: ' + stream);
  assert((await (await fetch(stream)).text()).startsWith('#EXTM3U'), 'the copied stream URL does not play');
  // Coming back starts where this browser stopped, and offers to start over.
  await page.evaluate((id) => localStorage.setItem('mika.pos.' + id, '3'), state.videoId);
  await page.goto(origin + '/watch/' + state.videoId);
  await waitFor('the video to start at 3 s', () => page.evaluate(() => document.querySelector('video').currentTime >= 2.9), 30000, 100);
  await page.click('.player .resumed button');
  assert(await page.evaluate(() => document.querySelector('video').currentTime < 1), 'start over did not go back');
  // A canceled transcode says so (not "transcoding"), shows no progress, and leads
  // the admin to the task; a video that is not there says so and leads back.
  await page.route(`**/api/videos/${state.videoId}`, async (route) => {
    const r = await route.fetch();
    const body = await r.json();
    Object.assign(body.data, { status: 0, play_url: '', transcode_status: 'canceled', transcode_progress: 0 });
    await route.fulfill({ response: r, json: body });
  }, { times: 1 });
  await page.goto(origin + '/watch/' + state.videoId);
  const wait = await page.textContent('.player-wait');
  assert(wait.includes('已取消') && !wait.includes('正在转码'), 'canceled shows: ' + wait);
  assert(!(await page.$('.player-wait [role=progressbar]')), 'a progress bar for a canceled transcode');
  await page.waitForSelector('.player-wait a[href="/admin/tasks?status=canceled"]');
  // A failed one says why (the server tells the owner and admins).
  const why = 'source is not a readable video: media/originals/1.mp4: Invalid data found';
  await page.route(`**/api/videos/${state.videoId}`, async (route) => {
    const r = await route.fetch();
    const body = await r.json();
    Object.assign(body.data, { status: 0, play_url: '', transcode_status: 'failed', transcode_progress: 0, transcode_error: why });
    await route.fulfill({ response: r, json: body });
  }, { times: 1 });
  await page.goto(origin + '/watch/' + state.videoId);
  assert((await page.textContent('.player-wait .transcode-error')) === why, 'a failed transcode does not say why');
  await page.goto(origin + '/watch/999999');
  await page.waitForSelector('.watch-missing a[href="/"]');
});

test('a page on another origin plays the stream with hls.js and calls the API', async () => {
  assert(state.videoId, 'needs the uploaded video');
  const token = await page.evaluate(() => localStorage.getItem('mika.token'));
  assert(token, 'no token in this browser');
  // The other site: one page and the hls.js build the app uses, on a port of its own
  // (another port is another origin). The page embeds the video as a PeerTube embed
  // would: the API with a bearer token (a header that needs a preflight), then play_url.
  const hlsJs = readFileSync(resolve(here, '..', 'node_modules', 'hls.js', 'dist', 'hls.min.js'));
  const html = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>embed</title>
<video muted playsinline></video><script src="/hls.min.js"></script><script>
window.embed = { levels: 0, frags: 0, errors: [] };
window.start = async (mika, id, token) => {
  const auth = { headers: { Authorization: 'Bearer ' + token } };
  const me = await (await fetch(mika + '/api/user/profile', auth)).json();
  const video = await (await fetch(mika + '/api/videos/' + id, auth)).json();
  embed.username = me.data.username;
  embed.playUrl = video.data.play_url;
  const v = document.querySelector('video');
  v.loop = true;
  const hls = new Hls();
  hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
    embed.levels = d.levels.length;
    v.play().catch((e) => embed.errors.push('play: ' + e));
  });
  hls.on(Hls.Events.FRAG_LOADED, () => embed.frags++);
  hls.on(Hls.Events.ERROR, (_, d) => embed.errors.push(d.type + ' ' + d.details + (d.fatal ? ' (fatal)' : '')));
  hls.loadSource(mika + embed.playUrl);
  hls.attachMedia(v);
};
</script>`;
  const site = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
    else if (req.url === '/hls.min.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(hlsJs);
    else res.writeHead(404).end();
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  const siteOrigin = `http://127.0.0.1:${site.address().port}`;
  // A request the page gave up on itself (hls.js aborts a load it no longer needs) is no
  // CORS failure; anything else that failed, or any word of CORS in the console, is.
  const problems = [];
  const onConsole = (m) => (m.type() === 'error' || /CORS|Access-Control/i.test(m.text())) && problems.push('console: ' + m.text());
  const onFailed = (r) => r.failure()?.errorText !== 'net::ERR_ABORTED' && problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`);
  page.on('console', onConsole);
  page.on('requestfailed', onFailed);
  try {
    await page.goto(siteOrigin + '/');
    await page.evaluate(([mika, id, tok]) => window.start(mika, id, tok), [origin, state.videoId, token])
      .catch((e) => { throw new Error(e.message.split('\n')[0] + '; the page saw: ' + problems.join('; ')); });
    const embed = () => page.evaluate(() => ({ ...window.embed, t: document.querySelector('video').currentTime }));
    assert((await embed()).username === admin.username, 'the API did not take the bearer token from another origin');
    // Done when it plays on, or as soon as something went wrong.
    await waitFor('the embedded video to pass 1 s', async () => {
      const e = await embed();
      return e.t > 1 || e.errors.some((x) => x.endsWith('(fatal)')) || problems.length > 0;
    }, 15000, 250);
    const e = await embed();
    assert(problems.length === 0, 'the embedding page saw: ' + problems.join('; '));
    assert(e.t > 1, 'the embedded video stopped at ' + e.t + ' s: ' + JSON.stringify(e.errors));
    // A 480-line source gets the 480 and 360 rungs of the default ladder.
    assert(e.levels === 2, 'hls.js parsed levels: ' + e.levels);
    assert(e.frags >= 1, 'hls.js loaded no fragment');
    assert(e.playUrl.startsWith(`/videos/${state.videoId}/index.m3u8?`), 'play_url: ' + e.playUrl);
    console.log(`     ${siteOrigin} played ${e.t.toFixed(1)} s: ${e.levels} levels, ${e.frags} fragments`);
  } finally {
    page.off('console', onConsole);
    page.off('requestfailed', onFailed);
    site.closeAllConnections();
    site.close();
  }
});

test('library finds the video by a Chinese keyword typed in', async () => {
  await page.goto(origin + '/');
  await page.waitForSelector('.video-card');
  assert(!(await page.$('.cat-tree')), 'a category sidebar with no categories in it');
  await page.fill('input.search', '测试视');
  await page.waitForURL((u) => new URL(u).searchParams.get('q') === '测试视');
  await page.waitForSelector(`.video-card[href="/watch/${state.videoId}"]`);
  // While an input method composes (pinyin "ce shi"), nothing is searched;
  // the committed word is.
  await page.fill('input.search', '');
  await waitFor('no q in the URL', async () => !(await page.evaluate(() => new URLSearchParams(location.search).has('q'))), 15000, 100);
  await page.focus('input.search');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Input.imeSetComposition', { text: 'ce shi', selectionStart: 6, selectionEnd: 6 });
  await sleep(800);
  assert(!new URL(page.url()).searchParams.has('q'), 'searched while composing: ' + page.url());
  await cdp.send('Input.insertText', { text: '测试' });
  await waitFor('q=测试 in the URL', async () => (await page.evaluate(() => new URLSearchParams(location.search).get('q'))) === '测试', 15000, 100)
    .catch(async (e) => { throw new Error(e.message + ' (at ' + (await page.evaluate(() => location.href)) + ')'); });
  await cdp.detach();
  await page.fill('input.search', 'no-such-video-zzz');
  await page.waitForSelector('.empty');
  await page.reload();
  assert((await page.inputValue('input.search')) === 'no-such-video-zzz', 'the search did not survive a reload');
});

test('admin pages render with real data', async () => {
  await page.goto(origin + '/admin');
  await page.waitForSelector('.stat-card');
  const first = await page.textContent('.stat-card b');
  assert(Number(first.replace(/\D/g, '')) >= 1, 'dashboard counts no video: ' + first);
  await page.waitForSelector('.chart svg');
  assert((await page.$$('.chart >> nth=0 >> rect')).length === 30, 'the default range is not 30 days');
  await page.click('.presets button >> nth=0'); // last 7 days
  await waitFor('a 7-day chart', async () => (await page.$$('.chart >> nth=0 >> rect')).length === 7, 15000, 200);
  await shot('admin-dashboard');
  await page.goto(origin + '/admin/tasks');
  await page.waitForSelector('tr[data-status="completed"]');
  assert((await page.title()).startsWith('转码任务 · 管理后台 · '), 'tab title: ' + (await page.title()));
  // Each time ("入队: 2026-11-24 13:12:36") stays on one line, however long a title or error is.
  const wrapping = await page.$$eval('td.times div', (ds) => ds.filter((d) => getComputedStyle(d).whiteSpace !== 'nowrap').length);
  assert(wrapping === 0, `${wrapping} task times may wrap onto a second line`);
  await page.click('tr[data-status="completed"] button.small');
  await page.waitForSelector('pre.log');
  const log = await page.textContent('pre.log');
  assert(log.includes('ffmpeg'), 'the task log does not show the ffmpeg command');
  await shot('admin-task-log');
  await page.keyboard.press('Escape');
  await page.goto(origin + '/admin/settings');
  await page.waitForSelector('input[name=site_name]');
  assert((await page.inputValue('input[name=site_name]')).length > 0, 'site_name is empty');
  const hw = await page.$$eval('select[name=hwaccel] option', (o) => o.map((x) => x.value));
  assert(hw.includes('none'), 'hwaccel choices: ' + JSON.stringify(hw));
  // A bad value shows the server's words next to the field.
  await page.fill('input[name=hls_segment_seconds]', '99');
  await page.click('.settings button[type=submit]');
  await page.waitForSelector('.field.has-error input[name=hls_segment_seconds]');
  await page.fill('input[name=hls_segment_seconds]', '6');
  await page.fill('input[name=site_name]', '米卡 E2E');
  await page.click('.settings button[type=submit]');
  await page.waitForSelector('.settings .ok');
  await waitFor('the new site name in the header', async () => (await page.textContent('header.top .brand')).includes('米卡 E2E'), 15000, 200);
  await shot('admin-settings');
  for (const section of ['categories', 'users', 'invites', 'libraries']) {
    await page.goto(origin + '/admin/' + section);
    await page.waitForSelector(`.admin .${section}`);
    const alert = await page.$('.alert.error');
    assert(!alert, `${section} shows an error: ` + (alert && (await alert.textContent())));
  }
  await page.goto(origin + '/admin/users');
  await page.waitForSelector('tr[data-user="admin"]');
});

test('a reload in the middle of an upload resumes it', async () => {
  await page.goto(origin + '/upload');
  // Slow the uplink so the reload lands after the first chunk and before the rest.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });
  const before = [];
  const onReq = (r) => r.url().endsWith('/api/videos/upload/chunk') && before.push(r);
  page.on('request', onReq);
  await page.setInputFiles('.dropzone input[type=file]', big);
  await page.fill('.upload-card input[name=title]', 'resume test');
  await page.click('.upload-card button.primary');
  const values = new Set();
  await page.waitForResponse((r) => r.url().endsWith('/api/videos/upload/chunk') && r.status() === 200, { timeout: 60000 });
  values.add(await page.getAttribute('.upload-card [role=progressbar]', 'aria-valuenow'));
  // Leaving the tab in the middle of an upload asks first; this test says yes.
  const asked = [];
  const onDialog = (d) => {
    asked.push(d.type());
    d.accept().catch(() => {});
  };
  page.on('dialog', onDialog);
  await page.reload();
  page.off('dialog', onDialog);
  assert(asked.includes('beforeunload'), 'reloading in the middle of an upload did not ask: ' + JSON.stringify(asked));
  page.off('request', onReq);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.waitForSelector('.resume-list');
  const after = [];
  page.on('request', (r) => r.url().endsWith('/api/videos/upload/chunk') && after.push(r));
  await page.setInputFiles('.dropzone input[type=file]', big);
  await page.waitForSelector('.upload-card');
  assert((await page.inputValue('.upload-card input[name=title]')) === 'resume test', 'the title was not remembered');
  await page.click('.upload-card button.primary');
  await page.waitForSelector('.upload-card.state-done', { timeout: 60000 });
  const resumedText = await page.textContent('.upload-card .resumed');
  assert(/[12]\D+3/.test(resumedText), 'the card does not say what was resumed: ' + resumedText);
  assert(after.length <= 2, `sent ${after.length} chunks after the reload (before it: ${before.length}), want at most 2`);
  assert(!(await page.$('.resume-list')), 'the finished upload is still listed as unfinished');
  await shot('upload-resumed');
  console.log(`     progress at reload ${[...values]}%, chunks sent after it: ${after.length}, ${resumedText}`);
});

test('an upload survives a server restart and finishes by itself', async () => {
  await page.goto(origin + '/upload');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });
  const restartFile = join(tmp, 'e2e-restart.mp4');
  writeFileSync(restartFile, randomBytes(11 * 1024 * 1024));
  await page.setInputFiles('.dropzone input[type=file]', restartFile);
  await page.click('.upload-card button.primary');
  await page.waitForResponse((r) => r.url().endsWith('/api/videos/upload/chunk') && r.status() === 200, { timeout: 60000 });
  // The header counts the upload under way, also from another page of the app.
  await page.click('header.top a[href="/me/videos"]');
  assert((await page.textContent('header.top a[href="/upload"] .count')) === '1', 'the header does not count the upload');
  await page.click('header.top a[href="/upload"]');
  const failures = [];
  page.on('requestfailed', (r) => r.url().includes('/api/videos/upload/') && failures.push(r.url()));
  try {
    await stopServer();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await sleep(1500);
  } finally {
    await startServer();
  }
  await page.waitForSelector('.upload-card.state-done', { timeout: 60000 });
  assert(failures.length > 0, 'no request failed while the server was down');
  await cdp.detach();
});

test('tasks: a failed task is retried from the console', async () => {
  await page.goto(origin + '/admin/tasks?status=failed');
  await page.waitForSelector('tr[data-status="failed"]');
  const id = Number((await page.textContent('tr[data-status="failed"] >> nth=0 >> td >> nth=0')).trim());
  const before = (await apiAsAdmin('GET', '/admin/transcode/tasks/' + id)).data;
  await sleep(1100); // task times have one-second resolution
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/transcode/tasks/${id}/retry`)),
    page.click('tr[data-status="failed"] >> nth=0 >> button:has-text("重试")'),
  ]);
  assert(res.status() === 200, 'retry answered ' + res.status());
  // Noise fails again quickly, and says why.
  await waitFor('the task to run again', async () => {
    const t = (await apiAsAdmin('GET', '/admin/transcode/tasks/' + id)).data;
    return t.status === 'failed' && t.finished_at > before.finished_at;
  }, 60000, 500);
  await page.waitForSelector(`tr[data-status="failed"] .field-error`);
  // Cancel asks first: shown as running, the task gets no request until the answer is yes.
  await page.route('**/api/admin/transcode/tasks?*', async (route) => {
    const r = await route.fetch();
    const body = await r.json();
    for (const t of body.data.list) if (t.id === id) Object.assign(t, { status: 'processing', finished_at: '', error: '' });
    await route.fulfill({ response: r, json: body });
  });
  try {
    await page.goto(origin + '/admin/tasks');
    const cancels = [];
    page.on('request', (r) => r.url().endsWith('/cancel') && cancels.push(r.url()));
    await page.click(`tr[data-status="processing"] button:has-text("取消")`);
    await page.waitForSelector('tr[data-status="processing"] .confirm');
    await page.click('tr[data-status="processing"] .confirm button:has-text("继续转码")');
    await page.waitForSelector('tr[data-status="processing"] .confirm', { state: 'detached' });
    assert(cancels.length === 0, 'cancel was sent without asking');
  } finally {
    await page.unroute('**/api/admin/transcode/tasks?*');
  }
});

test('profile: nickname, avatar, an API key whose secret is shown once', async () => {
  await page.goto(origin + '/me/profile');
  await page.fill('input[name=nickname]', '管理员');
  await page.click('.profile form.card button[type=submit] >> nth=0');
  await page.waitForSelector('.profile .ok');
  await waitFor('the nickname in the header', async () => (await page.textContent('header.top a.user')).includes('管理员'), 15000, 200);
  const png = join(tmp, 'avatar.png');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=orange:s=64x64', '-frames:v', '1', '-y', png]);
  await page.setInputFiles('.avatar-row input[type=file]', png);
  await page.waitForSelector('.avatar-row img.avatar');
  await page.fill('input[name=key-name]', 'e2e script');
  await page.click('form.inline button[type=submit]');
  await page.waitForSelector('.secret .secret-key');
  const secret = await page.textContent('.secret .secret-key');
  assert(secret && secret.length >= 16, 'no secret shown: ' + secret);
  await shot('profile');
  await page.reload();
  await page.waitForSelector('td code');
  assert(!(await page.content()).includes(secret), 'the secret is shown again after a reload');
});

test('categories editor builds a tree that the library filters by', async () => {
  await page.goto(origin + '/admin/categories');
  await page.click('.categories .toolbar button.primary');
  await page.fill('.cat-form input[name=name]', '电影');
  await page.click('.cat-form button[type=submit]');
  await page.waitForSelector('.cat-row >> text=电影');
  await page.click('.cat-row:has-text("电影") button:nth-child(2)');
  await page.fill('.cat-form input[name=name]', '动作片');
  await page.click('.cat-form button[type=submit]');
  await page.waitForSelector('.cat-editor ul .cat-row >> text=动作片');
  // Deleting a parent that has children is refused in words.
  await page.click('.cat-row:has-text("电影") >> nth=0 >> button.danger');
  await page.click('.cat-row:has-text("电影") >> nth=0 >> .confirm button.danger');
  await page.waitForSelector('.categories .alert.error');
  await page.goto(origin + '/');
  await page.click('.tree a:has-text("动作片")');
  await page.waitForURL((u) => new URL(u).searchParams.has('category'));
  // An empty category says so, not that the whole library is empty, and leads back to all.
  await page.waitForSelector('.empty-category a[href="/"]');
});

test('invites: a fresh code, shown with a copy button', async () => {
  await page.goto(origin + '/admin/invites');
  // Registration is open here: the page says codes are not asked for, and where to change that.
  await page.waitForSelector('.invites .toolbar a[href="/admin/settings"]');
  await page.click('.invites .toolbar button.primary');
  await page.waitForSelector('.invite-code');
  const code = await page.textContent('.invite-code');
  await page.waitForSelector(`td code >> text=${code}`);
});

test('libraries: a bad path is refused next to the field; a real folder is added, scanned and removed', async () => {
  await page.goto(origin + '/admin/libraries');
  await page.fill('.library-form input[name=path]', join(tmp, 'no-such-folder'));
  await page.click('.library-form button[type=submit]');
  await page.waitForSelector('.library-form .field.has-error input[name=path]');
  const folder = join(tmp, 'nas-movies');
  mkdirSync(folder, { recursive: true });
  await page.fill('.library-form input[name=path]', folder);
  await page.click('.library-form button[type=submit]');
  await page.waitForSelector(`.library-row code.path >> text="${folder}"`);
  await page.click('.library-row .actions button >> nth=0');
  await waitFor('the scan to be recorded', async () => {
    const text = await page.textContent('.library-row');
    return !/扫描中/.test(text) && !/从未/.test(text);
  }, 60000, 500);
  await shot('admin-libraries');
  await page.click('.library-row .actions button.danger');
  await page.click('.library-row .confirm button.danger');
  await page.waitForSelector('.libraries .empty');
});

test('my videos: edit, hide, publish, delete after a confirmation', async () => {
  const row = `.video-row[data-id="${state.videoId}"]`;
  // A canceled transcode shows no progress bar stuck at 0 %.
  await page.route('**/api/videos?*', async (route) => {
    const r = await route.fetch();
    const body = await r.json();
    for (const v of body.data.list) if (v.id === state.videoId) Object.assign(v, { status: 0, transcode_status: 'canceled', transcode_progress: 0 });
    await route.fulfill({ response: r, json: body });
  }, { times: 1 });
  await page.goto(origin + '/me/videos');
  await page.waitForSelector(`${row} .badge.s0`);
  assert(!(await page.$(`${row} [role=progressbar]`)), 'a progress bar for a canceled transcode');
  await page.goto(origin + '/me/videos');
  await page.waitForSelector(`${row} .badge.s1`);
  await page.click(`${row} .actions button >> nth=0`);
  await page.waitForSelector('.modal input[name=title]');
  await page.fill('.modal input[name=title]', 'E2E 测试视频（改）');
  await shot('edit-modal');
  await page.click('.modal button[type=submit]');
  await page.waitForSelector(`${row} >> text=E2E 测试视频（改）`);
  await page.click(`${row} .actions button >> nth=1`); // hide
  await page.waitForSelector(`${row} .badge.s3`);
  await page.click(`${row} .actions button >> nth=1`); // publish
  await page.waitForSelector(`${row} .badge.s1`);
  // Delete the noise upload of the resume test, answering the question.
  const other = await page.$$eval('.video-row', (rows) => rows.map((r) => r.getAttribute('data-id')));
  const victim = other.find((id) => Number(id) !== state.videoId);
  assert(victim, 'no other video to delete: ' + other);
  await page.click(`.video-row[data-id="${victim}"] .actions button.danger`);
  await page.click(`.video-row[data-id="${victim}"] .confirm button.danger`);
  await page.waitForSelector(`.video-row[data-id="${victim}"]`, { state: 'detached' });
});

test('phone width: the library and admin fit 375 px', async () => {
  await page.setViewportSize({ width: 375, height: 800 });
  try {
    for (const path of ['/', '/admin', '/admin/tasks', '/admin/settings', '/admin/users', '/admin/categories', '/admin/libraries', '/admin/invites', '/upload', '/me/videos', '/me/profile', '/watch/' + state.videoId]) {
      await page.goto(origin + path);
      await page.waitForLoadState('networkidle').catch(() => {});
      await sleep(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert(overflow <= 1, `${path} is ${overflow}px wider than the screen`);
      if (path.startsWith('/admin')) {
        const seen = await page.$eval('.tabs a.active', (a) => {
          const b = a.getBoundingClientRect();
          return b.left >= 0 && b.right <= window.innerWidth + 1;
        });
        assert(seen, `${path}: the current admin tab is scrolled out of sight`);
      }
      await shot('phone' + path.replace(/\//g, '_'));
    }
    await page.click('.menu-toggle');
    await page.waitForSelector('header.top nav.open');
    await shot('phone-menu');
  } finally {
    await page.setViewportSize({ width: 1280, height: 860 });
  }
});

test('registration by invite code, and a user sees no admin link', async () => {
  await page.goto(origin + '/admin/settings');
  await page.selectOption('select[name=register_mode]', 'invite');
  await page.click('.settings button[type=submit]');
  await page.waitForSelector('.settings .ok');
  await page.goto(origin + '/admin/invites');
  await page.click('.invites .toolbar button.primary');
  const code = (await page.textContent('.invite-code')).trim();
  await page.click('header.top button.link');
  await page.goto(origin + '/register');
  await page.waitForSelector('input[name=invite_code]');
  await page.fill('input[name=username]', 'viewer_1');
  await page.fill('input[name=email]', 'viewer@example.com');
  await page.fill('input[name=password]', 'viewer-password');
  await page.fill('input[name=invite_code]', 'WRONG-CODE');
  await page.click('button[type=submit]');
  await page.waitForSelector('.alert.error, .field-error');
  await page.fill('input[name=invite_code]', code);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top a.user');
  assert(!(await page.$('header.top a[href="/admin"]')), 'a user sees the admin link');
  await page.goto(origin + '/admin');
  await page.waitForSelector('main .alert.error');
  // A password change keeps this browser signed in with the fresh token.
  await page.goto(origin + '/me/profile');
  const pw = page.locator('form.card').nth(1);
  await pw.locator('input[type=password]').nth(0).fill('wrong-old-password');
  await pw.locator('input[type=password]').nth(1).fill('viewer-password-2');
  await pw.locator('input[type=password]').nth(2).fill('viewer-password-2');
  await pw.locator('button[type=submit]').click();
  await pw.locator('.alert.error, .field-error').first().waitFor();
  await pw.locator('input[type=password]').nth(0).fill('viewer-password');
  await pw.locator('button[type=submit]').click();
  await pw.locator('.ok').waitFor();
  await page.reload();
  await page.waitForSelector('header.top a.user');
  assert(!(await page.$('.banner.error')), 'signed out after changing the password');
});

test('without ffmpeg the admin sees a banner', async () => {
  const other = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--data', join(tmp, 'data-noffmpeg'),
    '--ffmpeg', join(tmp, 'no-ffmpeg'), '--ffprobe', join(tmp, 'no-ffprobe')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  other.stderr.on('data', (d) => (log += d));
  try {
    const port2 = await waitFor('the second server to listen', async () => log.match(listening)?.[1], 60000, 50);
    const origin2 = `http://127.0.0.1:${port2}`;
    await waitFor('the second server', async () => (await fetch(origin2 + '/healthz')).ok, 60000, 200);
    const h = await (await fetch(origin2 + '/healthz')).json();
    assert(h.ffmpeg === 'missing', 'healthz says ffmpeg ' + h.ffmpeg);
    const login = await (await fetch(origin2 + '/api/setup', { method: 'POST', body: JSON.stringify({ username: 'root', password: 'root-password' }) })).json();
    await page.goto(origin2 + '/');
    await page.evaluate((tok) => localStorage.setItem('mika.token', tok), login.data.token);
    await page.goto(origin2 + '/admin');
    await page.waitForSelector('.banner.warn');
    await shot('ffmpeg-missing');
  } finally {
    other.kill('SIGTERM');
  }
});

test('English is one switch away and is remembered', async () => {
  await page.goto(origin + '/');
  await page.selectOption('select.lang', 'en');
  await page.waitForFunction(() => document.querySelector('header.top')?.textContent.includes('Library'));
  await page.reload();
  await page.waitForFunction(() => document.querySelector('header.top')?.textContent.includes('Library'));
  await shot('english-library');
  assert((await page.getAttribute('html', 'lang')) === 'en', 'html lang is not en');
  await page.selectOption('select.lang', 'zh-CN');
});

let passed = 0;
let failed = 0;
const started = Date.now();
for (const t of tests) {
  if (only && !only.test(t.name) && !t.name.startsWith('first run')) continue;
  const t0 = Date.now();
  try {
    if (serverExited) await startServer(); // an earlier failure must not take the rest down
    await t.f();
    passed++;
    console.log(`ok   ${t.name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    const file = join(resultsDir, t.name.replace(/[^\w一-龥]+/g, '-').slice(0, 80) + '.png');
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    // Undo what a failed test may have left: a slowed network, held routes, a phone viewport.
    await context.newCDPSession(page).then(async (c) => {
      await c.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await c.detach();
    }).catch(() => {});
    await page.unrouteAll({ behavior: 'ignoreErrors' }).catch(() => {});
    await page.setViewportSize({ width: 1280, height: 860 }).catch(() => {});
    console.log(`FAIL ${t.name} (${Date.now() - t0} ms)\n     ${String(e.message || e).split('\n').join('\n     ')}\n     screenshot: ${file}`);
  }
}
if (consoleErrors.length) console.log('page errors:\n  ' + consoleErrors.join('\n  '));
await context.close();
await stopServer();
await sleep(300);
if (failed) console.log('server log (tail):\n' + serverLog.slice(-3000));
if (!process.env.E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
console.log(`\ne2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
