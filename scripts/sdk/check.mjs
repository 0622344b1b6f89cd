// Drives the document's JavaScript SDK example against a running Mika.
// Usage: node check.mjs BASE_URL TOKEN CATEGORY_ID
// Node has no localStorage; a Map-backed one stands in for the browser's.
import { makeSDK } from './mika_api.mjs';

const [base, token, categoryId] = process.argv.slice(2);
const store = new Map();
globalThis.localStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
};
localStorage.setItem('token', token);

function expect(cond, what, got) {
  if (!cond) {
    console.error(`FAIL: ${what}: ${JSON.stringify(got)}`);
    process.exit(1);
  }
}

const { getVideos, uploadVideo } = makeSDK(base + '/api');
const bytes = new Uint8Array(200 * 1024).map((_, i) => (i * 31) % 251);
const file = new File([bytes], 'sdk-clip.mp4', { type: 'video/mp4' });
const up = await uploadVideo(file, 'JS SDK 示例视频', categoryId);
expect(up.code === 0, 'upload succeeds', up);
expect(up.data.status === 'pending' && up.data.upload_progress === 100, 'upload answer', up);
expect(Number.isInteger(up.data.id) && up.data.title === 'JS SDK 示例视频', 'upload id/title', up);

const list = await getVideos();
expect(list.code === 0 && list.message === 'success', 'list succeeds', list);
expect(['list', 'total', 'page', 'size'].every((k) => k in list.data), 'list shape', list);
console.log('js sdk example ok');
