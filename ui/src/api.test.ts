import { describe, expect, it } from 'vitest';
import { ApiError, Client, queryString, flattenCategories, type TokenStore } from './api';

function memTokens(initial: string | null = null): TokenStore & { value: string | null } {
  const s = {
    value: initial,
    get: () => s.value,
    set: (t: string | null) => {
      s.value = t;
    },
  };
  return s;
}

/** fails answers the ApiError a call rejects with. */
function fails(p: Promise<unknown>): Promise<ApiError> {
  return p.then(
    () => {
      throw new Error('the call succeeded');
    },
    (e) => e as ApiError,
  );
}

function fakeFetch(status: number, body: unknown, seen: { url?: string; init?: RequestInit } = {}) {
  return (async (url: string, init: RequestInit) => {
    seen.url = url;
    seen.init = init;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return new Response(text, { status, headers: { 'Content-Type': 'application/json' } });
  }) as unknown as typeof fetch;
}

describe('Client', () => {
  it('answers data on success and sends the bearer token and JSON', async () => {
    const seen: { url?: string; init?: RequestInit } = {};
    const c = new Client({ tokens: memTokens('tok'), fetch: fakeFetch(200, { code: 0, message: 'success', data: { id: 7 } }, seen) });
    const d = await c.put<{ id: number }>('/videos/7', { title: 'x' });
    expect(d.id).toBe(7);
    expect(seen.url).toBe('/api/videos/7');
    const h = seen.init!.headers as Record<string, string>;
    expect(h.Authorization).toBe('Bearer tok');
    expect(h['Content-Type']).toBe('application/json');
    expect(seen.init!.body).toBe('{"title":"x"}');
  });

  it('maps an error envelope to ApiError with field errors', async () => {
    const c = new Client({
      tokens: memTokens(),
      fetch: fakeFetch(400, { code: 400, message: '参数错误', data: null, errors: { username: '用户名不能为空', missing: [1, 2] } }),
    });
    const e = await fails(c.post('/auth/register', {}));
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe(400);
    expect(e.message).toBe('参数错误');
    expect(e.errors.username).toBe('用户名不能为空');
    expect(e.errors.missing).toBe('1, 2');
    expect(e.raw.missing).toEqual([1, 2]);
    expect(e.retryable).toBe(false);
  });

  it('on 401 with a token: forgets the token and tells the app once', async () => {
    const tokens = memTokens('old');
    let told = 0;
    const c = new Client({ tokens, onUnauthorized: () => told++, fetch: fakeFetch(401, { code: 401, message: 'token expired', data: null }) });
    const e = await fails(c.get('/user/profile'));
    expect(e.code).toBe(401);
    expect(tokens.value).toBeNull();
    expect(told).toBe(1);
  });

  it('a 401 without a token (wrong password) is only an error', async () => {
    let told = 0;
    const c = new Client({ tokens: memTokens(), onUnauthorized: () => told++, fetch: fakeFetch(401, { code: 401, message: 'wrong username or password', data: null }) });
    const e = await fails(c.post('/auth/login', {}));
    expect(e.message).toBe('wrong username or password');
    expect(told).toBe(0);
  });

  it('a network failure is code 0 and retryable', async () => {
    const c = new Client({
      tokens: memTokens(),
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as unknown as typeof fetch,
    });
    const e = await fails(c.get('/videos'));
    expect(e.code).toBe(0);
    expect(e.retryable).toBe(true);
  });

  it.each([
    [502, '<html>Bad gateway</html>', 502, true],
    [200, 'not json', 500, true],
    [429, { code: 429, message: 'too many requests', data: null }, 429, true],
    [413, { code: 413, message: 'too large', data: null }, 413, false],
  ])('status %i with %j is code %i (retryable %s)', async (status, body, code, retryable) => {
    const c = new Client({ tokens: memTokens(), fetch: fakeFetch(status, body) });
    const e = await fails(c.get('/x'));
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe(code);
    expect(e.retryable).toBe(retryable);
  });
});

describe('helpers', () => {
  it('queryString drops empty values and encodes Chinese', () => {
    expect(queryString({ page: 2, keyword: '示例', category_id: undefined, status: '' })).toBe('?page=2&keyword=%E7%A4%BA%E4%BE%8B');
    expect(queryString({})).toBe('');
  });
  it('flattenCategories walks the tree depth first', () => {
    const rows = flattenCategories([
      { id: 1, name: '电影', parent_id: 0, sort: 1, children: [{ id: 2, name: '动作片', parent_id: 1, sort: 1 }] },
      { id: 3, name: '音乐', parent_id: 0, sort: 2 },
    ]);
    expect(rows.map((r) => [r.cat.id, r.depth])).toEqual([
      [1, 0],
      [2, 1],
      [3, 0],
    ]);
  });
});
