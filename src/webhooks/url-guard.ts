import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { refusedAddressReason } from './address-policy.js';
import { WebhookRequestError } from './webhook-errors.js';

/**
 * The SSRF guard (docs/read-api.md §6): a webhook URL is http or https, and every address
 * its host stands for is public, checked when it is registered and again at each delivery.
 * At delivery the check sits inside the connection's own DNS lookup, so the socket connects
 * to the very address that was checked: a name that answers with a public address to the
 * check and a private one a moment later (DNS rebinding) gains nothing.
 */

export const MAX_URL_LENGTH = 2048;

export interface UrlPolicy {
  /** Skips the address checks (WEBHOOK_ALLOW_PRIVATE_URLS=true): tests and private networks. */
  readonly allowPrivateUrls: boolean;
}

function refuse(message: string): WebhookRequestError {
  return new WebhookRequestError('invalid_webhook_url', message);
}

/** The host of a URL as an address or name: IPv6 literals lose their brackets. */
export function urlHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** Checks the URL's form only: scheme, length, no credentials, and a literal address's range. */
export function parseWebhookUrl(text: unknown, policy: UrlPolicy): URL {
  if (typeof text !== 'string' || text === '') throw refuse('url: required, an http or https URL');
  if (text.length > MAX_URL_LENGTH) throw refuse(`url: at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refuse('url: not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('url: the scheme must be http or https');
  // Credentials in a URL are returned by GET /v1/webhooks and end up in logs and proxies;
  // the endpoint authenticates deliveries by their signature instead.
  if (url.username !== '' || url.password !== '') throw refuse('url: credentials in the URL are not accepted; verify the webhook signature instead');
  const host = urlHost(url);
  if (host === '') throw refuse('url: a host is required');
  if (!policy.allowPrivateUrls && isIP(host) !== 0) {
    const why = refusedAddressReason(host);
    if (why !== null) throw refuse(`url: ${host} is a ${why} address`);
  }
  return url;
}

/** Resolves a name to every address it has, as the delivery's connection would. */
function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });
}

/** The first refused address among `addresses`, with why, or null when all are public. */
function firstRefused(addresses: readonly LookupAddress[]): { address: string; why: string } | null {
  for (const { address } of addresses) {
    const why = refusedAddressReason(address);
    if (why !== null) return { address, why };
  }
  return null;
}

/** The registration check: the form, then every address the host resolves to. */
export async function checkWebhookUrl(text: unknown, policy: UrlPolicy): Promise<URL> {
  const url = parseWebhookUrl(text, policy);
  const host = urlHost(url);
  if (policy.allowPrivateUrls || isIP(host) !== 0) return url;
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(host);
  } catch {
    throw refuse(`url: the host ${host} does not resolve`);
  }
  const bad = firstRefused(addresses);
  if (bad !== null) throw refuse(`url: ${host} resolves to ${bad.address}, a ${bad.why} address`);
  return url;
}

/** Raised inside a delivery's lookup when the host leads to a refused address. */
export class RefusedAddressError extends Error {
  override readonly name = 'RefusedAddressError';
  readonly code = 'ERR_WEBHOOK_ADDRESS_REFUSED';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request/net.connect that resolves as dns.lookup does and refuses the
 * whole name when any of its addresses is not public (a name that mixes them is either a
 * mistake or an attack). Node calls it with `all: true` when it races address families.
 */
export function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  const family = typeof options.family === 'number' ? options.family : 0;
  dnsLookup(hostname, { all: true, verbatim: true, family }, (err, addresses) => {
    if (err) return callback(err, '');
    const bad = firstRefused(addresses);
    if (bad !== null) return callback(new RefusedAddressError(`${hostname} resolves to ${bad.address}, a ${bad.why} address`), '');
    if (options.all === true) return callback(null, addresses);
    const first = addresses[0];
    if (first === undefined) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
    callback(null, first.address, first.family);
  });
}
