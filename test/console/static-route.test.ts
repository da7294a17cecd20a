/**
 * The console's static route on a real uWS app: the security headers on every answer, gzip,
 * ETag revalidation, cache lifetimes, 404 and 405, and the first load's size budget
 * (everything index.html pulls in, gzipped, under 200 KB).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import uWS from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, registerConsoleRoutes, type ConsoleRoutes } from '../../src/console/index.js';
import { BUILT_CONSOLE_DIR } from './console-server.js';

const BUDGET_BYTES = 200 * 1024;

let socket: uWS.us_listen_socket;
let base: string;
let routes: ConsoleRoutes;

beforeAll(async () => {
  const app = uWS.App();
  routes = registerConsoleRoutes(app, { dir: BUILT_CONSOLE_DIR });
  socket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('did not listen')) : resolve(s))),
  );
  base = `http://127.0.0.1:${uWS.us_socket_local_port(socket)}`;
});

afterAll(() => {
  if (socket !== undefined) uWS.us_listen_socket_close(socket);
});

/** The scripts, styles and icon that index.html names, as paths under /console/. */
function firstLoad(): string[] {
  const html = readFileSync(join(BUILT_CONSOLE_DIR, 'index.html'), 'utf8');
  return [...html.matchAll(/(?:src|href)="(?:\/console\/|\.\/)([^"]+)"/g)].map((m) => m[1] as string);
}

describe('console static route', () => {
  it('answers the page with a strict Content-Security-Policy and no inline code', async () => {
    const res = await fetch(`${base}/console/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toMatch(/^default-src 'self';/);
    expect(CONSOLE_CSP).not.toMatch(/unsafe-|data:|https?:/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    // Every script is a file; no inline <script> body, no style attribute or element.
    expect(html.match(/<script\b[^>]*>([^<]*)<\/script>/g)?.every((s) => / src="/.test(s) && />\s*<\/script>$/.test(s))).toBe(true);
    expect(html).not.toMatch(/<style|style="|\son[a-z]+="/i);
  });

  it('redirects /console to /console/ and answers 404 and 405 with the error body', async () => {
    const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/console/');
    const missing = await fetch(`${base}/console/nothing.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const post = await fetch(`${base}/console/`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });

  it('serves hashed assets gzipped, cached for a year, revalidated by ETag', async () => {
    const script = firstLoad().find((p) => p.endsWith('.js'));
    expect(script).toMatch(/^assets\/index-[\w-]+\.js$/);
    const res = await fetch(`${base}/console/${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(await res.text()).toBe(readFileSync(join(BUILT_CONSOLE_DIR, script as string), 'utf8'));
    const etag = res.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${base}/console/${script}`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const plain = await fetch(`${base}/console/${script}`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(routes.files).toContain('index.html');
    expect(routes.files.some((f) => f.endsWith('.map'))).toBe(false);
  });

  it('keeps the first load under 200 KB gzipped', () => {
    const files = ['index.html', ...firstLoad()];
    expect(files.some((f) => f.endsWith('.js'))).toBe(true);
    expect(files.some((f) => f.endsWith('.css'))).toBe(true);
    let total = 0;
    const sizes: Record<string, number> = {};
    for (const f of files) {
      const n = gzipSync(readFileSync(join(BUILT_CONSOLE_DIR, f)), { level: 9 }).length;
      sizes[f] = n;
      total += n;
    }
    console.log(`console first load, gzip -9: ${total} bytes`, sizes);
    expect(total).toBeLessThan(BUDGET_BYTES);
  });
});
