// The upload queue: sends files through the chunked upload API with a
// bounded number of chunks in flight, retries failed chunks with backoff,
// pauses and resumes, and picks up an upload left unfinished by a reload or
// a server restart (it remembers each upload_id by file name, size and
// modification time, and asks the server which chunks it already has).
//
// It knows nothing of fetch or the DOM: the transport and the resume store
// are passed in, so tests drive it with fakes.

import { ApiError } from '../api';

export interface FileLike {
  name: string;
  size: number;
  lastModified: number;
  slice(start: number, end: number): Blob;
}

export interface UploadMeta {
  title: string;
  description: string;
  category_id: number;
  tags: string[];
}

export interface InitAnswer {
  upload_id: string;
  chunk_size: number;
  total_chunks: number;
}
export interface StatusAnswer extends InitAnswer {
  uploaded: number[];
}
export interface CompleteAnswer {
  id: number;
  title: string;
  status: string;
}

export interface UploadTransport {
  init(file: FileLike, meta: UploadMeta): Promise<InitAnswer>;
  status(uploadId: string): Promise<StatusAnswer>;
  chunk(uploadId: string, index: number, data: Blob, onProgress: (loaded: number) => void, signal: AbortSignal): Promise<void>;
  complete(uploadId: string): Promise<CompleteAnswer>;
}

/** ResumeRecord is what survives a reload for one unfinished upload. */
export interface ResumeRecord {
  upload_id: string;
  name: string;
  size: number;
  lastModified: number;
  chunk_size: number;
  total_chunks: number;
  meta: UploadMeta;
  saved_at: number;
}

export interface ResumeStore {
  get(key: string): ResumeRecord | null;
  set(key: string, rec: ResumeRecord): void;
  delete(key: string): void;
  list(): ResumeRecord[];
}

export function fileKey(f: { name: string; size: number; lastModified: number }): string {
  return `${f.name}|${f.size}|${f.lastModified}`;
}

/** localResumeStore keeps records in one localStorage entry. */
export function localResumeStore(storage: Storage | undefined, key = 'mika.uploads'): ResumeStore {
  const read = (): Record<string, ResumeRecord> => {
    try {
      return JSON.parse(storage?.getItem(key) || '{}') || {};
    } catch {
      return {};
    }
  };
  const write = (all: Record<string, ResumeRecord>) => storage?.setItem(key, JSON.stringify(all));
  return {
    get: (k) => read()[k] ?? null,
    set: (k, rec) => write({ ...read(), [k]: rec }),
    delete: (k) => {
      const all = read();
      delete all[k];
      write(all);
    },
    list: () => Object.values(read()),
  };
}

export function memoryResumeStore(): ResumeStore {
  const m = new Map<string, ResumeRecord>();
  return {
    get: (k) => m.get(k) ?? null,
    set: (k, r) => void m.set(k, r),
    delete: (k) => void m.delete(k),
    list: () => [...m.values()],
  };
}

export type UploadState = 'ready' | 'checking' | 'uploading' | 'paused' | 'completing' | 'done' | 'error';

export interface UploadItem {
  id: number;
  file: FileLike;
  key: string;
  meta: UploadMeta;
  state: UploadState;
  uploadId: string;
  chunkSize: number;
  totalChunks: number;
  /** indexes the server has */
  done: Set<number>;
  /** bytes sent so far of each chunk in flight */
  loaded: Map<number, number>;
  /** failures in a row per chunk index */
  attempts: Map<number, number>;
  /** chunks waiting out a backoff delay */
  waiting: Set<number>;
  /** true when an earlier upload of this file was found */
  resumable: boolean;
  resumedChunks: number;
  error: string;
  errorCode: number;
  errors: Record<string, string>;
  videoId: number;
  speed: number;
  eta: number | null;
  retries: number;
  /** true while a failed request waits out its backoff */
  backingOff: boolean;
  samples: { t: number; bytes: number }[];
}

