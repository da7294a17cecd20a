import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { refusedAddressReason } from './address-policy.js';
import { guardedLookup, RefusedAddressError, urlHost } from './url-guard.js';

/** How one POST ended. Only `response` carries a status; everything else had none. */
export type AttemptResult =
  | { readonly kind: 'response'; readonly status: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'connection_failed'; readonly message: string }
  | { readonly kind: 'refused_address'; readonly message: string }
  | { readonly kind: 'aborted' };

export interface SendOptions {
  readonly timeoutMs: number;
  readonly allowPrivateUrls: boolean;
  /** Ends the attempt early (the dispatcher is stopping). */
  readonly signal?: AbortSignal;
}

const USER_AGENT = 'machpay-receiver-webhooks/1';
/** What is read of a response body before the connection is dropped: the status is all we use. */
const MAX_DRAINED_BYTES = 64 * 1024;

class AttemptTimeout extends Error {}
class AttemptAborted extends Error {}

/**
 * POSTs one signed body. The timeout covers everything up to the response's status line
 * (lookup, connect, TLS, the endpoint's processing); a body that keeps streaming after it is
 * cut at the same deadline. Redirects are not followed: a 3xx is a failed attempt, and
 * following one would reach an address the guard never saw. No connection is reused, so
 * each attempt resolves and checks the name afresh.
 */
export function postWebhook(url: URL, headers: Record<string, string>, body: string, opts: SendOptions): Promise<AttemptResult> {
  const host = urlHost(url);
  if (!opts.allowPrivateUrls && isIP(host) !== 0) {
    const why = refusedAddressReason(host);
    if (why !== null) return Promise.resolve({ kind: 'refused_address', message: `${host} is a ${why} address` });
  }
  if (opts.signal?.aborted === true) return Promise.resolve({ kind: 'aborted' });
  const payload = Buffer.from(body, 'utf8');
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: AttemptResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const req = send(url, {
      method: 'POST',
      agent: false,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length), 'user-agent': USER_AGENT },
      ...(opts.allowPrivateUrls ? {} : { lookup: guardedLookup }),
    });
    const timer = setTimeout(() => req.destroy(new AttemptTimeout()), opts.timeoutMs);
    const onAbort = (): void => {
      req.destroy(new AttemptAborted());
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanUp = (): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };

    req.on('response', (res: IncomingMessage) => {
      finish({ kind: 'response', status: res.statusCode ?? 0 });
      let drained = 0;
      res.on('data', (chunk: Buffer) => {
        drained += chunk.length;
        if (drained > MAX_DRAINED_BYTES) req.destroy();
      });
      res.on('error', () => undefined);
      res.on('close', cleanUp);
    });
    req.on('error', (err) => {
      cleanUp();
      if (err instanceof AttemptTimeout) finish({ kind: 'timeout' });
      else if (err instanceof AttemptAborted) finish({ kind: 'aborted' });
      else if (err instanceof RefusedAddressError) finish({ kind: 'refused_address', message: err.message });
      else finish({ kind: 'connection_failed', message: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    req.on('close', () => {
      cleanUp();
      finish({ kind: 'connection_failed', message: 'connection closed before a response' });
    });
    req.end(payload);
  });
}
