// The API client: one place that speaks the {code,message,data,errors}
// envelope, carries the JWT and turns every failure into an ApiError.

export interface Envelope<T> {
  code: number;
  message: string;
  data: T;
  errors?: Record<string, string | string[] | number[]>;
}

/** ApiError is any failed call. code is the envelope's code (the HTTP
 * status), or 0 when the server could not be reached at all. */
export class ApiError extends Error {
  code: number;
  errors: Record<string, string>;
  raw: Record<string, unknown>;
  constructor(code: number, message: string, errors: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.raw = errors;
    this.errors = {};
    for (const [k, v] of Object.entries(errors)) {
      this.errors[k] = Array.isArray(v) ? v.join(', ') : String(v);
    }
  }
  /** retryable says whether the same request may succeed later. */
  get retryable(): boolean {
    return this.code === 0 || this.code === 408 || this.code === 429 || this.code >= 500;
  }
}

export interface TokenStore {
  get(): string | null;
  set(token: string | null): void;
}

export function localTokenStore(storage: Storage | undefined, key = 'mika.token'): TokenStore {
  return {
    get: () => storage?.getItem(key) ?? null,
    set: (t) => {
      if (!storage) return;
      if (t) storage.setItem(key, t);
      else storage.removeItem(key);
    },
  };
}

export interface ClientOptions {
  fetch?: typeof fetch;
  tokens: TokenStore;
  /** Called once when a signed-in request answers 401: the token is gone. */
  onUnauthorized?: () => void;
  base?: string;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function queryString(q?: Query): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

export class Client {
  private opts: ClientOptions;
  constructor(opts: ClientOptions) {
    this.opts = opts;
  }
  get tokens() {
    return this.opts.tokens;
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const token = this.opts.tokens.get();
    if (token) headers.Authorization = 'Bearer ' + token;
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const f = this.opts.fetch ?? fetch.bind(globalThis);
    let res: Response;
    try {
      res = await f((this.opts.base ?? '') + '/api' + path + queryString(query), { method, headers, body: payload });
    } catch {
      throw new ApiError(0, 'network');
    }
    return this.parse<T>(res, !!token);
  }

  /** parse reads an envelope; exposed for the upload transport. */
  async parse<T>(res: Response, hadToken: boolean): Promise<T> {
    let env: Envelope<T> | null = null;
    try {
      env = (await res.json()) as Envelope<T>;
    } catch {
      env = null;
    }
    if (!env || typeof env !== 'object' || typeof env.code !== 'number') {
      throw new ApiError(res.ok ? 500 : res.status, res.ok ? 'bad answer' : `HTTP ${res.status}`);
    }
    if (res.ok && env.code === 0) return env.data;
    const code = env.code || res.status;
    if (code === 401 && hadToken) {
      this.opts.tokens.set(null);
      this.opts.onUnauthorized?.();
    }
    throw new ApiError(code, env.message || `HTTP ${res.status}`, (env.errors as Record<string, unknown>) ?? {});
  }

  get<T>(path: string, query?: Query) {
    return this.request<T>('GET', path, undefined, query);
  }
  post<T>(path: string, body?: unknown) {
    return this.request<T>('POST', path, body ?? {});
  }
  put<T>(path: string, body: unknown) {
    return this.request<T>('PUT', path, body);
  }
  del<T>(path: string) {
    return this.request<T>('DELETE', path);
  }
}

// ---- API shapes (SPEC.md) ----

export interface UserBrief {
  id: number;
  username: string;
  nickname: string;
  avatar: string;
  role: string;
}
export interface LoginData {
  token: string;
  expire: number;
  user: UserBrief;
}
export interface Profile extends UserBrief {
  email: string;
  vip_level: number;
  vip_expire: string;
  points: number;
  created_at: string;
}
export interface PublicSettings {
  site_name: string;
  register_mode: 'open' | 'invite' | 'closed';
  needs_setup?: boolean;
  /** the largest upload the server takes, in bytes; 0: no cap */
  max_upload_bytes?: number;
}
export interface Category {
  id: number;
  name: string;
  parent_id: number;
  sort: number;
  children?: Category[];
}
export interface Video {
  id: number;
  title: string;
  description: string;
  cover: string;
  duration: number;
  views: number;
  /** Always an object from this server; id 0 (name "") means no category. */
  category: { id: number; name: string } | null;
  created_at: string;
  status: number;
  transcode_status: string;
  transcode_progress?: number;
  progress?: number;
  resolution: string;
  user_id: number;
  tags: string[] | null;
  missing?: boolean;
}
export interface Variant {
  name: string;
  width: number;
  height: number;
  bandwidth: number;
}
export interface VideoDetail extends Video {
  play_url: string;
  /** why the transcode failed; only for the owner and admins */
  transcode_error?: string;
  /** who uploaded it (id 0 when the account is gone) */
  uploader?: { id: number; nickname: string; avatar: string };
  variants: Variant[] | null;
  file_size: number;
}
export interface Page<T> {
  list: T[];
  total: number;
  page: number;
  size: number;
}
export interface Task {
  id: number;
  video_id: number;
  video_title: string;
  status: string;
  progress: number;
  created_at: string;
  started_at: string;
  finished_at: string;
  error: string;
  log?: string;
}
export interface APIKey {
  id: number;
  name: string;
  api_key: string;
  secret_key?: string;
  created_at: string;
  last_used_at?: string;
}

/** flattenCategories turns the tree into rows with their depth, for selects. */
export function flattenCategories(tree: Category[], depth = 0, out: { cat: Category; depth: number }[] = []) {
  for (const c of tree) {
    out.push({ cat: c, depth });
    if (c.children?.length) flattenCategories(c.children, depth + 1, out);
  }
  return out;
}
