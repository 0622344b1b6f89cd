import { describe, expect, it } from 'vitest';
import { ApiError } from '../api';
import {
  backoffDelay,
  chunkBounds,
  fileKey,
  memoryResumeStore,
  totalChunks,
  UploadQueue,
  type FileLike,
  type UploadTransport,
} from './queue';

const MiB = 1024 * 1024;

function fakeFile(size: number, name = 'clip.mp4', lastModified = 1700000000000): FileLike {
  return {
    name,
    size,
    lastModified,
    slice: (a: number, b: number) => ({ size: b - a }) as unknown as Blob,
  };
}

interface Call {
  index: number;
  size: number;
  resolve: () => void;
  reject: (e: unknown) => void;
  signal: AbortSignal;
  progress: (n: number) => void;
}

/** fakeServer is a transport whose chunk calls stay open until the test
 * settles them, so the test sees exactly what is in flight. */
function fakeServer(chunkSize = 5 * MiB) {
  const state = {
    calls: [] as Call[],
    open: [] as Call[],
    maxOpen: 0,
    stored: new Set<number>(),
    inits: 0,
    completes: 0,
    statusCalls: 0,
    completeError: null as unknown,
    statusError: null as unknown,
    auto: false,
    failNext: [] as unknown[],
  };
  let total = 0;
  const settle = (c: Call, ok: boolean, e?: unknown) => {
    state.open = state.open.filter((x) => x !== c);
    if (ok) {
      state.stored.add(c.index);
      c.resolve();
    } else c.reject(e);
  };
  const transport: UploadTransport = {
    async init(file) {
      state.inits++;
      total = totalChunks(file.size, chunkSize);
      return { upload_id: 'u' + state.inits, chunk_size: chunkSize, total_chunks: total };
    },
    async status(id) {
      state.statusCalls++;
      if (state.statusError) throw state.statusError;
      return { upload_id: id, chunk_size: chunkSize, total_chunks: total, uploaded: [...state.stored].sort((a, b) => a - b) };
    },
    chunk(_id, index, data, progress, signal) {
      return new Promise<void>((resolve, reject) => {
        const c: Call = { index, size: data.size, resolve, reject, signal, progress };
        state.calls.push(c);
        signal.addEventListener('abort', () => {
          state.open = state.open.filter((x) => x !== c);
          reject(new ApiError(0, 'aborted'));
        });
        const f = state.failNext.shift();
        if (f) {
          queueMicrotask(() => settle(c, false, f));
          return;
        }
        state.open.push(c);
        state.maxOpen = Math.max(state.maxOpen, state.open.length);
        if (state.auto) queueMicrotask(() => settle(c, true));
      });
    },
    async complete(id) {
      state.completes++;
      if (state.completeError) {
        const e = state.completeError;
        state.completeError = null;
        throw e;
      }
      return { id: 42, title: id, status: 'pending' };
    },
  };
  return { state, transport, settle, setTotal: (n: number) => (total = n) };
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

function newQueue(srv: ReturnType<typeof fakeServer>, store = memoryResumeStore(), waits: number[] = []) {
  return new UploadQueue({
    transport: srv.transport,
    store,
    wait: async (ms) => {
      waits.push(ms);
    },
  });
}

describe('chunking math', () => {
  it.each([
    [0, 1],
    [1, 1],
    [5 * MiB, 1],
    [5 * MiB + 1, 2],
    [12 * MiB, 3],
  ])('a file of %i bytes has %i chunks', (size, n) => {
    expect(totalChunks(size, 5 * MiB)).toBe(n);
  });
  it('the last chunk is the remainder', () => {
    expect(chunkBounds(12 * MiB, 5 * MiB, 0)).toEqual([0, 5 * MiB]);
    expect(chunkBounds(12 * MiB, 5 * MiB, 2)).toEqual([10 * MiB, 12 * MiB]);
  });
  it('backoff doubles up to the cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffDelay(n, 1000, 8000))).toEqual([1000, 2000, 4000, 8000, 8000]);
  });
  it('keys a file by name, size and modification time', () => {
    expect(fileKey(fakeFile(10, 'a.mp4', 5))).toBe('a.mp4|10|5');
  });
});