export interface QueueOptions {
  transport: UploadTransport;
  store: ResumeStore;
  /** chunks in flight across the whole queue */
  concurrency?: number;
  /** tries of one chunk before the file is marked failed */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  wait?: (ms: number) => Promise<void>;
  now?: () => number;
  /** chunk size to assume before the server says (only for display) */
}

export function backoffDelay(attempt: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.max(0, attempt - 1));
}

/** chunkBounds gives the byte range of chunk index for a file of size. */
export function chunkBounds(size: number, chunkSize: number, index: number): [number, number] {
  const start = index * chunkSize;
  return [start, Math.min(size, start + chunkSize)];
}

export function totalChunks(size: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(size / chunkSize));
}

export class UploadQueue {
  items: UploadItem[] = [];
  private o: Required<QueueOptions>;
  private nextId = 1;
  private inflight = new Map<string, AbortController>(); // `${itemId}:${index}`
  private listeners = new Set<() => void>();

  constructor(opts: QueueOptions) {
    this.o = {
      concurrency: 3,
      maxAttempts: 6,
      baseDelayMs: 1000,
      maxDelayMs: 30000,
      wait: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: () => Date.now(),
      ...opts,
    };
  }

  subscribe(f: () => void) {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
  private emit() {
    this.listeners.forEach((f) => f());
  }

  /** inFlight is the number of chunk requests now open. */
  get inFlight() {
    return this.inflight.size;
  }

  /** add puts a file in the queue, ready to start; an earlier unfinished
   * upload of the same file brings back its title and other fields. */
  add(file: FileLike, meta?: Partial<UploadMeta>): UploadItem {
    const key = fileKey(file);
    const rec = this.o.store.get(key);
    const base = file.name.replace(/\.[^.]+$/, '');
    const item: UploadItem = {
      id: this.nextId++,
      file,
      key,
      meta: { title: base, description: '', category_id: 0, tags: [], ...(rec?.meta ?? {}), ...meta },
      state: 'ready',
      uploadId: '',
      chunkSize: rec?.chunk_size ?? 0,
      totalChunks: rec?.total_chunks ?? 0,
      done: new Set(),
      loaded: new Map(),
      attempts: new Map(),
      waiting: new Set(),
      resumable: !!rec,
      resumedChunks: 0,
      error: '',
      errorCode: 0,
      errors: {},
      videoId: 0,
      speed: 0,
      eta: null,
      retries: 0,
      backingOff: false,
      samples: [],
    };
    this.items.push(item);
    this.emit();
    return item;
  }

  get(id: number) {
    return this.items.find((i) => i.id === id);
  }

  /** refuse marks a file that has not started as failed with code and
   * message, as if the server had answered them (a file over the server's
   * upload cap, known before anything is sent). startAll passes it by. */
  refuse(id: number, code: number, message: string) {
    const it = this.get(id);
    if (!it || it.state !== 'ready') return;
    it.state = 'error';
    it.errorCode = code;
    it.error = message;
    this.emit();
  }

  update(id: number, meta: Partial<UploadMeta>) {
    const it = this.get(id);
    // Metadata goes to the server with init: editable until then, and again
    // when init itself was refused (a missing title, a file too large).
    if (!it || !(it.state === 'ready' || (it.state === 'error' && !it.uploadId))) return;
    it.meta = { ...it.meta, ...meta };
    this.emit();
  }

  /** start begins (or resumes from the server's view) one file. */
  async start(id: number): Promise<void> {
    const it = this.get(id);
    if (!it || (it.state !== 'ready' && it.state !== 'error')) return;
    it.state = 'checking';
    it.error = '';
    it.errors = {};
    it.errorCode = 0;
    this.emit();
    try {
      const rec = this.o.store.get(it.key);
      let resumed = false;
      if (rec) {
        try {
          const st = await this.o.transport.status(rec.upload_id);
          this.adopt(it, st);
          it.done = new Set(st.uploaded ?? []);
          it.resumedChunks = it.done.size;
          resumed = true;
        } catch (e) {
          if (e instanceof ApiError && e.retryable) throw e;
          this.o.store.delete(it.key); // expired or not ours: start over
        }
      }
      if (!resumed) {
        const ans = await this.o.transport.init(it.file, it.meta);
        this.adopt(it, ans);
        it.done = new Set();
        this.o.store.set(it.key, {
          upload_id: ans.upload_id,
          name: it.file.name,
          size: it.file.size,
          lastModified: it.file.lastModified,
          chunk_size: it.chunkSize,
          total_chunks: it.totalChunks,
          meta: it.meta,
          saved_at: this.o.now(),
        });
      }
      if (this.get(id) !== it) return; // removed meanwhile
      it.attempts.clear();
      it.samples = [];
      it.state = 'uploading';
      this.emit();
      this.pump();
    } catch (e) {
      this.fail(it, e);
    }
  }

  startAll() {
    for (const it of this.items) if (it.state === 'ready') void this.start(it.id);
  }

  private adopt(it: UploadItem, a: InitAnswer) {
    it.uploadId = a.upload_id;
    it.chunkSize = a.chunk_size;
    it.totalChunks = a.total_chunks || totalChunks(it.file.size, a.chunk_size);
  }

  pause(id: number) {
    const it = this.get(id);
    if (!it || it.state !== 'uploading') return;
    it.state = 'paused';
    this.abortItem(it);
    it.speed = 0;
    it.eta = null;
    it.samples = [];
    this.emit();
    this.pump();
  }

  resume(id: number) {
    const it = this.get(id);
    if (!it || it.state !== 'paused') return;
    it.state = 'uploading';
    this.emit();
    this.pump();
  }

  /** retry takes a failed file up again, asking the server what it has. */
  async retry(id: number) {
    const it = this.get(id);
    if (!it || it.state !== 'error') return;
    if (!it.uploadId) return this.start(id);
    it.state = 'checking';
    it.error = '';
    it.errors = {};
    this.emit();
    try {
      const st = await this.o.transport.status(it.uploadId);
      it.done = new Set(st.uploaded ?? []);
      it.attempts.clear();
      it.waiting.clear();
      it.state = 'uploading';
      this.emit();
      this.pump();
    } catch (e) {
      if (e instanceof ApiError && !e.retryable) {
        // The server forgot the upload: begin again from chunk 0.
        this.o.store.delete(it.key);
        it.uploadId = '';
        it.state = 'error';
        return this.start(id);
      }
      this.fail(it, e);
    }
  }

  /** remove drops a file from the queue and forgets its unfinished upload. */
  remove(id: number) {
    const it = this.get(id);
    if (!it) return;
    this.abortItem(it);
    this.items = this.items.filter((i) => i !== it);
    if (it.state !== 'done') this.o.store.delete(it.key);
    this.emit();
    this.pump();
  }

  /** bytesSent counts finished chunks plus what is in flight. */
  bytesSent(it: UploadItem): number {
    if (!it.chunkSize) return 0;
    let n = 0;
    for (const i of it.done) {
      const [a, b] = chunkBounds(it.file.size, it.chunkSize, i);
      n += b - a;
    }
    for (const v of it.loaded.values()) n += v;
    return Math.min(n, it.file.size);
  }

  progress(it: UploadItem): number {
    if (it.state === 'done') return 1;
    if (!it.file.size) return it.done.size ? 1 : 0;
    return this.bytesSent(it) / it.file.size;
  }

  private abortItem(it: UploadItem) {
    for (const [k, c] of this.inflight) {
      if (k.startsWith(it.id + ':')) {
        c.abort();
        this.inflight.delete(k);
      }
    }
    it.loaded.clear();
  }

  private nextChunk(it: UploadItem): number {
    for (let i = 0; i < it.totalChunks; i++) {
      if (!it.done.has(i) && !it.loaded.has(i) && !it.waiting.has(i) && !this.inflight.has(it.id + ':' + i)) return i;
    }
    return -1;
  }

  private pump() {
    for (const it of this.items) {
      if (it.state !== 'uploading') continue;
      while (this.inflight.size < this.o.concurrency) {
        const i = this.nextChunk(it);
        if (i < 0) break;
        this.send(it, i);
      }
      if (it.done.size >= it.totalChunks && !this.hasInflight(it)) void this.complete(it);
    }
  }

  private hasInflight(it: UploadItem) {
    for (const k of this.inflight.keys()) if (k.startsWith(it.id + ':')) return true;
    return false;
  }

  private sample(it: UploadItem) {
    const t = this.o.now();
    const bytes = this.bytesSent(it);
    it.samples.push({ t, bytes });
    while (it.samples.length > 2 && t - it.samples[0].t > 5000) it.samples.shift();
    const first = it.samples[0];
    const dt = (t - first.t) / 1000;
    if (dt >= 0.5) {
      it.speed = (bytes - first.bytes) / dt;
      it.eta = it.speed > 0 ? (it.file.size - bytes) / it.speed : null;
    }
  }

  private send(it: UploadItem, index: number) {
    const key = it.id + ':' + index;
    const ctl = new AbortController();
    this.inflight.set(key, ctl);
    it.loaded.set(index, 0);
    const [a, b] = chunkBounds(it.file.size, it.chunkSize, index);
    const data = it.file.slice(a, b);
    this.o.transport
      .chunk(
        it.uploadId,
        index,
        data,
        (loaded) => {
          if (ctl.signal.aborted) return;
          it.loaded.set(index, Math.min(loaded, b - a));
          this.sample(it);
          this.emit();
        },
        ctl.signal,
      )
      .then(
        () => {
          if (ctl.signal.aborted) return;
          this.inflight.delete(key);
          it.loaded.delete(index);
          it.attempts.delete(index);
          it.done.add(index);
          this.sample(it);
          this.emit();
          this.pump();
        },
        (e) => {
          if (ctl.signal.aborted) return;
          this.inflight.delete(key);
          it.loaded.delete(index);
          this.chunkFailed(it, index, e);
        },
      );
  }

  private chunkFailed(it: UploadItem, index: number, e: unknown) {
    const retryable = !(e instanceof ApiError) || e.retryable;
    const n = (it.attempts.get(index) ?? 0) + 1;
    it.attempts.set(index, n);
    if (!retryable || n >= this.o.maxAttempts) {
      this.fail(it, e);
      return;
    }
    it.retries++;
    it.waiting.add(index);
    this.emit();
    this.pump();
    void this.o.wait(backoffDelay(n, this.o.baseDelayMs, this.o.maxDelayMs)).then(() => {
      it.waiting.delete(index);
      this.pump();
    });
  }

  private async complete(it: UploadItem) {
    it.state = 'completing';
    this.emit();
    for (let attempt = 1; ; attempt++) {
      try {
        const ans = await this.o.transport.complete(it.uploadId);
        it.videoId = ans.id;
        it.state = 'done';
        it.speed = 0;
        it.eta = 0;
        this.o.store.delete(it.key);
        this.emit();
        return;
      } catch (e) {
        if (this.get(it.id) !== it) return;
        const missing = e instanceof ApiError ? e.raw.missing : undefined;
        if (Array.isArray(missing) && missing.length && attempt < this.o.maxAttempts) {
          for (const m of missing) it.done.delete(Number(m));
          it.state = 'uploading';
          this.emit();
          this.pump();
          return;
        }
        if (e instanceof ApiError && e.retryable && attempt < this.o.maxAttempts) {
          it.retries++;
          it.backingOff = true;
          this.emit();
          await this.o.wait(backoffDelay(attempt, this.o.baseDelayMs, this.o.maxDelayMs));
          it.backingOff = false;
          continue;
        }
        this.fail(it, e);
        return;
      }
    }
  }

  private fail(it: UploadItem, e: unknown) {
    this.abortItem(it);
    it.state = 'error';
    it.speed = 0;
    it.eta = null;
    if (e instanceof ApiError) {
      it.error = e.message;
      it.errorCode = e.code;
      it.errors = e.errors;
    } else {
      it.error = e instanceof Error ? e.message : String(e);
      it.errorCode = 0;
    }
    this.emit();
    this.pump();
  }
}
