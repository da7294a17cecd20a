/**
 * Calls to the receiver's read API with the signed-in key in the Authorization header.
 * Failures become ApiError with the API's stable code (docs/read-api.md, "Error codes").
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | undefined>;

function withQuery(path: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

export class ApiClient {
  constructor(
    private readonly key: string,
    /** Called on 401: the key was revoked or mistyped, so the session ends. */
    private readonly onUnauthorized: () => void,
  ) {}

  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.call<T>('GET', withQuery(path, query), undefined);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  private async call<T>(method: string, url: string, body: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store', credentials: 'omit' });
    } catch {
      throw new ApiError(0, 'network', 'The receiver cannot be reached.');
    }
    const text = await res.text();
    if (res.ok) return (text === '' ? null : JSON.parse(text)) as T;
    let code = 'http_' + res.status;
    let message = `The receiver answered ${res.status}.`;
    try {
      const err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      code = err?.code ?? code;
      message = err?.message ?? message;
    } catch {
      // Not the API's error body (a proxy's page, say): keep the status.
    }
    if (res.status === 401) this.onUnauthorized();
    throw new ApiError(res.status, code, message);
  }
}