describe('UploadQueue', () => {
  it('never has more than three chunks in flight and completes once all are sent', async () => {
    const srv = fakeServer();
    const q = newQueue(srv);
    const it1 = q.add(fakeFile(22 * MiB)); // 5 chunks
    const it2 = q.add(fakeFile(7 * MiB, 'b.mp4')); // 2 chunks
    q.startAll();
    await flush();
    expect(srv.state.open.length).toBe(3);
    while (srv.state.open.length) {
      srv.settle(srv.state.open[0], true);
      await flush();
      expect(srv.state.open.length).toBeLessThanOrEqual(3);
    }
    await flush();
    expect(srv.state.maxOpen).toBe(3);
    expect(it1.state).toBe('done');
    expect(it2.state).toBe('done');
    expect(it1.videoId).toBe(42);
    expect(srv.state.completes).toBe(2);
    // Every chunk is its exact size, the last the remainder.
    const sizes = srv.state.calls.map((c) => c.size);
    expect(sizes.filter((s) => s === 5 * MiB).length).toBe(5);
    expect(sizes).toContain(2 * MiB);
  });

  it('does not start before start() and uses the edited title', async () => {
    const srv = fakeServer();
    let initTitle = '';
    const orig = srv.transport.init;
    srv.transport.init = (f, m) => {
      initTitle = m.title;
      return orig(f, m);
    };
    const q = newQueue(srv);
    const it = q.add(fakeFile(MiB, 'holiday.final.mp4'));
    expect(it.meta.title).toBe('holiday.final');
    q.update(it.id, { title: '假期' });
    await flush();
    expect(srv.state.inits).toBe(0);
    await q.start(it.id);
    expect(initTitle).toBe('假期');
  });

  it('a refused file is never sent, not even by startAll', async () => {
    const srv = fakeServer();
    const q = newQueue(srv);
    const big = q.add(fakeFile(3 * MiB, 'big.mp4'));
    const small = q.add(fakeFile(MiB, 'small.mp4'));
    q.refuse(big.id, 413, 'too big');
    expect(big.state).toBe('error');
    expect(big.errorCode).toBe(413);
    expect(big.error).toBe('too big');
    q.startAll();
    await flush();
    expect(srv.state.inits).toBe(1);
    expect(big.state).toBe('error');
    expect(small.state).not.toBe('ready');
  });

  it('retries a failed chunk with growing backoff and then succeeds', async () => {
    const srv = fakeServer();
    srv.state.auto = true;
    srv.state.failNext = [new ApiError(0, 'network'), new ApiError(503, 'busy')];
    const waits: number[] = [];
    const q = newQueue(srv, memoryResumeStore(), waits);
    const it = q.add(fakeFile(3 * MiB));
    await q.start(it.id);
    await flush();
    await flush();
    expect(it.state).toBe('done');
    expect(waits).toEqual([1000, 2000]);
    expect(it.retries).toBe(2);
    expect(srv.state.calls.length).toBe(3);
  });

  it('gives up after the last attempt and keeps the error words', async () => {
    const srv = fakeServer();
    srv.state.failNext = Array.from({ length: 6 }, () => new ApiError(500, 'disk full'));
    const q = newQueue(srv);
    const it = q.add(fakeFile(MiB));
    await q.start(it.id);
    for (let i = 0; i < 10; i++) await flush();
    expect(it.state).toBe('error');
    expect(it.error).toBe('disk full');
    expect(srv.state.calls.length).toBe(6);
  });

  it('lets the title be fixed when init refuses it, then starts again', async () => {
    const srv = fakeServer();
    srv.state.auto = true;
    const orig = srv.transport.init;
    srv.transport.init = async (f, m) => {
      if (!m.title) throw new ApiError(400, 'invalid parameters', { title: 'is required' });
      return orig(f, m);
    };
    const q = newQueue(srv);
    const it = q.add(fakeFile(MiB), { title: '' });
    await q.start(it.id);
    expect(it.state).toBe('error');
    expect(it.errors.title).toBe('is required');
    q.update(it.id, { title: 'fixed' });
    expect(it.meta.title).toBe('fixed');
    await q.retry(it.id);
    await flush();
    expect(it.state).toBe('done');
  });

  it('does not retry a 400 and shows its message', async () => {
    const srv = fakeServer();
    srv.state.failNext = [new ApiError(400, 'unknown upload_id')];
    const q = newQueue(srv);
    const it = q.add(fakeFile(MiB));
    await q.start(it.id);
    await flush();
    expect(it.state).toBe('error');
    expect(it.error).toBe('unknown upload_id');
    expect(srv.state.calls.length).toBe(1);
  });

  it('pauses (aborting what is in flight) and resumes without resending finished chunks', async () => {
    const srv = fakeServer();
    const q = newQueue(srv);
    const it = q.add(fakeFile(20 * MiB)); // 4 chunks
    await q.start(it.id);
    await flush();
    srv.settle(srv.state.open.find((c) => c.index === 0)!, true);
    await flush();
    q.pause(it.id);
    await flush();
    expect(it.state).toBe('paused');
    expect(q.inFlight).toBe(0);
    expect(srv.state.calls.filter((c) => c.signal.aborted).length).toBe(3);
    expect(q.bytesSent(it)).toBe(5 * MiB);
    const before = srv.state.calls.length;
    q.resume(it.id);
    await flush();
    const resent = srv.state.calls.slice(before).map((c) => c.index);
    expect(resent).toEqual([1, 2, 3]);
    srv.state.auto = true;
    srv.state.open.forEach((c) => srv.settle(c, true));
    await flush();
    expect(it.state).toBe('done');
  });

  it('resumes after a reload by sending only the chunks the server lacks', async () => {
    const srv = fakeServer();
    const store = memoryResumeStore();
    const file = fakeFile(17 * MiB); // 4 chunks
    const q1 = newQueue(srv, store);
    const a = q1.add(file, { title: 'my trip' });
    await q1.start(a.id);
    await flush();
    srv.settle(srv.state.open.find((c) => c.index === 0)!, true);
    srv.settle(srv.state.open.find((c) => c.index === 2)!, true);
    await flush();
    expect(store.list().length).toBe(1);

    // The page reloads: a new queue, the same store, the same file chosen again.
    const before = srv.state.calls.length;
    srv.state.auto = true;
    const q2 = newQueue(srv, store);
    const b = q2.add(fakeFile(17 * MiB));
    expect(b.resumable).toBe(true);
    expect(b.meta.title).toBe('my trip');
    await q2.start(b.id);
    await flush();
    expect(srv.state.inits).toBe(1);
    expect(b.resumedChunks).toBe(2); // 0 and 2; the old page's 1 and 3 never finished
    const sent = srv.state.calls.slice(before).map((c) => c.index);
    expect(sent).toEqual([1, 3]);
    expect(b.state).toBe('done');
    expect(store.list().length).toBe(0);
  });

  it('starts over when the server no longer knows the remembered upload', async () => {
    const srv = fakeServer();
    srv.state.auto = true;
    const store = memoryResumeStore();
    const file = fakeFile(MiB);
    store.set(fileKey(file), {
      upload_id: 'gone',
      name: file.name,
      size: file.size,
      lastModified: file.lastModified,
      chunk_size: 5 * MiB,
      total_chunks: 1,
      meta: { title: 't', description: '', category_id: 0, tags: [] },
      saved_at: 0,
    });
    srv.state.statusError = new ApiError(404, 'upload not found');
    const q = newQueue(srv, store);
    const it = q.add(file);
    await q.start(it.id);
    await flush();
    expect(srv.state.inits).toBe(1);
    expect(it.state).toBe('done');
  });

  it('sends again the chunks that complete says are missing', async () => {
    const srv = fakeServer();
    srv.state.auto = true;
    srv.state.completeError = new ApiError(400, 'chunks missing', { missing: [1] });
    const q = newQueue(srv);
    const it = q.add(fakeFile(8 * MiB));
    await q.start(it.id);
    for (let i = 0; i < 5; i++) await flush();
    expect(it.state).toBe('done');
    expect(srv.state.calls.map((c) => c.index)).toEqual([0, 1, 1]);
    expect(srv.state.completes).toBe(2);
  });

  it('retries complete with backoff while the server is away', async () => {
    const srv = fakeServer();
    srv.state.auto = true;
    srv.state.completeError = new ApiError(0, 'network');
    const waits: number[] = [];
    const q = newQueue(srv, memoryResumeStore(), waits);
    const it = q.add(fakeFile(MiB));
    await q.start(it.id);
    for (let i = 0; i < 5; i++) await flush();
    expect(it.state).toBe('done');
    expect(srv.state.completes).toBe(2);
    expect(waits).toEqual([1000]);
    expect(it.backingOff).toBe(false);
  });

  it('retry after a failure asks the server what it already has', async () => {
    const srv = fakeServer();
    srv.state.failNext = [new ApiError(403, 'not yours')];
    const q = newQueue(srv);
    const it = q.add(fakeFile(8 * MiB));
    await q.start(it.id);
    await flush();
    expect(it.state).toBe('error');
    srv.state.stored.add(0);
    srv.state.auto = true;
    const before = srv.state.calls.length;
    await q.retry(it.id);
    await flush();
    expect(srv.state.statusCalls).toBe(1);
    expect(srv.state.calls.slice(before).map((c) => c.index)).toEqual([1]);
    expect(it.state).toBe('done');
  });

  it('reports speed and time left from progress over time', async () => {
    const srv = fakeServer();
    let now = 0;
    const q = new UploadQueue({ transport: srv.transport, store: memoryResumeStore(), now: () => now, concurrency: 1 });
    const it = q.add(fakeFile(10 * MiB));
    await q.start(it.id);
    await flush();
    srv.state.open[0].progress(0);
    now = 1000;
    srv.state.open[0].progress(MiB);
    expect(it.speed).toBe(MiB);
    expect(it.eta).toBe(9);
    expect(q.progress(it)).toBeCloseTo(0.1);
  });

  it('remove forgets the unfinished upload', async () => {
    const srv = fakeServer();
    const store = memoryResumeStore();
    const q = newQueue(srv, store);
    const it = q.add(fakeFile(8 * MiB));
    await q.start(it.id);
    await flush();
    q.remove(it.id);
    expect(q.inFlight).toBe(0);
    expect(store.list()).toEqual([]);
    expect(q.items).toEqual([]);
  });
});
